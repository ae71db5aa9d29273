/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmd/control.h"

#define EXIT_USAGE 64
#define EXIT_NOT_RUNNING 1

static const struct {
    const char *action;
    int sig;
} actions[] = {
    {"reload", SIGUSR2},
    {"reopen", SIGUSR1},
    {"upgrade", SIGHUP},
    {"quit", SIGQUIT},
    {"stop", SIGTERM},
};

/* The pid in path: a positive decimal number alone on its line. */
static pid_t
read_pid(const char *path)
{
    char buf[32], *end;
    FILE *f = fopen(path, "r");
    long pid;

    if (f == NULL) {
        fprintf(stderr, "fpmd: cannot open pid file \"%s\": %s (is fpmd "
                "running?)\n", path, strerror(errno));
        return -1;
    }
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    errno = 0;
    pid = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || (*end != '\n' && *end != '\0')
        || pid <= 1 || pid > INT_MAX) {
        fprintf(stderr, "fpmd: invalid pid in \"%s\"\n", path);
        return -1;
    }
    return (pid_t) pid;
}

/* The executable of /proc/PID, without the " (deleted)" an upgraded
 * binary gets; NULL when it cannot be read (another user's process). */
static char *
exe_of(const char *proc, char *buf, size_t len)
{
    ssize_t n = readlink(proc, buf, len - 1);
    const char *del = " (deleted)";
    size_t dl = strlen(del);

    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    if ((size_t) n > dl && strcmp(buf + n - dl, del) == 0)
        buf[n - dl] = '\0';
    return buf;
}

int
fpmd_control_signal(const char *pid_file, const char *action)
{
    char proc[64], theirs[PATH_MAX], ours[PATH_MAX];
    size_t i;
    pid_t pid;

    for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        if (strcmp(actions[i].action, action) == 0)
            break;
    }
    if (i == sizeof(actions) / sizeof(actions[0])) {
        fprintf(stderr, "fpmd: invalid option: \"-s %s\" (reload, reopen, "
                "upgrade, quit or stop)\n", action);
        return EXIT_USAGE;
    }
    if (pid_file == NULL) {
        fprintf(stderr, "fpmd: -s %s needs the master's pid file: pass -g "
                "FILE or set pid: in the configuration\n", action);
        return EXIT_NOT_RUNNING;
    }
    pid = read_pid(pid_file);
    if (pid < 0)
        return EXIT_NOT_RUNNING;
    /* A pid file left by a crash may name a pid now reused by another
     * program: only an fpmd gets the signal. */
    snprintf(proc, sizeof(proc), "/proc/%d/exe", (int) pid);
    if (exe_of(proc, theirs, sizeof(theirs)) != NULL
        && exe_of("/proc/self/exe", ours, sizeof(ours)) != NULL
        && strcmp(theirs, ours) != 0) {
        fprintf(stderr, "fpmd: pid %d from \"%s\" is not fpmd (it runs %s): "
                "a stale pid file?\n", (int) pid, pid_file, theirs);
        return EXIT_NOT_RUNNING;
    }
    if (kill(pid, actions[i].sig) < 0) {
        fprintf(stderr, "fpmd: kill(%d, SIG%s) failed: %s%s\n", (int) pid,
                sigabbrev_np(actions[i].sig), strerror(errno),
                errno == ESRCH ? ": a stale pid file?" : "");
        return EXIT_NOT_RUNNING;
    }
    return 0;
}
