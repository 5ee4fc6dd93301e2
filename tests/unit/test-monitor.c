/* test-monitor.c - the monitor stub run for real around a shell "container".
 *
 * Each test forks a child that plays berth's monitor process: it makes the
 * container's pipes, forks /bin/sh -c SCRIPT with them as stdio, listens on
 * a unix socket in a temp dir and calls monitor_exec_stub(). The exit
 * handler is this test binary itself (berth_fd = /proc/self/exe): run as
 * "container-exited ...", main() writes its arguments, its open fds and its
 * blocked signals to the file named by $MONITOR_TEST_EXITED and exits 0.
 * The test then reads the json-file log, what an attach client got, and
 * that file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "libberth/container/monitor.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LOG ID "-json.log"

struct run {
    char dir[64];
    pid_t pid; /* the stub, then the exit handler; leads its process group */
    int ready;
};

/* The run of the current test, for the teardown after a failed one: the
 * stub, the container and its orphans are one process group. */
static struct run g_live;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *path_in(const struct run *r, const char *name)
{
    return xasprintf("%s/%s", r->dir, name);
}

/* Starts the "container" and the stub; returns once the stub said ready. */
static void run_start(struct run *r, const char *script, uint64_t max_size, unsigned max_files,
                      bool stdin_once)
{
    snprintf(r->dir, sizeof(r->dir), "/tmp/test-monitor.XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    int ready[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    r->pid = fork();
    assert_true(r->pid >= 0);
    if (r->pid == 0) {
        setpgid(0, 0);
        int out[2], err[2], in[2];
        if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(in, O_CLOEXEC)) {
            _exit(90);
        }
        pid_t init = fork();
        if (init == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            dup2(err[1], 2);
            execl("/bin/sh", "sh", "-c", script, (char *)NULL);
            _exit(127);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        close(ready[0]);
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/attach.sock", r->dir);
        if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 64)) {
            _exit(91);
        }
        int dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int self = open("/proc/self/exe", O_PATH | O_CLOEXEC);
        char *exited = path_in(r, "exited");
        setenv("MONITOR_TEST_EXITED", exited, 1);
        /* A stray fd the stub must close. */
        int stray = open("/dev/null", O_RDONLY);
        (void)stray;
        const char *extra[] = {"--root", "/tmp/r", "--runroot", "/tmp/rr", NULL};
        struct monitor_stub_args a = {
            .id = ID,
            .init_pid = init,
            .stdout_fd = out[0],
            .stderr_fd = err[0],
            .stdin_fd = in[1],
            .listen_fd = l,
            .log_dirfd = dirfd,
            .log_name = LOG,
            .log_max_size = max_size,
            .log_max_files = max_files,
            .ready_fd = ready[1],
            .berth_fd = self,
            .stdin_once = stdin_once,
            .extra = extra,
        };
        struct berth_error *e = NULL;
        monitor_exec_stub(&a, &e);
        fprintf(stderr, "monitor_exec_stub failed\n");
        _exit(92);
    }
    setpgid(r->pid, r->pid); /* whichever runs first */
    g_live = *r;
    close(ready[1]);
    r->ready = ready[0];
    struct pollfd p = {.fd = r->ready, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    char c = 0;
    assert_int_equal(read(r->ready, &c, 1), 1);
    assert_int_equal(c, 'R');
    close(r->ready);
}

static int run_connect(const struct run *r)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/attach.sock", r->dir);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Waits for the exit handler to finish; returns the milliseconds taken. */
static long run_wait(struct run *r)
{
    long t0 = now_ms();
    int st = 0;
    for (;;) {
        pid_t p = waitpid(r->pid, &st, WNOHANG);
        assert_true(p >= 0);
        if (p == r->pid) {
            break;
        }
        if (now_ms() - t0 > 15000) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &st, 0);
            fail_msg("the monitor did not finish");
        }
        usleep(5000);
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0); /* the handler ran and wrote its file */
    return now_ms() - t0;
}

static char *run_read(const struct run *r, const char *name)
{
    char *data = NULL;
    size_t n = 0;
    _cleanup_free_ char *p = path_in(r, name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    assert_int_equal(read_fd_full(fd, 64 << 20, &data, &n, NULL), 0);
    close(fd);
    return data;
}

static void run_cleanup(struct run *r)
{
    g_live.pid = 0;
    DIR *d = opendir(r->dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(r->dir);
}

static int teardown(void **state)
{
    if (g_live.pid > 0) {
        kill(-g_live.pid, SIGKILL);
        waitpid(g_live.pid, NULL, 0);
        run_cleanup(&g_live);
    }
    return 0;
}

/* What the exit handler got: "container-exited\n<id>\n<status>\n..." */
static void assert_exited(const struct run *r, int status)
{
    _cleanup_free_ char *got = run_read(r, "exited");
    assert_non_null(got);
    _cleanup_free_ char *want =
        xasprintf("container-exited\n" ID "\n%d\n--root\n/tmp/r\n--runroot\n/tmp/rr\n"
                  "fds: 0 1 2\nSigBlk:\t0000000000000000\n",
                  status);
    assert_string_equal(got, want);
}

/* ---- log entries ------------------------------------------------------- */

struct entry {
    char *log;
    size_t len;
    int stream; /* 1 stdout, 2 stderr */
};

static void check_time(const char *t)
{
    /* 2024-03-01T12:00:00.123456789Z */
    assert_int_equal(strlen(t), 30);
    for (int i = 0; i < 30; i++) {
        char want = i == 4 || i == 7     ? '-'
                    : i == 10            ? 'T'
                    : i == 13 || i == 16 ? ':'
                    : i == 19            ? '.'
                    : i == 29            ? 'Z'
                                         : '0';
        if (want == '0') {
            assert_true(t[i] >= '0' && t[i] <= '9');
        } else {
            assert_int_equal(t[i], want);
        }
    }
    struct tm tm = {0};
    assert_non_null(strptime(t, "%Y-%m-%dT%H:%M:%S", &tm));
    long d = (long)(timegm(&tm) - time(NULL));
    assert_true(d > -60 && d < 60);
}

/* Parses a json-file log; returns the number of entries. */
static size_t parse_log(const char *text, struct entry *e, size_t max)
{
    size_t n = 0;
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        json_error_t je;
        json_t *j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &je);
        if (!j) {
            fail_msg("bad log line: %s: %.*s", je.text, (int)(nl - p), p);
        }
        assert_true(n < max);
        json_t *log = json_object_get(j, "log");
        const char *stream = json_string_value(json_object_get(j, "stream"));
        const char *t = json_string_value(json_object_get(j, "time"));
        assert_non_null(log);
        assert_non_null(stream);
        assert_non_null(t);
        assert_int_equal(json_object_size(j), 3);
        check_time(t);
        e[n].len = json_string_length(log);
        e[n].log = xmalloc(e[n].len + 1);
        memcpy(e[n].log, json_string_value(log), e[n].len + 1);
        e[n].stream = strcmp(stream, "stdout") == 0 ? 1 : strcmp(stream, "stderr") == 0 ? 2 : 0;
        assert_int_not_equal(e[n].stream, 0);
        json_decref(j);
        n++;
        p = nl + 1;
    }
    return n;
}

static void free_entries(struct entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].log);
    }
}

/* ---- attach frames ----------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 15000) != 1) {
            fail_msg("attach: no data");
        }
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0) {
            return got == 0 ? 0 : -1;
        }
        got += (size_t)r;
    }
    return 1;
}

/* Reads frames until the exit frame (returns 1, *status set) or EOF. */
static int read_frames(int fd, struct strbuf *out, struct strbuf *err, int *status)
{
    for (;;) {
        unsigned char h[8];
        int r = read_full(fd, h, 8);
        if (r <= 0) {
            assert_int_equal(r, 0);
            return 0;
        }
        assert_int_equal(h[1] | h[2] | h[3], 0);
        uint32_t n = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
        assert_true(n <= 1 << 20);
        _cleanup_free_ unsigned char *b = xmalloc(n + 1);
        if (n) {
            assert_int_equal(read_full(fd, b, n), 1);
        }
        if (h[0] == MONITOR_STREAM_EXIT) {
            assert_int_equal(n, 4);
            *status =
                (int)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
            char c;
            assert_int_equal(read_full(fd, &c, 1), 0); /* then closed */
            return 1;
        }
        assert_true(h[0] == MONITOR_STREAM_STDOUT || h[0] == MONITOR_STREAM_STDERR);
        strbuf_add(h[0] == MONITOR_STREAM_STDOUT ? out : err, b, n);
    }
}

/* ---- tests ------------------------------------------------------------- */

static void test_log_lines(void **state)
{
    struct run r;
    run_start(&r, "printf 'hello\\nworld\\n'; printf 'oops\\n' >&2; printf 'tail'; exit 5", 0, 1,
              false);
    run_wait(&r);
    assert_exited(&r, 5 << 8);
    _cleanup_free_ char *log = run_read(&r, LOG);
    assert_non_null(log);
    struct entry e[16];
    size_t n = parse_log(log, e, 16);
    const char *want_out[] = {"hello\n", "world\n", "tail"};
    size_t no = 0, ne = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].stream == 1) {
            assert_true(no < 3);
            assert_string_equal(e[i].log, want_out[no++]);
        } else {
            assert_string_equal(e[i].log, "oops\n");
            ne++;
        }
    }
    assert_int_equal(no, 3);
    assert_int_equal(ne, 1);
    free_entries(e, n);
    run_cleanup(&r);
}

static void test_long_line_split(void **state)
{
    struct run r;
    run_start(&r, "head -c 40000 /dev/zero | tr '\\0' a; echo; printf 'b%.0s' $(seq 1 16384)", 0, 1,
              false);
    run_wait(&r);
    assert_exited(&r, 0);
    _cleanup_free_ char *log = run_read(&r, LOG);
    struct entry e[16];
    size_t n = parse_log(log, e, 16);
    assert_int_equal(n, 4);
    size_t want[] = {16384, 16384, 40000 - 2 * 16384 + 1, 16384};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(e[i].stream, 1);
        assert_int_equal(e[i].len, want[i]);
        assert_int_equal(e[i].log[0], i == 3 ? 'b' : 'a');
    }
    assert_int_equal(e[2].log[e[2].len - 1], '\n');
    assert_int_equal(e[1].log[e[1].len - 1], 'a'); /* a partial piece: no newline */
    assert_int_equal(e[3].log[e[3].len - 1], 'b');
    free_entries(e, n);
    run_cleanup(&r);
}

static void test_json_escaping(void **state)
{
    struct run r;
    run_start(&r,
              "printf '\\001\\033\"\\\\<>&\\t\\r|\\377|\\303\\050|\\300\\257|\\355\\240\\200|"
              "\\342\\200\\250|\\303\\251\\342\\202\\254\\360\\237\\230\\200|\\177\\n'",
              0, 1, false);
    run_wait(&r);
    _cleanup_free_ char *log = run_read(&r, LOG);
    assert_non_null(log);
    const char *want = "{\"log\":\"\\u0001\\u001b\\\"\\\\\\u003c\\u003e\\u0026\\t\\r|\\ufffd|"
                       "\\ufffd(|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\u2028|"
                       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x7f\\n\",\"stream\":\"stdout\","
                       "\"time\":\"";
    if (strncmp(log, want, strlen(want)) != 0) {
        fail_msg("log line: %s", log);
    }
    struct entry e[4];
    size_t n = parse_log(log, e, 4);
    assert_int_equal(n, 1);
    free_entries(e, n);
    run_cleanup(&r);
}

static void test_attach_frames(void **state)
{
    struct run r;
    run_start(&r, "read x; echo \"out:$x\"; echo \"err:$x\" >&2; exit 7", 0, 1, false);
    int c = run_connect(&r);
    assert_int_equal(write(c, "ping\n", 5), 5);
    _cleanup_strbuf_ struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
    int status = -1;
    assert_int_equal(read_frames(c, &out, &err, &status), 1);
    assert_string_equal(strbuf_str(&out), "out:ping\n");
    assert_string_equal(strbuf_str(&err), "err:ping\n");
    assert_int_equal(status, 7 << 8);
    close(c);
    run_wait(&r);
    assert_exited(&r, 7 << 8);
    run_cleanup(&r);
}

static void test_max_clients(void **state)
{
    struct run r;
    run_start(&r, "read x; echo hi", 0, 1, false);
    int c[33];
    for (int i = 0; i < 33; i++) {
        c[i] = run_connect(&r);
    }
    /* The 33rd is refused: closed at once. */
    char b;
    struct pollfd p = {.fd = c[32], .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(read(c[32], &b, 1), 0);
    assert_int_equal(write(c[0], "\n", 1), 1);
    for (int i = 0; i < 32; i++) {
        _cleanup_strbuf_ struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
        int status = -1;
        assert_int_equal(read_frames(c[i], &out, &err, &status), 1);
        assert_string_equal(strbuf_str(&out), "hi\n");
        assert_int_equal(status, 0);
    }
    for (int i = 0; i < 33; i++) {
        close(c[i]);
    }
    run_wait(&r);
    assert_exited(&r, 0);
    run_cleanup(&r);
}

static void test_stdin_once(void **state)
{
    struct run r;
    /* cat ends only if the stub closes its stdin when the client's input
     * ends. A second client sees the same output. */
    run_start(&r, "cat; echo done; kill -TERM $$", 0, 1, true);
    int watcher = run_connect(&r);
    int c = run_connect(&r);
    assert_int_equal(write(c, "abc", 3), 3);
    usleep(100000);
    shutdown(c, SHUT_WR);
    _cleanup_strbuf_ struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
    _cleanup_strbuf_ struct strbuf out2 = STRBUF_INIT, err2 = STRBUF_INIT;
    int status = -1, status2 = -1;
    assert_int_equal(read_frames(c, &out, &err, &status), 1);
    assert_int_equal(read_frames(watcher, &out2, &err2, &status2), 1);
    assert_string_equal(strbuf_str(&out), "abcdone\n");
    assert_string_equal(strbuf_str(&out2), "abcdone\n");
    assert_int_equal(err.len, 0);
    /* killed by a signal: the raw wait status */
    assert_int_equal(status, SIGTERM);
    assert_int_equal(status2, SIGTERM);
    close(c);
    close(watcher);
    run_wait(&r);
    assert_exited(&r, SIGTERM);
    run_cleanup(&r);
}

static void test_rotation(void **state)
{
    struct run r;
    run_start(&r, "i=1; while [ $i -le 40 ]; do echo line$i; i=$((i+1)); done", 300, 3, false);
    run_wait(&r);
    _cleanup_free_ char *cur = run_read(&r, LOG);
    _cleanup_free_ char *one = run_read(&r, LOG ".1");
    _cleanup_free_ char *two = run_read(&r, LOG ".2");
    _cleanup_free_ char *three = run_read(&r, LOG ".3");
    assert_non_null(cur);
    assert_non_null(one);
    assert_non_null(two);
    assert_null(three);
    assert_true(strlen(cur) <= 300);
    assert_true(strlen(one) <= 300 && strlen(one) > 150);
    assert_true(strlen(two) <= 300 && strlen(two) > 150);
    /* The files continue each other: .2 then .1 then the current one,
     * ending with the last line. */
    struct entry e[3][8];
    size_t n[3] = {parse_log(two, e[0], 8), parse_log(one, e[1], 8), parse_log(cur, e[2], 8)};
    int next = -1;
    for (int f = 0; f < 3; f++) {
        assert_true(n[f] > 0);
        for (size_t i = 0; i < n[f]; i++) {
            int k = (int)strtol(e[f][i].log + 4, NULL, 10);
            assert_true(next < 0 || k == next);
            next = k + 1;
        }
    }
    assert_int_equal(next, 41);
    for (int f = 0; f < 3; f++) {
        free_entries(e[f], n[f]);
    }
    run_cleanup(&r);
}

static long vm_rss_kb(pid_t pid)
{
    _cleanup_free_ char *p = xasprintf("/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "re");
    assert_non_null(f);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kb;
}

static void test_rss_signals_and_exe(void **state)
{
    struct run r;
    run_start(&r, "read x; echo \"got $x\"; read y; echo \"got $y\"", 0, 1, false);
    /* The stub runs from the sealed memfd, not from a file. */
    _cleanup_free_ char *exe = xasprintf("/proc/%d/exe", (int)r.pid);
    char target[256] = "";
    assert_true(readlink(exe, target, sizeof(target) - 1) > 0);
    assert_non_null(strstr(target, "memfd:berth-monitor"));
    /* Ignored: the container is stopped through the runtime. */
    kill(r.pid, SIGTERM);
    kill(r.pid, SIGINT);
    kill(r.pid, SIGHUP);
    usleep(100000);
    int st;
    assert_int_equal(waitpid(r.pid, &st, WNOHANG), 0);

    int c = run_connect(&r);
    assert_int_equal(write(c, "one\n", 4), 4);
    char buf[64];
    assert_int_equal(read_full(c, buf, 8 + 8), 1);
    assert_memory_equal(buf + 8, "got one\n", 8);
    long kb = vm_rss_kb(r.pid);
    printf("# stub VmRSS: %ld kB\n", kb);
    fflush(stdout);
    assert_true(kb > 0 && kb < 1024);
    assert_int_equal(write(c, "two\n", 4), 4);
    _cleanup_strbuf_ struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
    int status = -1;
    assert_int_equal(read_frames(c, &out, &err, &status), 1);
    assert_string_equal(strbuf_str(&out), "got two\n");
    assert_int_equal(status, 0);
    close(c);
    run_wait(&r);
    assert_exited(&r, 0);
    run_cleanup(&r);
}

static void test_orphan_holds_pipes(void **state)
{
    struct run r;
    /* A background process keeps stdout open after the init exits: the
     * stub must not wait for EOF. */
    run_start(&r, "sleep 30 & echo $!; exit 3", 0, 1, false);
    long ms = run_wait(&r);
    assert_exited(&r, 3 << 8);
    _cleanup_free_ char *log = run_read(&r, LOG);
    struct entry e[4];
    size_t n = parse_log(log, e, 4);
    assert_int_equal(n, 1);
    int pid = (int)strtol(e[0].log, NULL, 10);
    assert_true(pid > 1);
    kill(pid, SIGKILL);
    free_entries(e, n);
    assert_true(ms < 5000);
    run_cleanup(&r);
}

static void test_slow_client_dropped(void **state)
{
    struct run r;
    /* 2 MB of output while one client never reads: that client is
     * dropped after a few seconds (its stream just ends), the container
     * then goes on, the log is complete, and a client that reads gets
     * everything (the container's output is paced to it, not dropped). */
    run_start(&r, "read x; head -c 2000000 /dev/zero | tr '\\0' a; exit 0", 0, 1, false);
    int slow = run_connect(&r);
    int good = run_connect(&r);
    assert_int_equal(write(slow, "\n", 1), 1);
    _cleanup_strbuf_ struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
    int status = -1;
    assert_int_equal(read_frames(good, &out, &err, &status), 1);
    assert_int_equal(out.len, 2000000);
    assert_int_equal(status, 0);
    run_wait(&r);
    /* The slow client's stream just ends (maybe mid-frame), and soon. */
    size_t got = 0;
    for (;;) {
        char buf[65536];
        struct pollfd p = {.fd = slow, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t k = read(slow, buf, sizeof(buf));
        assert_true(k >= 0);
        if (k == 0) {
            break;
        }
        got += (size_t)k;
    }
    assert_true(got < 2000000);
    close(slow);
    close(good);
    _cleanup_free_ char *log = run_read(&r, LOG);
    static struct entry e[200];
    size_t n = parse_log(log, e, 200), total = 0;
    for (size_t i = 0; i < n; i++) {
        total += e[i].len;
    }
    assert_int_equal(total, 2000000);
    free_entries(e, n);
    run_cleanup(&r);
}

/* The exit handler: this binary run by the stub as berth would be. */
static int exit_handler(int argc, char **argv)
{
    const char *out = getenv("MONITOR_TEST_EXITED");
    if (!out) {
        return 2;
    }
    FILE *f = fopen(out, "we");
    if (!f) {
        return 3;
    }
    for (int i = 1; i < argc; i++) {
        fprintf(f, "%s\n", argv[i]);
    }
    /* Open fds, as the handler inherited them. */
    fprintf(f, "fds:");
    for (int fd = 0; fd < 1024; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 && fd != fileno(f)) {
            fprintf(f, " %d", fd);
        }
    }
    fprintf(f, "\n");
    FILE *s = fopen("/proc/self/status", "re");
    char line[256];
    while (s && fgets(line, sizeof(line), s)) {
        if (strncmp(line, "SigBlk:", 7) == 0) {
            fputs(line, f);
        }
    }
    if (s) {
        fclose(s);
    }
    return fclose(f) == 0 ? 0 : 4;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "container-exited") == 0) {
        return exit_handler(argc, argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_log_lines, teardown),
        cmocka_unit_test_teardown(test_long_line_split, teardown),
        cmocka_unit_test_teardown(test_json_escaping, teardown),
        cmocka_unit_test_teardown(test_attach_frames, teardown),
        cmocka_unit_test_teardown(test_max_clients, teardown),
        cmocka_unit_test_teardown(test_stdin_once, teardown),
        cmocka_unit_test_teardown(test_rotation, teardown),
        cmocka_unit_test_teardown(test_rss_signals_and_exe, teardown),
        cmocka_unit_test_teardown(test_orphan_holds_pipes, teardown),
        cmocka_unit_test_teardown(test_slow_client_dropped, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
