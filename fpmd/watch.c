/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "fpmd/log.h"
#include "fpmd/watch.h"

/* The file names watched (without their directories): an event in a
 * watched directory counts when it names one of them. The directory's
 * other files (a build's objects) do not. */
#define NAMES_MAX 64

static struct {
    char *names[NAMES_MAX];
    size_t n;
} watched;

static void
forget(void)
{
    for (size_t i = 0; i < watched.n; i++)
        free(watched.names[i]);
    watched.n = 0;
}

static int
add(int fd, const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t dlen = slash == NULL ? 0 : (size_t) (slash - path);

    if (watched.n == NAMES_MAX || dlen >= sizeof(dir))
        return FPMD_ERROR;
    if (slash == NULL)
        memcpy(dir, ".", 2);
    else if (dlen == 0)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    }
    if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
                                       | IN_DELETE) < 0) {
        fpmd_log_errno(FPMD_LOG_WARNING, "watch: %s", dir);
        return FPMD_ERROR;
    }
    watched.names[watched.n] = strdup(slash ? slash + 1 : path);
    if (watched.names[watched.n] == NULL)
        return FPMD_ERROR;
    watched.n++;
    return FPMD_OK;
}

int
fpmd_watch_open(const struct fpmd_conf *conf)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    forget();
    if (fd < 0) {
        fpmd_log_errno(FPMD_LOG_WARNING, "watch: inotify_init1");
        return -1;
    }
    /* the embedded config has no file to watch */
    if (strcmp(conf->file, "(embedded)") != 0 && add(fd, conf->file) < 0) {
        close(fd);
        return -1;
    }
    for (size_t i = 0; i < conf->nmodules; i++) {
        if (add(fd, conf->modules[i].path) < 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

bool
fpmd_watch_changed(int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool changed = false;
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const void *) p;

            for (size_t i = 0; e->len > 0 && i < watched.n; i++) {
                if (strcmp(e->name, watched.names[i]) == 0) {
                    if (!changed)
                        fpmd_log(FPMD_LOG_NOTICE, "watch: %s changed; "
                                 "reloading", e->name);
                    changed = true;
                }
            }
            p += sizeof(*e) + e->len;
        }
    }
    return changed;
}

void
fpmd_watch_close(int fd)
{
    if (fd >= 0)
        close(fd);
    forget();
}
