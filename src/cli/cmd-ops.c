/* cmd-ops.c - `berth pause`, `unpause`, `restart`, `rename`, `top`, `port`,
 * `update` and `container prune`: each parses Docker's flags, calls one
 * function of container/ops.h (or containers.h for rename), and prints what
 * the docker CLI prints. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/parse.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "basic/units.h"
#include "cli/commands.h"
#include "libberth/common/json-util.h"
#include "libberth/container/containers.h"
#include "libberth/container/lifecycle.h"
#include "libberth/container/ops.h"

/* docker top's tabwriter: minwidth 20, padding 3, blanks. */
#define TOP_MIN_WIDTH 20
#define TOP_PADDING 3

/* ---- pause, unpause, restart, rename --------------------------------------- */

static int do_pause(struct store *s, const char *name, void *ud, struct berth_error **err)
{
    (void)ud;
    return container_pause(s, name, err);
}

static int do_unpause(struct store *s, const char *name, void *ud, struct berth_error **err)
{
    (void)ud;
    return container_unpause(s, name, err);
}

int cmd_pause(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    return cli_for_each(cli, args, true, do_pause, NULL);
}

int cmd_unpause(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    return cli_for_each(cli, args, true, do_unpause, NULL);
}

static int do_restart(struct store *s, const char *name, void *ud, struct berth_error **err)
{
    return container_restart(s, name, *(int *)ud, err);
}

int cmd_restart(struct cli *cli, int argc, char **argv)
{
    int timeout = -1;
    const struct opt_def defs[] = {
        {"time", 't', OPT_INT, &timeout, "Seconds to wait for stop before killing the container",
         NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    return cli_for_each(cli, args, true, do_restart, &timeout);
}

int cmd_rename(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 2, 2, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    /* docker rename's own checks, before the daemon's. */
    const char *new_name = args[1];
    while (*new_name && isspace((unsigned char)*new_name)) {
        new_name++;
    }
    if (!*new_name) {
        berth_error_set(&err, EINVAL, "Neither old nor new names may be empty");
        return cli_fail(err, 1);
    }
    /* dockerd looks the container up before it checks the new name. */
    _cleanup_free_ char *id = NULL;
    if (container_resolve(s, args[0], &id, &err) < 0 ||
        container_rename(s, id, new_name, &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}

/* ---- top --------------------------------------------------------------------- */

int cmd_top(struct cli *cli, int argc, char **argv)
{
    /* Flags end at the container (docker: SetInterspersed(false)): what
     * follows is ps's, "-ef" included. */
    int first = 1;
    while (first < argc && argv[first][0] == '-' && argv[first][1] && !streq(argv[first], "--")) {
        first++;
    }
    if (first < argc && streq(argv[first], "--")) {
        first++;
    }
    int upto = first < argc ? first + 1 : argc;
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, upto, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    _cleanup_free_ char *ps_args = strv_join(argv + upto, " ");
    struct berth_error *err = NULL;
    struct store *s;
    _cleanup_(container_top_freep) struct container_top *t = NULL;
    if (cli_store(cli, &s, &err) < 0 || container_top(s, args[0], ps_args, &t, &err) < 0) {
        return cli_fail(err, 1);
    }
    size_t n = strv_length(t->titles);
    _cleanup_free_ size_t *w = xcalloc(n + 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        w[i] = strlen(t->titles[i]);
        for (size_t p = 0; p < t->n_processes; p++) {
            size_t l = strlen(t->processes[p][i]);
            w[i] = l > w[i] ? l : w[i];
        }
        w[i] = w[i] + TOP_PADDING < TOP_MIN_WIDTH ? TOP_MIN_WIDTH : w[i] + TOP_PADDING;
    }
    for (size_t p = 0; p <= t->n_processes; p++) {
        char **row = p == 0 ? t->titles : t->processes[p - 1];
        for (size_t i = 0; i < n; i++) {
            /* The last cell is not a column: it is printed as it is. */
            if (i + 1 < n) {
                printf("%-*s", (int)w[i], row[i]);
            } else {
                printf("%s", row[i]);
            }
        }
        putchar('\n');
    }
    return 0;
}

/* ---- port -------------------------------------------------------------------- */

/* net.JoinHostPort: brackets around an IPv6 address. */
static char *join_host_port(const char *ip, const char *port)
{
    return xasprintf(strchr(ip, ':') ? "[%s]:%s" : "%s:%s", ip, port);
}

int cmd_port(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 1, 2, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    _cleanup_json_ json_t *j = NULL;
    _cleanup_free_ char *want = NULL;
    if (args[1]) {
        const char *slash = strchr(args[1], '/');
        _cleanup_free_ char *port =
            slash ? xstrndup(args[1], (size_t)(slash - args[1])) : xstrdup(args[1]);
        const char *proto = slash && slash[1] ? slash + 1 : "tcp";
        uint64_t v;
        /* nat.NewPort: a port number (or a range, which nothing publishes). */
        if ((r = parse_uint64(port, &v)) < 0 || v > 65535) {
            berth_error_set(&err, EINVAL, "strconv.ParseUint: parsing \"%s\": %s", port,
                            r == -ERANGE || (r >= 0 && v > 65535) ? "value out of range"
                                                                  : "invalid syntax");
            return cli_fail(err, 1);
        }
        want = xasprintf("%s/%s", port, proto);
    }
    if (cli_store(cli, &s, &err) < 0 || container_inspect_json(s, args[0], &j, &err) < 0) {
        return cli_fail(err, 1);
    }
    json_t *ports = json_object_get(json_object_get(j, "NetworkSettings"), "Ports");
    const char *from;
    json_t *fronts;
    if (want) {
        fronts = json_object_get(ports, want);
        if (!json_is_array(fronts)) {
            berth_error_set(&err, ENOENT, "No public port '%s' published for %s", want, args[0]);
            return cli_fail(err, 1);
        }
        for (size_t i = 0; i < json_array_size(fronts); i++) {
            json_t *f = json_array_get(fronts, i);
            _cleanup_free_ char *hp =
                join_host_port(json_string_value(json_object_get(f, "HostIp")) ?: "",
                               json_string_value(json_object_get(f, "HostPort")) ?: "");
            printf("%s\n", hp);
        }
        return 0;
    }
    json_object_foreach(ports, from, fronts)
    {
        for (size_t i = 0; i < json_array_size(fronts); i++) {
            json_t *f = json_array_get(fronts, i);
            _cleanup_free_ char *hp =
                join_host_port(json_string_value(json_object_get(f, "HostIp")) ?: "",
                               json_string_value(json_object_get(f, "HostPort")) ?: "");
            printf("%s -> %s\n", from, hp);
        }
    }
    return 0;
}

/* ---- update ------------------------------------------------------------------ */

static int flag_fail(struct cli *cli, const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "invalid argument \"%s\" for \"%s\" flag: %s\nSee 'berth %s --help'.\n", value,
            flag, why, cli->cmd->path);
    return 125;
}

/* opts.MemBytes / RAMInBytes: "64m", "1g", "1024". */
static int mem_flag(struct cli *cli, json_t *u, const char *key, const char *flag, const char *v,
                    bool swap)
{
    if (!v) {
        return 0;
    }
    int64_t n;
    if (swap && streq(v, "-1")) {
        n = -1;
    } else if (parse_size(v, &n) < 0) {
        _cleanup_free_ char *why = xasprintf("invalid size: '%s'", v);
        return flag_fail(cli, flag, v, why);
    }
    json_object_set_new(u, key, json_integer(n));
    return 0;
}

static int int_flag(struct cli *cli, json_t *u, const char *key, const char *flag, const char *v)
{
    if (!v) {
        return 0;
    }
    int64_t n;
    int r = parse_int64(v, &n);
    if (r < 0) {
        _cleanup_free_ char *why =
            xasprintf("strconv.ParseInt: parsing \"%s\": %s", v,
                      r == -ERANGE ? "value out of range" : "invalid syntax");
        return flag_fail(cli, flag, v, why);
    }
    json_object_set_new(u, key, json_integer(n));
    return 0;
}

/* opts.NanoCPUs: a decimal number of CPUs, at most 9 fraction digits. */
static int nano_cpus(const char *s, int64_t *ret, const char **why)
{
    const char *p = s;
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    for (; isdigit((unsigned char)*p); p++, digits++) {
        if (whole > INT64_MAX / 10000000000LL) {
            *why = "value is too big";
            return -ERANGE;
        }
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, digits++, fdigits++) {
            if (fdigits >= 9 && *p != '0') {
                *why = "value is too precise";
                return -EINVAL;
            }
            if (fdigits < 9) {
                frac = frac * 10 + (*p - '0');
            }
        }
    }
    if (*p || digits == 0) {
        *why = NULL;
        return -EINVAL;
    }
    for (; fdigits < 9; fdigits++) {
        frac *= 10;
    }
    *ret = whole * 1000000000LL + frac;
    return 0;
}

/* opts.ParseRestartPolicy. */
static int restart_policy(const char *v, json_t **ret, struct berth_error **err)
{
    const char *colon = strchr(v, ':');
    _cleanup_free_ char *name = colon ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);
    int count = 0;
    if (colon) {
        if (strchr(colon + 1, ':')) {
            return berth_error_set(err, EINVAL, "invalid restart policy format");
        }
        if (parse_int(colon + 1, &count) < 0) {
            return berth_error_set(err, EINVAL, "maximum retry count must be an integer");
        }
    }
    *ret = json_pack("{s:s, s:i}", "Name", name, "MaximumRetryCount", count);
    return 0;
}

int cmd_update(struct cli *cli, int argc, char **argv)
{
    const char *memory = NULL, *swap = NULL, *reservation = NULL, *cpus = NULL, *shares = NULL,
               *cpuset = NULL, *mems = NULL, *pids = NULL, *restart = NULL, *period = NULL,
               *quota = NULL, *blkio = NULL, *kmem = NULL;
    const struct opt_def defs[] = {
        {"blkio-weight", 0, OPT_STRING, &blkio,
         "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)", NULL},
        {"cpu-period", 0, OPT_STRING, &period, "Limit CPU CFS (Completely Fair Scheduler) period",
         NULL},
        {"cpu-quota", 0, OPT_STRING, &quota, "Limit CPU CFS (Completely Fair Scheduler) quota",
         NULL},
        {"cpu-shares", 'c', OPT_STRING, &shares, "CPU shares (relative weight)", NULL},
        {"cpus", 0, OPT_STRING, &cpus, "Number of CPUs", NULL},
        {"cpuset-cpus", 0, OPT_STRING, &cpuset, "CPUs in which to allow execution (0-3, 0,1)",
         NULL},
        {"cpuset-mems", 0, OPT_STRING, &mems, "MEMs in which to allow execution (0-3, 0,1)", NULL},
        {"kernel-memory", 0, OPT_STRING, &kmem, "Kernel memory limit", NULL},
        {"memory", 'm', OPT_STRING, &memory, "Memory limit", NULL},
        {"memory-reservation", 0, OPT_STRING, &reservation, "Memory soft limit", NULL},
        {"memory-swap", 0, OPT_STRING, &swap,
         "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", NULL},
        {"pids-limit", 0, OPT_STRING, &pids, "Tune container pids limit (set -1 for unlimited)",
         NULL},
        {"restart", 0, OPT_STRING, &restart, "Restart policy to apply when a container exits",
         NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    _cleanup_json_ json_t *u = json_object();
    if ((r = mem_flag(cli, u, "Memory", "-m, --memory", memory, false)) ||
        (r = mem_flag(cli, u, "MemorySwap", "--memory-swap", swap, true)) ||
        (r = mem_flag(cli, u, "MemoryReservation", "--memory-reservation", reservation, false)) ||
        (r = mem_flag(cli, u, "KernelMemory", "--kernel-memory", kmem, false)) ||
        (r = int_flag(cli, u, "CpuShares", "-c, --cpu-shares", shares)) ||
        (r = int_flag(cli, u, "CpuPeriod", "--cpu-period", period)) ||
        (r = int_flag(cli, u, "CpuQuota", "--cpu-quota", quota)) ||
        (r = int_flag(cli, u, "BlkioWeight", "--blkio-weight", blkio)) ||
        (r = int_flag(cli, u, "PidsLimit", "--pids-limit", pids))) {
        return r;
    }
    if (cpus) {
        int64_t n;
        const char *why = NULL;
        if (nano_cpus(cpus, &n, &why) < 0) {
            _cleanup_free_ char *w =
                why ? xstrdup(why) : xasprintf("failed to parse %s as a rational number", cpus);
            return flag_fail(cli, "--cpus", cpus, w);
        }
        json_object_set_new(u, "NanoCpus", json_integer(n));
    }
    if (cpuset) {
        json_object_set_new(u, "CpusetCpus", json_string(cpuset));
    }
    if (mems) {
        json_object_set_new(u, "CpusetMems", json_string(mems));
    }
    if (restart) {
        json_t *rp = NULL;
        if (restart_policy(restart, &rp, &err) < 0) {
            return cli_fail(err, 1);
        }
        json_object_set_new(u, "RestartPolicy", rp);
    }
    if (json_object_size(u) == 0) {
        berth_error_set(&err, EINVAL, "you must provide one or more flags when using this command");
        return cli_fail(err, 1);
    }
    if (json_integer_value(json_object_get(u, "KernelMemory")) != 0) {
        /* Docker 20.10 took it on cgroup v1 and warned it is deprecated;
         * the kernel has removed the knob since: refuse rather than drop. */
        berth_error_set(&err, ENOTSUP, "--kernel-memory is not supported by berth");
        return cli_fail(err, 1);
    }
    json_object_del(u, "KernelMemory");
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    /* docker update: names as given, then one error per failure. */
    struct strbuf errs = STRBUF_INIT;
    STRV_FOREACH(a, args)
    {
        err = NULL;
        if (container_update(s, *a, u, &err) < 0) {
            strbuf_addf(&errs, "%s%s", errs.len ? "\n" : "", err && err->msg ? err->msg : "error");
            berth_error_free(err);
        } else {
            printf("%s\n", *a);
        }
    }
    if (errs.len) {
        fflush(stdout);
        fprintf(stderr, "Error: %s\n", strbuf_str(&errs));
        strbuf_release(&errs);
        return 1;
    }
    strbuf_release(&errs);
    return 0;
}

/* ---- container prune --------------------------------------------------------- */

int cmd_container_prune(struct cli *cli, int argc, char **argv)
{
    bool force = false;
    _cleanup_strv_free_ char **filters = NULL;
    const struct opt_def defs[] = {
        {"filter", 0, OPT_LIST, &filters, "Provide filter values (e.g. 'until=<timestamp>')", NULL},
        {"force", 'f', OPT_BOOL, &force, "Do not prompt for confirmation", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    uint64_t reclaimed = 0;
    _cleanup_strv_free_ char **deleted = NULL;
    struct berth_error *err = NULL;
    if (force || cli_confirm("WARNING! This will remove all stopped containers.")) {
        struct store *s;
        if (cli_store(cli, &s, &err) < 0) {
            return cli_fail(err, 1);
        }
        r = container_prune(s, filters, &deleted, &reclaimed, &err);
        if (deleted && deleted[0]) {
            printf("Deleted Containers:\n");
            STRV_FOREACH(d, deleted)
            {
                printf("%s\n", *d);
            }
            printf("\n");
        }
        if (r < 0) {
            return cli_fail(err, 1);
        }
    }
    _cleanup_free_ char *human = human_size((double)reclaimed, 4);
    printf("Total reclaimed space: %s\n", human);
    return 0;
}
