/* SPDX-License-Identifier: BSD-2-Clause */
/* The worker's seccomp filter (seccomp: on | log): an allow-list of the
 * system calls the worker, libevent, glibc, the pools' drivers (hiredis,
 * MariaDB Connector/C, mongo-c-driver's threads, libcurl with its
 * threaded resolver and OpenSSL) and the handlers make while serving,
 * by name, so that libseccomp builds it for whatever architecture this
 * is. What is only done at start (binding, privilege drop, dlopen of
 * modules, setting up signals) is over when it is loaded, so it is not
 * on the list; neither is anything that starts programs, traces or
 * changes other processes, or reaches into the kernel's administration
 * (execve, fork, ptrace, process_vm_*, mount, module and key calls, bpf,
 * perf_event_open...). */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmd/common.h"
#include "fpmd/log.h"
#include "fpmd/seccomp.h"

/* Allowed whatever their arguments: what the workers were seen to make
 * while serving the integration suite (raw_syscalls tracing of filtered
 * workers), and the few calls the same code makes on paths the suite
 * does not take, each said below. Names of other architectures' calls
 * resolve to pseudo numbers that libseccomp leaves out where they do not
 * exist ("poll" is x86's, "ppoll" what glibc calls on arm64). */
static const char *const allowed[] = {
    /* memory: malloc (mremap for realloc of its large blocks), coroutine
     * stacks and their guard pages, memory given back after a flood */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",

    /* threads: mongo-c-driver's and libcurl's resolver threads start,
     * wait and end (clone itself is below, for threads only) */
    "futex", "set_robust_list", "rseq", "gettid", "exit", "exit_group",

    /* signals: the worker's own (signalfd), the coroutine stack guard's
     * SIGSEGV handler, glibc's raise() and abort() */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "getpid", "getppid",
    /* a wait (poll, nanosleep, a futex with a timeout) interrupted by a
     * stop and continued (SIGSTOP, a debugger) goes on through it */
    "restart_syscall",

    /* clocks, where the vDSO falls back to the kernel (some hypervisors'
     * clock sources); sleeps in the drivers' threads */
    "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
    "clock_nanosleep",

    /* the event loop; eventfd wakes it from the mongo threads, libcurl's
     * resolver threads answer over a socket pair (or a pipe) */
    "epoll_wait", "epoll_pwait", "epoll_ctl", "poll", "ppoll", "eventfd2",
    "pipe2",

    /* descriptors and files: requests and answers, static files (openat2
     * beneath their root, readlink for their symlinks, sendfile from
     * libevent's file segments), logs reopened on SIGUSR1, time zones,
     * /etc/hosts and resolv.conf, CA certificates; ioctl for FIONREAD
     * (glibc's DNS client) and isatty (stdio) */
    "read", "write", "readv", "writev", "pread64", "lseek", "close",
    "fcntl", "ioctl", "fstat", "newfstatat", "openat", "openat2",
    "readlink", "readlinkat", "sendfile",
    /* mongo-c-driver removes its shared-memory counters at exit */
    "unlink", "unlinkat",

    /* sockets: connections taken and handed between workers (SCM_RIGHTS),
     * backends, DNS (sendmmsg: glibc asks for A and AAAA at once) */
    "socket", "socketpair", "connect", "accept4", "getsockname",
    "getpeername", "setsockopt", "getsockopt", "shutdown", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "sendmmsg",

    /* the mongo handshake names the system (uname); MariaDB Connector/C
     * the user; random bytes for ids, hashes and TLS */
    "uname", "getuid", "getrandom",
};

/* AddressSanitizer's runtime (--enable-sanitizers), beside the above:
 * each new thread gets an alternate signal stack and counts the CPUs. */
static const char *const sanitizer_allowed[] = {
#ifdef FPMD_UNDER_ASAN
    "sigaltstack", "sched_getaffinity",
#endif
    NULL,
};

/* LeakSanitizer's check at exit (ASan's detect_leaks, on unless
 * ASAN_OPTIONS turns it off) stops the threads with prctl, a clone and
 * ptrace, which the filter kills: said at start rather than left to a
 * SIGSYS at exit. */
static void
warn_leak_check(void)
{
#ifdef FPMD_UNDER_ASAN
    const char *opts = getenv("ASAN_OPTIONS");

    if (opts == NULL || strstr(opts, "detect_leaks=0") == NULL)
        fpmd_log(FPMD_LOG_WARNING, "seccomp: a sanitizer build with "
                 "LeakSanitizer's exit check on: it makes calls the filter "
                 "kills, so worker %d will die of SIGSYS at exit; run with "
                 "ASAN_OPTIONS=detect_leaks=0", (int) getpid());
#endif
}

static int
allow(scmp_filter_ctx ctx, const char *name)
{
    int nr = seccomp_syscall_resolve_name(name);
    int rc;

    if (nr == __NR_SCMP_ERROR) {
        fpmd_log(FPMD_LOG_ALERT, "seccomp: no system call %s", name);
        return FPMD_ERROR;
    }
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc < 0) {
        fpmd_log(FPMD_LOG_ALERT, "seccomp: cannot allow %s: %s", name,
                 strerror(-rc));
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Whether seccomp_allow: names the call: then it is allowed whatever
 * its arguments, and the rule below for it is left out. */
static bool
listed(const struct fpmd_conf *conf, const char *name)
{
    for (char **p = conf->seccomp.allow; p != NULL && *p != NULL; p++) {
        if (strcmp(*p, name) == 0)
            return true;
    }
    return false;
}

/* The rules that look at arguments. clone: threads (CLONE_THREAD) only,
 * never a new process; clone3 passes its flags in memory a filter cannot
 * read, so it fails with ENOSYS and glibc falls back to clone (as
 * systemd's and Docker's filters do). tgkill (raise, abort): this
 * process only; rt_sigqueueinfo (sigqueue): the master only, told of a
 * cron run's end (cron_run.c). */
static int
allow_with_arguments(scmp_filter_ctx ctx, const struct fpmd_conf *conf)
{
    /* s390's clone takes the stack first and the flags second */
#if defined(__s390__) || defined(__s390x__)
    const unsigned flags_arg = 1;
#else
    const unsigned flags_arg = 0;
#endif
    scmp_datum_t self = (scmp_datum_t) getpid();
    scmp_datum_t master = (scmp_datum_t) getppid();
    int rc = 0;

    if (!listed(conf, "clone"))
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_CMP(flags_arg, SCMP_CMP_MASKED_EQ,
                                       CLONE_THREAD, CLONE_THREAD));
    if (rc == 0 && !listed(conf, "clone3"))
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
                              0);
    if (rc == 0 && !listed(conf, "tgkill"))
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, self));
    if (rc == 0 && !listed(conf, "rt_sigqueueinfo"))
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
                              SCMP_SYS(rt_sigqueueinfo), 1,
                              SCMP_A0(SCMP_CMP_EQ, master));
    if (rc < 0) {
        fpmd_log(FPMD_LOG_ALERT, "seccomp: cannot add the clone and "
                 "signal rules: %s", strerror(-rc));
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

int
fpmd_seccomp_install(const struct fpmd_conf *conf)
{
    uint32_t deny = conf->seccomp.mode == FPMD_SECCOMP_LOG
        ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
    scmp_filter_ctx ctx;
    int rc = FPMD_ERROR;

    if (conf->seccomp.mode == FPMD_SECCOMP_OFF)
        return FPMD_OK;
    ctx = seccomp_init(deny);
    if (ctx == NULL) {
        fpmd_log(FPMD_LOG_ALERT, "seccomp: cannot make a filter (out of "
                 "memory, or a kernel before 4.14, without "
                 "SECCOMP_RET_KILL_PROCESS and SECCOMP_RET_LOG)");
        return FPMD_ERROR;
    }
    /* A call through another architecture's entry (int 0x80 on x86-64)
     * would get round the list: it is denied alike. The mongo pool's
     * threads are running already: they get the filter too. */
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny) != 0
        || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
        fpmd_log(FPMD_LOG_ALERT, "seccomp: cannot set the filter's "
                 "attributes");
        goto out;
    }
    for (size_t i = 0; i < FPMD_ARRAY_LEN(allowed); i++) {
        if (allow(ctx, allowed[i]) != FPMD_OK)
            goto out;
    }
    for (size_t i = 0; sanitizer_allowed[i] != NULL; i++) {
        if (allow(ctx, sanitizer_allowed[i]) != FPMD_OK)
            goto out;
    }
    for (char **p = conf->seccomp.allow; p != NULL && *p != NULL; p++) {
        if (allow(ctx, *p) != FPMD_OK)
            goto out;
    }
    if (allow_with_arguments(ctx, conf) != FPMD_OK)
        goto out;
    warn_leak_check();
    rc = seccomp_load(ctx);
    if (rc != 0) {
        fpmd_log(FPMD_LOG_ALERT, "seccomp: cannot load the filter: %s",
                 strerror(-rc));
        rc = FPMD_ERROR;
        goto out;
    }
    rc = FPMD_OK;
out:
    seccomp_release(ctx);
    return rc;
}
