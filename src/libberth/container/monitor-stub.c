/* monitor-stub.c - the resident per-container monitor (see monitor.h for why
 * it exists, its arguments, the log format and the attach protocol).
 *
 * Built freestanding like runtime/exec-stub.c: no libc, static, no PIE,
 * embedded in berth as a byte array and run from a sealed memfd. Its whole
 * state is the static buffers below; a buffer's pages become resident only
 * once used, so an idle monitor is a few pages of code and data (the unit
 * test measures it). Nothing here allocates.
 *
 * One thread, one ppoll() loop over: a signalfd (SIGCHLD), the container's
 * stdout and stderr, the container's stdin (when input is queued), the
 * listening attach socket, the control socket and each client. SIGTERM, SIGINT, SIGHUP and
 * SIGPIPE are ignored: a container is stopped through the runtime, never by
 * signalling its monitor, and a client that goes away must not kill it.
 */
#include <asm/ioctls.h>
#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/poll.h>
#include <linux/signalfd.h>
#include <linux/time_types.h>
#include <linux/wait.h>

#include "../runtime/stub-syscall.h"

STUB_ENTRY(stub_main)

#define sc0(n) sc(n, 0, 0, 0, 0, 0, 0)
#define sc1(n, a) sc(n, (long)(a), 0, 0, 0, 0, 0)
#define sc2(n, a, b) sc(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sc3(n, a, b, c) sc(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sc4(n, a, b, c, d) sc(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sc5(n, a, b, c, d, e) sc(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* Not in the uapi headers (they are libc's) or clashing there. */
#define SIG_DFL_ ((void *)0)
#define SIG_IGN_ ((void *)1)
#define SIG_BLOCK_ 0
#define SIG_SETMASK_ 2
#define SIGHUP_ 1
#define SIGINT_ 2
#define SIGPIPE_ 13
#define SIGTERM_ 15
#define SIGCHLD_ 17
#define MSG_DONTWAIT_ 0x40
#define MSG_NOSIGNAL_ 0x4000
#define SOCK_NONBLOCK_ O_NONBLOCK
#define SOCK_CLOEXEC_ O_CLOEXEC
#define CLOCK_REALTIME_ 0
#define CLOCK_MONOTONIC_ 1
#define SEEK_END_ 2

#define MAX_CLIENTS 32
#define CHUNK 8192             /* one read of container output */
#define LINE_MAX_ (16 * 1024)  /* MONITOR_LOG_PARTIAL_MAX */
#define CLIENT_BUF (32 * 1024) /* output queued for a slow client */
#define FRAME_MAX (8 + CHUNK)
#define SLOW_MS 5000                /* a client that reads nothing is dropped */
#define STALL_MS 1000               /* flush a partial line after this */
#define DRAIN_MAX (4 * 1024 * 1024) /* per stream, after the init exited */
#define FINAL_FLUSH_MS 2000         /* for clients to take the last frames */

/* The kernel's struct sigaction (x86_64 and the generic layout alike). */
struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

/* gcc may emit calls to these for copies and clears even when freestanding;
 * built with -fno-tree-loop-distribute-patterns so the loops stay loops. */
void *memcpy(void *d, const void *s, unsigned long n);
void *memmove(void *d, const void *s, unsigned long n);
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n)
{
    unsigned char *o = d;
    const unsigned char *i = s;
    while (n--) {
        *o++ = *i++;
    }
    return d;
}
void *memmove(void *d, const void *s, unsigned long n)
{
    unsigned char *o = d;
    const unsigned char *i = s;
    if (o < i) {
        while (n--) {
            *o++ = *i++;
        }
    } else {
        while (n--) {
            o[n] = i[n];
        }
    }
    return d;
}
void *memset(void *d, int c, unsigned long n)
{
    unsigned char *o = d;
    while (n--) {
        *o++ = (unsigned char)c;
    }
    return d;
}

static unsigned long len(const char *s)
{
    unsigned long n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

static void say(const char *s)
{
    sc3(__NR_write, 2, s, len(s));
}

/* A decimal argument; "-" (or anything not a number) is -1. */
static long number(const char *s)
{
    long v = 0;
    if (*s < '0' || *s > '9') {
        return -1;
    }
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
    }
    return v;
}

/* Writes v in decimal at o, returns the digits written. */
static unsigned put_dec(char *o, unsigned long v)
{
    char t[24];
    unsigned n = 0, k = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        o[k++] = t[--n];
    }
    return k;
}

static void put_fixed(char *o, unsigned long v, unsigned width)
{
    while (width--) {
        o[width] = (char)('0' + v % 10);
        v /= 10;
    }
}

static long write_all(long fd, const void *p, unsigned long n)
{
    const char *c = p;
    while (n) {
        long w = sc3(__NR_write, fd, c, n);
        if (w == -EINTR) {
            continue;
        }
        if (w <= 0) {
            return w < 0 ? w : -EIO;
        }
        c += w;
        n -= (unsigned long)w;
    }
    return 0;
}

static long now_ms(void)
{
    struct __kernel_timespec ts;
    sc2(__NR_clock_gettime, CLOCK_MONOTONIC_, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- state ------------------------------------------------------------ */

static const char *g_id;
static long g_init_pid;
static long g_out = -1, g_err = -1, g_in = -1, g_listen = -1, g_sfd = -1;
static long g_logdir = -1, g_logfd = -1, g_ctl = -1;
static const char *g_logname;
static unsigned long g_maxsize, g_maxfiles = 1, g_logsize;
static int g_k8s;        /* log format: 0 json-file, 1 k8s-file (argv[16]) */
static long g_hold = -1; /* held until this process exits or execs (argv[17]) */
static int g_stdin_once, g_stdin_closing, g_init_done;
static long g_status;
static long g_health_ms, g_health_next, g_health_pid, g_health_berth = -1; /* health checks */

struct line {
    unsigned len;
    long since; /* monotonic ms of its first byte */
    unsigned char buf[LINE_MAX_];
};
static struct line g_lines[2];

/* Client slots: fds apart from the buffers so that scanning them touches
 * one page, not one per client. */
static int c_fd[MAX_CLIENTS];
static unsigned char c_in_done[MAX_CLIENTS];
static unsigned c_head[MAX_CLIENTS], c_tail[MAX_CLIENTS];
static long c_full_since[MAX_CLIENTS]; /* 0: can take another frame */
static unsigned char c_buf[MAX_CLIENTS][CLIENT_BUF];

static unsigned char g_stdin_buf[CHUNK];
static unsigned g_stdin_len;
static unsigned char g_read[8 + CHUNK]; /* room for a frame header in front */
static char g_json[LINE_MAX_ * 6 + 128];
static char g_path[2][320];

/* ---- json-file log ------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when
 * the byte at s does not start one. The same rules as Go's utf8.DecodeRune,
 * so invalid input maps to U+FFFD byte by byte as Docker's logs show it:
 * no overlong forms (C0, C1, E0 80..9F, F0 80..8F), no surrogates (ED A0..),
 * nothing above U+10FFFF (F4 90.., F5..FF). */
static unsigned utf8_len(const unsigned char *s, unsigned long n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf, need;
    if (c < 0xc2 || c > 0xf4) {
        return 0;
    }
    need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (n < need) {
        return 0;
    }
    if (c == 0xe0) {
        lo = 0xa0;
    } else if (c == 0xed) {
        hi = 0x9f;
    } else if (c == 0xf0) {
        lo = 0x90;
    } else if (c == 0xf4) {
        hi = 0x8f;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (unsigned i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return need;
}

/* Escapes as Go's encoding/json (Docker's json-file driver) does; the
 * output is at most 6 bytes per input byte. */
static unsigned long json_escape(char *o, const unsigned char *s, unsigned long n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned long j = 0;
    for (unsigned long i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                o[j++] = '\\';
                o[j++] = (char)c;
            } else if (c == '\n' || c == '\r' || c == '\t') {
                o[j++] = '\\';
                o[j++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                memcpy(o + j, "\\u00", 4);
                o[j + 4] = hex[c >> 4];
                o[j + 5] = hex[c & 15];
                j += 6;
            } else {
                o[j++] = (char)c;
            }
            i++;
            continue;
        }
        unsigned k = utf8_len(s + i, n - i);
        if (k == 0) {
            memcpy(o + j, "\\ufffd", 6);
            j += 6;
            i++;
        } else if (k == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] | 1) == 0xa9) {
            /* U+2028, U+2029: Go escapes these line separators too. */
            memcpy(o + j, "\\u202", 5);
            o[j + 5] = s[i + 2] == 0xa8 ? '8' : '9';
            j += 6;
            i += 3;
        } else {
            memcpy(o + j, s + i, k);
            j += k;
            i += k;
        }
    }
    return j;
}

/* RFC 3339 in UTC with nanoseconds, e.g. 2024-03-01T12:00:00.000000001Z
 * (30 bytes). Days to a civil date by Howard Hinnant's algorithm. */
static unsigned put_time(char *o)
{
    struct __kernel_timespec ts;
    sc2(__NR_clock_gettime, CLOCK_REALTIME_, &ts);
    long secs = ts.tv_sec < 0 ? 0 : ts.tv_sec;
    long days = secs / 86400, rem = secs % 86400;
    long z = days + 719468;
    long era = z / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    long y = yoe + era * 400 + (m <= 2);
    put_fixed(o, (unsigned long)y, 4);
    o[4] = '-';
    put_fixed(o + 5, (unsigned long)m, 2);
    o[7] = '-';
    put_fixed(o + 8, (unsigned long)d, 2);
    o[10] = 'T';
    put_fixed(o + 11, (unsigned long)(rem / 3600), 2);
    o[13] = ':';
    put_fixed(o + 14, (unsigned long)(rem / 60 % 60), 2);
    o[16] = ':';
    put_fixed(o + 17, (unsigned long)(rem % 60), 2);
    o[19] = '.';
    put_fixed(o + 20, (unsigned long)ts.tv_nsec, 9);
    o[29] = 'Z';
    return 30;
}

/* g_path[which] = "<name>" or "<name>.<n>". */
static const char *log_path(int which, unsigned long n)
{
    char *p = g_path[which];
    unsigned long l = len(g_logname);
    memcpy(p, g_logname, l);
    if (n) {
        p[l++] = '.';
        l += put_dec(p + l, n);
    }
    p[l] = 0;
    return p;
}

static void log_open(int truncate)
{
    g_logfd = sc4(__NR_openat, g_logdir, log_path(0, 0),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : 0),
                  0640);
    if (g_logfd < 0) {
        say("berth-monitor: cannot open the log file\n");
        g_logfd = -1;
        g_logsize = 0;
        return;
    }
    long end = sc3(__NR_lseek, g_logfd, 0, SEEK_END_);
    g_logsize = end > 0 ? (unsigned long)end : 0;
}

/* Docker's scheme: <name>.<max-1> falls off, the others shift up by one,
 * the current file becomes <name>.1 and a new one starts. With a single
 * file the current one just starts over. */
static void log_rotate(void)
{
    sc1(__NR_close, g_logfd);
    g_logfd = -1;
    if (g_maxfiles > 1) {
        for (unsigned long i = g_maxfiles - 1; i > 1; i--) {
            sc5(__NR_renameat2, g_logdir, log_path(0, i - 1), g_logdir, log_path(1, i), 0);
        }
        sc5(__NR_renameat2, g_logdir, log_path(0, 0), g_logdir, log_path(1, 1), 0);
    }
    log_open(1);
}

static const char *const stream_name[2] = {"stdout", "stderr"};

/* podman's k8s-file (the CRI log format): "<time> <stream> <F|P> <text>\n"
 * with the text as it came, minus its newline; F ends a line, P is a piece
 * of one (split at 16 KiB, or flushed without a newline) to be joined with
 * what follows. */
static unsigned long k8s_entry(char *o, int stream, const unsigned char *s, unsigned long n)
{
    unsigned long j = put_time(o);
    o[j++] = ' ';
    memcpy(o + j, stream_name[stream], 6);
    j += 6;
    int full = n > 0 && s[n - 1] == '\n';
    o[j++] = ' ';
    o[j++] = full ? 'F' : 'P';
    o[j++] = ' ';
    memcpy(o + j, s, full ? n - 1 : n);
    j += full ? n - 1 : n;
    o[j++] = '\n';
    return j;
}

static void log_entry(int stream, const unsigned char *s, unsigned long n)
{
    if (g_logdir < 0) {
        return;
    }
    if (g_logfd < 0) {
        log_open(0);
        if (g_logfd < 0) {
            return;
        }
    }
    char *o = g_json;
    unsigned long j = 0;
    if (g_k8s) {
        j = k8s_entry(o, stream, s, n);
        goto write;
    }
    memcpy(o, "{\"log\":\"", 8);
    j = 8;
    j += json_escape(o + j, s, n);
    memcpy(o + j, "\",\"stream\":\"", 12);
    j += 12;
    memcpy(o + j, stream_name[stream], 6);
    j += 6;
    memcpy(o + j, "\",\"time\":\"", 10);
    j += 10;
    j += put_time(o + j);
    memcpy(o + j, "\"}\n", 3);
    j += 3;
write:
    if (g_maxsize && g_logsize && g_logsize + j > g_maxsize) {
        log_rotate();
        if (g_logfd < 0) {
            return;
        }
    }
    /* A full disk loses log lines, never stalls the container. */
    if (write_all(g_logfd, o, j) == 0) {
        g_logsize += j;
    }
}

static void line_flush(int stream)
{
    struct line *l = &g_lines[stream];
    if (l->len) {
        log_entry(stream, l->buf, l->len);
        l->len = 0;
    }
}

/* ---- clients ------------------------------------------------------------ */

static void client_drop(int i)
{
    sc1(__NR_close, c_fd[i]);
    c_fd[i] = -1;
    c_head[i] = c_tail[i] = 0;
    c_full_since[i] = 0;
    if (!c_in_done[i] && g_stdin_once) {
        g_stdin_closing = 1;
    }
    c_in_done[i] = 0;
}

/* Backpressure with a bound. While a client cannot take another frame,
 * the container's output is not read (it blocks on its pipe, as with
 * Docker's attach), so a client that reads slowly paces the container
 * rather than losing output; one that makes no progress for SLOW_MS is
 * dropped so it cannot stall the container for longer. Called after every
 * change of client i's buffer; progress restarts the clock. */
static void client_mark(int i, int progress)
{
    if (c_fd[i] < 0) {
        return;
    }
    if (CLIENT_BUF - (c_tail[i] - c_head[i]) < FRAME_MAX) {
        if (!c_full_since[i] || progress) {
            c_full_since[i] = now_ms();
        }
    } else {
        c_full_since[i] = 0;
    }
}

/* Queues a frame (header included) for client i, sending what the socket
 * takes at once. */
static void client_send(int i, const unsigned char *p, unsigned n)
{
    if (c_head[i] == c_tail[i]) {
        c_head[i] = c_tail[i] = 0;
        long w = sc4(__NR_sendto, c_fd[i], p, n, MSG_DONTWAIT_ | MSG_NOSIGNAL_);
        if (w == -EAGAIN || w == -EINTR) {
            w = 0;
        }
        if (w < 0) {
            client_drop(i);
            return;
        }
        p += w;
        n -= (unsigned)w;
        if (n == 0) {
            return;
        }
    }
    if (c_tail[i] + n > CLIENT_BUF) {
        memmove(c_buf[i], c_buf[i] + c_head[i], c_tail[i] - c_head[i]);
        c_tail[i] -= c_head[i];
        c_head[i] = 0;
        if (c_tail[i] + n > CLIENT_BUF) {
            client_drop(i); /* cannot happen while output pauses for it */
            return;
        }
    }
    memcpy(c_buf[i] + c_tail[i], p, n);
    c_tail[i] += n;
    client_mark(i, 0);
}

static void client_flush(int i)
{
    long w = sc4(__NR_sendto, c_fd[i], c_buf[i] + c_head[i], c_tail[i] - c_head[i],
                 MSG_DONTWAIT_ | MSG_NOSIGNAL_);
    if (w == -EAGAIN || w == -EINTR) {
        return;
    }
    if (w < 0) {
        client_drop(i);
        return;
    }
    c_head[i] += (unsigned)w;
    if (c_head[i] == c_tail[i]) {
        c_head[i] = c_tail[i] = 0;
    }
    client_mark(i, w > 0);
}

/* Drops the clients that made no progress for SLOW_MS; returns the ms
 * until the next such deadline, or -1 when no client is full (output may
 * be read). */
static long clients_full(long now)
{
    long next = -1;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c_fd[i] < 0 || !c_full_since[i]) {
            continue;
        }
        long left = c_full_since[i] + SLOW_MS - now;
        if (left <= 0) {
            client_drop(i);
        } else if (next < 0 || left < next) {
            next = left;
        }
    }
    return next;
}

/* For the drain after the init's exit: waits (bounded as above) until
 * every client can take another frame. */
static void clients_wait(void)
{
    for (;;) {
        long left = clients_full(now_ms());
        if (left < 0) {
            return;
        }
        struct pollfd pf[MAX_CLIENTS];
        int slot[MAX_CLIENTS], n = 0;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (c_fd[i] >= 0 && c_full_since[i]) {
                pf[n] = (struct pollfd){.fd = c_fd[i], .events = POLLOUT};
                slot[n++] = i;
            }
        }
        struct __kernel_timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
        if (sc5(__NR_ppoll, pf, n, &ts, 0, 8) <= 0) {
            continue;
        }
        for (int k = 0; k < n; k++) {
            if (pf[k].revents & (POLLERR | POLLHUP)) {
                client_drop(slot[k]);
            } else if (pf[k].revents & POLLOUT) {
                client_flush(slot[k]);
            }
        }
    }
}

static void broadcast(unsigned char *frame, unsigned n)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c_fd[i] >= 0) {
            client_send(i, frame, n);
        }
    }
}

static void accept_clients(void)
{
    for (;;) {
        long fd = sc4(__NR_accept4, g_listen, 0, 0, SOCK_NONBLOCK_ | SOCK_CLOEXEC_);
        if (fd == -EINTR || fd == -ECONNABORTED) {
            continue;
        }
        if (fd < 0) {
            return;
        }
        int i = 0;
        while (i < MAX_CLIENTS && c_fd[i] >= 0) {
            i++;
        }
        if (i == MAX_CLIENTS) {
            sc1(__NR_close, fd); /* full: the client sees EOF at once */
            continue;
        }
        c_fd[i] = (int)fd;
        c_in_done[i] = 0;
        c_head[i] = c_tail[i] = 0;
    }
}

static void stdin_close(void)
{
    /* With a tty stdin is the pty master, which output still needs. */
    if (g_in >= 0 && g_in != g_out) {
        sc1(__NR_close, g_in);
    }
    g_in = -1;
    g_stdin_len = 0;
    g_stdin_closing = 0;
}

/* Input from client i to the container's stdin buffer; EOF is the
 * client's end of input. Without a stdin the bytes are dropped. */
static void client_input(int i)
{
    unsigned char sink[256];
    unsigned char *to = g_in >= 0 ? g_stdin_buf + g_stdin_len : sink;
    unsigned long room = g_in >= 0 ? sizeof(g_stdin_buf) - g_stdin_len : sizeof(sink);
    if (room == 0) {
        return;
    }
    long r = sc3(__NR_read, c_fd[i], to, room);
    if (r == -EAGAIN || r == -EINTR) {
        return;
    }
    if (r <= 0) {
        c_in_done[i] = 1;
        /* With a tty a client's end (its detach keys, or a closed
         * terminal) never closes the container's input: Docker's
         * CloseStdin applies without a TTY only. */
        if (g_stdin_once && g_in != g_out) {
            g_stdin_closing = 1;
        }
        if (r < 0) {
            client_drop(i);
        }
        return;
    }
    if (g_in >= 0) {
        g_stdin_len += (unsigned)r;
    }
}

static void stdin_flush(void)
{
    long w = sc3(__NR_write, g_in, g_stdin_buf, g_stdin_len);
    if (w == -EAGAIN || w == -EINTR) {
        return;
    }
    if (w < 0) {
        stdin_close(); /* the container closed its stdin */
        return;
    }
    memmove(g_stdin_buf, g_stdin_buf + w, g_stdin_len - (unsigned long)w);
    g_stdin_len -= (unsigned)w;
}

/* ---- container output ----------------------------------------------------- */

/* One read from a stream: to every client as a frame, to the log line by
 * line. Returns the bytes read, 0 at EOF (the fd is then closed), or
 * -EAGAIN. A pty master reads EIO once the container's side is closed. */
static long read_output(int stream)
{
    long *fd = stream ? &g_err : &g_out;
    long r = sc3(__NR_read, *fd, g_read + 8, CHUNK);
    if (r == -EINTR) {
        return -EAGAIN;
    }
    if (r == -EAGAIN) {
        return r;
    }
    if (r <= 0) {
        if (*fd != g_in) {
            sc1(__NR_close, *fd);
        }
        *fd = -1;
        return 0;
    }
    g_read[0] = (unsigned char)(stream + 1);
    g_read[1] = g_read[2] = g_read[3] = 0;
    g_read[4] = (unsigned char)(r >> 24);
    g_read[5] = (unsigned char)(r >> 16);
    g_read[6] = (unsigned char)(r >> 8);
    g_read[7] = (unsigned char)r;
    broadcast(g_read, (unsigned)r + 8);

    struct line *l = &g_lines[stream];
    long t = -1;
    for (long i = 0; i < r; i++) {
        unsigned char c = g_read[8 + i];
        if (l->len == 0) {
            l->since = t < 0 ? (t = now_ms()) : t;
        }
        l->buf[l->len++] = c;
        if (c == '\n' || l->len == LINE_MAX_) {
            line_flush(stream);
        }
    }
    return r;
}

/* ---- control messages (monitor.h) ----------------------------------------- */

struct winsize_ {
    unsigned short rows, cols, xpixel, ypixel;
};

/* The kernel's msghdr and cmsghdr (libc's in userspace headers). */
struct iovec_ {
    void *base;
    unsigned long len;
};
struct msghdr_ {
    void *name;
    int namelen;
    struct iovec_ *iov;
    unsigned long iovlen;
    void *control;
    unsigned long controllen;
    unsigned flags;
};
struct cmsg_fd {
    unsigned long len;
    int level, type;
    int fd;
    int pad;
};
#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define MSG_CMSG_CLOEXEC_ 0x40000000

/* The handoff pipe's read end (MONITOR_CTL_HANDOFF), or -1. */
static long g_handoff = -1;

/* Every queued datagram; a resize goes to the pty master (g_out with a
 * tty, where g_err is -1); a handoff keeps the fd it carries. A short or
 * unknown message is ignored, and any fd it carried closed. */
static void control_input(void)
{
    for (;;) {
        unsigned char m[16];
        struct cmsg_fd cm = {0};
        struct iovec_ iov = {m, sizeof(m)};
        struct msghdr_ mh = {.iov = &iov, .iovlen = 1, .control = &cm, .controllen = sizeof(cm)};
        long r = sc3(__NR_recvmsg, g_ctl, &mh, MSG_CMSG_CLOEXEC_);
        if (r == -EINTR) {
            continue;
        }
        if (r < 0) {
            return;
        }
        long fd = -1;
        if (mh.controllen >= 20 && cm.level == SOL_SOCKET_ && cm.type == SCM_RIGHTS_ &&
            cm.len == 20) {
            fd = cm.fd;
        }
        if (r == 8 && m[0] == 2 && fd >= 0) {
            if (g_handoff >= 0) {
                sc1(__NR_close, g_handoff);
            }
            g_handoff = fd;
            continue;
        }
        if (fd >= 0) {
            sc1(__NR_close, fd);
        }
        if (r != 8 || m[0] != 1 || g_out < 0 || g_err >= 0) {
            continue;
        }
        struct winsize_ ws = {.rows = (unsigned short)(m[2] << 8 | m[3]),
                              .cols = (unsigned short)(m[4] << 8 | m[5])};
        sc3(__NR_ioctl, g_out, TIOCSWINSZ, &ws);
    }
}

/* ---- children ------------------------------------------------------------- */

/* Reaps every exited child (we are a subreaper: orphans of the container
 * land here); only the init's status matters. */
static void reap(void)
{
    for (;;) {
        int st = 0;
        long pid = sc4(__NR_wait4, -1, &st, WNOHANG, 0);
        if (pid == -EINTR) {
            continue;
        }
        if (pid == -ECHILD && !g_init_done) {
            /* The init is not our child (a caller's bug): nothing to
             * wait for, report it as failed. */
            g_init_done = 1;
            g_status = 255 << 8;
        }
        if (pid <= 0) {
            return;
        }
        if (pid == g_init_pid) {
            g_init_done = 1;
            g_status = st;
        }
        if (pid == g_health_pid) {
            g_health_pid = 0;
        }
    }
}

/* ---- main ------------------------------------------------------------------ */

static void set_signal(int sig, void *handler)
{
    struct ksigaction sa = {.handler = handler};
    sc4(__NR_rt_sigaction, sig, &sa, 0, 8);
}

static void set_nonblock(long fd)
{
    if (fd >= 0) {
        long fl = sc2(__NR_fcntl, fd, F_GETFL);
        if (fl >= 0) {
            sc3(__NR_fcntl, fd, F_SETFL, fl | O_NONBLOCK);
        }
    }
}

/* Closes every fd but 0-2 and those in keep[] (unsorted, -1 ignored). */
static void close_range_(long from, long to)
{
    if (to >= from && sc3(__NR_close_range, from, to, 0) == -ENOSYS) {
        for (long fd = from; fd <= to && fd < 4096; fd++) {
            sc1(__NR_close, fd);
        }
    }
}

static void close_others(long *keep, int n)
{
    for (int i = 1; i < n; i++) { /* insertion sort of a handful */
        long v = keep[i];
        int j = i;
        while (j > 0 && keep[j - 1] > v) {
            keep[j] = keep[j - 1];
            j--;
        }
        keep[j] = v;
    }
    long from = 3;
    for (int i = 0; i < n; i++) {
        if (keep[i] >= from) {
            close_range_(from, keep[i] - 1);
            from = keep[i] + 1;
        }
    }
    close_range_(from, 0x7fffffffL);
}

/* ---- health checks (health.h) ------------------------------------------------ */

#define HEALTH_ARGS_MAX 32

/* Every interval, `berth container-health <id> <extra args>` in a child
 * that has only fds 0-2 (/dev/null here) and berth's fd; one at a time, so
 * a check that hangs past its interval delays the next instead of piling
 * up. The check enforces its own timeout. */
static char *g_health_argv[HEALTH_ARGS_MAX + 4];
static char **g_health_envp;

static void health_setup(char **argv, char **envp, long ms, long berth_fd)
{
    if (ms <= 0 || berth_fd < 0) {
        return;
    }
    int n = 0;
    g_health_argv[n++] = (char *)"berth";
    g_health_argv[n++] = (char *)"container-health";
    g_health_argv[n++] = argv[1];
    for (char **a = argv + 18; *a && n < HEALTH_ARGS_MAX + 3; a++) {
        g_health_argv[n++] = *a;
    }
    g_health_argv[n] = 0;
    g_health_envp = envp;
    g_health_ms = ms;
    g_health_berth = berth_fd;
    g_health_next = now_ms() + ms;
}

static void health_spawn(void)
{
    long pid = sc5(__NR_clone, SIGCHLD_, 0, 0, 0, 0);
    if (pid != 0) {
        g_health_pid = pid > 0 ? pid : 0;
        return;
    }
    long keep[] = {g_health_berth};
    close_others(keep, 1);
    sc3(__NR_fcntl, g_health_berth, F_SETFD, FD_CLOEXEC);
    set_signal(SIGTERM_, SIG_DFL_);
    set_signal(SIGINT_, SIG_DFL_);
    set_signal(SIGHUP_, SIG_DFL_);
    set_signal(SIGPIPE_, SIG_DFL_);
    unsigned long none = 0;
    sc4(__NR_rt_sigprocmask, SIG_SETMASK_, &none, 0, 8);
    sc5(__NR_execveat, g_health_berth, "", g_health_argv, g_health_envp, AT_EMPTY_PATH);
    sc1(__NR_exit_group, 127);
}

/* Runs a check when one is due; the ms until the next (-1: none). */
static long health_tick(long now)
{
    if (g_health_ms <= 0) {
        return -1;
    }
    if (now >= g_health_next) {
        if (!g_health_pid) {
            health_spawn();
        }
        g_health_next = now + g_health_ms;
    }
    return g_health_next - now;
}

static void finish(char **argv, char **envp, long berth_fd) __attribute__((noreturn));

__attribute__((used, noreturn)) void stub_main(long *sp);

void stub_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc < 18) {
        say("berth-monitor: usage: berth-monitor ID PID OUT ERR IN SOCK LOGDIR LOGNAME MAXSIZE "
            "MAXFILES READY BERTH STDINONCE CTL HEALTHMS LOGFORMAT HOLD [ARGS...]\n");
        sc1(__NR_exit_group, 125);
    }
    g_id = argv[1];
    g_init_pid = number(argv[2]);
    g_out = number(argv[3]);
    g_err = number(argv[4]);
    g_in = number(argv[5]);
    g_listen = number(argv[6]);
    g_logdir = number(argv[7]);
    g_logname = argv[8];
    g_maxsize = (unsigned long)(number(argv[9]) > 0 ? number(argv[9]) : 0);
    g_maxfiles = (unsigned long)(number(argv[10]) > 1 ? number(argv[10]) : 1);
    long ready = number(argv[11]);
    long berth_fd = number(argv[12]);
    g_stdin_once = argv[13][0] == '1';
    g_ctl = number(argv[14]);
    g_k8s = argv[16][0] == 'k'; /* "k8s-file"; anything else is json-file */
    g_hold = number(argv[17]) > 2 ? number(argv[17]) : -1;
    health_setup(argv, envp, number(argv[15]), berth_fd);
    if (len(g_logname) > sizeof(g_path[0]) - 24) {
        g_logdir = -1; /* cannot be a real file name anyway */
    }

    long keep[] = {g_out, g_err, g_in, g_listen, g_logdir, ready, berth_fd, g_ctl, g_hold};
    close_others(keep, (int)(sizeof(keep) / sizeof(keep[0])));

    set_signal(SIGTERM_, SIG_IGN_);
    set_signal(SIGINT_, SIG_IGN_);
    set_signal(SIGHUP_, SIG_IGN_);
    set_signal(SIGPIPE_, SIG_IGN_);
    unsigned long chld = 1UL << (SIGCHLD_ - 1);
    sc4(__NR_rt_sigprocmask, SIG_BLOCK_, &chld, 0, 8);
    g_sfd = sc4(__NR_signalfd4, -1, &chld, 8, SFD_NONBLOCK | SFD_CLOEXEC);
    if (g_sfd < 0) {
        say("berth-monitor: signalfd failed\n");
        sc1(__NR_exit_group, 125);
    }
    set_nonblock(g_out);
    set_nonblock(g_err);
    set_nonblock(g_in);
    set_nonblock(g_listen);
    set_nonblock(g_ctl);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        c_fd[i] = -1;
    }
    if (g_logdir >= 0) {
        log_open(0);
    }
    if (ready >= 0) {
        write_all(ready, "R", 1);
        sc1(__NR_close, ready);
    }
    /* The init may have exited before SIGCHLD was blocked. */
    reap();

    struct pollfd pf[6 + MAX_CLIENTS];
    /* >= 0 client slot; -1 sfd, -2 out, -3 err, -4 in, -5 listen, -6 control */
    int who[6 + MAX_CLIENTS];
    while (!g_init_done) {
        /* A partial line waits for its end at most STALL_MS. */
        long now = now_ms();
        long timeout = clients_full(now);
        int paused = timeout >= 0;
        for (int s = 0; s < 2; s++) {
            if (g_lines[s].len) {
                long left = g_lines[s].since + STALL_MS - now;
                if (left <= 0) {
                    line_flush(s);
                } else if (timeout < 0 || left < timeout) {
                    timeout = left;
                }
            }
        }
        long hleft = health_tick(now);
        if (hleft >= 0 && (timeout < 0 || hleft < timeout)) {
            timeout = hleft;
        }
        int n = 0;
        pf[n] = (struct pollfd){.fd = (int)g_sfd, .events = POLLIN};
        who[n++] = -1;
        if (g_out >= 0 && !paused) {
            pf[n] = (struct pollfd){.fd = (int)g_out, .events = POLLIN};
            who[n++] = -2;
        }
        if (g_err >= 0 && !paused) {
            pf[n] = (struct pollfd){.fd = (int)g_err, .events = POLLIN};
            who[n++] = -3;
        }
        if (g_in >= 0 && g_stdin_len) {
            pf[n] = (struct pollfd){.fd = (int)g_in, .events = POLLOUT};
            who[n++] = -4;
        }
        if (g_listen >= 0) {
            pf[n] = (struct pollfd){.fd = (int)g_listen, .events = POLLIN};
            who[n++] = -5;
        }
        if (g_ctl >= 0) {
            pf[n] = (struct pollfd){.fd = (int)g_ctl, .events = POLLIN};
            who[n++] = -6;
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (c_fd[i] < 0) {
                continue;
            }
            short ev = 0;
            if (!c_in_done[i] && (g_in < 0 || g_stdin_len < sizeof(g_stdin_buf))) {
                ev |= POLLIN;
            }
            if (c_head[i] != c_tail[i]) {
                ev |= POLLOUT;
            }
            pf[n] = (struct pollfd){.fd = c_fd[i], .events = ev};
            who[n++] = i;
        }
        struct __kernel_timespec ts = {.tv_sec = timeout / 1000,
                                       .tv_nsec = (timeout % 1000) * 1000000};
        long r = sc5(__NR_ppoll, pf, n, timeout < 0 ? 0 : (long)&ts, 0, 8);
        if (r < 0) {
            continue; /* EINTR; nothing else is expected */
        }
        /* New clients first: a client that connected before the container
         * started (berth run does) must see all of its output, even when
         * that output is already waiting in the same wakeup. */
        for (int k = 0; k < n; k++) {
            if (who[k] == -5 && pf[k].revents) {
                accept_clients();
                pf[k].revents = 0;
            }
        }
        for (int k = 0; k < n && r > 0; k++) {
            short re = pf[k].revents;
            if (!re) {
                continue;
            }
            switch (who[k]) {
            case -1: {
                struct signalfd_siginfo si;
                while (sc3(__NR_read, g_sfd, &si, sizeof(si)) > 0) {
                }
                reap();
                break;
            }
            case -2:
                read_output(0);
                break;
            case -3:
                read_output(1);
                break;
            case -4:
                stdin_flush();
                break;
            case -5:
                accept_clients();
                break;
            case -6:
                control_input();
                break;
            default: {
                int i = who[k];
                if (c_fd[i] < 0) {
                    break;
                }
                if (re & POLLOUT) {
                    client_flush(i);
                }
                if (c_fd[i] >= 0 && (re & (POLLIN | POLLHUP | POLLERR)) && !c_in_done[i]) {
                    client_input(i);
                }
                /* POLLHUP: both directions are shut, the client is gone.
                 * Its input is read first (to EOF) unless nothing can take
                 * it, then it is of no further use. */
                if (c_fd[i] >= 0 && (re & (POLLHUP | POLLERR)) &&
                    (c_in_done[i] || (g_in >= 0 && g_stdin_len == sizeof(g_stdin_buf)))) {
                    client_drop(i);
                }
                break;
            }
            }
        }
        if (g_stdin_closing && g_stdin_len == 0) {
            stdin_close();
        }
    }
    finish(argv, envp, berth_fd);
}

/* The init has exited: drain what its processes wrote, flush partial
 * lines, send every client the exit frame, then become berth's exit
 * handler. Other processes of the container may still hold the pipes open
 * and keep writing, so draining stops at the first EAGAIN (or a cap), never
 * waits for EOF. */
static void finish(char **argv, char **envp, long berth_fd)
{
    /* A client may still wait in the listen queue: `berth run` connects
     * before the container starts, and a container that is quick enough can
     * exit before the loop ever polled (or the loop ended on the same
     * wakeup). Take it now, so it gets the output and the exit frame. */
    if (g_listen >= 0) {
        accept_clients();
    }
    for (int s = 0; s < 2; s++) {
        unsigned long total = 0;
        while ((s ? g_err : g_out) >= 0 && total < DRAIN_MAX) {
            clients_wait();
            long r = read_output(s);
            if (r <= 0) {
                break;
            }
            total += (unsigned long)r;
        }
        line_flush(s);
    }
    /* A handoff asked for before the container started is queued by now. */
    if (g_ctl >= 0) {
        control_input();
    }
    unsigned char exitf[12] = {255, g_handoff >= 0, 0, 0, 0, 0, 0, 4};
    exitf[8] = (unsigned char)(g_status >> 24);
    exitf[9] = (unsigned char)(g_status >> 16);
    exitf[10] = (unsigned char)(g_status >> 8);
    exitf[11] = (unsigned char)g_status;
    broadcast(exitf, sizeof(exitf));

    /* Give clients a bounded time to take what is queued. */
    long deadline = now_ms() + FINAL_FLUSH_MS;
    for (;;) {
        struct pollfd pf[MAX_CLIENTS];
        int slot[MAX_CLIENTS], n = 0;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (c_fd[i] >= 0 && c_head[i] != c_tail[i]) {
                pf[n] = (struct pollfd){.fd = c_fd[i], .events = POLLOUT};
                slot[n++] = i;
            }
        }
        long left = deadline - now_ms();
        if (n == 0 || left <= 0) {
            break;
        }
        struct __kernel_timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
        if (sc5(__NR_ppoll, pf, n, &ts, 0, 8) < 0) {
            continue;
        }
        for (int k = 0; k < n; k++) {
            if (pf[k].revents & (POLLERR | POLLHUP)) {
                client_drop(slot[k]);
            } else if (pf[k].revents & POLLOUT) {
                client_flush(slot[k]);
            }
        }
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c_fd[i] >= 0) {
            sc1(__NR_close, c_fd[i]);
            c_fd[i] = -1;
        }
    }

    long code = (g_status & 0x7f) == 0 ? (g_status >> 8) & 0xff : 128 + (g_status & 0x7f);
    /* Handed off: the client that holds the pipe's write end handles the
     * exit and says "D" when done; if it goes away first (EOF), the exit
     * handler runs as without a handoff. */
    if (g_handoff >= 0) {
        unsigned char d = 0;
        long r;
        while ((r = sc3(__NR_read, g_handoff, &d, 1)) == -EINTR || r == -EAGAIN) {
        }
        if (r == 1 && d == 'D') {
            sc1(__NR_exit_group, code);
        }
        sc1(__NR_close, g_handoff);
        g_handoff = -1;
    }

    /* Nothing crosses into the exit handler but fds 0-2, with the signal
     * state berth started with. */
    long keep[] = {berth_fd};
    close_others(keep, 1);
    sc3(__NR_fcntl, berth_fd, F_SETFD, FD_CLOEXEC); /* fine for an ELF berth */
    set_signal(SIGTERM_, SIG_DFL_);
    set_signal(SIGINT_, SIG_DFL_);
    set_signal(SIGHUP_, SIG_DFL_);
    set_signal(SIGPIPE_, SIG_DFL_);
    unsigned long none = 0;
    sc4(__NR_rt_sigprocmask, SIG_SETMASK_, &none, 0, 8);

    /* argv is ours: the handler's argv is built in place over argv[14..17],
     * keeping the extra arguments (argv[18..]) and the terminating NULL
     * where they are. */
    char status[24];
    status[put_dec(status, (unsigned long)(unsigned)g_status)] = 0;
    char **hv = argv + 14;
    hv[0] = (char *)"berth";
    hv[1] = (char *)"container-exited";
    hv[2] = (char *)g_id;
    hv[3] = status;
    if (berth_fd >= 0) {
        sc5(__NR_execveat, berth_fd, "", hv, envp, AT_EMPTY_PATH);
    }
    say("berth-monitor: cannot run the exit handler for container ");
    say(g_id);
    say("\n");
    sc1(__NR_exit_group, code);
    for (;;) {
    }
}
