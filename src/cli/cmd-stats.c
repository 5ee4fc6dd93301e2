/* cmd-stats.c - `stats [--all] [--no-stream] [--no-trunc] [--format]
 * [CONTAINER...]`: Docker's resource usage table from the containers'
 * cgroups (berth_runtime_stats). CPU % is the cgroup's CPU time over wall
 * time between two samples (Docker's delta over the system's CPU time,
 * times the CPU count, is the same ratio); memory as Docker reports it
 * against the limit, or the host's memory when there is none; NET I/O is
 * the container's network namespace's interfaces but loopback. Without
 * --no-stream the table is redrawn every second (on a terminal, over the
 * previous one), until interrupted. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "basic/units.h"
#include "cli/commands.h"
#include "libberth/container/lifecycle.h"
#include "libberth/runtime/cgroup.h"
#include "libberth/runtime/container.h"

#define STATS_TABLE                                                                                \
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{"           \
    "{.BlockIO}}\t{{.PIDs}}"
#define SAMPLE_MS 500

struct sample {
    char *id, *name;
    bool running;
    pid_t pid;
    struct cgroup_stats cg;
    uint64_t rx, tx;
    long long at_ns;
};

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* go-units BytesSize: binary units, 4 significant digits ("1.523MiB"). */
static char *bytes_size(double v)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t i = 0;
    while (v >= 1024 && i + 1 < ARRAY_SIZE(u)) {
        v /= 1024;
        i++;
    }
    return xasprintf("%.4g%s", v, u[i]);
}

/* Bytes received and sent on the namespace's interfaces but "lo". */
static void net_io(pid_t pid, uint64_t *rx, uint64_t *tx)
{
    *rx = *tx = 0;
    _cleanup_free_ char *path = xasprintf("/proc/%d/net/dev", (int)pid);
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (pid <= 0 || read_file_at(AT_FDCWD, path, 1u << 20, &buf, &len, NULL) < 0) {
        return;
    }
    _cleanup_strv_free_ char **lines = strv_split(buf, "\n");
    STRV_FOREACH(l, lines)
    {
        char name[64];
        unsigned long long r, t, skip;
        if (sscanf(*l, " %63[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu", name, &r, &skip,
                   &skip, &skip, &skip, &skip, &skip, &skip, &t) == 10 &&
            !streq(name, "lo")) {
            *rx += r;
            *tx += t;
        }
    }
}

static void take(struct store *s, struct sample *x)
{
    _cleanup_free_ char *rt_root = xasprintf("%s/runtime", s->runroot);
    struct berth_runtime rt = {.root = rt_root};
    struct container_state_file st = {0};
    x->running = container_status(s, x->id, &st, NULL) >= 0 && streq(st.status, "running");
    x->pid = (pid_t)st.pid;
    container_state_file_release(&st);
    x->cg = (struct cgroup_stats){0};
    x->rx = x->tx = 0;
    if (x->running && berth_runtime_stats(&rt, x->id, &x->cg, NULL) < 0) {
        x->running = false;
    }
    if (x->running) {
        net_io(x->pid, &x->rx, &x->tx);
    }
    x->at_ns = mono_ns();
}

static json_t *row(const struct sample *prev, const struct sample *now, bool no_trunc)
{
    json_t *o = json_object();
    _cleanup_free_ char *id = no_trunc ? xstrdup(now->id) : xstrndup(now->id, 12);
    json_object_set_new(o, "ID", json_string(id));
    json_object_set_new(o, "Container", json_string(id));
    json_object_set_new(o, "Name", json_string(now->name));
    if (!now->running) {
        /* Docker's row for a stopped container under --all */
        json_object_set_new(o, "CPUPerc", json_string("0.00%"));
        json_object_set_new(o, "MemUsage", json_string("0B / 0B"));
        json_object_set_new(o, "MemPerc", json_string("0.00%"));
        json_object_set_new(o, "NetIO", json_string("0B / 0B"));
        json_object_set_new(o, "BlockIO", json_string("0B / 0B"));
        json_object_set_new(o, "PIDs", json_string("0"));
        return o;
    }
    double cpu = 0;
    if (prev && prev->running && now->at_ns > prev->at_ns &&
        now->cg.cpu_usage_ns >= prev->cg.cpu_usage_ns) {
        cpu = (double)(now->cg.cpu_usage_ns - prev->cg.cpu_usage_ns) * 100.0 /
              (double)(now->at_ns - prev->at_ns);
    }
    uint64_t limit = now->cg.memory_limit;
    uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    if (limit == 0 || limit == UINT64_MAX || limit > host) {
        limit = host;
    }
    uint64_t mem = now->cg.memory_usage;
    char buf[64];
    snprintf(buf, sizeof(buf), "%.2f%%", cpu);
    json_object_set_new(o, "CPUPerc", json_string(buf));
    _cleanup_free_ char *mu = bytes_size((double)mem), *ml = bytes_size((double)limit);
    _cleanup_free_ char *usage = xasprintf("%s / %s", mu, ml);
    json_object_set_new(o, "MemUsage", json_string(usage));
    snprintf(buf, sizeof(buf), "%.2f%%", limit ? (double)mem * 100.0 / (double)limit : 0.0);
    json_object_set_new(o, "MemPerc", json_string(buf));
    _cleanup_free_ char *rx = human_size((double)now->rx, 3), *tx = human_size((double)now->tx, 3);
    _cleanup_free_ char *net = xasprintf("%s / %s", rx, tx);
    json_object_set_new(o, "NetIO", json_string(net));
    _cleanup_free_ char *br = human_size((double)now->cg.blkio_read_bytes, 3);
    _cleanup_free_ char *bw = human_size((double)now->cg.blkio_write_bytes, 3);
    _cleanup_free_ char *blk = xasprintf("%s / %s", br, bw);
    json_object_set_new(o, "BlockIO", json_string(blk));
    snprintf(buf, sizeof(buf), "%" PRIu64, now->cg.pids_current);
    json_object_set_new(o, "PIDs", json_string(buf));
    return o;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int cmd_stats(struct cli *cli, int argc, char **argv)
{
    bool all = false, no_stream = false, no_trunc = false;
    const char *format = NULL;
    const struct opt_def defs[] = {
        {"all", 'a', OPT_BOOL, &all, "Show all containers (default shows just running)", NULL},
        {"format", 0, OPT_STRING, &format, "Pretty-print stats using a Go template", NULL},
        {"no-stream", 0, OPT_BOOL, &no_stream,
         "Disable streaming stats and only pull the first result", NULL},
        {"no-trunc", 0, OPT_BOOL, &no_trunc, "Do not truncate output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct sample *xs = NULL;
    size_t n = 0;
    if (args && args[0]) {
        STRV_FOREACH(a, args)
        {
            _cleanup_free_ char *id = NULL;
            _cleanup_(container_record_freep) struct container_record *c = NULL;
            if (container_resolve(s, *a, &id, &err) < 0 ||
                container_record_get(s, id, &c, &err) < 0) {
                for (size_t i = 0; i < n; i++) {
                    free(xs[i].id), free(xs[i].name);
                }
                free(xs);
                return cli_fail(err, 1);
            }
            xs = xrealloc(xs, (n + 1) * sizeof(*xs));
            xs[n++] = (struct sample){.id = xstrdup(c->id), .name = xstrdup(c->name)};
        }
    } else {
        struct container_record **list = NULL;
        size_t ln = 0;
        if (container_record_list(s, &list, &ln, &err) < 0) {
            return cli_fail(err, 1);
        }
        for (size_t i = 0; i < ln; i++) {
            struct sample x = {.id = list[i]->id, .name = list[i]->name};
            take(s, &x);
            if (!all && !x.running) {
                continue;
            }
            xs = xrealloc(xs, (n + 1) * sizeof(*xs));
            xs[n++] = (struct sample){.id = xstrdup(x.id), .name = xstrdup(x.name)};
        }
        container_record_list_free(list, ln);
    }
    struct sample *prev = xcalloc(n + 1, sizeof(*prev));
    for (size_t i = 0; i < n; i++) {
        prev[i] = xs[i];
        take(s, &prev[i]);
    }
    bool tty = isatty(STDOUT_FILENO);
    json_t *headers =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "CONTAINER ID", "Container",
                  "CONTAINER", "Name", "NAME", "CPUPerc", "CPU %", "MemUsage", "MEM USAGE / LIMIT",
                  "MemPerc", "MEM %", "NetIO", "NET I/O", "BlockIO", "BLOCK I/O", "PIDs", "PIDS");
    int code = 0;
    for (bool first = true;; first = false) {
        sleep_ms(first ? SAMPLE_MS : 1000);
        json_t *rows = json_array();
        for (size_t i = 0; i < n; i++) {
            take(s, &xs[i]);
            json_array_append_new(rows, row(&prev[i], &xs[i], no_trunc));
            struct sample keep = xs[i];
            prev[i] = keep;
        }
        if (!no_stream && tty) {
            fputs("\033[2J\033[H", stdout); /* redraw over the last table */
        }
        code = cli_print_rows(format, STATS_TABLE, headers, rows);
        fflush(stdout);
        json_decref(rows);
        if (code || no_stream) {
            break;
        }
    }
    json_decref(headers);
    for (size_t i = 0; i < n; i++) {
        free(xs[i].id), free(xs[i].name);
    }
    free(xs);
    free(prev);
    return code;
}
