/* health.c - Docker's health checks: the effective check, one run of it
 * inside the container, and the health.json history (see health.h). */
#include "health.h"

#include "libberth/container/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/units.h"
#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/image/images.h"
#include "libberth/runtime/container.h"
#include "libberth/runtime/linux.h"

#define HEALTH_FILE_MAX (64u << 10)

void container_healthcheck_release(struct container_healthcheck *h)
{
    strv_free(h->test);
    *h = (struct container_healthcheck){0};
}

static int64_t field_ns(json_t *body_hc, json_t *img_hc, const char *key, int64_t def)
{
    json_int_t v = json_integer_value(json_object_get(body_hc, key));
    if (v <= 0) {
        v = json_integer_value(json_object_get(img_hc, key));
    }
    return v > 0 ? (int64_t)v : def;
}

int container_healthcheck_get(struct store *s, const struct container_record *c,
                              struct container_healthcheck *ret, struct berth_error **err)
{
    (void)err;
    *ret = (struct container_healthcheck){0};
    json_t *bhc = json_object_get(c->body, "Healthcheck");
    const struct image_config *config = NULL;
    json_t *ihc = NULL;
    if (image_config_get(s, c->image_id, &config, NULL) >= 0 && config) {
        ihc = config->healthcheck;
    }
    /* An empty body Test inherits the image's; ["NONE"] disables either. */
    json_t *test = json_object_get(bhc, "Test");
    if (json_array_size(test) == 0) {
        test = json_object_get(ihc, "Test");
    }
    const char *kind = json_string_value(json_array_get(test, 0));
    if (!kind || streq(kind, "NONE") || json_array_size(test) < 2 ||
        (!streq(kind, "CMD") && !streq(kind, "CMD-SHELL"))) {
        return 0;
    }
    char **v = NULL;
    for (size_t i = 0; i < json_array_size(test); i++) {
        const char *a = json_string_value(json_array_get(test, i));
        strv_push(&v, a ? a : "");
    }
    ret->test = v;
    ret->interval_ns = field_ns(bhc, ihc, "Interval", HEALTH_DEFAULT_INTERVAL_NS);
    ret->timeout_ns = field_ns(bhc, ihc, "Timeout", HEALTH_DEFAULT_TIMEOUT_NS);
    ret->start_period_ns = field_ns(bhc, ihc, "StartPeriod", 0);
    ret->retries = (int)field_ns(bhc, ihc, "Retries", HEALTH_DEFAULT_RETRIES);
    return 0;
}

uint64_t container_health_interval_ms(struct store *s, const struct container_record *c)
{
    struct container_healthcheck h;
    if (container_healthcheck_get(s, c, &h, NULL) < 0 || !h.test) {
        return 0;
    }
    uint64_t ms = (uint64_t)h.interval_ns / 1000000u;
    container_healthcheck_release(&h);
    return ms > 0 ? ms : 1;
}

static char *health_path(struct store *s, const char *id)
{
    return xasprintf("%s/containers/%s/health.json", s->root, id);
}

/* The stored history when it belongs to the run that started at
 * started_at, else a fresh {starting, 0, []}. */
static json_t *health_load(struct store *s, const char *id, const char *started_at)
{
    _cleanup_free_ char *p = health_path(s, id);
    json_t *h = NULL;
    if (json_load_file_at(AT_FDCWD, p, HEALTH_FILE_MAX, &h, NULL) >= 0 && json_is_object(h)) {
        const char *run = json_string_value(json_object_get(h, "StartedAt"));
        if (run && started_at && streq(run, started_at)) {
            return h;
        }
    }
    json_decref(h);
    h = json_object();
    json_object_set_new(h, "Status", json_string("starting"));
    json_object_set_new(h, "FailingStreak", json_integer(0));
    json_object_set_new(h, "Log", json_array());
    json_object_set_new(h, "StartedAt", json_string(started_at ? started_at : ""));
    return h;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long started_ms(const char *t)
{
    struct tm tm = {0};
    if (!t || !strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)) {
        return 0;
    }
    return (long long)timegm(&tm) * 1000;
}

struct probe_result {
    int exit_code; /* -1: timed out or could not run */
    char *output;
};

/* Run args in the container with its stdout and stderr on one pipe, at
 * most timeout_ms. This process becomes a child subreaper, so the process
 * is ours to wait for however the runtime spawned it. */
static int probe(struct berth_runtime *rt, const char *id, char **args, long long timeout_ms,
                 struct probe_result *ret, struct berth_error **err)
{
    struct oci_process *proc = NULL;
    int r = berth_runtime_exec_process(rt, id, args, &proc, err);
    if (r < 0) {
        return r;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        oci_process_free(proc);
        return berth_error_sys(err, errno, "pipe");
    }
    /* The exec'd process inherits fds 0-2: keep ours aside meanwhile. */
    int saved[3] = {dup(0), dup(1), dup(2)};
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    (void)dup2(devnull, 0), (void)dup2(p[1], 1), (void)dup2(p[1], 2);
    safe_close(devnull);
    safe_close(p[1]);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    struct berth_exec_opts o = {.id = id, .process = proc, .console_fd = -1};
    pid_t pid = 0;
    r = berth_runtime_exec(rt, &o, &pid, err);
    for (int i = 0; i < 3; i++) {
        if (saved[i] >= 0) {
            (void)dup2(saved[i], i);
            safe_close(saved[i]);
        }
    }
    oci_process_free(proc);
    if (r < 0) {
        safe_close(p[0]);
        return r;
    }
    (void)fd_set_nonblock(p[0], 1);
    char *out = xmalloc(HEALTH_OUTPUT_MAX + 1);
    size_t len = 0;
    long long deadline = mono_ms() + timeout_ms;
    int status = 0;
    bool done = false, timed_out = false;
    while (!done) {
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        (void)poll(&pf, 1, 50);
        for (;;) {
            char buf[4096];
            ssize_t n = read(p[0], buf, sizeof(buf));
            if (n <= 0) {
                break;
            }
            size_t take = (size_t)n < HEALTH_OUTPUT_MAX - len ? (size_t)n : HEALTH_OUTPUT_MAX - len;
            memcpy(out + len, buf, take);
            len += take;
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno == ECHILD)) {
            done = true;
        } else if (mono_ms() >= deadline) {
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &status, 0);
            timed_out = true;
            done = true;
        }
    }
    /* What is still buffered after the exit. */
    for (;;) {
        char buf[4096];
        ssize_t n = read(p[0], buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        size_t take = (size_t)n < HEALTH_OUTPUT_MAX - len ? (size_t)n : HEALTH_OUTPUT_MAX - len;
        memcpy(out + len, buf, take);
        len += take;
    }
    safe_close(p[0]);
    out[len] = '\0';
    while (waitpid(-1, NULL, WNOHANG) > 0) { /* orphans of the check */
    }
    if (timed_out) {
        free(out);
        long long secs = timeout_ms / 1000;
        ret->output = secs * 1000 == timeout_ms
                          ? xasprintf("Health check exceeded timeout (%llds)", secs)
                          : xasprintf("Health check exceeded timeout (%lldms)", timeout_ms);
        ret->exit_code = -1;
        return 0;
    }
    ret->output = out;
    ret->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return 0;
}

int container_health_run(struct store *s, const char *id, struct berth_error **err)
{
    /* Re-executes from a sealed copy (CVE-2019-5736) before anything else
     * happens, as the runtime's exec would. */
    int r = cloned_binary_ensure(err);
    if (r < 0) {
        return r;
    }
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    r = container_record_get(s, id, &c, err);
    if (r < 0) {
        return r;
    }
    struct container_healthcheck h;
    r = container_healthcheck_get(s, c, &h, err);
    if (r < 0 || !h.test) {
        return r;
    }
    struct container_state_file st = {0};
    r = container_state_read(s->root, id, &st, err);
    if (r < 0) {
        container_healthcheck_release(&h);
        return r;
    }
    char **args = NULL;
    if (streq(h.test[0], "CMD-SHELL")) {
        strv_push(&args, "/bin/sh");
        strv_push(&args, "-c");
        strv_push(&args, h.test[1]);
    } else {
        args = strv_copy(h.test + 1);
    }
    struct berth_runtime rt = container_runtime(s);
    _cleanup_free_ char *start = rfc3339_now();
    struct probe_result pr = {0};
    struct berth_error *perr = NULL;
    if (probe(&rt, id, args, h.timeout_ns / 1000000, &pr, &perr) < 0) {
        /* Docker records a check that cannot run as a failure. */
        pr.exit_code = -1;
        pr.output = xstrdup(perr && perr->msg ? perr->msg : "health check failed to run");
        berth_error_free(perr);
    }
    strv_free(args);
    _cleanup_free_ char *end = rfc3339_now();

    _cleanup_json_ json_t *hj = health_load(s, id, st.started_at);
    json_t *log = json_object_get(hj, "Log");
    json_array_append_new(log, json_pack("{s:s, s:s, s:i, s:s}", "Start", start, "End", end,
                                         "ExitCode", pr.exit_code, "Output", pr.output));
    while (json_array_size(log) > HEALTH_LOG_MAX) {
        json_array_remove(log, 0);
    }
    json_int_t streak = json_integer_value(json_object_get(hj, "FailingStreak"));
    if (pr.exit_code == 0) {
        json_object_set_new(hj, "Status", json_string("healthy"));
        json_object_set_new(hj, "FailingStreak", json_integer(0));
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        bool in_start_period = now_ms - started_ms(st.started_at) < h.start_period_ns / 1000000;
        if (!in_start_period) {
            streak++;
            json_object_set_new(hj, "FailingStreak", json_integer(streak));
            if (streak >= h.retries) {
                json_object_set_new(hj, "Status", json_string("unhealthy"));
            }
        }
    }
    free(pr.output);
    container_state_file_release(&st);
    container_healthcheck_release(&h);
    _cleanup_free_ char *text = json_dumps(hj, JSON_COMPACT);
    _cleanup_free_ char *path = health_path(s, id);
    return write_file_replace_at(AT_FDCWD, path, text, strlen(text), 0600, err);
}

json_t *container_health_json(struct store *s, const struct container_record *c,
                              const char *started_at)
{
    struct container_healthcheck h;
    if (container_healthcheck_get(s, c, &h, NULL) < 0 || !h.test) {
        return NULL;
    }
    container_healthcheck_release(&h);
    json_t *hj = health_load(s, c->id, started_at);
    json_object_del(hj, "StartedAt");
    return hj;
}

const char *container_health_status(struct store *s, const struct container_record *c,
                                    const char *started_at)
{
    _cleanup_json_ json_t *hj = container_health_json(s, c, started_at);
    const char *v = json_string_value(json_object_get(hj, "Status"));
    if (!v) {
        return NULL;
    }
    return streq(v, "healthy") ? "healthy" : streq(v, "unhealthy") ? "unhealthy" : "starting";
}
