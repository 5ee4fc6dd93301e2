/* ops.c - pause, unpause, restart, top, update and prune (see ops.h). */
#include "ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/container/containers.h"
#include "libberth/container/lifecycle.h"
#include "libberth/image/images.h"
#include "libberth/runtime/container.h"
#include "libberth/store/db.h"

#define PS_OUTPUT_MAX (16u << 20)
#define MEMORY_MIN_BYTES (6 * 1024 * 1024)
#define CPU_PERIOD_US 100000
#define CPUSET_MAX 4096
#define SIZE_WALK_DEPTH 256

extern char **environ;

static bool is_up(const char *status)
{
    return streq(status, "running") || streq(status, "paused");
}

/* ---- pause, unpause, restart ------------------------------------------- */

int container_pause(struct store *s, const char *name_or_id, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL, *status = NULL;
    int r = container_resolve_status(s, name_or_id, &id, &status, err);
    if (r < 0) {
        return r;
    }
    if (streq(status, "paused")) {
        return berth_error_set(err, EBUSY, "Container %s is already paused", id);
    }
    if (streq(status, "restarting")) {
        return berth_error_set(
            err, EBUSY, "Container %s is restarting, wait until the container is running", id);
    }
    if (!streq(status, "running")) {
        return berth_error_set(err, EINVAL, "Container %s is not running", id);
    }
    struct berth_runtime rt = container_runtime(s);
    r = berth_runtime_pause(&rt, id, err);
    if (r < 0) {
        return berth_error_prefix(err, "Cannot pause container %s", id);
    }
    return 0;
}

int container_unpause(struct store *s, const char *name_or_id, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL, *status = NULL;
    int r = container_resolve_status(s, name_or_id, &id, &status, err);
    if (r < 0) {
        return r;
    }
    if (!streq(status, "paused")) {
        return berth_error_set(err, EINVAL, "Container %s is not paused", id);
    }
    struct berth_runtime rt = container_runtime(s);
    r = berth_runtime_resume(&rt, id, err);
    if (r < 0) {
        return berth_error_prefix(err, "Cannot unpause container %s", id);
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The state file says "exited" before the exit handler (which is the
 * monitor's process, exec'd) has unmounted the rootfs and removed the
 * bundle; a start in between would have its fresh bundle removed under
 * it. Wait for that process to be gone, at most ms. */
static void wait_exit_handler(const struct container_state_file *monitor, long ms)
{
    /* By pid and start time: a reused pid is not the handler. */
    for (long waited = 0; waited < ms && container_state_monitor_alive(monitor); waited += 5) {
        sleep_ms(5);
    }
}

#define EXIT_HANDLER_WAIT_MS 10000

int container_restart(struct store *s, const char *name_or_id, int timeout,
                      struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    struct container_state_file st = {0};
    int r = container_resolve_state(s, name_or_id, &id, &st, err);
    if (r < 0) {
        return r;
    }
    bool up = is_up(st.status), paused = streq(st.status, "paused");
    struct container_state_file monitor = {.monitor_pid = st.monitor_pid,
                                           .monitor_start = st.monitor_start};
    container_state_file_release(&st);
    if (paused) {
        /* A frozen task does not act on SIGTERM (nor, on cgroup v1, on
         * SIGKILL) until thawed: thaw first so the stop is a real one. */
        struct berth_runtime rt = container_runtime(s);
        (void)berth_runtime_resume(&rt, id, NULL);
    }
    if (up) {
        r = container_stop(s, id, timeout, err);
        if (r < 0) {
            return berth_error_prefix(err, "Cannot restart container %s", id);
        }
        wait_exit_handler(&monitor, EXIT_HANDLER_WAIT_MS);
    }
    struct container_start_opts o = {.attach = false};
    r = container_start(s, id, &o, NULL, err);
    if (r < 0) {
        return berth_error_prefix(err, "Cannot restart container %s", id);
    }
    return 0;
}

/* ---- top --------------------------------------------------------------- */

void container_top_free(struct container_top *t)
{
    if (!t) {
        return;
    }
    strv_free(t->titles);
    for (size_t i = 0; i < t->n_processes; i++) {
        strv_free(t->processes[i]);
    }
    free(t->processes);
    free(t);
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Fields split at ASCII whitespace only (Docker's fieldsASCII: a command
 * line may hold other bytes that must not split it). */
static char **fields_ascii(const char *line)
{
    char **v = xcalloc(1, sizeof(char *));
    const char *p = line;
    for (;;) {
        while (*p && is_ascii_space(*p)) {
            p++;
        }
        if (!*p) {
            return v;
        }
        const char *b = p;
        while (*p && !is_ascii_space(*p)) {
            p++;
        }
        strv_consume(&v, xstrndup(b, (size_t)(p - b)));
    }
}

/* Docker's validatePSArgs: "-o x=PID" would rename a column to PID and so
 * decide which column is taken for the pid; only "pid=PID" is allowed. */
static int check_ps_args(const char *args, struct berth_error **err)
{
    for (const char *eq = strchr(args, '='); eq; eq = strchr(eq + 1, '=')) {
        const char *v = eq + 1;
        while (*v && is_ascii_space(*v)) {
            v++;
        }
        if (!strneq(v, "PID", 3)) {
            continue;
        }
        const char *k = eq;
        while (k > args && !is_ascii_space(k[-1])) {
            k--;
        }
        if (k == args) {
            continue; /* the pattern wants whitespace before the key */
        }
        size_t vlen = 0;
        while (v[vlen] && !is_ascii_space(v[vlen])) {
            vlen++;
        }
        if ((size_t)(eq - k) != 3 || !strneq(k, "pid", 3)) {
            return berth_error_set(err, EINVAL, "specifying \"%.*s=%.*s\" is not allowed",
                                   (int)(eq - k), k, (int)vlen, v);
        }
    }
    return 0;
}

/* Run the host's ps with args, its stdout in *ret (capped). */
static int run_ps(char **args, char **ret, struct berth_error **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        return berth_error_sys(err, errno, "pipe");
    }
    _cleanup_close_ int rd = p[0];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    _cleanup_strv_free_ char **argv = NULL;
    strv_push(&argv, "ps");
    STRV_FOREACH(a, args)
    {
        strv_push(&argv, *a);
    }
    pid_t pid;
    int e = posix_spawnp(&pid, "ps", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (e != 0) {
        return berth_error_sys(err, e, "Error running ps");
    }
    _cleanup_free_ char *out = NULL;
    size_t len = 0;
    int r = read_fd_full(rd, PS_OUTPUT_MAX, &out, &len, err);
    safe_close(TAKE_FD(rd)); /* a ps still writing gets EPIPE, not a hang */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (r < 0) {
        return berth_error_prefix(err, "Error running ps");
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (WIFEXITED(st)) {
            return berth_error_set(err, EIO, "Error running ps: exit status %d", WEXITSTATUS(st));
        }
        return berth_error_set(err, EIO, "Error running ps: signal: %s",
                               strsignal(WIFSIGNALED(st) ? WTERMSIG(st) : 0));
    }
    *ret = TAKE_PTR(out);
    return 0;
}

static bool has_pid(const pid_t *pids, size_t n, long p)
{
    for (size_t i = 0; i < n; i++) {
        if ((long)pids[i] == p) {
            return true;
        }
    }
    return false;
}

/* Docker's parsePSOutput. */
static int parse_ps(const char *out, const pid_t *pids, size_t n_pids, struct container_top **ret,
                    struct berth_error **err)
{
    _cleanup_strv_free_ char **lines = strv_split(out, "\n");
    _cleanup_(container_top_freep) struct container_top *t = xcalloc(1, sizeof(*t));
    t->titles = fields_ascii(lines[0] ? lines[0] : "");
    size_t n_titles = strv_length(t->titles);
    size_t pid_index = SIZE_MAX;
    for (size_t i = 0; i < n_titles; i++) {
        if (streq(t->titles[i], "PID")) {
            pid_index = i;
            break;
        }
    }
    if (pid_index == SIZE_MAX) {
        return berth_error_set(err, EINVAL, "Couldn't find PID field in ps output");
    }
    for (size_t l = 1; lines[l]; l++) {
        _cleanup_strv_free_ char **f = fields_ascii(lines[l]);
        size_t nf = strv_length(f);
        if (nf == 0 || pid_index >= nf) {
            continue;
        }
        int64_t p;
        if (parse_int64(f[pid_index], &p) < 0) {
            return berth_error_set(err, EINVAL, "Unexpected pid '%s'", f[pid_index]);
        }
        if (!has_pid(pids, n_pids, (long)p)) {
            continue;
        }
        /* As many fields as titles: the surplus (a command line's
         * words) joins the last one. */
        char **proc = xcalloc(n_titles + 1, sizeof(char *));
        for (size_t i = 0; i < n_titles; i++) {
            if (i + 1 < n_titles) {
                proc[i] = xstrdup(i < nf ? f[i] : "");
            } else {
                proc[i] = i < nf ? strv_join(f + i, " ") : xstrdup("");
            }
        }
        t->processes = xrealloc(t->processes, (t->n_processes + 1) * sizeof(char **));
        t->processes[t->n_processes++] = proc;
    }
    *ret = TAKE_PTR(t);
    return 0;
}

int container_top(struct store *s, const char *name_or_id, const char *ps_args,
                  struct container_top **ret, struct berth_error **err)
{
    if (!ps_args || !*ps_args) {
        ps_args = "-ef";
    }
    int r = check_ps_args(ps_args, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *id = NULL, *status = NULL;
    r = container_resolve_status(s, name_or_id, &id, &status, err);
    if (r < 0) {
        return r;
    }
    if (streq(status, "restarting")) {
        return berth_error_set(
            err, EBUSY, "Container %s is restarting, wait until the container is running", id);
    }
    if (!is_up(status)) {
        return berth_error_set(err, EINVAL, "Container %s is not running", id);
    }
    struct berth_runtime rt = container_runtime(s);
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    r = berth_runtime_pids(&rt, id, &pids, &n, err);
    if (r < 0) {
        return r;
    }
    /* Docker splits at single spaces, so "aux" and "-o pid,comm" work. */
    _cleanup_strv_free_ char **args = strv_split(ps_args, " ");
    _cleanup_free_ char *out = NULL;
    r = run_ps(args, &out, err);
    if (r < 0) {
        return r;
    }
    return parse_ps(out, pids, n, ret, err);
}

/* ---- update ------------------------------------------------------------ */

static int64_t hc_i64(json_t *hc, const char *key)
{
    json_t *v = json_object_get(hc, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *hc_str(json_t *hc, const char *key)
{
    const char *v = json_string_value(json_object_get(hc, key));
    return v ? v : "";
}

/* A cpuset list ("0-2,4") into a bitmap; false when malformed. */
static bool parse_cpuset(const char *s, unsigned char *set)
{
    memset(set, 0, CPUSET_MAX / 8);
    if (!*s) {
        return true;
    }
    _cleanup_strv_free_ char **parts = strv_split(s, ",");
    STRV_FOREACH(p, parts)
    {
        _cleanup_strv_free_ char **ab = strv_split(*p, "-");
        size_t n = strv_length(ab);
        int a, b;
        if (n < 1 || n > 2 || parse_int(ab[0], &a) < 0 || a < 0 ||
            (n == 2 && (parse_int(ab[1], &b) < 0 || b < a)) || (n == 1 && (b = a) < 0) ||
            b >= CPUSET_MAX || strspn(*p, "0123456789-") != strlen(*p)) {
            return false;
        }
        for (int i = a; i <= b; i++) {
            set[i / 8] |= (unsigned char)(1u << (i % 8));
        }
    }
    return true;
}

/* Requested CPUs (or memory nodes) the host does not have: Docker's
 * "Requested CPUs are not available". */
static int check_cpuset(const char *what, const char *v, const char *online_file,
                        struct berth_error **err)
{
    unsigned char want[CPUSET_MAX / 8], have[CPUSET_MAX / 8];
    if (!parse_cpuset(v, want)) {
        return berth_error_set(err, EINVAL, "Invalid value %s for cpuset %s", v, what);
    }
    _cleanup_free_ char *online = NULL;
    size_t len;
    if (read_file_at(AT_FDCWD, online_file, 4096, &online, &len, NULL) < 0) {
        return 0; /* cannot tell: the kernel will say */
    }
    online[strcspn(online, "\n")] = '\0';
    if (!parse_cpuset(online, have)) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(want); i++) {
        if (want[i] & ~have[i]) {
            return berth_error_set(err, EINVAL,
                                   "Requested %s are not available - requested %s, available: %s",
                                   streq(what, "cpus") ? "CPUs" : "memory nodes", v, online);
        }
    }
    return 0;
}

/* dockerd's verifyContainerResources for the values an update gives. */
static int check_update(json_t *u, struct berth_error **err)
{
    int64_t memory = hc_i64(u, "Memory"), swap = hc_i64(u, "MemorySwap");
    int64_t reservation = hc_i64(u, "MemoryReservation"), nano = hc_i64(u, "NanoCpus");
    int64_t shares = hc_i64(u, "CpuShares"), quota = hc_i64(u, "CpuQuota");
    int64_t period = hc_i64(u, "CpuPeriod"), blkio = hc_i64(u, "BlkioWeight");
    if (memory < 0 || reservation < 0 || swap < -1 || shares < 0 || period < 0 || quota < -1 ||
        nano < 0 || blkio < 0) {
        return berth_error_set(err, EINVAL, "invalid negative resource value");
    }
    if (memory > 0 && memory < MEMORY_MIN_BYTES) {
        return berth_error_set(err, EINVAL, "Minimum memory limit allowed is 6MB");
    }
    if (memory > 0 && swap > 0 && swap < memory) {
        return berth_error_set(err, EINVAL,
                               "Minimum memoryswap limit should be larger than memory limit, see "
                               "usage");
    }
    if (memory > 0 && reservation > 0 && reservation > memory) {
        return berth_error_set(err, EINVAL,
                               "Minimum memory limit can not be less than memory reservation "
                               "limit, see usage");
    }
    if (reservation > 0 && reservation < MEMORY_MIN_BYTES) {
        return berth_error_set(err, EINVAL, "Minimum memory reservation allowed is 6MB");
    }
    if (nano > 0 && (period > 0 || quota > 0)) {
        return berth_error_set(err, EINVAL,
                               "Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    cpu_set_t cs;
    long ncpu = sched_getaffinity(0, sizeof(cs), &cs) == 0 ? CPU_COUNT(&cs) : 1;
    if (nano > 0 && (nano < 10000000 || nano > ncpu * 1000000000LL)) {
        return berth_error_set(err, EINVAL,
                               "Range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs "
                               "available",
                               ncpu, ncpu);
    }
    if (period > 0 && (period < 1000 || period > 1000000)) {
        return berth_error_set(err, EINVAL,
                               "CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                               "than 1s (i.e. 1000000)");
    }
    if (quota > 0 && quota < 1000) {
        return berth_error_set(err, EINVAL, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    if (blkio > 0 && (blkio < 10 || blkio > 1000)) {
        return berth_error_set(err, EINVAL, "Range of blkio weight is from 10 to 1000");
    }
    int r;
    if (*hc_str(u, "CpusetCpus") && (r = check_cpuset("cpus", hc_str(u, "CpusetCpus"),
                                                      "/sys/devices/system/cpu/online", err)) < 0) {
        return r;
    }
    if (*hc_str(u, "CpusetMems") &&
        (r = check_cpuset("mems", hc_str(u, "CpusetMems"), "/sys/devices/system/node/online",
                          err)) < 0) {
        return r;
    }
    json_t *rp = json_object_get(u, "RestartPolicy");
    const char *name = hc_str(rp, "Name");
    int64_t count = hc_i64(rp, "MaximumRetryCount");
    if (*name && !streq(name, "no") && !streq(name, "always") && !streq(name, "unless-stopped") &&
        !streq(name, "on-failure")) {
        return berth_error_set(err, EINVAL, "invalid restart policy '%s'", name);
    }
    if (*name && !streq(name, "on-failure") && count != 0) {
        return berth_error_set(err, EINVAL,
                               "maximum retry count cannot be used with restart policy '%s'", name);
    }
    if (count < 0) {
        return berth_error_set(err, EINVAL, "maximum retry count cannot be negative");
    }
    return 0;
}

/* Merge the update into hc (the container's HostConfig) with dockerd's
 * UpdateContainer rules; nothing is changed on error. */
static int merge_update(const char *id, json_t *hc, json_t *u, struct berth_error **err)
{
    int64_t cur_nano = hc_i64(hc, "NanoCpus"), cur_mem = hc_i64(hc, "Memory");
    int64_t cur_swap = hc_i64(hc, "MemorySwap");
    /* dockerd stores MemorySwap = 2 * Memory at create when unset; berth
     * keeps the body as given, so this is the value Docker would have. */
    if (cur_swap == 0 && cur_mem > 0) {
        cur_swap = cur_mem * 2;
    }
    if (hc_i64(u, "NanoCpus") > 0 && hc_i64(hc, "CpuPeriod") > 0) {
        return berth_error_set(err, EINVAL,
                               "Cannot update container %s: Conflicting options: CPU Period "
                               "cannot be updated as NanoCPUs has already been set",
                               id);
    }
    if (hc_i64(u, "NanoCpus") > 0 && hc_i64(hc, "CpuQuota") > 0) {
        return berth_error_set(err, EINVAL,
                               "Cannot update container %s: Conflicting options: CPU Quota "
                               "cannot be updated as NanoCPUs has already been set",
                               id);
    }
    if ((hc_i64(u, "CpuPeriod") > 0 || hc_i64(u, "CpuQuota") > 0) && cur_nano > 0) {
        return berth_error_set(err, EINVAL,
                               "Cannot update container %s: Conflicting options: CPU %s cannot "
                               "be updated as NanoCPUs has already been set",
                               id, hc_i64(u, "CpuPeriod") > 0 ? "Period" : "Quota");
    }
    int64_t memory = hc_i64(u, "Memory"), swap = hc_i64(u, "MemorySwap");
    /* dockerd's check, kept as it is in 20.10 (moby#39541): with no new
     * memoryswap, the new limit must stay under the one in force. */
    if (memory != 0 && swap == 0 && memory > cur_swap) {
        return berth_error_set(err, EINVAL,
                               "Cannot update container %s: Memory limit should be smaller than "
                               "already set memoryswap limit, update the memoryswap at the same "
                               "time",
                               id);
    }
    int64_t new_mem = memory ? memory : cur_mem;
    int64_t new_res = hc_i64(u, "MemoryReservation") ? hc_i64(u, "MemoryReservation")
                                                     : hc_i64(hc, "MemoryReservation");
    if (new_mem > 0 && new_res > new_mem) {
        return berth_error_set(err, EINVAL,
                               "Minimum memory limit can not be less than memory reservation "
                               "limit, see usage");
    }
    if (swap > 0 && swap < new_mem) {
        return berth_error_set(err, EINVAL,
                               "Minimum memoryswap limit should be larger than memory limit, see "
                               "usage");
    }
    json_t *rp = json_object_get(u, "RestartPolicy");
    const char *rp_name = hc_str(rp, "Name");
    if (*rp_name && json_is_true(json_object_get(hc, "AutoRemove")) && !streq(rp_name, "no")) {
        return berth_error_set(err, EINVAL,
                               "Cannot update container %s: Restart policy cannot be updated "
                               "because AutoRemove is enabled for the container",
                               id);
    }
    static const char *const ints[] = {"Memory",    "MemoryReservation", "NanoCpus",   "CpuShares",
                                       "CpuPeriod", "CpuQuota",          "BlkioWeight"};
    if (memory != 0 && swap == 0 && hc_i64(hc, "MemorySwap") == 0 && cur_swap > 0) {
        json_object_set_new(hc, "MemorySwap", json_integer(cur_swap));
    }
    for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
        if (hc_i64(u, ints[i]) != 0) {
            json_object_set_new(hc, ints[i], json_integer(hc_i64(u, ints[i])));
        }
    }
    if (swap != 0) {
        json_object_set_new(hc, "MemorySwap", json_integer(swap));
    }
    if (*hc_str(u, "CpusetCpus")) {
        json_object_set_new(hc, "CpusetCpus", json_string(hc_str(u, "CpusetCpus")));
    }
    if (*hc_str(u, "CpusetMems")) {
        json_object_set_new(hc, "CpusetMems", json_string(hc_str(u, "CpusetMems")));
    }
    json_t *pl = json_object_get(u, "PidsLimit");
    if (json_is_integer(pl)) {
        /* API >= 1.41: 0 and -1 both mean unlimited, stored as 0. */
        int64_t v = (int64_t)json_integer_value(pl);
        json_object_set_new(hc, "PidsLimit", json_integer(v < 0 ? 0 : v));
    }
    if (*rp_name) {
        json_object_set_new(hc, "RestartPolicy",
                            json_pack("{s:s, s:I}", "Name", rp_name, "MaximumRetryCount",
                                      (json_int_t)hc_i64(rp, "MaximumRetryCount")));
    }
    return 0;
}

/* The OCI linux.resources for the values the update gives (only those:
 * the runtime leaves the rest as they are). NULL when it names none. */
static json_t *update_resources(json_t *u)
{
    json_t *res = json_object();
    json_t *mem = json_object();
    if (hc_i64(u, "Memory") > 0) {
        json_object_set_new(mem, "limit", json_integer(hc_i64(u, "Memory")));
    }
    if (hc_i64(u, "MemorySwap") != 0) {
        json_object_set_new(mem, "swap", json_integer(hc_i64(u, "MemorySwap")));
    }
    if (hc_i64(u, "MemoryReservation") > 0) {
        json_object_set_new(mem, "reservation", json_integer(hc_i64(u, "MemoryReservation")));
    }
    if (json_object_size(mem)) {
        json_object_set(res, "memory", mem);
    }
    json_decref(mem);
    json_t *cpu = json_object();
    if (hc_i64(u, "CpuShares") > 0) {
        json_object_set_new(cpu, "shares", json_integer(hc_i64(u, "CpuShares")));
    }
    if (hc_i64(u, "NanoCpus") > 0) {
        json_object_set_new(cpu, "quota",
                            json_integer(hc_i64(u, "NanoCpus") * CPU_PERIOD_US / 1000000000LL));
        json_object_set_new(cpu, "period", json_integer(CPU_PERIOD_US));
    }
    if (hc_i64(u, "CpuQuota") != 0) {
        json_object_set_new(cpu, "quota", json_integer(hc_i64(u, "CpuQuota")));
    }
    if (hc_i64(u, "CpuPeriod") > 0) {
        json_object_set_new(cpu, "period", json_integer(hc_i64(u, "CpuPeriod")));
    }
    if (*hc_str(u, "CpusetCpus")) {
        json_object_set_new(cpu, "cpus", json_string(hc_str(u, "CpusetCpus")));
    }
    if (*hc_str(u, "CpusetMems")) {
        json_object_set_new(cpu, "mems", json_string(hc_str(u, "CpusetMems")));
    }
    if (json_object_size(cpu)) {
        json_object_set(res, "cpu", cpu);
    }
    json_decref(cpu);
    json_t *pl = json_object_get(u, "PidsLimit");
    if (json_is_integer(pl)) {
        int64_t v = (int64_t)json_integer_value(pl);
        json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)(v > 0 ? v : -1)));
    }
    if (hc_i64(u, "BlkioWeight") > 0) {
        json_object_set_new(res, "blockIO",
                            json_pack("{s:I}", "weight", (json_int_t)hc_i64(u, "BlkioWeight")));
    }
    if (json_object_size(res) == 0) {
        json_decref(res);
        return NULL;
    }
    return res;
}

int container_update(struct store *s, const char *name_or_id, json_t *update,
                     struct berth_error **err)
{
    if (!json_is_object(update)) {
        return berth_error_set(err, EINVAL, "update: expected an object");
    }
    int r = check_update(update, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *id = NULL, *status = NULL;
    r = container_resolve_status(s, name_or_id, &id, &status, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    r = container_record_get(s, id, &c, err);
    if (r < 0) {
        return r;
    }
    _cleanup_json_ json_t *body = json_deep_copy(c->body);
    json_t *hc = json_object_get(body, "HostConfig");
    if (!json_is_object(hc)) {
        hc = json_object();
        json_object_set_new(body, "HostConfig", hc);
    }
    r = merge_update(id, hc, update, err);
    if (r < 0) {
        return r;
    }
    if (is_up(status)) {
        _cleanup_json_ json_t *res = update_resources(update);
        struct berth_runtime rt = container_runtime(s);
        if (res && (r = berth_runtime_update(&rt, id, res, err)) < 0) {
            return berth_error_prefix(err, "Cannot update container %s", id);
        }
    }
    /* The record is containers.c's table; the body column is the one place
     * a container's configuration lives, so the update is written there. */
    _cleanup_free_ char *text = json_dump_compact(body);
    r = db_run(s->db, err, "UPDATE containers SET body = ? WHERE id = ?", "ss", text, id);
    if (r < 0) {
        return berth_error_prefix(err, "Cannot update container %s", id);
    }
    if (r == 0) {
        return berth_error_set(err, ENOENT, "No such container: %s", name_or_id);
    }
    return 0;
}

/* ---- prune ------------------------------------------------------------- */

struct inode_seen {
    struct inode_key {
        dev_t dev;
        ino_t ino;
    } * v;
    size_t n, alloc;
};

/* true when (d, i) was not seen before (and is now). */
static bool inode_seen_add(struct inode_seen *s, dev_t d, ino_t i)
{
    for (size_t k = 0; k < s->n; k++) {
        if (s->v[k].dev == d && s->v[k].ino == i) {
            return false;
        }
    }
    s->v = xgrow(s->v, sizeof(*s->v), s->n, &s->alloc);
    s->v[s->n++] = (struct inode_key){d, i};
    return true;
}

/* Docker's directory.Size: bytes of everything but directories, a
 * hardlinked inode once. Through dirfds, never following links. */
static uint64_t tree_size(int dfd, unsigned depth, struct inode_seen *seen)
{
    if (depth > SIZE_WALK_DEPTH) {
        return 0;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                total += tree_size(sub, depth + 1, seen);
            }
            continue;
        }
        if (st.st_size == 0) {
            continue;
        }
        if (st.st_nlink > 1 && !inode_seen_add(seen, st.st_dev, st.st_ino)) {
            continue;
        }
        total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

static uint64_t container_disk_size(struct store *s, const char *id)
{
    _cleanup_free_ char *dir = xasprintf("%s/containers/%s/%s", s->root, id,
                                         streq(s->driver, "overlay") ? "upper" : "rootfs");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    struct inode_seen seen = {0};
    uint64_t n = tree_size(fd, 0, &seen);
    free(seen.v);
    return n;
}

struct prune_filter {
    long long until; /* 0: none */
    char **labels, **not_labels;
};

/* Seconds since the epoch from Docker's timestamp forms: a Go duration
 * before now, unix seconds (with an optional fraction), RFC 3339, or a
 * date. */
static int parse_until(const char *v, long long *ret)
{
    int64_t ns;
    if (parse_duration(v, &ns) == 0) {
        *ret = (long long)time(NULL) - ns / 1000000000LL;
        return 0;
    }
    _cleanup_free_ char *whole = xstrndup(v, strcspn(v, "."));
    int64_t secs;
    if (parse_int64(whole, &secs) == 0) {
        *ret = secs;
        return 0;
    }
    static const char *const fmts[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
    for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
        struct tm tm = {0};
        const char *end = strptime(v, fmts[i], &tm);
        if (end && (!*end || *end == 'Z' || *end == '.' || *end == '+' || *end == '-')) {
            *ret = (long long)timegm(&tm);
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_prune_filters(char **filters, struct prune_filter *f, struct berth_error **err)
{
    STRV_FOREACH(fp, filters)
    {
        const char *eq = strchr(*fp, '=');
        if (!eq) {
            return berth_error_set(err, EINVAL, "bad format of filter (expected name=value)");
        }
        _cleanup_free_ char *key = xstrndup(*fp, (size_t)(eq - *fp));
        const char *v = eq + 1;
        if (streq(key, "until")) {
            if (parse_until(v, &f->until) < 0) {
                return berth_error_set(err, EINVAL,
                                       "failed to parse value as time or duration: \"%s\"", v);
            }
        } else if (streq(key, "label")) {
            strv_push(&f->labels, v);
        } else if (streq(key, "label!")) {
            strv_push(&f->not_labels, v);
        } else {
            return berth_error_set(err, EINVAL, "invalid filter '%s'", key);
        }
    }
    return 0;
}

/* "k" or "k=v" against a labels object. */
static bool label_matches(json_t *labels, const char *want)
{
    const char *eq = strchr(want, '=');
    _cleanup_free_ char *key = eq ? xstrndup(want, (size_t)(eq - want)) : xstrdup(want);
    json_t *v = json_object_get(labels, key);
    if (!v) {
        return false;
    }
    return !eq || (json_is_string(v) && streq(json_string_value(v), eq + 1));
}

static bool prune_selected(struct store *s, const struct prune_filter *f,
                           const struct container_record *c)
{
    if (f->until) {
        struct tm tm = {0};
        if (!c->created || !strptime(c->created, "%Y-%m-%dT%H:%M:%S", &tm) ||
            (long long)timegm(&tm) >= f->until) {
            return false;
        }
    }
    if (!f->labels && !f->not_labels) {
        return true;
    }
    _cleanup_json_ json_t *labels = json_object();
    const struct image_config *config = NULL;
    if (image_config_get(s, c->image_id, &config, NULL) >= 0 && config &&
        json_is_object(config->labels)) {
        json_object_update(labels, config->labels);
    }
    json_t *own = json_object_get(c->body, "Labels");
    if (json_is_object(own)) {
        json_object_update(labels, own);
    }
    STRV_FOREACH(l, f->labels)
    {
        if (!label_matches(labels, *l)) {
            return false;
        }
    }
    STRV_FOREACH(l, f->not_labels)
    {
        if (label_matches(labels, *l)) {
            return false;
        }
    }
    return true;
}

int container_prune(struct store *s, char **filters, char ***ret_deleted, uint64_t *ret_reclaimed,
                    struct berth_error **err)
{
    *ret_deleted = xcalloc(1, sizeof(char *));
    *ret_reclaimed = 0;
    struct prune_filter f = {0};
    int r = parse_prune_filters(filters, &f, err);
    struct container_record **list = NULL;
    size_t n = 0;
    if (r >= 0) {
        r = container_record_list(s, &list, &n, err);
    }
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct container_state_file st = {0};
        if (container_status(s, list[i]->id, &st, NULL) < 0) {
            continue; /* removed meanwhile */
        }
        bool up = is_up(st.status) || streq(st.status, "restarting");
        container_state_file_release(&st);
        if (up || !prune_selected(s, &f, list[i])) {
            continue;
        }
        uint64_t size = container_disk_size(s, list[i]->id);
        /* Not forced: a container started meanwhile is refused, not killed. */
        struct berth_error *e = NULL;
        if (container_rm(s, list[i]->id, false, &e) < 0) {
            if (e && e->code == EBUSY) {
                berth_error_free(e);
                continue;
            }
            if (err) {
                *err = e;
            } else {
                berth_error_free(e);
            }
            r = -EIO;
            break;
        }
        strv_push(ret_deleted, list[i]->id);
        *ret_reclaimed += size;
    }
    container_record_list_free(list, n);
    strv_free(f.labels);
    strv_free(f.not_labels);
    return r < 0 ? r : 0;
}
