/* SPDX-License-Identifier: BSD-2-Clause */
/* Command line, php-fpm's flags: load and check the config, optionally
 * detach, then hand over to the master. Exit codes: 0 ok, 64 usage, 78
 * configuration or startup failure (php-fpm's FPM_EXIT_CONFIG). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json_c_version.h>
#include <yaml.h>

#include "fpmd/cli_run.h"
#include "fpmd/control.h"
#include "fpmd/hooks.h"
#include "fpmd/log.h"
#include "fpmd/master.h"
#include "fpmd/prepare.h"
#include "fpmd/router.h"
#include "fpmd/systemd.h"

#define EXIT_USAGE 64
#define EXIT_CONFIG 78

static void
usage(FILE *out)
{
    fprintf(out,
        "Usage: fpmd [-y FILE] [-t [--routes]] [-F | -D] [-g FILE] [-R] "
        "[-s ACTION] [-v] [-h]\n"
        "  -y, --fpm-config FILE  YAML configuration (default: embedded)\n"
        "  -t, --test             test the configuration and exit\n"
        "      --routes           with -t: print the route table\n"
        "  -F, --nodaemonize      stay in the foreground (default)\n"
        "  -D, --daemonize        detach from the terminal\n"
        "  -g, --pid FILE         write the master's pid to FILE\n"
        "  -R, --allow-to-run-as-root\n"
        "                         let workers run as root (no user: set, or "
        "root)\n"
        "  -s, --signal ACTION    signal the running master (its pid file: "
        "-g, or pid:\n"
        "                         in the configuration): reload, reopen, "
        "upgrade,\n"
        "                         quit or stop\n"
        "  run METHOD PATH ...    answer one request in this process and "
        "print it\n"
        "                         (fpmd run --help)\n"
        "  task NAME [INPUT|-]    run one task in this process and print its "
        "result\n"
        "  -v, --version          print the version\n"
        "  -h, --help             this help\n"
        "Signals: USR1 reopen logs, USR2 graceful reload, HUP binary "
        "upgrade, QUIT\n"
        "graceful stop, TERM/INT fast stop.\n");
}

static void
version(void)
{
    printf("fpmd %s (fastcgi) libevent %s, libyaml %s, json-c %s\n",
           PACKAGE_VERSION, event_get_version(), yaml_get_version_string(),
           JSON_C_VERSION);
}

/* Every connection and coroutine-held backend socket is a descriptor: the
 * soft limit (often 1024) is raised to the hard one, as php-fpm's
 * rlimit_files would. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Forks; the parent waits for the child's startup verdict on a pipe so an
 * init script sees a failed start as a non-zero exit. */
static int
daemonize(int *ready_fd)
{
    int p[2];
    pid_t pid;
    char status = 1;
    int fd;

    if (pipe(p) < 0)
        return FPMD_ERROR;
    pid = fork();
    if (pid < 0)
        return FPMD_ERROR;
    if (pid > 0) {
        close(p[1]);
        if (read(p[0], &status, 1) != 1)
            status = 1;
        _exit(status == 0 ? 0 : EXIT_CONFIG);
    }
    close(p[0]);
    setsid();
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    *ready_fd = p[1];
    return FPMD_OK;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"fpm-config", required_argument, NULL, 'y'},
        {"test", no_argument, NULL, 't'},
        {"routes", no_argument, NULL, 'r'},
        {"nodaemonize", no_argument, NULL, 'F'},
        {"daemonize", no_argument, NULL, 'D'},
        {"pid", required_argument, NULL, 'g'},
        {"allow-to-run-as-root", no_argument, NULL, 'R'},
        {"signal", required_argument, NULL, 's'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fpmd_master_opts opts = {NULL, NULL, -1, -1, false, 0, argv};
    struct fpmd_conf *conf;
    char err[16384];
    const char *action = NULL;
    int test = 0, routes = 0, c, rc;

    /* '+': options end at a command (run) and its own options */
    while ((c = getopt_long(argc, argv, "+y:tFDg:Rs:vh", longopts, NULL))
           != -1) {
        switch (c) {
        case 'y':
            opts.conf_path = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'r':
            routes = 1;
            break;
        case 'F':
            opts.daemonize = 0;
            break;
        case 'D':
            opts.daemonize = 1;
            break;
        case 'g':
            opts.pid_file = optarg;
            break;
        case 'R':
            opts.allow_root = true;
            break;
        case 's':
            action = optarg;
            break;
        case 'v':
            version();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc && strcmp(argv[optind], "run") != 0
        && strcmp(argv[optind], "task") != 0) {
        fprintf(stderr, "fpmd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }

    conf = fpmd_conf_load(opts.conf_path, err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "%s", err);
        fprintf(stderr, "fpmd: configuration file %s test failed\n",
                opts.conf_path ? opts.conf_path : "(embedded)");
        return EXIT_CONFIG;
    }
    if (optind < argc) {
        rc = strcmp(argv[optind], "run") == 0
            ? fpmd_cli_run(conf, argc - optind, argv + optind)
            : fpmd_cli_task(conf, argc - optind, argv + optind);
        fpmd_conf_free(conf);
        return rc;
    }
    if (action != NULL) {
        rc = fpmd_control_signal(opts.pid_file ? opts.pid_file
                                               : conf->pid_file, action);
        fpmd_conf_free(conf);
        return rc;
    }
    if (test) {
        /* -t checks in this process: it exits right after. */
        struct fpmd_creds creds;
        struct fpmd_router *router;

        if (fpmd_master_creds(conf, opts.allow_root, &creds) != FPMD_OK) {
            fprintf(stderr, "fpmd: configuration file %s test failed\n",
                    conf->file);
            fpmd_conf_free(conf);
            return EXIT_CONFIG;
        }
        router = fpmd_prepare(conf, err, sizeof(err));

        if (router != NULL && routes) {
            const struct fpmd_hook_def **hooks;
            size_t n = fpmd_hooks_list(&hooks);

            fpmd_router_print(router, stdout);
            for (size_t i = 0; i < n; i++)
                printf("hook %-7s %-32d %-16s %s:%d\n",
                       hooks[i]->kind == FPMD_HOOK_BEFORE ? "before"
                       : hooks[i]->kind == FPMD_HOOK_ERROR ? "error"
                                                           : "after",
                       hooks[i]->priority, hooks[i]->name, hooks[i]->file,
                       hooks[i]->line);
        }
        fpmd_router_free(router);
        rc = router != NULL ? FPMD_OK : FPMD_ERROR;
    } else {
        rc = fpmd_prepare_in_child(conf, err, sizeof(err));
    }
    if (rc != FPMD_OK) {
        fprintf(stderr, "%s", err);
        fprintf(stderr, "fpmd: configuration file %s test failed\n",
                conf->file);
        fpmd_conf_free(conf);
        return EXIT_CONFIG;
    }
    if (test) {
        printf("fpmd: configuration file %s test is successful\n",
               conf->file);
        fpmd_conf_free(conf);
        return 0;
    }
    if (opts.daemonize < 0)
        opts.daemonize = conf->daemonize > 0;
    raise_nofile();

    if (fpmd_log_open(conf) != FPMD_OK) {
        fpmd_conf_free(conf);
        return EXIT_CONFIG;
    }
    /* taken before a fork: $LISTEN_PID names this process */
    opts.listen_fds = fpmd_systemd_listen_fds();
    if (opts.listen_fds < 0) {
        fpmd_conf_free(conf);
        return EXIT_CONFIG;
    }
    if (opts.daemonize && daemonize(&opts.ready_fd) != FPMD_OK) {
        fprintf(stderr, "fpmd: cannot daemonize: %s\n", strerror(errno));
        return EXIT_CONFIG;
    }
    rc = fpmd_master_run(conf, &opts);
    fpmd_log_close();
    return rc;
}
