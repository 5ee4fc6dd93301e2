/* terminal.c - raw mode, window size, detach keys and the attached-session
 * loop of the CLI (see terminal.h). */
#include "cli/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "libberth/container/lifecycle.h"
#include "libberth/container/monitor.h"

#define IO_CHUNK 8192
#define FRAME_MAX (1u << 20)

/* ---- detach keys ---------------------------------------------------------- */

static int ctrl_code(char c)
{
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 1;
    }
    switch (c) {
    case '@':
        return 0;
    case '[':
        return 27;
    case '\\':
        return 28;
    case ']':
        return 29;
    case '^':
        return 30;
    case '_':
        return 31;
    default:
        return -1;
    }
}

int detach_keys_parse(const char *spec, struct detach_keys *ret, struct berth_error **err)
{
    if (!spec || !*spec) {
        spec = TERMINAL_DETACH_KEYS_DEFAULT;
    }
    struct detach_keys k = {0};
    _cleanup_strv_free_ char **keys = strv_split(spec, ",");
    STRV_FOREACH(key, keys)
    {
        size_t n = strlen(*key);
        int code;
        if (n == 1) {
            code = (unsigned char)(*key)[0];
        } else if (n == 6 && strncasecmp(*key, "ctrl-", 5) == 0) {
            char c = (*key)[5];
            code = ctrl_code(c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
        } else {
            code = -1;
        }
        if (code < 0 || k.len == TERMINAL_DETACH_KEYS_MAX) {
            return berth_error_set(err, EINVAL, "Invalid detach keys (%s) provided", spec);
        }
        k.seq[k.len++] = (uint8_t)code;
    }
    if (k.len == 0) {
        return berth_error_set(err, EINVAL, "Invalid detach keys (%s) provided", spec);
    }
    *ret = k;
    return 0;
}

size_t detach_keys_filter(struct detach_keys *k, const uint8_t *in, size_t n, uint8_t *out,
                          bool *detached)
{
    size_t o = 0;
    *detached = false;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == k->seq[k->matched]) {
            if (++k->matched == k->len) {
                k->matched = 0;
                *detached = true;
                return o;
            }
            continue;
        }
        /* The held prefix was not the sequence after all: send it on. */
        memcpy(out + o, k->seq, k->matched);
        o += k->matched;
        k->matched = 0;
        if (in[i] == k->seq[0]) {
            k->matched = 1;
            if (k->len == 1) {
                k->matched = 0;
                *detached = true;
                return o;
            }
        } else {
            out[o++] = in[i];
        }
    }
    return o;
}

/* ---- raw mode -------------------------------------------------------------- */

static struct termios g_saved;
static int g_raw_fd = -1;

void terminal_restore(void)
{
    if (g_raw_fd >= 0) {
        (void)tcsetattr(g_raw_fd, TCSADRAIN, &g_saved);
        g_raw_fd = -1;
    }
}

bool terminal_raw_enter(int fd)
{
    static bool registered;
    if (g_raw_fd >= 0) {
        return true;
    }
    if (!isatty(fd) || tcgetattr(fd, &g_saved) < 0) {
        return false;
    }
    struct termios t = g_saved;
    cfmakeraw(&t);
    /* Keep output processing: the container's pty already did it, and
     * Docker's raw mode leaves OPOST alone on the client side. */
    t.c_oflag = g_saved.c_oflag;
    if (!registered) {
        atexit(terminal_restore);
        registered = true;
    }
    if (tcsetattr(fd, TCSADRAIN, &t) < 0) {
        return false;
    }
    g_raw_fd = fd;
    return true;
}

bool terminal_size(int fd, unsigned short *rows, unsigned short *cols)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0) {
        return false;
    }
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return true;
}

/* ---- the session loop ------------------------------------------------------ */

static void send_size(struct terminal_session *s)
{
    unsigned short rows, cols;
    if (!terminal_size(STDOUT_FILENO, &rows, &cols) && !terminal_size(STDIN_FILENO, &rows, &cols)) {
        return;
    }
    if (s->master >= 0) {
        struct winsize ws = {.ws_row = rows, .ws_col = cols};
        (void)ioctl(s->master, TIOCSWINSZ, &ws);
    } else if (s->resize) {
        s->resize(s->ctx, rows, cols);
    }
}

static int wait_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
}

/* One frame from the monitor: output is written out, the exit frame sets
 * *code. Returns false when the stream is over. */
static bool read_frame(int sock, uint8_t *buf, int *code)
{
    uint8_t hdr[8];
    if (read_all(sock, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
        return false;
    }
    uint32_t len = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    if (len > FRAME_MAX || read_all(sock, buf, len) != (ssize_t)len) {
        return false;
    }
    if (hdr[0] == MONITOR_STREAM_EXIT && len == 4) {
        int st =
            (int)((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3]);
        *code = wait_code(st);
        return false;
    }
    (void)write_all(hdr[0] == MONITOR_STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO, buf, len);
    return true;
}

/* Copy what fd has now to out; false at EOF or error (a pty master reads
 * EIO once the other side is closed). */
static bool pump(int fd, int out, uint8_t *buf)
{
    ssize_t n = read(fd, buf, IO_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    (void)write_all(out, buf, (size_t)n);
    return true;
}

static void drain(int *fd, int out, uint8_t *buf)
{
    if (*fd < 0) {
        return;
    }
    (void)fd_set_nonblock(*fd, 1);
    for (int i = 0; i < 4096; i++) {
        ssize_t n = read(*fd, buf, IO_CHUNK);
        if (n <= 0) {
            break;
        }
        (void)write_all(out, buf, (size_t)n);
    }
}

static bool reaped(pid_t pid, int *code)
{
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == pid) {
        *code = wait_code(st);
        return true;
    }
    return r < 0; /* not our child (ECHILD): nothing to wait for */
}

enum terminal_end terminal_session_run(struct terminal_session *s, int *ret_code)
{
    static const int proxied[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    sigaddset(&set, SIGCHLD);
    for (size_t i = 0; i < ARRAY_SIZE(proxied); i++) {
        if (s->sig_proxy || i < 4) {
            sigaddset(&set, proxied[i]);
        }
    }
    sigprocmask(SIG_BLOCK, &set, &old);
    /* A container that exits while we forward input closes the socket
     * under us: EPIPE, never a silent death with the terminal raw. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigaction(SIGPIPE, &ign, &old_pipe);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    _cleanup_free_ uint8_t *buf = xmalloc(FRAME_MAX);
    uint8_t in[IO_CHUNK], fwd[IO_CHUNK + TERMINAL_DETACH_KEYS_MAX];
    bool raw = s->tty && s->forward_stdin && terminal_raw_enter(STDIN_FILENO);
    if (s->tty) {
        send_size(s);
    }
    int sink = s->sock >= 0 ? s->sock : s->master >= 0 ? s->master : s->in_fd;
    bool in_open = s->forward_stdin && sink >= 0;
    /* Input to a socket or a pipe never blocks this loop: a process that
     * does not read its stdin must not stop us from reading its output (the
     * two would wait on each other). One chunk waits here while the sink
     * is full; stdin is not read meanwhile. A pty (typed input) is written
     * as it comes. */
    bool async_sink = in_open && sink != s->master;
    if (async_sink && sink == s->in_fd) {
        (void)fcntl(sink, F_SETFL, fcntl(sink, F_GETFL) | O_NONBLOCK);
    }
    uint8_t pend[IO_CHUNK + TERMINAL_DETACH_KEYS_MAX];
    size_t pend_len = 0, pend_off = 0;
    bool pend_eof = false;
    int code = -1;
    enum terminal_end end = TERMINAL_LOST;
    bool done = s->pid > 0 && reaped(s->pid, &code);
    if (done) {
        drain(&s->master, STDOUT_FILENO, buf);
        drain(&s->out_fd, STDOUT_FILENO, buf);
        drain(&s->err_fd, STDERR_FILENO, buf);
        end = TERMINAL_EXITED;
    }
    while (!done) {
        bool pending = pend_off < pend_len;
        struct pollfd p[6] = {
            {sfd, POLLIN, 0},
            {in_open && !pending ? STDIN_FILENO : -1, POLLIN, 0},
            {s->sock >= 0 ? s->sock : s->master, POLLIN, 0},
            {s->out_fd, POLLIN, 0},
            {s->err_fd, POLLIN, 0},
            {pending ? sink : -1, POLLOUT, 0},
        };
        if (poll(p, ARRAY_SIZE(p), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(STDIN_FILENO, in, sizeof(in));
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                n = -2;
            }
            if (n == 0 || n == -1) {
                in_open = false;
                pend_eof = true; /* acted on once what waits is out */
            } else if (n > 0) {
                bool detached = false;
                size_t m = (size_t)n;
                const uint8_t *data = in;
                if (s->keys) {
                    m = detach_keys_filter(s->keys, in, (size_t)n, fwd, &detached);
                    data = fwd;
                }
                if (m && async_sink) {
                    memcpy(pend, data, m);
                    pend_len = m, pend_off = 0;
                } else if (m && write_all(sink, data, m) < 0) {
                    in_open = false;
                }
                if (detached) {
                    end = TERMINAL_DETACHED;
                    break;
                }
            }
        }
        if (pend_off < pend_len) {
            ssize_t w = s->sock >= 0 ? send(sink, pend + pend_off, pend_len - pend_off,
                                            MSG_DONTWAIT | MSG_NOSIGNAL)
                                     : write(sink, pend + pend_off, pend_len - pend_off);
            if (w > 0) {
                pend_off += (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                pend_len = pend_off = 0; /* the process closed its stdin */
                in_open = false;
            }
        }
        if (pend_eof && pend_off >= pend_len) {
            pend_eof = false;
            if (s->sock >= 0) {
                shutdown(s->sock, SHUT_WR);
            } else if (s->in_fd >= 0) {
                s->in_fd = safe_close(s->in_fd);
            }
        }
        if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (s->sock >= 0) {
                if (!read_frame(s->sock, buf, &code)) {
                    end = code >= 0 ? TERMINAL_EXITED : TERMINAL_LOST;
                    break;
                }
            } else if (!pump(s->master, STDOUT_FILENO, buf)) {
                s->master = safe_close(s->master); /* the pty is gone; wait for the exit */
                in_open = false;
            }
        }
        if ((p[3].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(s->out_fd, STDOUT_FILENO, buf)) {
            s->out_fd = safe_close(s->out_fd);
        }
        if ((p[4].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(s->err_fd, STDERR_FILENO, buf)) {
            s->err_fd = safe_close(s->err_fd);
        }
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int sig = (int)si.ssi_signo;
                if (sig == SIGWINCH) {
                    if (s->tty) {
                        send_size(s);
                    }
                } else if (sig == SIGCHLD) {
                    /* checked below */
                } else if (s->sig_proxy) {
                    if (s->signal) {
                        s->signal(s->ctx, sig);
                    } else if (s->pid > 0) {
                        (void)kill(s->pid, sig);
                    }
                } else {
                    code = 128 + sig;
                    end = TERMINAL_SIGNALED;
                    done = true;
                }
            }
        }
        if (!done && s->pid > 0 && reaped(s->pid, &code)) {
            /* What the process wrote last; other processes may still hold
             * the pipes open, so this never waits for EOF. */
            drain(&s->master, STDOUT_FILENO, buf);
            drain(&s->out_fd, STDOUT_FILENO, buf);
            drain(&s->err_fd, STDERR_FILENO, buf);
            end = TERMINAL_EXITED;
            done = true;
        }
    }
    if (raw) {
        terminal_restore();
    }
    safe_close(sfd);
    sigaction(SIGPIPE, &old_pipe, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    *ret_code = code;
    return end;
}

/* ---- a container's attach socket ------------------------------------------ */

struct attach_ctx {
    struct store *st;
    const char *id;
};

static void attach_resize(void *ctx, unsigned short rows, unsigned short cols)
{
    struct attach_ctx *a = ctx;
    (void)container_resize(a->st, a->id, rows, cols, NULL);
}

static void attach_signal(void *ctx, int sig)
{
    struct attach_ctx *a = ctx;
    (void)container_kill(a->st, a->id, sig, NULL);
}

enum terminal_end terminal_attach_container(struct store *st, const char *id, int sock, bool tty,
                                            bool forward_stdin, bool sig_proxy,
                                            struct detach_keys *keys, int *ret_code)
{
    struct attach_ctx a = {st, id};
    struct terminal_session s = {
        .sock = sock,
        .master = -1,
        .in_fd = -1,
        .out_fd = -1,
        .err_fd = -1,
        .forward_stdin = forward_stdin,
        .tty = tty,
        .sig_proxy = sig_proxy,
        .keys = forward_stdin ? keys : NULL,
        .resize = attach_resize,
        .signal = attach_signal,
        .ctx = &a,
    };
    enum terminal_end end = terminal_session_run(&s, ret_code);
    safe_close(sock);
    return end;
}
