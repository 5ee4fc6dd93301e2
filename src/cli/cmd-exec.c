/* cmd-exec.c - `berth exec`: run a command in a running container, with
 * Docker's flags and exit codes (126: cannot be run, 127: not found, else
 * the command's own code; 1 when the container is not running). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "cli/terminal.h"
#include "libberth/container/exec.h"

#define ENV_FILE_MAX (1u << 20)

/* Docker's --env-file: one KEY=VALUE a line, "#" comments and blank lines
 * skipped, a bare KEY taken from our environment when set. */
static int read_env_file(const char *path, char ***env, struct berth_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_file_at(AT_FDCWD, path, ENV_FILE_MAX, &buf, &len, err);
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **lines = strv_split(buf, "\n");
    STRV_FOREACH(l, lines)
    {
        char *line = *l;
        while (*line == ' ' || *line == '\t') {
            line++;
        }
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r') {
            line[--n] = '\0';
        }
        if (!*line || *line == '#') {
            continue;
        }
        if (*line == '=') {
            return berth_error_set(err, EINVAL, "invalid environment variable: %s", line);
        }
        if (strchr(line, '=')) {
            strv_push(env, line);
        } else if (getenv(line)) {
            strv_consume(env, xasprintf("%s=%s", line, getenv(line)));
        }
    }
    return 0;
}

static void exec_usage(FILE *f)
{
    fprintf(f, "\nUsage:  berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n"
               "Run a command in a running container\n");
}

/* Docker's codes for a command that could not be started. */
static int exec_failure_code(const struct berth_error *e)
{
    const char *m = e && e->msg ? e->msg : "";
    if (strstr(m, "executable file not found") || strstr(m, "no such file or directory")) {
        return 127;
    }
    if (strstr(m, "permission denied") || strstr(m, "is a directory")) {
        return 126;
    }
    return strstr(m, "is not running") || strstr(m, "is paused") || strstr(m, "No such container")
               ? 1
               : 126;
}

int cmd_exec(struct cli *cli, int argc, char **argv)
{
    bool interactive = false, tty = false, detach = false, privileged = false, help = false;
    const char *user = NULL, *workdir = NULL, *detach_keys = NULL;
    _cleanup_strv_free_ char **env_flags = NULL, **env_files = NULL;
    const struct opt_def defs[] = {
        {"detach", 'd', OPT_BOOL, &detach, "Detached mode: run command in the background", NULL},
        {"detach-keys", 0, OPT_STRING, &detach_keys,
         "Override the key sequence for detaching a container", NULL},
        {"env", 'e', OPT_LIST, &env_flags, "Set environment variables", NULL},
        {"env-file", 0, OPT_LIST, &env_files, "Read in a file of environment variables", NULL},
        {"interactive", 'i', OPT_BOOL, &interactive, "Keep STDIN open even if not attached", NULL},
        {"privileged", 0, OPT_BOOL, &privileged, "Give extended privileges to the command", NULL},
        {"tty", 't', OPT_BOOL, &tty, "Allocate a pseudo-TTY", NULL},
        {"user", 'u', OPT_STRING, &user, "Username or UID (format: <name|uid>[:<group|gid>])",
         NULL},
        {"workdir", 'w', OPT_STRING, &workdir, "Working directory inside the container", NULL},
        {"help", 0, OPT_BOOL, &help, NULL, NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    /* Not interspersed (Docker's exec): flags after CONTAINER belong to
     * the command. */
    struct berth_error *err = NULL;
    _cleanup_strv_free_ char **args = NULL;
    if (opts_parse(defs, argc - 1, argv + 1, 0, &args, &err) < 0) {
        fprintf(stderr, "%s\nSee 'berth exec --help'.\n", err->msg);
        berth_error_free(err);
        return 125;
    }
    if (help) {
        exec_usage(stdout);
        printf("\nOptions:\n");
        fflush(stdout);
        opts_usage(defs, STDOUT_FILENO);
        return 0;
    }
    if (strv_length(args) < 2) {
        fprintf(stderr, "\"berth exec\" requires at least 2 arguments.\n"
                        "See 'berth exec --help'.\n");
        exec_usage(stderr);
        return 1;
    }
    struct detach_keys keys;
    if (detach_keys_parse(detach_keys, &keys, &err) < 0) {
        return cli_fail(err, 125);
    }
    _cleanup_strv_free_ char **env = NULL;
    STRV_FOREACH(f, env_files)
    {
        if (read_env_file(*f, &env, &err) < 0) {
            return cli_fail(err, 125);
        }
    }
    STRV_FOREACH(e, env_flags)
    {
        if (**e == '=' || !**e) {
            berth_error_set(&err, EINVAL, "invalid environment variable: %s", *e);
            return cli_fail(err, 125);
        }
        if (strchr(*e, '=')) {
            strv_push(&env, *e);
        } else if (getenv(*e)) {
            strv_consume(&env, xasprintf("%s=%s", *e, getenv(*e)));
        }
    }
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 125);
    }
    struct container_exec_opts o = {
        .cmd = args + 1,
        .env = env,
        .user = user,
        .workdir = workdir,
        .tty = tty,
        .interactive = interactive,
        .privileged = privileged,
        .detach = detach,
    };
    if (tty) {
        (void)terminal_size(STDOUT_FILENO, &o.rows, &o.cols);
    }
    struct container_exec_proc p = {.master = -1, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    if (container_exec(s, args[0], &o, &p, &err) < 0) {
        return cli_fail(err, exec_failure_code(err));
    }
    if (detach) {
        container_exec_proc_release(&p);
        return 0;
    }
    struct terminal_session ts = {
        .sock = -1,
        .master = p.master,
        .in_fd = p.stdin_fd,
        .out_fd = p.stdout_fd,
        .err_fd = p.stderr_fd,
        .pid = p.pid,
        .forward_stdin = interactive,
        .tty = tty,
        .sig_proxy = !tty,
        .keys = interactive ? &keys : NULL,
    };
    int code = 0;
    enum terminal_end end = terminal_session_run(&ts, &code);
    /* The loop closed what ended; the rest is ours to close. */
    p.master = ts.master, p.stdin_fd = ts.in_fd, p.stdout_fd = ts.out_fd, p.stderr_fd = ts.err_fd;
    container_exec_proc_release(&p);
    if (end == TERMINAL_DETACHED) {
        return 0;
    }
    return code < 0 ? 126 : code;
}
