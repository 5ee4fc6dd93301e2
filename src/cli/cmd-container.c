/* cmd-container.c - `berth ps`, `stop`, `kill`, `rm`, `wait`, `logs` and
 * `container inspect`: each resolves its arguments and calls one function
 * of container/lifecycle.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/parse.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "basic/units.h"
#include "cli/commands.h"
#include "libberth/common/json-util.h"
#include "libberth/common/template.h"
#include "libberth/container/health.h"
#include "libberth/container/lifecycle.h"
#include "libberth/container/monitor.h"
#include "libberth/container/network-attach.h"
#include "libberth/container/volume-mounts.h"
#include "libberth/image/images.h"
#include "libberth/runtime/container.h"

#define PS_TABLE                                                                                   \
    "table "                                                                                       \
    "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
#define LOG_LINE_MAX (1u << 20)

static int do_stop(struct store *s, const char *name, void *ud, struct berth_error **err)
{
    return container_stop(s, name, *(int *)ud, err);
}

int cmd_stop(struct cli *cli, int argc, char **argv)
{
    int timeout = -1;
    bool seen = false;
    const struct opt_def defs[] = {
        {"time", 't', OPT_INT, &timeout, "Seconds to wait for stop before killing it", &seen},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    return cli_for_each(cli, args, true, do_stop, &timeout);
}

static int do_kill(struct store *s, const char *name, void *ud, struct berth_error **err)
{
    return container_kill(s, name, *(int *)ud, err);
}

int cmd_kill(struct cli *cli, int argc, char **argv)
{
    const char *signal_name = "KILL";
    const struct opt_def defs[] = {
        {"signal", 's', OPT_STRING, &signal_name, "Signal to send to the container", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    int sig = signal_from_string(signal_name);
    if (sig <= 0) {
        fprintf(stderr, "Error: invalid signal: %s\n", signal_name);
        return 1;
    }
    return cli_for_each(cli, args, true, do_kill, &sig);
}

struct rm_flags {
    bool force, volumes;
};

static int do_rm(struct store *s, const char *name, void *ud, struct berth_error **err)
{
    const struct rm_flags *f = ud;
    if (!f->volumes) {
        return container_rm(s, name, f->force, err);
    }
    /* -v: the anonymous volumes go after the record (their refs go with it). */
    _cleanup_free_ char *id = NULL;
    _cleanup_strv_free_ char **anon = NULL;
    int r = container_resolve(s, name, &id, err);
    if (r < 0) {
        return r;
    }
    (void)container_mounts_anonymous(s, id, &anon, NULL);
    r = container_rm(s, id, f->force, err);
    if (r >= 0) {
        container_volumes_release(s, anon);
    }
    return r;
}

int cmd_rm(struct cli *cli, int argc, char **argv)
{
    bool force = false, volumes = false, link = false;
    struct rm_flags rf;
    const struct opt_def defs[] = {
        {"force", 'f', OPT_BOOL, &force, "Force the removal of a running container (uses SIGKILL)",
         NULL},
        {"link", 'l', OPT_BOOL, &link, "Remove the specified link", NULL},
        {"volumes", 'v', OPT_BOOL, &volumes,
         "Remove anonymous volumes associated with the container", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    rf = (struct rm_flags){.force = force, .volumes = volumes};
    return cli_for_each(cli, args, true, do_rm, &rf);
}

static int do_wait(struct store *s, const char *name, void *ud, struct berth_error **err)
{
    int code = 0;
    int r = container_wait(s, name, &code, err);
    if (r >= 0) {
        printf("%d\n", code);
    }
    return r;
}

int cmd_wait(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    return cli_for_each(cli, args, false, do_wait, NULL);
}

/* ---- ps ------------------------------------------------------------------ */

/* Docker's Command column: the command line, cut to 20 characters with
 * "…", in Go's quoted form. */
static char *ps_command(char **cmd, bool trunc)
{
    _cleanup_free_ char *line = strv_join(cmd, " ");
    _cleanup_free_ char *cut = NULL;
    if (trunc && strlen(line) > 20) {
        cut = xasprintf("%.19s…", line);
    } else {
        cut = xstrdup(line);
    }
    struct strbuf sb = STRBUF_INIT;
    strbuf_addc(&sb, '"');
    for (const char *p = cut; *p; p++) {
        if (*p == '"' || *p == '\\') {
            strbuf_addc(&sb, '\\');
        }
        strbuf_addc(&sb, *p);
    }
    strbuf_addc(&sb, '"');
    return strbuf_detach(&sb, NULL);
}

struct ps_filter {
    char **ids, **names, **labels, **statuses, **ancestors;
    char **healths; /* "starting", "healthy", "unhealthy", "none" */
    int exited;     /* -1: any */
};

static bool any_prefix(char **l, const char *s)
{
    STRV_FOREACH(x, l)
    {
        if (strncmp(s, *x, strlen(*x)) == 0) {
            return true;
        }
    }
    return false;
}

static bool ps_selected(const struct ps_filter *f, const struct container_record *c,
                        const struct container_state_file *st, const char *image_id)
{
    if (f->ids && !any_prefix(f->ids, c->id)) {
        return false;
    }
    if (f->names) {
        bool ok = false;
        STRV_FOREACH(n, f->names)
        {
            ok |= strstr(c->name, *n) != NULL;
        }
        if (!ok) {
            return false;
        }
    }
    if (f->statuses && !strv_contains(f->statuses, st->status)) {
        return false;
    }
    if (f->exited >= 0 && (!streq(st->status, "exited") || st->exit_code != f->exited)) {
        return false;
    }
    STRV_FOREACH(l, f->labels)
    {
        json_t *labels = json_object_get(c->body, "Labels");
        const char *eq = strchr(*l, '=');
        _cleanup_free_ char *key = eq ? xstrndup(*l, (size_t)(eq - *l)) : xstrdup(*l);
        json_t *v = json_object_get(labels, key);
        if (!v || (eq && (!json_is_string(v) || !streq(json_string_value(v), eq + 1)))) {
            return false;
        }
    }
    if (f->ancestors) {
        bool ok = false;
        STRV_FOREACH(a, f->ancestors)
        {
            ok |= streq(*a, c->image_name) || (image_id && streq(*a, image_id));
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static int parse_ps_filters(struct store *s, char **filters, struct ps_filter *f,
                            struct berth_error **err)
{
    f->exited = -1;
    STRV_FOREACH(fp, filters)
    {
        const char *eq = strchr(*fp, '=');
        if (!eq) {
            return berth_error_set(err, EINVAL, "bad format of filter (expected name=value): '%s'",
                                   *fp);
        }
        _cleanup_free_ char *key = xstrndup(*fp, (size_t)(eq - *fp));
        const char *v = eq + 1;
        if (streq(key, "id")) {
            strv_push(&f->ids, v);
        } else if (streq(key, "name")) {
            strv_push(&f->names, v);
        } else if (streq(key, "label")) {
            strv_push(&f->labels, v);
        } else if (streq(key, "status")) {
            static const char *const ok[] = {"created", "restarting", "running", "removing",
                                             "paused",  "exited",     "dead"};
            bool valid = false;
            for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                valid |= streq(v, ok[i]);
            }
            if (!valid) {
                return berth_error_set(err, EINVAL, "Invalid filter 'status=%s'", v);
            }
            strv_push(&f->statuses, v);
        } else if (streq(key, "exited")) {
            if (parse_int(v, &f->exited) < 0) {
                return berth_error_set(err, EINVAL, "invalid filter 'exited=%s'", v);
            }
        } else if (streq(key, "health")) {
            if (!streq(v, "starting") && !streq(v, "healthy") && !streq(v, "unhealthy") &&
                !streq(v, "none")) {
                return berth_error_set(err, EINVAL, "Unrecognised filter value for health: %s", v);
            }
            strv_push(&f->healths, v);
        } else if (streq(key, "ancestor")) {
            _cleanup_free_ char *id = NULL;
            strv_push(&f->ancestors, v);
            if (image_resolve(s, v, &id, NULL) >= 0) {
                strv_push(&f->ancestors, id);
            }
        } else {
            return berth_error_set(err, EINVAL, "Invalid filter '%s'", key);
        }
    }
    return 0;
}

static void ps_filter_release(struct ps_filter *f)
{
    strv_free(f->ids), strv_free(f->names), strv_free(f->labels), strv_free(f->statuses),
        strv_free(f->ancestors), strv_free(f->healths);
}

int cmd_ps(struct cli *cli, int argc, char **argv)
{
    bool all = false, quiet = false, latest = false, size = false, no_trunc = false;
    int last = -1;
    const char *format = NULL;
    _cleanup_strv_free_ char **filters = NULL;
    const struct opt_def defs[] = {
        {"all", 'a', OPT_BOOL, &all, "Show all containers (default shows just running)", NULL},
        {"filter", 'f', OPT_LIST, &filters, "Filter output based on conditions provided", NULL},
        {"format", 0, OPT_STRING, &format, "Pretty-print containers using a Go template", NULL},
        {"last", 'n', OPT_INT, &last, "Show n last created containers (includes all states)", NULL},
        {"latest", 'l', OPT_BOOL, &latest,
         "Show the latest created container (includes all states)", NULL},
        {"no-trunc", 0, OPT_BOOL, &no_trunc, "Don't truncate output", NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "Only display container IDs", NULL},
        {"size", 's', OPT_BOOL, &size, "Display total file sizes", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    if (latest) {
        last = 1;
    }
    if (last >= 0 || (filters && filters[0])) {
        all = true;
    }
    struct berth_error *err = NULL;
    struct store *s;
    struct ps_filter f = {0};
    struct container_record **list = NULL;
    size_t n = 0;
    if (cli_store(cli, &s, &err) < 0 || parse_ps_filters(s, filters, &f, &err) < 0 ||
        container_record_list(s, &list, &n, &err) < 0) {
        ps_filter_release(&f);
        return cli_fail(err, 1);
    }
    json_t *rows = json_array();
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (last >= 0 && shown >= (size_t)last) {
            break;
        }
        struct container_record *c = list[i];
        struct container_state_file st = {0};
        if (container_status(s, c->id, &st, NULL) < 0) {
            continue;
        }
        /* Docker lists a container in its restart backoff as running. */
        bool running = streq(st.status, "running") || streq(st.status, "paused") ||
                       streq(st.status, "restarting");
        const char *health = container_health_status(s, c, st.started_at);
        if ((!all && !running) || !ps_selected(&f, c, &st, c->image_id) ||
            (f.healths && !strv_contains(f.healths, health ? health : "none"))) {
            container_state_file_release(&st);
            continue;
        }
        shown++;
        _cleanup_(image_info_freep) struct image_info *img = NULL;
        (void)image_get(s, c->image_id, &img, NULL);
        _cleanup_strv_free_ char **cmd = container_command(c->body, img ? img->config : NULL);
        _cleanup_free_ char *command = ps_command(cmd, !no_trunc);
        _cleanup_free_ char *status = container_status_text(&st);
        if (health && streq(st.status, "running")) { /* Docker's "Up 2 minutes (healthy)" */
            char *h =
                xasprintf("%s (%s%s)", status, streq(health, "starting") ? "health: " : "", health);
            free(status);
            status = h;
        }
        long long created = cli_parse_time(c->created);
        _cleanup_free_ char *ago = cli_human_duration_ago((long long)time(NULL) - created);
        char at[64];
        time_t t = (time_t)created;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
        _cleanup_free_ char *id = no_trunc ? xstrdup(c->id) : xstrndup(c->id, 12);
        json_t *o = json_object();
        json_object_set_new(o, "Command", json_string(command));
        json_object_set_new(o, "CreatedAt", json_string(at));
        json_object_set_new(o, "ID", json_string(id));
        json_object_set_new(o, "Image", json_string(c->image_name));
        json_t *labels = json_object_get(c->body, "Labels");
        struct strbuf lb = STRBUF_INIT;
        const char *k;
        json_t *v;
        json_object_foreach(labels, k, v)
        {
            strbuf_addf(&lb, "%s%s=%s", lb.len ? "," : "", k,
                        json_is_string(v) ? json_string_value(v) : "");
        }
        json_object_set_new(o, "Labels", json_string(strbuf_str(&lb)));
        strbuf_release(&lb);
        json_object_set_new(o, "LocalVolumes", json_string("0"));
        json_object_set_new(o, "Mounts", json_string(""));
        json_object_set_new(o, "Names", json_string(c->name));
        json_object_set_new(o, "Networks", json_string(""));
        _cleanup_free_ char *ports = running ? network_attach_ports_text(s, c->id) : NULL;
        json_object_set_new(o, "Ports", json_string(ports ? ports : ""));
        json_object_set_new(o, "RunningFor", json_string(ago));
        json_object_set_new(o, "Size", json_string("0B"));
        json_object_set_new(o, "State", json_string(st.status));
        json_object_set_new(o, "Status", json_string(status));
        json_array_append_new(rows, o);
        container_state_file_release(&st);
    }
    json_t *headers = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "CONTAINER ID", "Image",
        "IMAGE", "Command", "COMMAND", "RunningFor", "CREATED", "CreatedAt", "CREATED AT", "Status",
        "STATUS", "Ports", "PORTS", "Names", "NAMES", "State", "STATE", "Labels", "LABELS", "Size",
        "SIZE", "Mounts", "MOUNTS", "Networks", "NETWORKS", "LocalVolumes", "LOCAL VOLUMES");
    const char *table = size ? PS_TABLE "\t{{.Size}}" : PS_TABLE;
    int code = cli_print_rows(quiet ? "{{.ID}}" : format, table, headers, rows);
    json_decref(headers);
    json_decref(rows);
    container_record_list_free(list, n);
    ps_filter_release(&f);
    return code;
}

/* ---- logs ---------------------------------------------------------------- */

struct logs_opts {
    bool timestamps, details;
    long long since, until; /* unix seconds, 0: unset */
    long tail;              /* -1: all */
};

/* Seconds since the epoch from Docker's --since/--until forms: a unix time,
 * an RFC 3339 date, or a Go duration before now ("10m"). */
static int parse_when(const char *s, long long *ret)
{
    int64_t ns;
    if (parse_duration(s, &ns) == 0) {
        *ret = (long long)time(NULL) - ns / 1000000000LL;
        return 0;
    }
    int64_t secs;
    if (parse_int64(s, &secs) == 0) {
        *ret = secs;
        return 0;
    }
    long long t = cli_parse_time(s);
    if (t > 0) {
        *ret = t;
        return 0;
    }
    return -EINVAL;
}

static void print_entry(json_t *e, const struct logs_opts *o)
{
    const char *log = json_string_value(json_object_get(e, "log"));
    const char *stream = json_string_value(json_object_get(e, "stream"));
    const char *t = json_string_value(json_object_get(e, "time"));
    if (!log) {
        return;
    }
    long long when = cli_parse_time(t);
    if ((o->since && when < o->since) || (o->until && when > o->until)) {
        return;
    }
    FILE *out = stream && streq(stream, "stderr") ? stderr : stdout;
    if (o->timestamps) {
        fprintf(out, "%s ", t ? t : "");
    }
    /* By length: a k8s-file record is raw bytes, NULs included. */
    fwrite(log, 1, json_string_length(json_object_get(e, "log")), out);
}

/* One k8s-file record ("<time> <stdout|stderr> <F|P> <text>") as the
 * json-file entry it stands for: F puts the line's newline back. NULL when
 * the line is not one. */
static json_t *k8s_entry(const char *line, size_t n)
{
    const char *end = line + n;
    const char *sp1 = memchr(line, ' ', n);
    if (!sp1 || end - sp1 < 10) {
        return NULL;
    }
    const char *stream = sp1 + 1;
    const char *sp2 = memchr(stream, ' ', (size_t)(end - stream));
    if (!sp2 || end - sp2 < 3 || (sp2[1] != 'F' && sp2[1] != 'P') || sp2[2] != ' ') {
        return NULL;
    }
    size_t slen = (size_t)(sp2 - stream);
    if (!((slen == 6 && (strneq(stream, "stdout", 6) || strneq(stream, "stderr", 6))))) {
        return NULL;
    }
    const char *text = sp2 + 3;
    struct strbuf log = STRBUF_INIT;
    strbuf_add(&log, text, (size_t)(end - text));
    if (sp2[1] == 'F') {
        strbuf_addc(&log, '\n');
    }
    json_t *e = json_object();
    json_object_set_new(e, "log", json_stringn_nocheck(strbuf_str(&log), log.len));
    json_object_set_new(e, "stream", json_stringn(stream, slen));
    json_object_set_new(e, "time", json_stringn_nocheck(line, (size_t)(sp1 - line)));
    strbuf_release(&log);
    return e;
}

/* Entries of one log file from offset on; *offset advances past complete
 * lines. Appends them to entries. */
static void read_entries(int dirfd, const char *name, bool k8s, off_t *offset, json_t *entries)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    if (lseek(fd, *offset, SEEK_SET) < 0) {
        return;
    }
    struct strbuf line = STRBUF_INIT;
    char buf[65536];
    ssize_t n;
    off_t pos = *offset;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (line.len < LOG_LINE_MAX) {
                    strbuf_addc(&line, buf[i]);
                }
                continue;
            }
            json_t *e = k8s ? k8s_entry(strbuf_str(&line), line.len)
                            : json_loads(strbuf_str(&line), 0, NULL);
            if (e) {
                json_array_append_new(entries, e);
            }
            strbuf_reset(&line);
            *offset = pos + i + 1;
        }
        pos += n;
    }
    strbuf_release(&line);
}

int cmd_logs(struct cli *cli, int argc, char **argv)
{
    bool follow = false, timestamps = false, details = false;
    const char *since = NULL, *until = NULL, *tail = "all";
    const struct opt_def defs[] = {
        {"details", 0, OPT_BOOL, &details, "Show extra details provided to logs", NULL},
        {"follow", 'f', OPT_BOOL, &follow, "Follow log output", NULL},
        {"since", 0, OPT_STRING, &since,
         "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 "
         "minutes)",
         NULL},
        {"tail", 'n', OPT_STRING, &tail, "Number of lines to show from the end of the logs", NULL},
        {"timestamps", 't', OPT_BOOL, &timestamps, "Show timestamps", NULL},
        {"until", 0, OPT_STRING, &until,
         "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 "
         "minutes)",
         NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct logs_opts o = {.timestamps = timestamps, .details = details, .tail = -1};
    struct berth_error *err = NULL;
    if (since && parse_when(since, &o.since) < 0) {
        berth_error_set(&err, EINVAL,
                        "invalid value for \"since\": failed to parse value as time "
                        "or duration: \"%s\"",
                        since);
        return cli_fail(err, 1);
    }
    if (until && parse_when(until, &o.until) < 0) {
        berth_error_set(&err, EINVAL,
                        "invalid value for \"until\": failed to parse value as time "
                        "or duration: \"%s\"",
                        until);
        return cli_fail(err, 1);
    }
    if (!streq(tail, "all")) {
        int n;
        if (parse_int(tail, &n) < 0) {
            berth_error_set(&err, EINVAL, "invalid value for \"tail\": \"%s\"", tail);
            return cli_fail(err, 1);
        }
        o.tail = n < 0 ? -1 : n;
    }
    struct store *s;
    _cleanup_free_ char *id = NULL;
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    if (cli_store(cli, &s, &err) < 0 || container_resolve(s, args[0], &id, &err) < 0 ||
        container_record_get(s, id, &c, &err) < 0) {
        return cli_fail(err, 1);
    }
    const char *driver = json_string_value(json_object_get(
        json_object_get(json_object_get(c->body, "HostConfig"), "LogConfig"), "Type"));
    if (driver && streq(driver, "none")) {
        berth_error_set(&err, ENOTSUP, "configured logging driver does not support reading");
        return cli_fail(err, 1);
    }
    _cleanup_free_ char *dir = xasprintf("%s/containers/%s", s->root, id);
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        berth_error_sys(&err, errno, "open '%s'", dir);
        return cli_fail(err, 1);
    }
    enum monitor_log_format format = MONITOR_LOG_JSON_FILE;
    _cleanup_free_ char *name = monitor_log_name(id, driver, &format);
    if (!name) {
        berth_error_set(&err, ENOTSUP, "configured logging driver does not support reading");
        return cli_fail(err, 1);
    }
    bool k8s = format == MONITOR_LOG_K8S_FILE;
    /* Rotated files first, oldest (highest number) first. */
    json_t *entries = json_array();
    for (int k = 9; k >= 1; k--) {
        _cleanup_free_ char *rotated = xasprintf("%s.%d", name, k);
        off_t zero = 0;
        read_entries(dfd, rotated, k8s, &zero, entries);
    }
    off_t offset = 0;
    read_entries(dfd, name, k8s, &offset, entries);
    size_t total = json_array_size(entries);
    size_t from = o.tail >= 0 && (size_t)o.tail < total ? total - (size_t)o.tail : 0;
    for (size_t k = from; k < total; k++) {
        print_entry(json_array_get(entries, k), &o);
    }
    json_decref(entries);
    fflush(stdout);
    fflush(stderr);
    while (follow) {
        struct container_state_file st = {0};
        bool running = container_status(s, id, &st, NULL) >= 0 &&
                       (streq(st.status, "running") || streq(st.status, "paused") ||
                        streq(st.status, "restarting"));
        container_state_file_release(&st);
        json_t *more = json_array();
        read_entries(dfd, name, k8s, &offset, more);
        for (size_t k = 0; k < json_array_size(more); k++) {
            print_entry(json_array_get(more, k), &o);
        }
        json_decref(more);
        fflush(stdout);
        fflush(stderr);
        if (!running) {
            break;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}
