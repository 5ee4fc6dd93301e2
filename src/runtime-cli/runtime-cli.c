/* runtime-cli.c - `berth-runtime`, the runc-compatible command line.
 *
 * Flags follow Go's flag package (as runc's CLI does) so containerd, podman's
 * conmon and dockerd drive it unchanged: global flags, then a command, then
 * its flags, then positionals. Every command parses, calls one libberth
 * function, and prints; errors go to stderr and, with --log, to the log file
 * in the chosen format (containerd shows the last "error" line of it).
 */
#include "runtime-cli.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/opts.h"
#include "basic/parse.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/runtime/caps.h"
#include "libberth/runtime/cgroup.h"
#include "libberth/runtime/container.h"
#include "libberth/runtime/spec-default.h"

#define DEFAULT_ROOT "/run/berth-runtime"

struct global {
    struct berth_runtime rt;
    const char *log_path;
    const char *log_format;
    bool debug;
};

typedef int (*cmd_fn)(struct global *g, int argc, char **argv, struct berth_error **err);

static int print_json(json_t *j, bool pretty)
{
    char *s = json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT);
    if (!s) {
        return -ENOMEM;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

/* Positional-count check with runc's wording. */
static int need_args(char **args, size_t min, size_t max, const char *cmd, struct berth_error **err)
{
    size_t n = strv_length(args);
    if (n < min) {
        return berth_error_set(err, EINVAL, "\"%s\" requires %s%zu argument(s)", cmd,
                               min == max ? "exactly " : "a minimum of ", min);
    }
    if (max && n > max) {
        return berth_error_set(err, EINVAL, "\"%s\" requires %s%zu argument(s)", cmd,
                               min == max ? "exactly " : "a maximum of ", max);
    }
    return 0;
}

static char *absolute(const char *path)
{
    if (!path || !*path) {
        char buf[4096];
        return xstrdup(getcwd(buf, sizeof(buf)) ? buf : ".");
    }
    if (path[0] == '/') {
        return xstrdup(path);
    }
    char *r = realpath(path, NULL);
    if (r) {
        return r;
    }
    char buf[4096];
    return xasprintf("%s/%s", getcwd(buf, sizeof(buf)) ? buf : ".", path);
}

/* ---- foreground: signals, wait, pty proxy ----------------------------- */

struct fg {
    pid_t pid;
    int master; /* pty master, or -1 */
};

static void resize(int master)
{
    struct winsize ws;
    if (master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
        ioctl(master, TIOCSWINSZ, &ws);
    }
}

/* Forward signals to the process, copy the terminal both ways, and return
 * its exit code (128+signal when killed, as a shell reports it). */
static void forwarded_signals(sigset_t *set)
{
    sigfillset(set);
    sigdelset(set, SIGSEGV);
    sigdelset(set, SIGBUS);
    sigdelset(set, SIGILL);
    sigdelset(set, SIGFPE);
}

/* Block the signals we forward before the process exists: a process that
 * exits at once must leave its SIGCHLD pending for foreground_wait. */
static void block_signals(void)
{
    sigset_t set;
    forwarded_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

static int reap(pid_t pid, int *code)
{
    int status;
    pid_t w;
    while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
        if (w == pid) {
            *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    return *code;
}

static int foreground_wait(struct fg *f)
{
    sigset_t set;
    forwarded_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    struct termios saved;
    bool raw = false;
    if (f->master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
        struct termios t = saved;
        cfmakeraw(&t);
        raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
        resize(f->master);
    }
    int code = -1;
    bool in_open = f->master >= 0;
    reap(f->pid, &code);
    while (code < 0) {
        struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
                              {.fd = f->master, .events = POLLIN},
                              {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN}};
        if (poll(p, 3, -1) < 0 && errno != EINTR) {
            break;
        }
        if (p[1].revents & (POLLIN | POLLHUP)) {
            char buf[8192];
            ssize_t n = read(f->master, buf, sizeof(buf));
            if (n > 0) {
                write_all(STDOUT_FILENO, buf, (size_t)n);
            } else {
                f->master = -1; /* the pty is gone; keep waiting for the exit */
            }
        }
        if (p[2].revents & (POLLIN | POLLHUP)) {
            char buf[8192];
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n > 0 && f->master >= 0) {
                write_all(f->master, buf, (size_t)n);
            } else if (n <= 0) {
                in_open = false;
            }
        }
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) != sizeof(si)) {
                continue;
            }
            if (si.ssi_signo == SIGWINCH) {
                resize(f->master);
            } else if (si.ssi_signo != SIGCHLD) {
                kill(f->pid, (int)si.ssi_signo);
            }
            /* Reap everything: we are the subreaper of the container. */
            reap(f->pid, &code);
        }
    }
    /* Drain what the process wrote last. */
    if (f->master >= 0) {
        fd_set_nonblock(f->master, 1);
        char buf[8192];
        ssize_t n;
        while ((n = read(f->master, buf, sizeof(buf))) > 0) {
            write_all(STDOUT_FILENO, buf, (size_t)n);
        }
    }
    if (raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
    safe_close(sfd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return code < 0 ? 255 : code;
}

/* For -t without --console-socket: a private socket pair whose far end plays
 * the console socket; the pty master arrives on *ret_recv. */
static int console_pair(int *ret_send, int *ret_recv, struct berth_error **err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return berth_error_sys(err, errno, "socketpair");
    }
    *ret_send = sv[1];
    *ret_recv = sv[0];
    return 0;
}

static int recv_master(int sock, struct berth_error **err)
{
    char name[128];
    int fd = -1;
    ssize_t n = recv_fd(sock, &fd, name, sizeof(name));
    if (n <= 0 || fd < 0) {
        return berth_error_set(err, EIO, "no terminal received from the container");
    }
    return fd;
}

/* ---- commands --------------------------------------------------------- */

struct create_flags {
    const char *bundle, *console_socket, *pid_file;
    bool no_pivot, no_new_keyring, detach, keep, no_subreaper;
    int preserve_fds;
};

#define CREATE_OPTS(cf)                                                                            \
    {"bundle", 'b', OPT_STRING, &(cf).bundle, "path to the root of the bundle directory", NULL},   \
        {"console-socket",                                                                         \
         0,                                                                                        \
         OPT_STRING,                                                                               \
         &(cf).console_socket,                                                                     \
         "path to an AF_UNIX socket which will receive the pty master",                            \
         NULL},                                                                                    \
        {"pid-file", 0, OPT_STRING, &(cf).pid_file, "file to write the process id to", NULL},      \
        {"no-pivot", 0, OPT_BOOL, &(cf).no_pivot, "do not use pivot_root", NULL},                  \
        {"no-new-keyring",                                                                         \
         0,                                                                                        \
         OPT_BOOL,                                                                                 \
         &(cf).no_new_keyring,                                                                     \
         "do not create a new session keyring",                                                    \
         NULL},                                                                                    \
    {                                                                                              \
        "preserve-fds", 0, OPT_INT, &(cf).preserve_fds,                                            \
            "pass N additional file descriptors to the container", NULL                            \
    }

static int do_create(struct global *g, struct create_flags *cf, const char *id, bool start,
                     pid_t *ret_pid, int *ret_master, struct berth_error **err)
{
    _cleanup_free_ char *bundle = absolute(cf->bundle);
    int send = -1, recv = -1;
    struct berth_create_opts o = {
        .id = id,
        .bundle = bundle,
        .pid_file = cf->pid_file,
        .console_socket = cf->console_socket,
        .no_pivot = cf->no_pivot,
        .no_new_keyring = cf->no_new_keyring,
        .preserve_fds = cf->preserve_fds,
        .console_fd = -1,
    };
    if (ret_master && !cf->console_socket) {
        /* run in the foreground: a terminal, if the config asks, is ours to proxy. */
        int r = console_pair(&send, &recv, err);
        if (r < 0) {
            return r;
        }
        o.console_fd = send;
    }
    pid_t pid = 0;
    int r = berth_runtime_create(&g->rt, &o, &pid, err);
    safe_close(send);
    if (r >= 0 && ret_master) {
        /* The pty master arrived before create returned if the config asked
         * for a terminal; nothing waits on the socket otherwise. */
        *ret_master = -1;
        int fd = -1;
        char name[128];
        fd_set_nonblock(recv, 1);
        if (recv_fd(recv, &fd, name, sizeof(name)) > 0 && fd >= 0) {
            *ret_master = fd;
        }
    }
    safe_close(recv);
    if (r >= 0 && start) {
        r = berth_runtime_start(&g->rt, id, err);
    }
    if (r >= 0 && ret_pid) {
        *ret_pid = pid;
    }
    return r;
}

static int cmd_create(struct global *g, int argc, char **argv, struct berth_error **err)
{
    struct create_flags cf = {0};
    struct opt_def defs[] = {CREATE_OPTS(cf), {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r >= 0) {
        r = need_args(args, 1, 1, "create", err);
    }
    if (r < 0) {
        return r;
    }
    return do_create(g, &cf, args[0], false, NULL, NULL, err);
}

static int cmd_run(struct global *g, int argc, char **argv, struct berth_error **err)
{
    struct create_flags cf = {0};
    struct opt_def defs[] = {
        CREATE_OPTS(cf),
        {"detach", 'd', OPT_BOOL, &cf.detach, "detach from the container's process", NULL},
        {"keep", 0, OPT_BOOL, &cf.keep, "do not delete the container after it exits", NULL},
        {"no-subreaper", 0, OPT_BOOL, &cf.no_subreaper, "disable the use of the subreaper", NULL},
        {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r >= 0) {
        r = need_args(args, 1, 1, "run", err);
    }
    if (r < 0) {
        return r;
    }
    if (cf.detach) {
        return do_create(g, &cf, args[0], true, NULL, NULL, err);
    }
    if (!cf.no_subreaper) {
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    block_signals();
    struct fg f = {.master = -1};
    r = do_create(g, &cf, args[0], true, &f.pid, &f.master, err);
    if (r < 0) {
        _cleanup_error_ struct berth_error *de = NULL;
        if (r != -EEXIST) {
            berth_runtime_delete(&g->rt, args[0], true, &de);
        }
        return r;
    }
    log_trace_point("run: started");
    int code = foreground_wait(&f);
    log_trace_point("run: exited");
    safe_close(f.master);
    if (!cf.keep) {
        _cleanup_error_ struct berth_error *de = NULL;
        if (berth_runtime_delete(&g->rt, args[0], true, &de) < 0) {
            log_warn("%s", de->msg);
        }
        log_trace_point("run: deleted");
    }
    return code;
}

static int one_id(int argc, char **argv, const char *cmd, char ***ret, struct berth_error **err)
{
    struct opt_def defs[] = {{0}};
    int r = opts_parse(defs, argc, argv, OPTS_GO, ret, err);
    if (r >= 0) {
        r = need_args(*ret, 1, 1, cmd, err);
    }
    return r;
}

static int cmd_start(struct global *g, int argc, char **argv, struct berth_error **err)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = one_id(argc, argv, "start", &args, err);
    return r < 0 ? r : berth_runtime_start(&g->rt, args[0], err);
}

static int cmd_state(struct global *g, int argc, char **argv, struct berth_error **err)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = one_id(argc, argv, "state", &args, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(container_state_freep) struct container_state *s = NULL;
    r = berth_runtime_state(&g->rt, args[0], &s, err);
    if (r < 0) {
        return r;
    }
    _cleanup_json_ json_t *j = container_state_to_oci_json(s, true);
    return print_json(j, true);
}

static int cmd_kill(struct global *g, int argc, char **argv, struct berth_error **err)
{
    bool all = false;
    struct opt_def defs[] = {
        {"all", 'a', OPT_BOOL, &all, "send the signal to all processes in the container", NULL},
        {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r >= 0) {
        r = need_args(args, 1, 2, "kill", err);
    }
    if (r < 0) {
        return r;
    }
    int sig = SIGTERM;
    if (args[1]) {
        sig = signal_from_string(args[1]);
        if (sig < 0) {
            return berth_error_set(err, EINVAL, "unknown signal '%s'", args[1]);
        }
    }
    return berth_runtime_kill(&g->rt, args[0], sig, all, err);
}

static int cmd_delete(struct global *g, int argc, char **argv, struct berth_error **err)
{
    bool force = false;
    struct opt_def defs[] = {{"force", 'f', OPT_BOOL, &force,
                              "forcibly delete the container if it is still running", NULL},
                             {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r >= 0) {
        r = need_args(args, 1, 0, "delete", err);
    }
    for (size_t i = 0; r >= 0 && args[i]; i++) {
        r = berth_runtime_delete(&g->rt, args[i], force, err);
        if (r == -ENOENT && force) {
            /* runc: delete --force of a missing container is not an error. */
            berth_error_free(*err);
            *err = NULL;
            r = 0;
        }
    }
    return r;
}

static int cmd_pause(struct global *g, int argc, char **argv, struct berth_error **err)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = one_id(argc, argv, "pause", &args, err);
    return r < 0 ? r : berth_runtime_pause(&g->rt, args[0], err);
}

static int cmd_resume(struct global *g, int argc, char **argv, struct berth_error **err)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = one_id(argc, argv, "resume", &args, err);
    return r < 0 ? r : berth_runtime_resume(&g->rt, args[0], err);
}

static int cmd_list(struct global *g, int argc, char **argv, struct berth_error **err)
{
    const char *format = "table";
    bool quiet = false;
    struct opt_def defs[] = {
        {"format", 'f', OPT_STRING, &format, "select one of: table or json", NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "display only container IDs", NULL},
        {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r < 0) {
        return r;
    }
    if (!streq(format, "table") && !streq(format, "json")) {
        return berth_error_set(err, EINVAL, "invalid format option '%s'", format);
    }
    struct container_state **v = NULL;
    size_t n = 0;
    r = berth_runtime_list(&g->rt, &v, &n, err);
    if (r < 0) {
        return r;
    }
    if (quiet) {
        for (size_t i = 0; i < n; i++) {
            printf("%s\n", v[i]->id);
        }
    } else if (streq(format, "json")) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(a, container_state_to_oci_json(v[i], true));
        }
        print_json(a, false);
        json_decref(a);
    } else {
        printf("%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
               "OWNER");
        for (size_t i = 0; i < n; i++) {
            struct container_state *s = v[i];
            bool live = s->status != STATUS_STOPPED && s->status != STATUS_CREATING;
            printf("%-12s %-10d %-10s %-40s %-30s %s\n", s->id, live ? (int)s->pid : 0,
                   container_status_name(s->status), s->bundle ? s->bundle : "",
                   s->created ? s->created : "", s->owner == 0 ? "root" : "");
        }
    }
    for (size_t i = 0; i < n; i++) {
        container_state_free(v[i]);
    }
    free(v);
    return 0;
}

static int cmd_ps(struct global *g, int argc, char **argv, struct berth_error **err)
{
    const char *format = "table";
    struct opt_def defs[] = {
        {"format", 'f', OPT_STRING, &format, "select one of: table or json", NULL}, {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r >= 0) {
        r = need_args(args, 1, 0, "ps", err);
    }
    if (r < 0) {
        return r;
    }
    pid_t *pids = NULL;
    size_t n = 0;
    r = berth_runtime_pids(&g->rt, args[0], &pids, &n, err);
    if (r < 0) {
        return r;
    }
    if (streq(format, "json")) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(a, json_integer(pids[i]));
        }
        print_json(a, false);
        json_decref(a);
        free(pids);
        return 0;
    }
    /* Like runc: run ps(1) with the given options (default -ef) and keep the
     * header plus the lines whose PID column is in the container. */
    _cleanup_strv_free_ char **cmd = NULL;
    strv_push(&cmd, "ps");
    if (args[1]) {
        for (size_t i = 1; args[i]; i++) {
            strv_push(&cmd, args[i]);
        }
    } else {
        strv_push(&cmd, "-ef");
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        free(pids);
        return berth_error_sys(err, errno, "pipe");
    }
    pid_t child = fork();
    if (child == 0) {
        dup2(pfd[1], 1);
        execvp("ps", cmd);
        _exit(127);
    }
    close(pfd[1]);
    _cleanup_free_ char *out = NULL;
    r = read_fd_full(pfd[0], 16u << 20, &out, NULL, err);
    close(pfd[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(pids);
        return r < 0 ? r : berth_error_set(err, EIO, "ps failed");
    }
    _cleanup_strv_free_ char **lines = strv_split(out, "\n");
    int pidcol = -1;
    for (size_t i = 0; lines[i]; i++) {
        if (i == 0) {
            _cleanup_strv_free_ char **h = strv_split(lines[0], " ");
            int col = 0;
            for (size_t k = 0; h[k]; k++) {
                if (!*h[k]) {
                    continue;
                }
                if (streq(h[k], "PID")) {
                    pidcol = col;
                }
                col++;
            }
            printf("%s\n", lines[0]);
            continue;
        }
        int col = 0;
        const char *p = lines[i];
        long pid = -1;
        while (*p) {
            while (*p == ' ') {
                p++;
            }
            if (col == pidcol) {
                pid = strtol(p, NULL, 10);
                break;
            }
            while (*p && *p != ' ') {
                p++;
            }
            col++;
        }
        for (size_t k = 0; k < n; k++) {
            if (pids[k] == pid) {
                printf("%s\n", lines[i]);
            }
        }
    }
    free(pids);
    return 0;
}

static int parse_user_spec(const char *s, struct oci_process *p, struct berth_error **err)
{
    /* uid[:gid], numeric as runc requires for exec --user. */
    _cleanup_free_ char *copy = xstrdup(s);
    char *colon = strchr(copy, ':');
    if (colon) {
        *colon = '\0';
    }
    int uid, gid = 0;
    if (parse_int(copy, &uid) < 0 || uid < 0 ||
        (colon && (parse_int(colon + 1, &gid) < 0 || gid < 0))) {
        return berth_error_set(err, EINVAL, "invalid --user '%s': want uid[:gid]", s);
    }
    p->user.uid = (uid_t)uid;
    if (colon) {
        p->user.gid = (gid_t)gid;
    }
    return 0;
}

static int cmd_exec(struct global *g, int argc, char **argv, struct berth_error **err)
{
    const char *console_socket = NULL, *cwd = NULL, *user = NULL, *process = NULL, *pid_file = NULL,
               *label = NULL, *apparmor = NULL, *cgroup = NULL;
    _cleanup_strv_free_ char **env = NULL, **caps = NULL, **gids = NULL;
    bool tty = false, detach = false, nnp = false, tty_seen = false, nnp_seen = false;
    int preserve = 0;
    struct opt_def defs[] = {
        {"console-socket", 0, OPT_STRING, &console_socket, "socket to receive the pty master",
         NULL},
        {"cwd", 0, OPT_STRING, &cwd, "current working directory in the container", NULL},
        {"env", 'e', OPT_LIST, &env, "set environment variables", NULL},
        {"tty", 't', OPT_BOOL, &tty, "allocate a pseudo-TTY", &tty_seen},
        {"user", 'u', OPT_STRING, &user, "UID (format: <uid>[:<gid>])", NULL},
        {"additional-gids", 'g', OPT_LIST, &gids, "additional gids", NULL},
        {"process", 'p', OPT_STRING, &process, "path to the process.json", NULL},
        {"detach", 'd', OPT_BOOL, &detach, "detach from the container's process", NULL},
        {"pid-file", 0, OPT_STRING, &pid_file, "file to write the process id to", NULL},
        {"process-label", 0, OPT_STRING, &label, "set the asm process label", NULL},
        {"apparmor", 0, OPT_STRING, &apparmor, "set the apparmor profile", NULL},
        {"no-new-privs", 0, OPT_BOOL, &nnp, "set the no new privileges value", &nnp_seen},
        {"cap", 'c', OPT_LIST, &caps, "add a capability to the bounding set", NULL},
        {"preserve-fds", 0, OPT_INT, &preserve, "pass N additional file descriptors", NULL},
        {"cgroup", 0, OPT_STRING, &cgroup, "run in a sub-cgroup (accepted, ignored)", NULL},
        {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r < 0) {
        return r;
    }
    if (!args[0]) {
        return berth_error_set(err, EINVAL, "\"exec\" requires a minimum of 2 argument(s)");
    }
    const char *id = args[0];
    _cleanup_(oci_process_freep) struct oci_process *p = NULL;
    if (process) {
        _cleanup_json_ json_t *j = NULL;
        r = json_load_file_at(AT_FDCWD, process, OCI_CONFIG_MAX, &j, err);
        if (r >= 0) {
            r = oci_process_parse(j, "process", &p, err);
        }
        if (r < 0) {
            return berth_error_prefix(err, "--process '%s'", process);
        }
    } else {
        if (!args[1]) {
            return berth_error_set(err, EINVAL, "\"exec\" requires a minimum of 2 argument(s)");
        }
        r = berth_runtime_exec_process(&g->rt, id, args + 1, &p, err);
        if (r < 0) {
            return r;
        }
    }
    if (tty_seen) {
        p->terminal = tty;
    }
    if (cwd) {
        free(p->cwd);
        p->cwd = xstrdup(cwd);
    }
    for (size_t i = 0; env && env[i]; i++) {
        strv_env_set(&p->env, env[i]);
    }
    if (user && (r = parse_user_spec(user, p, err)) < 0) {
        return r;
    }
    if (gids) {
        free(p->user.additional_gids);
        p->user.additional_gids = xcalloc(strv_length(gids) + 1, sizeof(gid_t));
        p->user.n_additional_gids = 0;
        for (size_t i = 0; gids[i]; i++) {
            int gid;
            if (parse_int(gids[i], &gid) < 0 || gid < 0) {
                return berth_error_set(err, EINVAL, "invalid --additional-gids '%s'", gids[i]);
            }
            p->user.additional_gids[p->user.n_additional_gids++] = (gid_t)gid;
        }
    }
    for (size_t i = 0; caps && caps[i]; i++) {
        int c = berth_cap_from_name(caps[i]);
        if (c < 0) {
            return berth_error_set(err, EINVAL, "--cap: unknown capability '%s'", caps[i]);
        }
        p->has_caps = true;
        uint64_t bit = 1ULL << c;
        p->caps.bounding |= bit;
        p->caps.effective |= bit;
        p->caps.permitted |= bit;
    }
    if (nnp_seen) {
        p->no_new_privileges = nnp;
    }
    if (p->terminal && detach && !console_socket) {
        return berth_error_set(err, EINVAL,
                               "cannot allocate tty if berth-runtime will detach without setting "
                               "console socket");
    }
    struct berth_exec_opts o = {.id = id,
                                .process = p,
                                .console_socket = console_socket,
                                .pid_file = pid_file,
                                .preserve_fds = preserve,
                                .console_fd = -1};
    int recv = -1;
    if (p->terminal && !console_socket) {
        r = console_pair(&o.console_fd, &recv, err);
        if (r < 0) {
            return r;
        }
    }
    if (!detach) {
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        block_signals();
    }
    pid_t pid = 0;
    r = berth_runtime_exec(&g->rt, &o, &pid, err);
    safe_close(o.console_fd);
    struct fg f = {.pid = pid, .master = -1};
    if (r >= 0 && recv >= 0) {
        f.master = recv_master(recv, err);
        r = f.master < 0 ? f.master : r;
    }
    safe_close(recv);
    if (r < 0 || detach) {
        return r;
    }
    int code = foreground_wait(&f);
    safe_close(f.master);
    return code;
}

static int add_resource(json_t *res, const char *group, const char *key, const char *val, bool size,
                        const char *flag, struct berth_error **err)
{
    if (!val) {
        return 0;
    }
    json_t *o = json_object_get(res, group);
    if (!o) {
        o = json_object();
        json_object_set_new(res, group, o);
    }
    if (size) {
        int64_t v;
        if (streq(val, "-1")) {
            v = -1;
        } else if (parse_size(val, &v) < 0) {
            return berth_error_set(err, EINVAL, "invalid value '%s' for --%s", val, flag);
        }
        json_object_set_new(o, key, json_integer(v));
    } else if (!strcmp(key, "cpus") || !strcmp(key, "mems")) {
        json_object_set_new(o, key, json_string(val));
    } else {
        int64_t v;
        if (parse_int64(val, &v) < 0) {
            return berth_error_set(err, EINVAL, "invalid value '%s' for --%s", val, flag);
        }
        json_object_set_new(o, key, json_integer(v));
    }
    return 0;
}

static int cmd_update(struct global *g, int argc, char **argv, struct berth_error **err)
{
    const char *resources = NULL, *memory = NULL, *swap = NULL, *reservation = NULL, *kmem = NULL,
               *kmem_tcp = NULL, *shares = NULL, *quota = NULL, *period = NULL, *rt_period = NULL,
               *rt_runtime = NULL, *cpus = NULL, *mems = NULL, *pids = NULL, *blkio = NULL,
               *l3 = NULL, *membw = NULL;
    struct opt_def defs[] = {
        {"resources", 'r', OPT_STRING, &resources, "path to a resources JSON ('-' for stdin)",
         NULL},
        {"memory", 'm', OPT_STRING, &memory, "memory limit (in bytes)", NULL},
        {"memory-swap", 0, OPT_STRING, &swap, "total memory usage (memory + swap)", NULL},
        {"memory-reservation", 0, OPT_STRING, &reservation, "memory reservation", NULL},
        {"kernel-memory", 0, OPT_STRING, &kmem, "kernel memory limit", NULL},
        {"kernel-memory-tcp", 0, OPT_STRING, &kmem_tcp, "kernel TCP memory limit", NULL},
        {"cpu-shares", 0, OPT_STRING, &shares, "CPU shares (relative weight)", NULL},
        {"cpu-quota", 0, OPT_STRING, &quota, "CPU CFS quota", NULL},
        {"cpu-period", 0, OPT_STRING, &period, "CPU CFS period", NULL},
        {"cpu-rt-period", 0, OPT_STRING, &rt_period, "CPU realtime period", NULL},
        {"cpu-rt-runtime", 0, OPT_STRING, &rt_runtime, "CPU realtime runtime", NULL},
        {"cpuset-cpus", 0, OPT_STRING, &cpus, "CPUs to use", NULL},
        {"cpuset-mems", 0, OPT_STRING, &mems, "memory nodes to use", NULL},
        {"pids-limit", 0, OPT_STRING, &pids, "maximum number of pids", NULL},
        {"blkio-weight", 0, OPT_STRING, &blkio, "block IO weight (10..1000)", NULL},
        {"l3-cache-schema", 0, OPT_STRING, &l3, NULL, NULL},
        {"mem-bw-schema", 0, OPT_STRING, &membw, NULL, NULL},
        {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r >= 0) {
        r = need_args(args, 1, 1, "update", err);
    }
    if (r < 0) {
        return r;
    }
    if (l3 || membw) {
        return berth_error_set(err, EOPNOTSUPP, "intel RDT is not supported on this host");
    }
    _cleanup_json_ json_t *res = NULL;
    if (resources) {
        if (streq(resources, "-")) {
            _cleanup_free_ char *buf = NULL;
            size_t len;
            r = read_fd_full(STDIN_FILENO, OCI_CONFIG_MAX, &buf, &len, err);
            if (r >= 0) {
                r = json_parse_buf(buf, len, OCI_CONFIG_MAX, &res, err);
            }
        } else {
            r = json_load_file_at(AT_FDCWD, resources, OCI_CONFIG_MAX, &res, err);
        }
        if (r < 0) {
            return berth_error_prefix(err, "--resources");
        }
        if (!json_is_object(res)) {
            return berth_error_set(err, EINVAL, "--resources: expected a JSON object");
        }
    } else {
        res = json_object();
    }
    if ((r = add_resource(res, "memory", "limit", memory, true, "memory", err)) < 0 ||
        (r = add_resource(res, "memory", "swap", swap, true, "memory-swap", err)) < 0 ||
        (r = add_resource(res, "memory", "reservation", reservation, true, "memory-reservation",
                          err)) < 0 ||
        (r = add_resource(res, "memory", "kernel", kmem, true, "kernel-memory", err)) < 0 ||
        (r = add_resource(res, "memory", "kernelTCP", kmem_tcp, true, "kernel-memory-tcp", err)) <
            0 ||
        (r = add_resource(res, "cpu", "shares", shares, false, "cpu-shares", err)) < 0 ||
        (r = add_resource(res, "cpu", "quota", quota, false, "cpu-quota", err)) < 0 ||
        (r = add_resource(res, "cpu", "period", period, false, "cpu-period", err)) < 0 ||
        (r = add_resource(res, "cpu", "realtimePeriod", rt_period, false, "cpu-rt-period", err)) <
            0 ||
        (r = add_resource(res, "cpu", "realtimeRuntime", rt_runtime, false, "cpu-rt-runtime",
                          err)) < 0 ||
        (r = add_resource(res, "cpu", "cpus", cpus, false, "cpuset-cpus", err)) < 0 ||
        (r = add_resource(res, "cpu", "mems", mems, false, "cpuset-mems", err)) < 0 ||
        (r = add_resource(res, "pids", "limit", pids, false, "pids-limit", err)) < 0 ||
        (r = add_resource(res, "blockIO", "weight", blkio, false, "blkio-weight", err)) < 0) {
        return r;
    }
    return berth_runtime_update(&g->rt, args[0], res, err);
}

static int cmd_spec(struct global *g, int argc, char **argv, struct berth_error **err)
{
    const char *bundle = NULL;
    bool rootless = false;
    struct opt_def defs[] = {
        {"bundle", 'b', OPT_STRING, &bundle, "path to the root of the bundle directory", NULL},
        {"rootless", 0, OPT_BOOL, &rootless, "generate a configuration for a rootless container",
         NULL},
        {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int dfd = open(bundle ? bundle : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return berth_error_sys(err, errno, "bundle '%s'", bundle ? bundle : ".");
    }
    if (faccessat(dfd, "config.json", F_OK, 0) == 0) {
        return berth_error_set(err, EEXIST, "File config.json exists. Remove it first");
    }
    _cleanup_json_ json_t *j = spec_default(rootless, getuid(), getgid());
    _cleanup_free_ char *txt = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    _cleanup_free_ char *withnl = xasprintf("%s\n", txt);
    return write_file_atomic_at(dfd, "config.json", withnl, strlen(withnl), 0666 & ~0022, err);
}

static int cmd_features(struct global *g, int argc, char **argv, struct berth_error **err)
{
    _cleanup_json_ json_t *j = spec_features();
    return print_json(j, true);
}

/* runc's stats event: {"type":"stats","id":..,"data":{cpu,memory,pids,blkio}}. */
static json_t *stats_event(const char *id, const struct cgroup_stats *st)
{
    json_t *mem =
        json_pack("{s:{s:I, s:I, s:I}, s:I}", "usage", "usage", (json_int_t)st->memory_usage,
                  "limit", (json_int_t)(st->memory_limit == UINT64_MAX ? 0 : st->memory_limit),
                  "max", (json_int_t)st->memory_max_usage, "cache", (json_int_t)st->memory_cache);
    json_t *data = json_pack(
        "{s:{s:{s:I, s:I, s:I}}, s:o, s:{s:I, s:I}, s:{s:[{s:s, s:I}, {s:s, s:I}]}}", "cpu",
        "usage", "total", (json_int_t)st->cpu_usage_ns, "user", (json_int_t)st->cpu_user_ns,
        "kernel", (json_int_t)st->cpu_system_ns, "memory", mem, "pids", "current",
        (json_int_t)st->pids_current, "limit", (json_int_t)st->pids_limit, "blkio",
        "ioServiceBytesRecursive", "op", "Read", "value", (json_int_t)st->blkio_read_bytes, "op",
        "Write", "value", (json_int_t)st->blkio_write_bytes);
    return json_pack("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", data);
}

static int cmd_events(struct global *g, int argc, char **argv, struct berth_error **err)
{
    bool stats = false;
    const char *interval = "5s";
    struct opt_def defs[] = {
        {"stats", 0, OPT_BOOL, &stats, "display the container's stats then exit", NULL},
        {"interval", 0, OPT_STRING, &interval, "set the stats collection interval", NULL},
        {0}};
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, OPTS_GO, &args, err);
    if (r >= 0) {
        r = need_args(args, 1, 1, "events", err);
    }
    if (r < 0) {
        return r;
    }
    int64_t ns;
    if (parse_duration(interval, &ns) < 0 || ns <= 0) {
        return berth_error_set(err, EINVAL, "invalid --interval '%s'", interval);
    }
    /* Without --stats: one stats event per interval until the container
     * stops (runc also reports OOM kills as {"type":"oom"}). */
    uint64_t ooms = 0;
    for (bool first = true;; first = false) {
        struct cgroup_stats st;
        r = berth_runtime_stats(&g->rt, args[0], &st, err);
        if (r < 0) {
            return stats || first ? r : 0;
        }
        if (!first && st.oom_kills > ooms) {
            _cleanup_json_ json_t *oom = json_pack("{s:s, s:s}", "type", "oom", "id", args[0]);
            print_json(oom, false);
        }
        ooms = st.oom_kills;
        _cleanup_json_ json_t *ev = stats_event(args[0], &st);
        print_json(ev, false);
        fflush(stdout);
        if (stats) {
            return 0;
        }
        struct timespec ts = {ns / 1000000000, ns % 1000000000};
        nanosleep(&ts, NULL);
    }
}

static int cmd_unsupported(struct global *g, int argc, char **argv, struct berth_error **err)
{
    return berth_error_set(err, EOPNOTSUPP, "checkpoint/restore is not supported by berth");
}

static const struct command {
    const char *name;
    cmd_fn fn;
    const char *help;
} commands[] = {
    {"checkpoint", cmd_unsupported, NULL},
    {"create", cmd_create, "create a container"},
    {"delete", cmd_delete, "delete any resources held by the container"},
    {"events", cmd_events, "display container events such as OOM notifications and stats"},
    {"exec", cmd_exec, "execute new process inside the container"},
    {"features", cmd_features, "show the enabled features"},
    {"kill", cmd_kill, "kill sends the specified signal to the container's init process"},
    {"list", cmd_list, "lists containers started by berth-runtime with the given root"},
    {"pause", cmd_pause, "pause suspends all processes inside the container"},
    {"ps", cmd_ps, "ps displays the processes running inside a container"},
    {"restore", cmd_unsupported, NULL},
    {"resume", cmd_resume, "resumes all processes that have been previously paused"},
    {"run", cmd_run, "create and run a container"},
    {"spec", cmd_spec, "create a new specification file"},
    {"start", cmd_start, "executes the user defined process in a created container"},
    {"state", cmd_state, "output the state of a container"},
    {"update", cmd_update, "update container resource constraints"},
};

static void print_usage(FILE *f)
{
    fprintf(f, "NAME:\n   berth-runtime - OCI runtime (runc-compatible) of berth\n\n"
               "USAGE:\n   berth-runtime [global options] command [command options] "
               "[arguments...]\n\nCOMMANDS:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (commands[i].help) {
            fprintf(f, "   %-10s %s\n", commands[i].name, commands[i].help);
        }
    }
    fprintf(f, "\nGLOBAL OPTIONS:\n   --root value        root directory for storage of container "
               "state (default: \"" DEFAULT_ROOT "\")\n"
               "   --log value         set the log file to write logs to\n"
               "   --log-format value  set the log format ('text' (default), or 'json')\n"
               "   --debug             enable debug logging\n"
               "   --systemd-cgroup    cgroupsPath is \"slice:prefix:name\"\n"
               "   --version, -v       print the version\n");
}

int runtime_cli_main(int argc, char **argv)
{
    struct global g = {.rt = {.root = DEFAULT_ROOT}};
    const char *rootless = NULL, *criu = NULL, *cgroup_manager = NULL;
    bool version = false, help = false;
    struct opt_def defs[] = {
        {"root", 0, OPT_STRING, &g.rt.root, "state root", NULL},
        {"log", 0, OPT_STRING, &g.log_path, "log file", NULL},
        {"log-format", 0, OPT_STRING, &g.log_format, "text or json", NULL},
        {"debug", 0, OPT_BOOL, &g.debug, "debug logging", NULL},
        {"systemd-cgroup", 0, OPT_BOOL, &g.rt.systemd_cgroup, "systemd cgroup paths", NULL},
        {"cgroup-manager", 0, OPT_STRING, &cgroup_manager, "cgroupfs, systemd or disabled", NULL},
        {"rootless", 0, OPT_STRING, &rootless, "ignored", NULL},
        {"criu", 0, OPT_STRING, &criu, "ignored", NULL},
        {"version", 'v', OPT_BOOL, &version, "print the version", NULL},
        {"help", 'h', OPT_BOOL, &help, "show help", NULL},
        {0}};
    _cleanup_error_ struct berth_error *err = NULL;
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc - 1, argv + 1, OPTS_GO, &args, &err);
    if (r >= 0 && g.log_format && !streq(g.log_format, "text") && !streq(g.log_format, "json")) {
        r = berth_error_set(&err, EINVAL, "invalid log-format '%s'", g.log_format);
    }
    if (r >= 0 && g.log_path && (r = log_set_file(g.log_path)) < 0) {
        r = berth_error_sys(&err, -r, "open log file '%s'", g.log_path);
    }
    if (g.log_format && streq(g.log_format, "json")) {
        log_set_format(LOG_FORMAT_JSON);
    }
    if (g.debug) {
        log_set_level(LOG_LEVEL_DEBUG);
    }
    if (cgroup_manager && streq(cgroup_manager, "systemd")) {
        g.rt.systemd_cgroup = true;
    }
    if (r < 0) {
        fprintf(stderr, "berth-runtime: %s\n", err->msg);
        return 1;
    }
    if (version) {
        printf("berth-runtime version %s\nspec: 1.2.0\n", BERTH_VERSION);
        return 0;
    }
    if (help || !args[0] || streq(args[0], "help")) {
        print_usage(help || args[0] ? stdout : stderr);
        return help || args[0] ? 0 : 1;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (streq(commands[i].name, args[0])) {
            cmd = &commands[i];
        }
    }
    if (!cmd) {
        fprintf(stderr, "berth-runtime: no such command '%s'\n", args[0]);
        return 1;
    }
    int argc2 = (int)strv_length(args + 1);
    r = cmd->fn(&g, argc2, args + 1, &err);
    if (r < 0) {
        const char *msg = err ? err->msg : strerror(-r);
        if (g.log_path) {
            log_error("%s", msg);
        }
        fprintf(stderr, "berth-runtime: %s\n", msg);
        return 1;
    }
    /* run and exec in the foreground return the process's exit code. */
    return r;
}
