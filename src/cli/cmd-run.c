/* cmd-run.c - `berth run`, `create`, `start`, and the hidden exit handler
 * `container-exited` that a container's monitor runs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "cli/terminal.h"
#include "libberth/common/json-util.h"
#include "libberth/container/create-config.h"
#include "libberth/container/lifecycle.h"
#include "libberth/container/monitor.h"
#include "libberth/image/images.h"
#include "libberth/runtime/container.h"

#define FRAME_MAX (1u << 20)

/* Docker's exit codes for a container that could not be started: 127
 * when the command is not found, 126 when it cannot be run, else 125. */
static int start_failure_code(const struct berth_error *e)
{
    const char *m = e && e->msg ? e->msg : "";
    if (strstr(m, "executable file not found") || strstr(m, "no such file or directory")) {
        return 127;
    }
    if (strstr(m, "permission denied") || strstr(m, "is a directory")) {
        return 126;
    }
    return 125;
}

/* Make sure the image is there, as --pull says: "missing" pulls when
 * absent, "always" every time, "never" fails. Pull output goes to stderr,
 * after Docker's "Unable to find image" line. */
static int ensure_image(struct cli *cli, struct store *s, const char *image,
                        const struct create_cli_opts *o, struct berth_error **err)
{
    const char *policy = o->pull ? o->pull : "missing";
    _cleanup_free_ char *id = NULL;
    int r = image_resolve(s, image, &id, NULL);
    if (r >= 0 && !streq(policy, "always")) {
        return 0;
    }
    if (streq(policy, "never")) {
        return berth_error_set(err, ENOENT, "No such image: %s", image);
    }
    if (r < 0) {
        fprintf(stderr, "Unable to find image '%s' locally\n", image);
    }
    return cli_pull_image(cli, image, o->platform, false, stderr, err);
}

/* prep (run only, else NULL): the container's network namespace is started
 * right after the flags parse, so it is made while the store opens and the
 * record is written (netns-prep.h). */
static int create_from_flags(struct cli *cli, int argc, char **argv, struct create_cli_opts *o,
                             struct netns_prep *prep, json_t **ret_body, char **ret_id,
                             int *ret_code)
{
    struct berth_error *err = NULL;
    _cleanup_json_ json_t *body = NULL;
    if (container_create_body_from_flags(argc - 1, argv + 1, &body, o, &err) < 0) {
        fprintf(stderr, "berth: %s.\nSee 'berth %s --help'.\n", err->msg, cli->cmd->path);
        berth_error_free(err);
        *ret_code = 125;
        return -EINVAL;
    }
    const char *net_mode =
        json_string_value(json_object_get(json_object_get(body, "HostConfig"), "NetworkMode"));
    if (prep && (!net_mode || (!streq(net_mode, "host") && strncmp(net_mode, "container:", 10)))) {
        netns_prep_start(prep);
    }
    log_trace_point("run: body made");
    struct store *s;
    int r = cli_store(cli, &s, &err);
    log_trace_point("run: store open");
    if (r >= 0) {
        r = ensure_image(cli, s, json_string_value(json_object_get(body, "Image")), o, &err);
    }
    if (r >= 0) {
        r = container_create(s, body, o->name, ret_id, &err);
    }
    if (r < 0) {
        *ret_code = cli_fail(err, 125);
        return r;
    }
    if (o->cidfile) {
        _cleanup_free_ char *line = xstrdup(*ret_id);
        int fd = open(o->cidfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, line, strlen(line)) < 0) {
            berth_error_sys(&err, errno, "failed to write the container ID to the file '%s'",
                            o->cidfile);
            safe_close(fd);
            (void)container_rm(s, *ret_id, true, NULL);
            *ret_code = cli_fail(err, 125);
            return -EIO;
        }
        close(fd);
    }
    *ret_body = TAKE_PTR(body);
    return 0;
}

/* --sig-proxy: what the CLI receives goes to container proxy_id with
 * container_kill, as Docker's ForwardAllSignals. They are blocked and read
 * from a signalfd only while streaming, so that the monitor forked before
 * starts with our mask untouched. */
static void proxy_signals(int sfd, struct store *s, const char *proxy_id)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        struct berth_error *e = NULL;
        if (proxy_id && container_kill(s, proxy_id, (int)si.ssi_signo, &e) < 0) {
            log_debug("sig-proxy: %s", e ? e->msg : "kill failed");
        }
        berth_error_free(e);
    }
}

/* What the exit frame said (monitor.h). */
struct exit_frame {
    bool seen;
    bool handed_off; /* the exit handling is ours (MONITOR_CTL_HANDOFF) */
    int status;      /* wait status */
};

/* Copy the monitor's frames to our stdout/stderr until the exit frame;
 * forward our stdin when asked, and signals to container proxy_id unless
 * it is NULL. Returns the container's exit code (or -1 when the stream
 * ended without one); *ret_exit (may be NULL) the frame itself. */
static int attach_stream(int sock, bool forward_stdin, struct store *s, const char *proxy_id,
                         struct exit_frame *ret_exit)
{
    uint8_t hdr[8];
    size_t have = 0;
    _cleanup_free_ uint8_t *buf = xmalloc(FRAME_MAX);
    int code = -1;
    bool stdin_open = forward_stdin;
    static const int proxied[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    sigset_t set, old;
    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_SIZE(proxied); i++) {
        sigaddset(&set, proxied[i]);
    }
    _cleanup_close_ int sfd = -1;
    if (proxy_id && sigprocmask(SIG_BLOCK, &set, &old) == 0) {
        sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
        }
    }
    /* Input goes to the monitor without ever blocking this loop: a
     * container that is not reading its stdin must not stop us from reading
     * its output (the monitor would drop us as a slow client). At most one
     * chunk of input waits here; stdin is not read while it does. */
    _cleanup_free_ uint8_t *in_buf = forward_stdin ? xmalloc(FRAME_MAX) : NULL;
    size_t in_len = 0, in_off = 0;
    bool in_eof = false;
    for (;;) {
        bool pending = in_off < in_len;
        struct pollfd p[3] = {{sock, (short)(POLLIN | (pending ? POLLOUT : 0)), 0},
                              {stdin_open && !pending ? STDIN_FILENO : -1, POLLIN, 0},
                              {sfd, POLLIN, 0}};
        if (poll(p, ARRAY_SIZE(p), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (p[2].revents & POLLIN) {
            proxy_signals(sfd, s, proxy_id);
        }
        if (stdin_open && !pending && (p[1].revents & (POLLIN | POLLHUP))) {
            ssize_t n = read(STDIN_FILENO, in_buf, FRAME_MAX);
            if (n <= 0) {
                stdin_open = false;
                in_eof = true;
            } else {
                in_len = (size_t)n, in_off = 0;
            }
        }
        if (in_off < in_len) {
            ssize_t n = send(sock, in_buf + in_off, in_len - in_off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                in_off += (size_t)n;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                in_len = in_off = 0; /* the monitor stopped taking input */
                stdin_open = false;
            }
        }
        if (in_eof && in_off >= in_len) {
            shutdown(sock, SHUT_WR); /* end of input: after what is queued */
            in_eof = false;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            continue;
        }
        ssize_t n = read(sock, hdr + have, sizeof(hdr) - have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
        if (have < sizeof(hdr)) {
            continue;
        }
        have = 0;
        uint32_t len =
            (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
        if (len > FRAME_MAX) {
            break;
        }
        if (read_all(sock, buf, len) != (ssize_t)len) {
            break;
        }
        if (hdr[0] == MONITOR_STREAM_EXIT && len == 4) {
            int st = (int)((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
                           buf[3]);
            code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
            if (ret_exit) {
                *ret_exit =
                    (struct exit_frame){.seen = true, .handed_off = hdr[1] == 1, .status = st};
            }
            break;
        }
        int out = hdr[0] == MONITOR_STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO;
        (void)write_all(out, buf, len);
    }
    if (sfd >= 0) {
        /* Signals that came with the exit are the container's, not ours:
         * take them before unblocking rather than die of them. */
        proxy_signals(sfd, s, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    return code;
}

/* Foreground: start attached, stream, and return the container's code.
 * With a tty: raw mode, window size and detach keys (terminal.h); after
 * the detach keys the container keeps running and run returns 0 without a
 * word, as Docker's. */
/* The monitor's pid is also its exit handler's (it execs in place): once
 * that process is gone the exit is recorded, the container cleaned up and
 * an AutoRemove container removed. A pidfd of it, taken right after the
 * start, lets an attached command wait for that without polling. */
static int monitor_pidfd(struct store *s, const char *id)
{
    struct container_state_file st = {0};
    int pidfd = -1;
    if (container_state_read(s->root, id, &st, NULL) >= 0 && st.monitor_pid > 0) {
        pidfd = (int)syscall(SYS_pidfd_open, (pid_t)st.monitor_pid, 0);
        /* Checked after the open, which pins the process: a pid reused by
         * another process since the monitor exited is not waited on. */
        if (pidfd >= 0 && !container_state_monitor_alive(&st)) {
            close(pidfd);
            pidfd = -1;
        }
    }
    container_state_file_release(&st);
    return pidfd;
}

static void wait_exit_handler(int pidfd)
{
    if (pidfd >= 0) {
        struct pollfd p = {pidfd, POLLIN, 0};
        while (poll(&p, 1, 30000) < 0 && errno == EINTR) {
        }
        close(pidfd);
    }
}

static int run_attached(struct cli *cli, struct store *s, const char *id, json_t *body,
                        const struct create_cli_opts *o, struct netns_prep *prep,
                        struct container_start_prep *sprep)
{
    struct berth_error *err = NULL;
    struct container_start_opts so = {.attach = true, .netns = prep, .prep = sprep};
    bool tty = json_is_true(json_object_get(body, "Tty"));
    bool in = json_is_true(json_object_get(body, "AttachStdin"));
    struct detach_keys keys;
    if (tty && detach_keys_parse(o->detach_keys, &keys, &err) < 0) {
        container_start_prep_free(sprep);
        (void)container_rm(s, id, true, NULL);
        return cli_fail(err, 125);
    }
    if (tty) {
        (void)terminal_size(STDOUT_FILENO, &so.rows, &so.cols);
    }
    /* Without a tty and with no restart policy, this process handles the
     * container's exit itself (it has the store open already) rather than
     * wait for the monitor's exit handler: a whole berth process less. */
    int handoff = -1;
    const char *policy = json_string_value(json_object_get(
        json_object_get(json_object_get(body, "HostConfig"), "RestartPolicy"), "Name"));
    if (!tty && (!policy || !*policy || streq(policy, "no"))) {
        so.handoff_fd = &handoff;
    }
    int sock = -1;
    if (container_start(s, id, &so, &sock, &err) < 0) {
        int code = start_failure_code(err);
        (void)container_rm(s, id, true, NULL);
        return cli_fail(err, code);
    }
    int pidfd = handoff >= 0 ? -1 : monitor_pidfd(s, id);
    int code;
    struct exit_frame ef = {0};
    if (tty) {
        if (terminal_attach_container(s, id, sock, true, in, false, &keys, &code) ==
            TERMINAL_DETACHED) {
            safe_close(pidfd);
            return 0;
        }
    } else {
        code = attach_stream(sock, in, s, o->sig_proxy ? id : NULL, &ef);
        close(sock);
    }
    log_trace_point("run: exit frame");
    if (handoff >= 0 && ef.seen && ef.handed_off) {
        (void)container_exit_handled(s, id, ef.status, handoff, NULL);
    } else {
        if (handoff >= 0) {
            /* Not handed off after all (or no exit frame): closing our end
             * lets the monitor run its exit handler; wait for that. */
            close(handoff);
            pidfd = monitor_pidfd(s, id);
        }
        wait_exit_handler(pidfd);
    }
    log_trace_point("run: exit handler done");
    int wcode = 0;
    if (code < 0 && container_wait(s, id, &wcode, NULL) >= 0) {
        code = wcode;
    }
    (void)cli;
    return code < 0 ? 125 : code;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
    struct create_cli_opts o = {0};
    _cleanup_json_ json_t *body = NULL;
    _cleanup_free_ char *id = NULL;
    int code = 0;
    for (int i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (streq(argv[i], "--help")) {
            printf("\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                   "Run a command in a new container\n");
            return 0;
        }
    }
    struct netns_prep prep = NETNS_PREP_NONE;
    if (create_from_flags(cli, argc, argv, &o, &prep, &body, &id, &code) < 0) {
        netns_prep_release(&prep);
        create_cli_opts_release(&o);
        return code;
    }
    struct store *s;
    struct berth_error *err = NULL;
    (void)cli_store(cli, &s, &err);
    /* The container's cgroup is made from now on, beside the rest. */
    struct container_start_prep *sprep = container_start_prep_new(s, id);
    if (o.detach) {
        struct container_start_opts so = {.netns = &prep, .prep = sprep};
        int sr = container_start(s, id, &so, NULL, &err);
        netns_prep_release(&prep);
        if (sr < 0) {
            code = start_failure_code(err);
            create_cli_opts_release(&o);
            return cli_fail(err, code);
        }
        printf("%s\n", id);
        create_cli_opts_release(&o);
        return 0;
    }
    code = run_attached(cli, s, id, body, &o, &prep, sprep);
    netns_prep_release(&prep);
    create_cli_opts_release(&o);
    return code;
}

int cmd_create(struct cli *cli, int argc, char **argv)
{
    struct create_cli_opts o = {0};
    _cleanup_json_ json_t *body = NULL;
    _cleanup_free_ char *id = NULL;
    int code = 0;
    for (int i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (streq(argv[i], "--help")) {
            printf("\nUsage:  berth create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                   "Create a new container\n");
            return 0;
        }
    }
    if (create_from_flags(cli, argc, argv, &o, NULL, &body, &id, &code) < 0) {
        create_cli_opts_release(&o);
        return code;
    }
    create_cli_opts_release(&o);
    printf("%s\n", id);
    return 0;
}

int cmd_start(struct cli *cli, int argc, char **argv)
{
    bool attach = false, interactive = false, sig_proxy = true;
    const char *detach_keys = NULL;
    const struct opt_def defs[] = {
        {"attach", 'a', OPT_BOOL, &attach, "Attach STDOUT/STDERR and forward signals", NULL},
        {"detach-keys", 0, OPT_STRING, &detach_keys,
         "Override the key sequence for detaching a container", NULL},
        {"interactive", 'i', OPT_BOOL, &interactive, "Attach container's STDIN", NULL},
        {"sig-proxy", 0, OPT_BOOL, &sig_proxy, "Proxy all received signals to the process", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    if ((attach || interactive) && strv_length(args) > 1) {
        berth_error_set(&err, EINVAL, "you cannot start and attach multiple containers at once");
        return cli_fail(err, 1);
    }
    if (attach || interactive) {
        int sock = -1;
        struct container_start_opts so = {.attach = true};
        _cleanup_free_ char *id = NULL;
        _cleanup_(container_record_freep) struct container_record *c = NULL;
        if (container_resolve(s, args[0], &id, &err) < 0 ||
            container_record_get(s, id, &c, &err) < 0) {
            return cli_fail(err, 1);
        }
        bool tty = json_is_true(json_object_get(c->body, "Tty"));
        struct detach_keys keys;
        if (tty && detach_keys_parse(detach_keys, &keys, &err) < 0) {
            return cli_fail(err, 1);
        }
        if (tty) {
            (void)terminal_size(STDOUT_FILENO, &so.rows, &so.cols);
        }
        if (container_start(s, id, &so, &sock, &err) < 0) {
            return cli_fail(err, 1);
        }
        /* Like run: return once the exit is recorded and cleaned up. */
        int pidfd = monitor_pidfd(s, id);
        int code = -1;
        if (tty) {
            enum terminal_end end =
                terminal_attach_container(s, id, sock, true, interactive, false, &keys, &code);
            if (end == TERMINAL_DETACHED) {
                safe_close(pidfd);
                return 0;
            }
        } else {
            code = attach_stream(sock, interactive, s, sig_proxy ? id : NULL, NULL);
            close(sock);
        }
        wait_exit_handler(pidfd);
        return code < 0 ? 0 : code;
    }
    int code = 0;
    STRV_FOREACH(a, args)
    {
        err = NULL;
        if (container_start(s, *a, NULL, NULL, &err) < 0) {
            cli_fail(err, 1);
            code = 1;
            continue;
        }
        printf("%s\n", *a);
    }
    return code;
}

/* `berth container-exited ID STATUS`: the monitor's exit handler. */
int cmd_container_exited(struct cli *cli, int argc, char **argv)
{
    if (argc < 3) {
        return 2;
    }
    int status = 0;
    if (parse_int(argv[2], &status) < 0) {
        return 2;
    }
    /* The monitor passes the store's paths after the status. */
    for (int i = 3; i + 1 < argc; i += 2) {
        if (streq(argv[i], "--root")) {
            cli->store_opts.root = argv[i + 1];
        } else if (streq(argv[i], "--runroot")) {
            cli->store_opts.runroot = argv[i + 1];
        }
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0 || container_exited(s, argv[1], status, &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}
