/* SPDX-License-Identifier: BSD-2-Clause */
/* Binary upgrade (upgrade.h). The sockets go across exec as plain open
 * descriptors: FPMD_UPGRADE_FDS lists them, a line "FD FROM ADDRESS"
 * each, FROM "s" for a socket systemd passed (its unit owns it: never
 * unlinked, never changed) and "-" for fpmd's own, the address as the old
 * config wrote it, which is what a generation compares to adopt a
 * listener on reload too. FPMD_UPGRADE_READY is the
 * pipe's descriptor, FPMD_UPGRADE_HANDOFF the handoff pair's two. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fpmd/log.h"
#include "fpmd/upgrade.h"

#define ENV_FDS "FPMD_UPGRADE_FDS"
#define ENV_READY "FPMD_UPGRADE_READY"
#define ENV_HANDOFF "FPMD_UPGRADE_HANDOFF"

static struct {
    char *const *argv;
    char exe[PATH_MAX];
    int ready_fd;               /* the new master's end; -1: none */
} U = {.ready_fd = -1};

void
fpmd_upgrade_init(char *const *argv)
{
    ssize_t n = readlink("/proc/self/exe", U.exe, sizeof(U.exe) - 1);

    U.argv = argv;
    U.exe[n > 0 ? n : 0] = '\0';
}

/* In the child, before exec: fd open across it. */
static int
keep_open(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    return flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0
        ? FPMD_ERROR : FPMD_OK;
}

/* The child's side: never returns. */
static void
child(const struct fpmd_listener *ls, size_t n, const int handoff[2],
      int ready)
{
    size_t cap = 64, len = 0;
    char *fds = malloc(cap), num[16], pair[32];
    sigset_t none;

    for (size_t i = 0; fds != NULL && i < n; i++) {
        size_t need = strlen(ls[i].address) + 26;

        if (ls[i].fd < 0 || strchr(ls[i].address, '\n') != NULL
            || keep_open(ls[i].fd) != FPMD_OK)
            continue;
        if (len + need > cap) {
            char *grown = realloc(fds, cap = (len + need) * 2);

            if (grown == NULL)
                _exit(127);
            fds = grown;
        }
        len += (size_t) snprintf(fds + len, cap - len, "%d %c %s\n",
                                 ls[i].fd, ls[i].inherited ? 's' : '-',
                                 ls[i].address);
    }
    snprintf(num, sizeof(num), "%d", ready);
    snprintf(pair, sizeof(pair), "%d %d", handoff[0], handoff[1]);
    if (fds == NULL || keep_open(ready) != FPMD_OK
        || setenv(ENV_FDS, len ? fds : "", 1) != 0
        || setenv(ENV_READY, num, 1) != 0)
        _exit(127);
    if (handoff[0] >= 0 && keep_open(handoff[0]) == FPMD_OK
        && keep_open(handoff[1]) == FPMD_OK)
        setenv(ENV_HANDOFF, pair, 1);
    /* systemd's watchdog names the process it watches: the new master,
     * this pid once exec'd, is to keep up the pings once it is the main
     * one */
    if (getenv("WATCHDOG_USEC") != NULL) {
        snprintf(num, sizeof(num), "%d", (int) getpid());
        setenv("WATCHDOG_PID", num, 1);
    }
    /* the master's blocked signals would stay blocked across exec */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(U.exe, U.argv);
    fpmd_log_errno(FPMD_LOG_ERROR, "upgrade: cannot run %s", U.exe);
    _exit(127);
}

pid_t
fpmd_upgrade_spawn(const struct fpmd_listener *ls, size_t n,
                   const int handoff[2], int *ready_fd)
{
    int p[2];
    pid_t pid;

    if (U.exe[0] == '\0' || U.argv == NULL) {
        fpmd_log(FPMD_LOG_ERROR, "upgrade: the binary's path is unknown");
        return -1;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "upgrade: pipe()");
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        child(ls, n, handoff, p[1]);
    }
    close(p[1]);
    if (pid < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "upgrade: fork()");
        close(p[0]);
        return -1;
    }
    *ready_fd = p[0];
    return pid;
}

/* fd is a socket with option opt at value want (any value but 0 when
 * want is -1): what else an environment may name. */
static bool
socket_with(int fd, int opt, int want)
{
    struct stat st;
    int v = 0;
    socklen_t len = sizeof(v);

    return fd > STDERR_FILENO && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)
        && getsockopt(fd, SOL_SOCKET, opt, &v, &len) == 0
        && (want < 0 ? v != 0 : v == want);
}

/* The handoff pair an old master passed, when both are what it makes. */
static void
inherit_handoff(int handoff[2])
{
    const char *pair = getenv(ENV_HANDOFF);
    int r, w;

    handoff[0] = handoff[1] = -1;
    if (pair == NULL || sscanf(pair, "%d %d", &r, &w) != 2
        || !socket_with(r, SO_TYPE, SOCK_SEQPACKET)
        || !socket_with(w, SO_TYPE, SOCK_SEQPACKET))
        return;
    fcntl(r, F_SETFD, FD_CLOEXEC);
    fcntl(w, F_SETFD, FD_CLOEXEC);
    handoff[0] = r;
    handoff[1] = w;
}

static int
family_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    return getsockname(fd, (struct sockaddr *) &ss, &len) == 0
        ? ss.ss_family : AF_UNSPEC;
}

struct fpmd_listener *
fpmd_upgrade_inherited(size_t *n, int handoff[2])
{
    const char *fds = getenv(ENV_FDS), *ready = getenv(ENV_READY);
    struct fpmd_listener *ls = NULL;
    size_t cap = 0;

    *n = 0;
    if (ready != NULL) {
        char *end;
        long fd = strtol(ready, &end, 10);

        if (*end == '\0' && fd > STDERR_FILENO && fd < INT_MAX
            && fcntl((int) fd, F_SETFD, FD_CLOEXEC) == 0)
            U.ready_fd = (int) fd;
    }
    for (const char *line = fds; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n'), *sp;
        char *end;
        long fd = strtol(line, &end, 10);

        if (nl == NULL)
            break;
        sp = end;
        if (end != line && sp[0] == ' ' && (sp[1] == 's' || sp[1] == '-')
            && sp[2] == ' ' && fd < INT_MAX
            && socket_with((int) fd, SO_ACCEPTCONN, -1)) {
            struct fpmd_listener *grown = *n < cap ? ls
                : realloc(ls, (cap = cap ? cap * 2 : 8) * sizeof(*ls));

            if (grown == NULL)
                break;
            ls = grown;
            memset(&ls[*n], 0, sizeof(ls[*n]));
            ls[*n].fd = (int) fd;
            ls[*n].family = family_of((int) fd);
            ls[*n].inherited = sp[1] == 's';
            ls[*n].address = strndup(sp + 3, (size_t) (nl - sp - 3));
            fcntl((int) fd, F_SETFD, FD_CLOEXEC);
            if (ls[*n].address != NULL)
                ++*n;
        }
        line = nl + 1;
    }
    inherit_handoff(handoff);
    unsetenv(ENV_FDS);
    unsetenv(ENV_READY);
    unsetenv(ENV_HANDOFF);
    return ls;
}

void
fpmd_upgrade_ready(void)
{
    char pid[24];
    int len = snprintf(pid, sizeof(pid), "%d", (int) getpid());

    if (U.ready_fd < 0)
        return;
    if (write(U.ready_fd, pid, (size_t) len) < 0)
        fpmd_log_errno(FPMD_LOG_WARNING, "upgrade: cannot tell the old "
                       "master");
    close(U.ready_fd);
    U.ready_fd = -1;
}
