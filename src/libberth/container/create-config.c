/* create-config.c - `run`/`create` flags -> the ContainerCreate body.
 *
 * Every flag is parsed here the way the docker CLI 20.10 parses it
 * (cli/command/container/opts.go and the opts/ validators it uses), because
 * scripts written for docker pass the same strings to berth and expect the
 * same container, or the same error. Validation that dockerd does on the
 * body (restart policy names, volume specs, the working directory) is done
 * here too, so that a bad flag fails before anything is created; the API
 * server re-validates the body it is given in container_create().
 */
#include "create-config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/opts.h"
#include "basic/parse.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/container/monitor.h"

/* Caps on what files named by flags may make us allocate. */
#define KV_FILE_MAX (4u << 20)
#define SECCOMP_FILE_MAX (8u << 20)

void create_cli_opts_release(struct create_cli_opts *o)
{
    if (!o) {
        return;
    }
    free(o->name);
    free(o->cidfile);
    free(o->platform);
    free(o->pull);
    free(o->detach_keys);
    *o = (struct create_cli_opts){0};
}

/* The raw flag values, as opts_parse() leaves them. */
struct run_flags {
    bool detach, interactive, tty, rm, init, read_only, privileged, oom_kill_disable;
    bool no_healthcheck, sig_proxy, publish_all;
    bool init_seen, oom_seen, entrypoint_seen;
    const char *name, *workdir, *user, *entrypoint, *hostname, *domainname, *restart;
    const char *shm_size, *memory, *memory_swap, *memory_reservation, *cpus, *cpu_shares;
    const char *cpuset_cpus, *pids_limit, *stop_signal, *stop_timeout;
    const char *health_cmd, *health_interval, *health_timeout, *health_retries;
    const char *health_start_period, *detach_keys, *log_driver, *platform, *pull, *cidfile;
    const char *network, *ip, *ip6, *mac_address;
    char **network_alias;
    char **attach, **env, **env_file, **label, **label_file, **cap_add, **cap_drop;
    char **security_opt, **device, **tmpfs, **ulimit, **log_opt, **add_host, **dns;
    char **dns_search, **group_add, **volume, **mount, **publish, **expose;
    char **volumes_from;
};

static bool utf8_ok(const char *s)
{
    json_t *probe = json_string(s);
    json_decref(probe);
    return probe != NULL;
}

static void run_flags_release(struct run_flags *f)
{
    char ***lists[] = {&f->attach,       &f->env,     &f->env_file,   &f->label,
                       &f->label_file,   &f->cap_add, &f->cap_drop,   &f->security_opt,
                       &f->device,       &f->tmpfs,   &f->ulimit,     &f->log_opt,
                       &f->add_host,     &f->dns,     &f->dns_search, &f->group_add,
                       &f->volume,       &f->mount,   &f->publish,    &f->expose,
                       &f->network_alias};
    for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
        strv_free(*lists[i]);
        *lists[i] = NULL;
    }
    strv_free(f->volumes_from);
    f->volumes_from = NULL;
}

/* pflag's wording for a value a flag refuses:
 * invalid argument "1x" for "-m, --memory" flag: invalid size: '1x' */
_printf_(4, 5) static int flag_error(struct berth_error **err, const char *flag, const char *value,
                                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *why = xvasprintf(fmt, ap);
    va_end(ap);
    return berth_error_set(err, EINVAL, "invalid argument \"%s\" for \"%s\" flag: %s", value, flag,
                           why);
}

static void set_str(json_t *o, const char *key, const char *s)
{
    json_object_set_new(o, key, json_string(s));
}

static json_t *strv_to_json(char **v)
{
    json_t *a = json_array();
    STRV_FOREACH(s, v)
    {
        json_array_append_new(a, json_string(*s));
    }
    return a;
}

/* Go's strconv.ParseInt(s, 10, 64) and its error text. */
static int go_parse_int64(const char *flag, const char *s, int64_t *ret, struct berth_error **err)
{
    int r = parse_int64(s, ret);
    if (r < 0) {
        return flag_error(err, flag, s, "strconv.ParseInt: parsing \"%s\": %s", s,
                          r == -ERANGE ? "value out of range" : "invalid syntax");
    }
    return 0;
}

/* units.RAMInBytes: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$, binary units.
 * parse_size() does the arithmetic; the shape is checked here so that forms
 * strtod() would take and Docker would not ("1e3", "0x10") are refused. */
static int docker_size(const char *flag, const char *s, int64_t *ret, struct berth_error **err)
{
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        p++;
    }
    bool ok = p > s;
    if (ok && *p == '.') {
        const char *q = ++p;
        while (isdigit((unsigned char)*p)) {
            p++;
        }
        ok = p > q;
    }
    _cleanup_free_ char *num = xstrndup(s, (size_t)(p - s));
    if (*p == ' ') {
        p++;
    }
    const char *unit = p;
    if (*p && strchr("kKmMgGtTpP", *p)) {
        p++;
    }
    if (*p == 'i' || *p == 'I') {
        p++;
    }
    if (*p == 'b' || *p == 'B') {
        p++;
    }
    ok = ok && !*p;
    p = unit;
    _cleanup_free_ char *joined = xasprintf("%s%s", num, p);
    if (!ok || parse_size(joined, ret) < 0) {
        return flag_error(err, flag, s, "invalid size: '%s'", s);
    }
    return 0;
}

static int go_duration(const char *flag, const char *s, int64_t *ret, struct berth_error **err)
{
    if (parse_duration(s, ret) < 0) {
        return flag_error(err, flag, s, "time: invalid duration \"%s\"", s);
    }
    return 0;
}

/* opts.NanoCPUs: a decimal number of CPUs, exact to the nano-CPU. */
static int parse_nano_cpus(const char *s, int64_t *ret, struct berth_error **err)
{
    static const char flag[] = "--cpus";
    const char *p = s;
    int64_t whole = 0, frac = 0;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        if (whole > (INT64_MAX / 1000000000 - 9) / 10) {
            return flag_error(err, flag, s, "value is too big");
        }
        whole = whole * 10 + (*p++ - '0');
        digits++;
    }
    if (*p == '.') {
        p++;
        int fdigits = 0;
        while (isdigit((unsigned char)*p)) {
            if (fdigits < 9) {
                frac = frac * 10 + (*p - '0');
            } else if (*p != '0') {
                return flag_error(err, flag, s, "value is too precise");
            }
            fdigits++;
            digits++;
            p++;
        }
        for (; fdigits < 9; fdigits++) {
            frac *= 10;
        }
    }
    if (*p || digits == 0) {
        return flag_error(err, flag, s, "failed to parse %s as a rational number", s);
    }
    *ret = whole * 1000000000 + frac;
    return 0;
}

static bool valid_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Go's net.ParseIP(...).String(): dns servers are stored canonicalised. */
static char *canonical_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    char out[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, s, buf) == 1) {
        return xstrdup(inet_ntop(AF_INET, buf, out, sizeof(out)));
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        return xstrdup(inet_ntop(AF_INET6, buf, out, sizeof(out)));
    }
    return NULL;
}

/* --- environment and labels ------------------------------------------- */

/* opts.parseKeyValueFile: KEY=VALUE lines, leading blanks and '#' comment
 * lines skipped, the value passed through untrimmed. A bare KEY takes its
 * value from our environment when from_env (env files) and is dropped
 * otherwise, and when unset. */
static int read_kv_file(const char *path, bool from_env, char ***list, struct berth_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_file_at(AT_FDCWD, path, KV_FILE_MAX, &buf, &len, err);
    if (r < 0) {
        return r;
    }
    if (strlen(buf) != len) {
        return berth_error_set(err, EINVAL, "env file %s contains a NUL byte", path);
    }
    char *line = buf;
    if (strneq(line, "\xef\xbb\xbf", 3)) {
        line += 3;
    }
    for (unsigned lineno = 1; line && *line; lineno++) {
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        char *next = nl ? nl + 1 : NULL;
        /* Go's bufio.ScanLines drops a "\r" before the end of a line. */
        size_t llen = strlen(line);
        if (llen && line[llen - 1] == '\r') {
            line[llen - 1] = '\0';
        }
        if (!utf8_ok(line)) {
            return berth_error_set(
                err, EINVAL, "env file %s contains invalid utf8 bytes at line %u", path, lineno);
        }
        while (isspace((unsigned char)*line)) {
            line++;
        }
        if (*line && *line != '#') {
            char *eq = strchr(line, '=');
            size_t klen = eq ? (size_t)(eq - line) : strlen(line);
            /* The whole of a bare line is the name: "KEY " is refused. */
            _cleanup_free_ char *key = xstrndup(line, klen);
            if (strpbrk(key, " \t\n\v\f\r")) {
                return berth_error_set(err, EINVAL,
                                       "poorly formatted environment: variable '%s' contains "
                                       "whitespaces",
                                       key);
            }
            if (!*key) {
                return berth_error_set(err, EINVAL,
                                       "poorly formatted environment: no variable name on line "
                                       "'%s'",
                                       line);
            }
            if (eq) {
                strv_push(list, line);
            } else if (from_env) {
                const char *v = getenv(key);
                if (v) {
                    strv_consume(list, xasprintf("%s=%s", key, v));
                }
            }
        }
        line = next;
    }
    return 0;
}

/* opts.ValidateEnv: "KEY=v" as given; a bare KEY is looked up in our
 * environment and left out when unset (the brief's rule; dockerd would
 * drop the bare name when it builds the process environment anyway). */
static int add_env_flag(const char *e, char ***env, struct berth_error **err)
{
    const char *eq = strchr(e, '=');
    if (eq == e || !*e) {
        return flag_error(err, "-e, --env", e, "invalid environment variable: %s", e);
    }
    if (eq) {
        strv_push(env, e);
        return 0;
    }
    const char *v = getenv(e);
    if (v) {
        strv_consume(env, xasprintf("%s=%s", e, v));
    }
    return 0;
}

static int build_env(struct run_flags *f, json_t *body, struct berth_error **err)
{
    _cleanup_strv_free_ char **env = NULL;
    STRV_FOREACH(p, f->env_file)
    {
        int r = read_kv_file(*p, true, &env, err);
        if (r < 0) {
            return r;
        }
    }
    STRV_FOREACH(p, f->env)
    {
        int r = add_env_flag(*p, &env, err);
        if (r < 0) {
            return r;
        }
    }
    if (env) {
        STRV_FOREACH(p, env)
        {
            if (!utf8_ok(*p)) { /* a value from our environment */
                return berth_error_set(err, EINVAL, "environment variable is not valid utf-8");
            }
        }
        json_object_set_new(body, "Env", strv_to_json(env));
    }
    return 0;
}

/* opts.ConvertKVStringsToMap: later entries win, a bare key maps to "". */
static void kv_into_object(json_t *o, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (eq) {
        _cleanup_free_ char *k = xstrndup(kv, (size_t)(eq - kv));
        set_str(o, k, eq + 1);
    } else {
        set_str(o, kv, "");
    }
}

static int build_labels(struct run_flags *f, json_t *body, struct berth_error **err)
{
    _cleanup_strv_free_ char **labels = NULL;
    STRV_FOREACH(p, f->label_file)
    {
        int r = read_kv_file(*p, false, &labels, err);
        if (r < 0) {
            return r;
        }
    }
    STRV_FOREACH(p, f->label)
    {
        strv_push(&labels, *p);
    }
    if (labels) {
        json_t *o = json_object();
        STRV_FOREACH(p, labels)
        {
            kv_into_object(o, *p);
        }
        json_object_set_new(body, "Labels", o);
    }
    return 0;
}

/* --- ports --------------------------------------------------------------- */

/* strconv.ParseUint(s, 10, 16) */
static int parse_port(const char *s, size_t len, unsigned *ret)
{
    if (len == 0 || len > 5) {
        return -EINVAL;
    }
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -EINVAL;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) {
        return -ERANGE;
    }
    *ret = v;
    return 0;
}

/* nat.ParsePortRange: "80" or "8000-8010". */
static int parse_port_range(const char *s, unsigned *start, unsigned *end)
{
    const char *dash = strchr(s, '-');
    if (!dash) {
        int r = parse_port(s, strlen(s), start);
        *end = *start;
        return r;
    }
    const char *tail = dash + 1;
    const char *dash2 = strchr(tail, '-');
    if (parse_port(s, (size_t)(dash - s), start) < 0 ||
        parse_port(tail, dash2 ? (size_t)(dash2 - tail) : strlen(tail), end) < 0 || *end < *start) {
        return -EINVAL;
    }
    return 0;
}

/* nat.SplitProtoPort: "80/udp" -> ("udp", "80"); no protocol is tcp. */
static void split_proto_port(const char *raw, char **ret_proto, char **ret_port)
{
    const char *slash = strchr(raw, '/');
    if (!*raw || slash == raw) {
        *ret_proto = xstrdup("");
        *ret_port = xstrdup("");
        return;
    }
    if (!slash) {
        *ret_proto = xstrdup("tcp");
        *ret_port = xstrdup(raw);
        return;
    }
    const char *proto = slash + 1;
    const char *slash2 = strchr(proto, '/');
    size_t plen = slash2 ? (size_t)(slash2 - proto) : strlen(proto);
    *ret_proto = plen ? xstrndup(proto, plen) : xstrdup("tcp");
    for (char *c = *ret_proto; *c; c++) {
        *c = (char)tolower((unsigned char)*c);
    }
    *ret_port = xstrndup(raw, (size_t)(slash - raw));
}

static bool valid_proto(const char *p)
{
    return streq(p, "tcp") || streq(p, "udp") || streq(p, "sctp");
}

/* The docker CLI's convertToStandardNotation: the long form
 * "target=80,published=8080,protocol=udp" becomes "8080:80/udp". */
static int publish_standard_notation(const char *spec, char **ret, struct berth_error **err)
{
    if (!strchr(spec, '=')) {
        *ret = xstrdup(spec);
        return 0;
    }
    _cleanup_strv_free_ char **params = strv_split(spec, ",");
    const char *published = "", *target = "", *protocol = "tcp";
    STRV_FOREACH(p, params)
    {
        char *eq = strchr(*p, '=');
        if (!eq) {
            return berth_error_set(
                err, EINVAL, "invalid publish opts format (should be name=value but got '%s')", *p);
        }
        *eq = '\0';
        if (streq(*p, "published")) {
            published = eq + 1;
        } else if (streq(*p, "target")) {
            target = eq + 1;
        } else if (streq(*p, "protocol")) {
            protocol = eq + 1;
        }
    }
    *ret = xasprintf("%s:%s/%s", published, target, protocol);
    return 0;
}

/* nat.ParsePortSpec + ParsePortSpecs: one -p value into ExposedPorts and
 * PortBindings ({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}). */
static int add_publish(const char *raw, json_t *exposed, json_t *bindings, struct berth_error **err)
{
    _cleanup_strv_free_ char **parts = strv_split(raw, ":");
    size_t n = strv_length(parts);
    if (n == 0) {
        return berth_error_set(err, EINVAL, "No port specified: %s<empty>", raw);
    }
    _cleanup_free_ char *raw_ip = NULL;
    const char *host_port = "";
    if (n == 2) {
        host_port = parts[0];
    } else if (n >= 3) {
        host_port = parts[n - 2];
        char *saved = parts[n - 2];
        parts[n - 2] = NULL;
        raw_ip = strv_join(parts, ":");
        parts[n - 2] = saved;
    }
    _cleanup_free_ char *proto = NULL, *cport = NULL;
    split_proto_port(parts[n - 1], &proto, &cport);

    /* net.SplitHostPort(rawIP + ":"): brackets around IPv6 are stripped,
     * a bare address with colons is refused. */
    _cleanup_free_ char *ip = NULL;
    if (raw_ip) {
        size_t l = strlen(raw_ip);
        if (raw_ip[0] == '[' && l >= 2 && raw_ip[l - 1] == ']') {
            ip = xstrndup(raw_ip + 1, l - 2);
        } else if (strpbrk(raw_ip, ":[]")) {
            return berth_error_set(err, EINVAL,
                                   "Invalid ip address %s: address %s:: too many colons in address",
                                   raw_ip, raw_ip);
        } else {
            ip = xstrdup(raw_ip);
        }
        if (*ip && !valid_ip(ip)) {
            return berth_error_set(err, EINVAL, "Invalid ip address: %s", ip);
        }
    }
    if (!*cport) {
        return berth_error_set(err, EINVAL, "No port specified: %s<empty>", raw);
    }
    unsigned start, end, hstart = 0, hend = 0;
    if (parse_port_range(cport, &start, &end) < 0) {
        return berth_error_set(err, EINVAL, "Invalid containerPort: %s", cport);
    }
    if (*host_port && parse_port_range(host_port, &hstart, &hend) < 0) {
        return berth_error_set(err, EINVAL, "Invalid hostPort: %s", host_port);
    }
    /* A host range with a single container port is the range dockerd
     * allocates from; otherwise the two ranges must be the same length. */
    if (*host_port && end - start != hend - hstart && end != start) {
        return berth_error_set(err, EINVAL,
                               "Invalid ranges specified for container and host Ports: %s and %s",
                               cport, host_port);
    }
    if (!valid_proto(proto)) {
        return berth_error_set(err, EINVAL, "Invalid proto: %s", proto);
    }
    for (unsigned i = 0; i <= end - start; i++) {
        _cleanup_free_ char *key = xasprintf("%u/%s", start + i, proto);
        _cleanup_free_ char *hp = NULL;
        if (!*host_port) {
            hp = xstrdup("");
        } else if (start == end && hstart != hend) {
            hp = xasprintf("%u-%u", hstart, hend);
        } else {
            hp = xasprintf("%u", hstart + i);
        }
        json_object_set_new(exposed, key, json_object());
        json_t *list = json_object_get(bindings, key);
        if (!list) {
            list = json_array();
            json_object_set_new(bindings, key, list);
        }
        json_array_append_new(list,
                              json_pack("{s:s, s:s}", "HostIp", ip ? ip : "", "HostPort", hp));
    }
    return 0;
}

/* --expose 80, 80/udp, 8000-8010: ExposedPorts only. */
static int add_expose(const char *e, json_t *exposed, struct berth_error **err)
{
    if (strchr(e, ':')) {
        return berth_error_set(err, EINVAL, "invalid port format for --expose: %s", e);
    }
    _cleanup_free_ char *proto = NULL, *port = NULL;
    split_proto_port(e, &proto, &port);
    unsigned start, end;
    if (parse_port_range(port, &start, &end) < 0) {
        return berth_error_set(err, EINVAL, "invalid range format for --expose: %s", e);
    }
    if (!valid_proto(proto)) {
        return berth_error_set(err, EINVAL, "Invalid proto: %s", proto);
    }
    for (unsigned p = start; p <= end; p++) {
        _cleanup_free_ char *key = xasprintf("%u/%s", p, proto);
        json_object_set_new(exposed, key, json_object());
    }
    return 0;
}

static int build_ports(struct run_flags *f, json_t *body, json_t *hc, struct berth_error **err)
{
    _cleanup_json_ json_t *exposed = json_object();
    _cleanup_json_ json_t *bindings = json_object();
    STRV_FOREACH(p, f->publish)
    {
        _cleanup_free_ char *std = NULL;
        int r = publish_standard_notation(*p, &std, err);
        if (r < 0) {
            return r;
        }
        r = add_publish(std, exposed, bindings, err);
        if (r < 0) {
            return r;
        }
    }
    STRV_FOREACH(p, f->expose)
    {
        int r = add_expose(*p, exposed, err);
        if (r < 0) {
            return r;
        }
    }
    if (json_object_size(exposed)) {
        json_object_set(body, "ExposedPorts", exposed);
    }
    if (json_object_size(bindings)) {
        json_object_set(hc, "PortBindings", bindings);
    }
    if (f->publish_all) {
        json_object_set_new(hc, "PublishAllPorts", json_true());
    }
    return 0;
}

/* --- volumes and mounts ------------------------------------------------- */

/* volume.ValidMountMode (linux): comma-separated, at most one of each
 * kind: rw|ro, z|Z, a propagation, nocopy, a consistency. */
static bool valid_mount_mode(const char *mode)
{
    static const char *const kinds[][7] = {
        {"rw", "ro", NULL},
        {"z", "Z", NULL},
        {"shared", "rshared", "slave", "rslave", "private", "rprivate", NULL},
        {"nocopy", NULL},
        {"consistent", "cached", "delegated", NULL},
    };
    if (!*mode) {
        return true;
    }
    _cleanup_strv_free_ char **opts = strv_split(mode, ",");
    int count[ARRAY_SIZE(kinds)] = {0};
    STRV_FOREACH(o, opts)
    {
        bool found = false;
        for (size_t k = 0; k < ARRAY_SIZE(kinds) && !found; k++) {
            for (size_t i = 0; kinds[k][i]; i++) {
                if (streq(*o, kinds[k][i])) {
                    found = true;
                    if (++count[k] > 1) {
                        return false;
                    }
                    break;
                }
            }
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* The local driver's volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
static bool valid_volume_name(const char *s)
{
    if (!isalnum((unsigned char)s[0]) || !s[1]) {
        return false;
    }
    for (const char *p = s + 1; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p)) {
            return false;
        }
    }
    return true;
}

static int check_mount_target(const char *type, const char *target, struct berth_error **err)
{
    if (target[0] != '/') {
        return berth_error_set(
            err, EINVAL,
            "invalid mount config for type \"%s\": invalid mount path: '%s' mount path must be "
            "absolute",
            type, target);
    }
    return 0;
}

/* "./dir" and "." are made absolute against our cwd, as the docker CLI does
 * for bind sources (any other relative source is a volume name). */
static char *absolutize_dot(const char *src)
{
    if (!streq(src, ".") && !strneq(src, "./", 2)) {
        return xstrdup(src);
    }
    _cleanup_free_ char *cwd = getcwd(NULL, 0);
    if (!cwd) {
        return xstrdup(src);
    }
    const char *rest = src[1] ? src + 2 : "";
    return *rest ? xasprintf("%s/%s", streq(cwd, "/") ? "" : cwd, rest) : TAKE_PTR(cwd);
}

/* -v: dockerd's linux ParseMountRaw. "/path" alone is an anonymous volume
 * (Config.Volumes); anything with a source stays a string in Binds. */
static int add_volume(const char *v, json_t *volumes, json_t *binds, struct berth_error **err)
{
    _cleanup_strv_free_ char **arr = strv_split(v, ":");
    size_t n = strv_length(arr);
    if (n == 0 || !*arr[0] || n > 3) {
        return berth_error_set(err, EINVAL, "invalid volume specification: '%s'", v);
    }
    if (n == 1) {
        int r = check_mount_target("volume", arr[0], err);
        if (r < 0) {
            return r;
        }
        json_object_set_new(volumes, arr[0], json_object());
        return 0;
    }
    if (n == 2 && valid_mount_mode(arr[1])) {
        return berth_error_set(err, EINVAL, "invalid volume specification: '%s'", v);
    }
    if (n == 3 && !valid_mount_mode(arr[2])) {
        return berth_error_set(err, EINVAL, "invalid mode: %s", arr[2]);
    }
    bool bind = arr[0][0] == '/' || streq(arr[0], ".") || strneq(arr[0], "./", 2);
    if (!bind && !valid_volume_name(arr[0])) {
        return berth_error_set(err, EINVAL,
                               "\"%s\" includes invalid characters for a local volume name, only "
                               "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass "
                               "a host directory, use absolute path",
                               arr[0]);
    }
    int r = check_mount_target(bind ? "bind" : "volume", arr[1], err);
    if (r < 0) {
        return r;
    }
    if (streq(arr[1], "/")) {
        return berth_error_set(err, EINVAL, "invalid specification: destination can't be '/'");
    }
    _cleanup_free_ char *src = absolutize_dot(arr[0]);
    const char *rest = strchr(v, ':');
    json_array_append_new(binds, json_sprintf("%s%s", src, rest));
    return 0;
}

static int go_parse_bool(const char *s, bool *ret)
{
    if (streq(s, "1") || streq(s, "t") || streq(s, "T") || streq(s, "true") || streq(s, "TRUE") ||
        streq(s, "True")) {
        *ret = true;
    } else if (streq(s, "0") || streq(s, "f") || streq(s, "F") || streq(s, "false") ||
               streq(s, "FALSE") || streq(s, "False")) {
        *ret = false;
    } else {
        return -EINVAL;
    }
    return 0;
}

static json_t *sub_object(json_t *o, const char *key)
{
    json_t *s = json_object_get(o, key);
    if (!s) {
        s = json_object();
        json_object_set_new(o, key, s);
    }
    return s;
}

/* opts.MountOpt.Set: --mount type=bind,source=/a,target=/b,readonly.
 * Docker reads the value as one CSV record; quoting is not supported here. */
static int add_mount(const char *spec, json_t *mounts, struct berth_error **err)
{
#define MOUNT_FAIL(...) flag_error(err, "--mount", spec, __VA_ARGS__)
    _cleanup_json_ json_t *m = json_object();
    _cleanup_strv_free_ char **fields = strv_split(spec, ",");
    char type[16] = "volume";
    STRV_FOREACH(fp, fields)
    {
        char *field = *fp;
        char *eq = strchr(field, '=');
        _cleanup_free_ char *key = xstrndup(field, eq ? (size_t)(eq - field) : strlen(field));
        for (char *c = key; *c; c++) {
            *c = (char)tolower((unsigned char)*c);
        }
        if (!eq) {
            if (streq(key, "readonly") || streq(key, "ro")) {
                json_object_set_new(m, "ReadOnly", json_true());
                continue;
            }
            if (streq(key, "volume-nocopy")) {
                json_object_set_new(sub_object(m, "VolumeOptions"), "NoCopy", json_true());
                continue;
            }
            if (streq(key, "bind-nonrecursive")) {
                json_object_set_new(sub_object(m, "BindOptions"), "NonRecursive", json_true());
                continue;
            }
            return MOUNT_FAIL("invalid field '%s' must be a key=value pair", field);
        }
        const char *val = eq + 1;
        bool b;
        if (streq(key, "type")) {
            if (strlen(val) >= sizeof(type)) {
                return MOUNT_FAIL("invalid mount type '%s'", val);
            }
            for (size_t i = 0; i <= strlen(val); i++) {
                type[i] = (char)tolower((unsigned char)val[i]);
            }
        } else if (streq(key, "source") || streq(key, "src")) {
            char *abs = absolutize_dot(val);
            json_object_set_new(m, "Source", json_string(abs));
            free(abs);
        } else if (streq(key, "target") || streq(key, "dst") || streq(key, "destination")) {
            set_str(m, "Target", val);
        } else if (streq(key, "readonly") || streq(key, "ro")) {
            if (go_parse_bool(val, &b) < 0) {
                return MOUNT_FAIL("invalid value for %s: %s", key, val);
            }
            json_object_set_new(m, "ReadOnly", json_boolean(b));
        } else if (streq(key, "consistency")) {
            set_str(m, "Consistency", val);
        } else if (streq(key, "bind-propagation")) {
            set_str(sub_object(m, "BindOptions"), "Propagation", val);
        } else if (streq(key, "bind-nonrecursive") || streq(key, "volume-nocopy")) {
            if (go_parse_bool(val, &b) < 0) {
                return MOUNT_FAIL("invalid value for %s: %s", key, val);
            }
            bool bindopt = key[0] == 'b';
            json_object_set_new(sub_object(m, bindopt ? "BindOptions" : "VolumeOptions"),
                                bindopt ? "NonRecursive" : "NoCopy", json_boolean(b));
        } else if (streq(key, "volume-label")) {
            kv_into_object(sub_object(sub_object(m, "VolumeOptions"), "Labels"), val);
        } else if (streq(key, "volume-driver")) {
            set_str(sub_object(sub_object(m, "VolumeOptions"), "DriverConfig"), "Name", val);
        } else if (streq(key, "volume-opt")) {
            json_t *dc = sub_object(sub_object(m, "VolumeOptions"), "DriverConfig");
            kv_into_object(sub_object(dc, "Options"), val);
        } else if (streq(key, "tmpfs-size")) {
            int64_t sz = 0;
            if (docker_size("--mount", val, &sz, NULL) < 0) {
                return MOUNT_FAIL("invalid value for %s: %s", key, val);
            }
            json_object_set_new(sub_object(m, "TmpfsOptions"), "SizeBytes", json_integer(sz));
        } else if (streq(key, "tmpfs-mode")) {
            char *end;
            errno = 0;
            unsigned long mode = strtoul(val, &end, 8);
            if (!*val || *end || errno || mode > UINT32_MAX || !isdigit((unsigned char)*val)) {
                return MOUNT_FAIL("invalid value for %s: %s", key, val);
            }
            json_object_set_new(sub_object(m, "TmpfsOptions"), "Mode",
                                json_integer((json_int_t)mode));
        } else {
            return MOUNT_FAIL("unexpected key '%s' in '%s'", key, field);
        }
    }
    if (!jhas(m, "Target")) {
        return MOUNT_FAIL("target is required");
    }
    static const struct {
        const char *key, *type;
    } owners[] = {{"VolumeOptions", "volume"}, {"BindOptions", "bind"}, {"TmpfsOptions", "tmpfs"}};
    for (size_t i = 0; i < ARRAY_SIZE(owners); i++) {
        if (json_object_get(m, owners[i].key) && !streq(type, owners[i].type)) {
            return MOUNT_FAIL("cannot mix '%s-*' options with mount type '%s'", owners[i].type,
                              type);
        }
    }
    /* dockerd's validateMountConfig, the part that needs no host access. */
    if (!streq(type, "bind") && !streq(type, "volume") && !streq(type, "tmpfs") &&
        !streq(type, "npipe")) {
        return berth_error_set(err, EINVAL,
                               "invalid mount config for type \"%s\": mount type unknown", type);
    }
    int r = check_mount_target(type, json_string_value(json_object_get(m, "Target")), err);
    if (r < 0) {
        return r;
    }
    if (streq(type, "bind") && !jhas(m, "Source")) {
        return berth_error_set(err, EINVAL,
                               "invalid mount config for type \"bind\": field Source must not be "
                               "empty");
    }
    if (streq(type, "tmpfs") && jhas(m, "Source")) {
        return berth_error_set(err, EINVAL,
                               "invalid mount config for type \"tmpfs\": field Source must not be "
                               "specified");
    }
    set_str(m, "Type", type);
    json_array_append(mounts, m);
    return 0;
#undef MOUNT_FAIL
}

static int build_volumes(struct run_flags *f, json_t *body, json_t *hc, struct berth_error **err)
{
    _cleanup_json_ json_t *volumes = json_object();
    _cleanup_json_ json_t *binds = json_array();
    _cleanup_json_ json_t *mounts = json_array();
    STRV_FOREACH(p, f->volume)
    {
        int r = add_volume(*p, volumes, binds, err);
        if (r < 0) {
            return r;
        }
    }
    STRV_FOREACH(p, f->mount)
    {
        int r = add_mount(*p, mounts, err);
        if (r < 0) {
            return r;
        }
    }
    if (json_object_size(volumes)) {
        json_object_set(body, "Volumes", volumes);
    }
    if (json_array_size(binds)) {
        json_object_set(hc, "Binds", binds);
    }
    if (json_array_size(mounts)) {
        json_object_set(hc, "Mounts", mounts);
    }
    /* Checked against the named containers by container_create. */
    if (f->volumes_from) {
        json_object_set_new(hc, "VolumesFrom", strv_to_json(f->volumes_from));
    }
    if (f->tmpfs) {
        json_t *t = json_object();
        json_object_set_new(hc, "Tmpfs", t);
        STRV_FOREACH(p, f->tmpfs)
        {
            const char *colon = strchr(*p, ':');
            _cleanup_free_ char *path = xstrndup(*p, colon ? (size_t)(colon - *p) : strlen(*p));
            int r = check_mount_target("tmpfs", path, err);
            if (r < 0) {
                return r;
            }
            set_str(t, path, colon ? colon + 1 : "");
        }
    }
    return 0;
}

/* --- host config pieces ------------------------------------------------- */

/* opts.ParseRestartPolicy, then dockerd's validateRestartPolicy. */
static int build_restart(const char *policy, json_t *hc, struct berth_error **err)
{
    const char *colon = strchr(policy, ':');
    _cleanup_free_ char *name = xstrndup(policy, colon ? (size_t)(colon - policy) : strlen(policy));
    int count = 0;
    if (colon) {
        if (strchr(colon + 1, ':')) {
            return berth_error_set(err, EINVAL, "invalid restart policy format");
        }
        if (parse_int(colon + 1, &count) < 0) {
            return berth_error_set(err, EINVAL, "maximum retry count must be an integer");
        }
    }
    if (streq(name, "always") || streq(name, "unless-stopped") || streq(name, "no")) {
        if (count != 0) {
            return berth_error_set(
                err, EINVAL, "maximum retry count cannot be used with restart policy '%s'", name);
        }
    } else if (streq(name, "on-failure")) {
        if (count < 0) {
            return berth_error_set(err, EINVAL, "maximum retry count cannot be negative");
        }
    } else if (*name) {
        return berth_error_set(err, EINVAL, "invalid restart policy '%s'", name);
    }
    json_object_set_new(hc, "RestartPolicy",
                        json_pack("{s:s, s:i}", "Name", name, "MaximumRetryCount", count));
    return 0;
}

/* units.ParseUlimit: name=soft[:hard], hard defaults to soft. */
static int add_ulimit(const char *u, json_t *list, struct berth_error **err)
{
    static const char *const names[] = {"core",    "cpu",      "data",   "fsize",      "locks",
                                        "memlock", "msgqueue", "nice",   "nofile",     "nproc",
                                        "rss",     "rtprio",   "rttime", "sigpending", "stack"};
    static const char flag[] = "--ulimit";
    const char *eq = strchr(u, '=');
    if (!eq) {
        return flag_error(err, flag, u, "invalid ulimit argument: %s", u);
    }
    _cleanup_free_ char *name = xstrndup(u, (size_t)(eq - u));
    bool known = false;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        known = known || streq(name, names[i]);
    }
    if (!known) {
        return flag_error(err, flag, u, "invalid ulimit type: %s", name);
    }
    _cleanup_strv_free_ char **vals = strv_split(eq + 1, ":");
    size_t n = strv_length(vals);
    if (n == 0 || n > 2) {
        return flag_error(err, flag, u,
                          "too many limit value arguments - %s, can only have up to two, "
                          "`soft[:hard]`",
                          eq + 1);
    }
    int64_t soft = 0, hard = 0;
    for (size_t i = 0; i < n; i++) {
        int r = parse_int64(vals[i], i == 0 ? &soft : &hard);
        if (r < 0) {
            return flag_error(err, flag, u, "strconv.ParseInt: parsing \"%s\": %s", vals[i],
                              r == -ERANGE ? "value out of range" : "invalid syntax");
        }
    }
    if (n == 1) {
        hard = soft;
    }
    if (hard != -1 && soft > hard) {
        return flag_error(err, flag, u,
                          "ulimit soft limit must be less than or equal to hard limit: %" PRId64
                          " > %" PRId64,
                          soft, hard);
    }
    json_array_append_new(list, json_pack("{s:s, s:I, s:I}", "Name", name, "Soft", (json_int_t)soft,
                                          "Hard", (json_int_t)hard));
    return 0;
}

static bool valid_device_mode(const char *m)
{
    if (!*m || strlen(m) > 3) {
        return false;
    }
    for (const char *c = m; *c; c++) {
        if (!strchr("rwm", *c) || strchr(c + 1, *c)) {
            return false;
        }
    }
    return true;
}

/* The CLI's validateDevice (validateLinuxPath) then parseLinuxDevice:
 * /dev/x[:/dev/y][:rwm], container path defaulting to the host path. */
static int add_device(const char *d, json_t *list, struct berth_error **err)
{
    static const char flag[] = "--device";
    _cleanup_strv_free_ char **arr = strv_split(d, ":");
    size_t n = strv_length(arr);
    if (n == 0 || n > 3 || !*arr[0]) {
        return flag_error(err, flag, d, "bad format for path: %s", d);
    }
    const char *src = arr[0], *dst = arr[0], *perms = "rwm";
    if (n == 2) {
        if (valid_device_mode(arr[1])) {
            perms = arr[1];
        } else {
            dst = arr[1];
        }
    } else if (n == 3) {
        dst = arr[1];
        perms = arr[2];
        if (!valid_device_mode(perms)) {
            return flag_error(err, flag, d, "bad mode specified: %s", perms);
        }
    }
    if (dst[0] != '/') {
        return flag_error(err, flag, d, "%s is not an absolute path", dst);
    }
    json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "PathOnHost", src, "PathInContainer",
                                          dst, "CgroupPermissions", perms));
    return 0;
}

/* Go's json.Compact: whitespace outside strings removed, nothing else. */
static char *json_compact_text(const char *in)
{
    struct strbuf sb = STRBUF_INIT;
    bool str = false, esc = false;
    for (const char *p = in; *p; p++) {
        if (str) {
            str = esc || *p != '"';
            esc = !esc && *p == '\\';
        } else if (*p == '"') {
            str = true;
        } else if (strchr(" \t\r\n", *p)) {
            continue;
        }
        strbuf_addc(&sb, *p);
    }
    return strbuf_detach(&sb, NULL);
}

/* The CLI's parseSecurityOpts: "key=value" or "key:value"; a seccomp
 * profile file is read here and sent inline, since the daemon (or our
 * monitor) may not see the client's files. */
static int build_security_opts(char **opts, json_t *hc, struct berth_error **err)
{
    if (!opts) {
        return 0;
    }
    json_t *list = json_array();
    json_object_set_new(hc, "SecurityOpt", list);
    STRV_FOREACH(p, opts)
    {
        const char *o = *p;
        const char *sep = strchr(o, '=');
        if (!sep && !streq(o, "no-new-privileges")) {
            sep = strchr(o, ':');
            if (!sep) {
                return berth_error_set(err, EINVAL, "Invalid --security-opt: \"%s\"", o);
            }
        }
        if (sep && strneq(o, "seccomp", (size_t)(sep - o)) && sep - o == 7 &&
            !streq(sep + 1, "unconfined")) {
            const char *file = sep + 1;
            _cleanup_free_ char *buf = NULL;
            size_t len;
            struct berth_error *e = NULL;
            int r = read_file_at(AT_FDCWD, file, SECCOMP_FILE_MAX, &buf, &len, &e);
            if (r < 0) {
                r = berth_error_set(err, -r, "opening seccomp profile (%s) failed: %s", file,
                                    e ? e->msg : "read error");
                berth_error_free(e);
                return r;
            }
            json_error_t je;
            _cleanup_json_ json_t *check = json_loadb(buf, len, JSON_DECODE_ANY, &je);
            if (!check) {
                return berth_error_set(err, EINVAL,
                                       "compacting json for seccomp profile (%s) failed: %s", file,
                                       je.text);
            }
            _cleanup_free_ char *compact = json_compact_text(buf);
            json_array_append_new(list, json_sprintf("seccomp=%s", compact));
            continue;
        }
        json_array_append_new(list, json_string(o));
    }
    return 0;
}

/* opts.ValidateDNSSearch: "." or a domain name. */
static int dns_search_domain(const char *val, char **ret)
{
    size_t b = 0, e = strlen(val);
    while (val[b] == ' ') {
        b++;
    }
    while (e > b && val[e - 1] == ' ') {
        e--;
    }
    _cleanup_free_ char *v = xstrndup(val + b, e - b);
    if (streq(v, ".")) {
        *ret = TAKE_PTR(v);
        return 0;
    }
    size_t len = strlen(v);
    while (len && isspace((unsigned char)v[len - 1])) {
        v[--len] = '\0';
    }
    if (len && v[len - 1] == '.') {
        v[--len] = '\0';
    }
    bool alpha = false;
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = v[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || v[i - 1] == '-') {
                return -EINVAL;
            }
            label = 0;
        } else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
            alpha = alpha || isalpha((unsigned char)c);
            label++;
        } else {
            return -EINVAL;
        }
    }
    if (!alpha || len >= 255) {
        return -EINVAL;
    }
    *ret = TAKE_PTR(v);
    return 0;
}

static int build_network(struct run_flags *f, json_t *hc, struct berth_error **err)
{
    if (f->add_host) {
        STRV_FOREACH(p, f->add_host)
        {
            const char *colon = strchr(*p, ':');
            if (!colon || colon == *p) {
                return flag_error(err, "--add-host", *p, "bad format for add-host: \"%s\"", *p);
            }
            if (!streq(colon + 1, "host-gateway") && !valid_ip(colon + 1)) {
                return flag_error(err, "--add-host", *p, "invalid IP address in add-host: \"%s\"",
                                  colon + 1);
            }
        }
        json_object_set_new(hc, "ExtraHosts", strv_to_json(f->add_host));
    }
    if (f->dns) {
        json_t *list = json_array();
        json_object_set_new(hc, "Dns", list);
        STRV_FOREACH(p, f->dns)
        {
            _cleanup_free_ char *ip = canonical_ip(*p);
            if (!ip) {
                return flag_error(err, "--dns", *p, "%s is not an ip address", *p);
            }
            json_array_append_new(list, json_string(ip));
        }
    }
    if (f->dns_search) {
        json_t *list = json_array();
        json_object_set_new(hc, "DnsSearch", list);
        STRV_FOREACH(p, f->dns_search)
        {
            _cleanup_free_ char *d = NULL;
            if (dns_search_domain(*p, &d) < 0) {
                return flag_error(err, "--dns-search", *p, "%s is not a valid domain", *p);
            }
            json_array_append_new(list, json_string(d));
        }
    }
    if (f->network) {
        set_str(hc, "NetworkMode", f->network);
    }
    return 0;
}

static int build_resources(struct run_flags *f, json_t *hc, struct berth_error **err)
{
    static const struct {
        const char *flag, *key;
        size_t off;
    } sizes[] = {
        {"-m, --memory", "Memory", offsetof(struct run_flags, memory)},
        {"--memory-reservation", "MemoryReservation",
         offsetof(struct run_flags, memory_reservation)},
        {"--shm-size", "ShmSize", offsetof(struct run_flags, shm_size)},
    };
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        const char *v = *(const char **)((char *)f + sizes[i].off);
        int64_t n = 0;
        if (!v) {
            continue;
        }
        int r = docker_size(sizes[i].flag, v, &n, err);
        if (r < 0) {
            return r;
        }
        json_object_set_new(hc, sizes[i].key, json_integer(n));
    }
    if (f->memory_swap) {
        int64_t n = -1;
        if (!streq(f->memory_swap, "-1")) {
            int r = docker_size("--memory-swap", f->memory_swap, &n, err);
            if (r < 0) {
                return r;
            }
        }
        json_object_set_new(hc, "MemorySwap", json_integer(n));
    }
    if (f->cpus) {
        int64_t n = 0;
        int r = parse_nano_cpus(f->cpus, &n, err);
        if (r < 0) {
            return r;
        }
        json_object_set_new(hc, "NanoCpus", json_integer(n));
    }
    if (f->cpu_shares) {
        int64_t n = 0;
        int r = go_parse_int64("-c, --cpu-shares", f->cpu_shares, &n, err);
        if (r < 0) {
            return r;
        }
        json_object_set_new(hc, "CpuShares", json_integer(n));
    }
    if (f->pids_limit) {
        int64_t n = 0;
        int r = go_parse_int64("--pids-limit", f->pids_limit, &n, err);
        if (r < 0) {
            return r;
        }
        json_object_set_new(hc, "PidsLimit", json_integer(n));
    }
    if (f->cpuset_cpus) {
        set_str(hc, "CpusetCpus", f->cpuset_cpus);
    }
    if (f->oom_seen) {
        json_object_set_new(hc, "OomKillDisable", json_boolean(f->oom_kill_disable));
    }
    if (f->ulimit) {
        json_t *list = json_array();
        json_object_set_new(hc, "Ulimits", list);
        STRV_FOREACH(p, f->ulimit)
        {
            int r = add_ulimit(*p, list, err);
            if (r < 0) {
                return r;
            }
        }
    }
    if (f->device) {
        json_t *list = json_array();
        json_object_set_new(hc, "Devices", list);
        STRV_FOREACH(p, f->device)
        {
            int r = add_device(*p, list, err);
            if (r < 0) {
                return r;
            }
        }
    }
    return 0;
}

static int build_host_config(struct run_flags *f, json_t *hc, struct berth_error **err)
{
    if (f->rm) {
        json_object_set_new(hc, "AutoRemove", json_true());
    }
    if (f->restart) {
        int r = build_restart(f->restart, hc, err);
        if (r < 0) {
            return r;
        }
        const char *name =
            json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"), "Name"));
        if (f->rm && *name && !streq(name, "no")) {
            return berth_error_set(err, EINVAL, "Conflicting options: --restart and --rm");
        }
    }
    if (f->init_seen) {
        json_object_set_new(hc, "Init", json_boolean(f->init));
    }
    if (f->read_only) {
        json_object_set_new(hc, "ReadonlyRootfs", json_true());
    }
    if (f->privileged) {
        json_object_set_new(hc, "Privileged", json_true());
    }
    if (f->cap_add) {
        json_object_set_new(hc, "CapAdd", strv_to_json(f->cap_add));
    }
    if (f->cap_drop) {
        json_object_set_new(hc, "CapDrop", strv_to_json(f->cap_drop));
    }
    if (f->group_add) {
        json_object_set_new(hc, "GroupAdd", strv_to_json(f->group_add));
    }
    int r = build_security_opts(f->security_opt, hc, err);
    if (r < 0) {
        return r;
    }
    r = build_resources(f, hc, err);
    if (r < 0) {
        return r;
    }
    if (f->log_driver || f->log_opt) {
        if (!monitor_log_driver_supported(f->log_driver)) {
            /* Docker's daemon message; berth has json-file, k8s-file and
             * none (no plugins, no journald/syslog/... yet). */
            return berth_error_set(err, EINVAL, "logger: no log driver named '%s' is registered",
                                   f->log_driver);
        }
        if (f->log_driver && streq(f->log_driver, "none") && f->log_opt) {
            return berth_error_set(err, EINVAL, "invalid logging opts for driver none");
        }
        json_t *lc = json_object();
        json_object_set_new(hc, "LogConfig", lc);
        set_str(lc, "Type", f->log_driver ? f->log_driver : "");
        json_t *cfg = json_object();
        json_object_set_new(lc, "Config", cfg);
        STRV_FOREACH(p, f->log_opt)
        {
            kv_into_object(cfg, *p);
        }
    }
    return build_network(f, hc, err);
}

/* Docker's CLI sends --ip, --ip6, --network-alias and --mac-address as the
 * endpoint settings of the one network given (NetworkingConfig), keyed by
 * the --network value ("default" when none): the daemon checks them against
 * that network (network-attach.h). */
static int build_endpoint_config(struct run_flags *f, json_t *body, struct berth_error **err)
{
    if (!f->ip && !f->ip6 && !f->mac_address && !f->network_alias) {
        return 0;
    }
    json_t *ep = json_object();
    if (f->ip || f->ip6) {
        json_t *ipam = json_object();
        if (f->ip) {
            if (!valid_ip(f->ip) || strchr(f->ip, ':')) {
                json_decref(ipam);
                json_decref(ep);
                return flag_error(err, "--ip", f->ip, "invalid IPv4 address: %s", f->ip);
            }
            set_str(ipam, "IPv4Address", f->ip);
        }
        if (f->ip6) {
            if (!valid_ip(f->ip6) || !strchr(f->ip6, ':')) {
                json_decref(ipam);
                json_decref(ep);
                return flag_error(err, "--ip6", f->ip6, "invalid IPv6 address: %s", f->ip6);
            }
            set_str(ipam, "IPv6Address", f->ip6);
        }
        json_object_set_new(ep, "IPAMConfig", ipam);
    }
    if (f->network_alias) {
        json_object_set_new(ep, "Aliases", strv_to_json(f->network_alias));
    }
    if (f->mac_address) {
        set_str(ep, "MacAddress", f->mac_address);
    }
    json_t *eps = json_object();
    json_object_set_new(eps, f->network && *f->network ? f->network : "default", ep);
    json_object_set_new(body, "NetworkingConfig", json_pack("{s:o}", "EndpointsConfig", eps));
    return 0;
}

/* --- the Config part ---------------------------------------------------- */

static int build_healthcheck(struct run_flags *f, json_t *body, struct berth_error **err)
{
    static const struct {
        const char *flag, *key, *what;
        size_t off;
    } durations[] = {
        {"--health-interval", "Interval", "--health-interval",
         offsetof(struct run_flags, health_interval)},
        {"--health-timeout", "Timeout", "--health-timeout",
         offsetof(struct run_flags, health_timeout)},
        {"--health-start-period", "StartPeriod", "--health-start-period",
         offsetof(struct run_flags, health_start_period)},
    };
    _cleanup_json_ json_t *hc = json_object();
    bool have = f->health_cmd && *f->health_cmd;
    if (have) {
        json_object_set_new(hc, "Test", json_pack("[s, s]", "CMD-SHELL", f->health_cmd));
    }
    for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
        const char *v = *(const char **)((char *)f + durations[i].off);
        int64_t ns = 0;
        if (!v) {
            continue;
        }
        int r = go_duration(durations[i].flag, v, &ns, err);
        if (r < 0) {
            return r;
        }
        if (ns < 0) {
            return berth_error_set(err, EINVAL, "%s cannot be negative", durations[i].what);
        }
        if (ns) {
            have = true;
            json_object_set_new(hc, durations[i].key, json_integer(ns));
        }
    }
    if (f->health_retries) {
        int n = 0;
        int r = parse_int(f->health_retries, &n);
        if (r < 0) {
            return flag_error(err, "--health-retries", f->health_retries,
                              "strconv.ParseInt: parsing \"%s\": %s", f->health_retries,
                              r == -ERANGE ? "value out of range" : "invalid syntax");
        }
        if (n < 0) {
            return berth_error_set(err, EINVAL, "--health-retries cannot be negative");
        }
        if (n) {
            have = true;
            json_object_set_new(hc, "Retries", json_integer(n));
        }
    }
    if (f->no_healthcheck) {
        if (have) {
            return berth_error_set(err, EINVAL,
                                   "--no-healthcheck conflicts with --health-* options");
        }
        json_object_set_new(body, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
    } else if (have) {
        json_object_set(body, "Healthcheck", hc);
    }
    return 0;
}

/* The docker CLI's stream rules: -a picks streams (validated), none given
 * means stdout+stderr; -i adds stdin and keeps it open; an attached open
 * stdin closes when the client detaches (StdinOnce). -d attaches nothing. */
static int build_attach(struct run_flags *f, json_t *body, struct berth_error **err)
{
    bool in = false, out = false, errs = false;
    STRV_FOREACH(p, f->attach)
    {
        if (!strcasecmp(*p, "stdin")) {
            in = true;
        } else if (!strcasecmp(*p, "stdout")) {
            out = true;
        } else if (!strcasecmp(*p, "stderr")) {
            errs = true;
        } else {
            return flag_error(err, "-a, --attach", *p,
                              "valid streams are STDIN, STDOUT and STDERR");
        }
    }
    if (f->interactive) {
        in = true;
    }
    if (!f->attach) {
        out = errs = true;
    }
    bool once = f->interactive && in;
    if (f->detach) {
        if (f->attach) {
            return berth_error_set(err, EINVAL, "Conflicting options: -a and -d");
        }
        in = out = errs = once = false;
    }
    json_object_set_new(body, "AttachStdin", json_boolean(in));
    json_object_set_new(body, "AttachStdout", json_boolean(out));
    json_object_set_new(body, "AttachStderr", json_boolean(errs));
    json_object_set_new(body, "Tty", json_boolean(f->tty));
    json_object_set_new(body, "OpenStdin", json_boolean(f->interactive));
    json_object_set_new(body, "StdinOnce", json_boolean(once));
    return 0;
}

static int build_body(struct run_flags *f, char **args, json_t *body, struct berth_error **err)
{
    set_str(body, "Image", args[0]);
    if (args[1]) {
        json_object_set_new(body, "Cmd", strv_to_json(args + 1));
    }
    if (f->entrypoint_seen) {
        json_object_set_new(body, "Entrypoint", json_pack("[s]", f->entrypoint));
    }
    int r = build_env(f, body, err);
    if (r < 0) {
        return r;
    }
    r = build_labels(f, body, err);
    if (r < 0) {
        return r;
    }
    if (f->workdir) {
        if (f->workdir[0] != '/') {
            return berth_error_set(
                err, EINVAL,
                "the working directory '%s' is invalid, it needs to be an absolute path",
                f->workdir);
        }
        set_str(body, "WorkingDir", f->workdir);
    }
    const char *strs[][2] = {{"User", f->user},
                             {"Hostname", f->hostname},
                             {"Domainname", f->domainname},
                             {"StopSignal", f->stop_signal}};
    for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
        if (strs[i][1]) {
            set_str(body, strs[i][0], strs[i][1]);
        }
    }
    if (f->stop_timeout) {
        int n = 0;
        r = parse_int(f->stop_timeout, &n);
        if (r < 0) {
            return flag_error(err, "--stop-timeout", f->stop_timeout,
                              "strconv.ParseInt: parsing \"%s\": %s", f->stop_timeout,
                              r == -ERANGE ? "value out of range" : "invalid syntax");
        }
        json_object_set_new(body, "StopTimeout", json_integer(n));
    }
    r = build_attach(f, body, err);
    if (r < 0) {
        return r;
    }
    r = build_healthcheck(f, body, err);
    if (r < 0) {
        return r;
    }
    json_t *hc = json_object();
    json_object_set_new(body, "HostConfig", hc);
    r = build_ports(f, body, hc, err);
    if (r < 0) {
        return r;
    }
    r = build_volumes(f, body, hc, err);
    if (r < 0) {
        return r;
    }
    r = build_host_config(f, hc, err);
    if (r < 0) {
        return r;
    }
    return build_endpoint_config(f, body, err);
}

int container_create_body_from_flags(int argc, char **argv, json_t **ret_body,
                                     struct create_cli_opts *ret_opts, struct berth_error **err)
{
    _cleanup_(run_flags_release) struct run_flags f = {.sig_proxy = true};
    /* Hidden flags (help NULL) are ones docker has that a front end's
     * --help need not list; all are accepted. */
    const struct opt_def defs[] = {
        {"attach", 'a', OPT_LIST, &f.attach, "Attach to STDIN, STDOUT or STDERR", NULL},
        {"add-host", 0, OPT_LIST, &f.add_host, "Add a custom host-to-IP mapping (host:ip)", NULL},
        {"cap-add", 0, OPT_LIST, &f.cap_add, "Add Linux capabilities", NULL},
        {"cap-drop", 0, OPT_LIST, &f.cap_drop, "Drop Linux capabilities", NULL},
        {"cidfile", 0, OPT_STRING, &f.cidfile, "Write the container ID to the file", NULL},
        {"cpu-shares", 'c', OPT_STRING, &f.cpu_shares, "CPU shares (relative weight)", NULL},
        {"cpus", 0, OPT_STRING, &f.cpus, "Number of CPUs", NULL},
        {"cpuset-cpus", 0, OPT_STRING, &f.cpuset_cpus, "CPUs in which to allow execution", NULL},
        {"detach", 'd', OPT_BOOL, &f.detach, "Run container in background and print container ID",
         NULL},
        {"detach-keys", 0, OPT_STRING, &f.detach_keys, "Override the key sequence for detaching",
         NULL},
        {"device", 0, OPT_LIST, &f.device, "Add a host device to the container", NULL},
        {"dns", 0, OPT_LIST, &f.dns, "Set custom DNS servers", NULL},
        {"dns-search", 0, OPT_LIST, &f.dns_search, "Set custom DNS search domains", NULL},
        {"domainname", 0, OPT_STRING, &f.domainname, "Container NIS domain name", NULL},
        {"entrypoint", 0, OPT_STRING, &f.entrypoint, "Overwrite the default ENTRYPOINT",
         &f.entrypoint_seen},
        {"env", 'e', OPT_LIST, &f.env, "Set environment variables", NULL},
        {"env-file", 0, OPT_LIST, &f.env_file, "Read in a file of environment variables", NULL},
        {"expose", 0, OPT_LIST, &f.expose, "Expose a port or a range of ports", NULL},
        {"group-add", 0, OPT_LIST, &f.group_add, "Add additional groups to join", NULL},
        {"health-cmd", 0, OPT_STRING, &f.health_cmd, "Command to run to check health", NULL},
        {"health-interval", 0, OPT_STRING, &f.health_interval, "Time between running the check",
         NULL},
        {"health-retries", 0, OPT_STRING, &f.health_retries,
         "Consecutive failures needed to report unhealthy", NULL},
        {"health-start-period", 0, OPT_STRING, &f.health_start_period,
         "Start period for the container to initialize", NULL},
        {"health-timeout", 0, OPT_STRING, &f.health_timeout, "Maximum time to allow one check",
         NULL},
        {"hostname", 'h', OPT_STRING, &f.hostname, "Container host name", NULL},
        {"init", 0, OPT_BOOL, &f.init, "Run an init inside the container", &f.init_seen},
        {"interactive", 'i', OPT_BOOL, &f.interactive, "Keep STDIN open even if not attached",
         NULL},
        {"label", 'l', OPT_LIST, &f.label, "Set meta data on a container", NULL},
        {"label-file", 0, OPT_LIST, &f.label_file, "Read in a line delimited file of labels", NULL},
        {"log-driver", 0, OPT_STRING, &f.log_driver, "Logging driver for the container", NULL},
        {"log-opt", 0, OPT_LIST, &f.log_opt, "Log driver options", NULL},
        {"memory", 'm', OPT_STRING, &f.memory, "Memory limit", NULL},
        {"memory-reservation", 0, OPT_STRING, &f.memory_reservation, "Memory soft limit", NULL},
        {"memory-swap", 0, OPT_STRING, &f.memory_swap,
         "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", NULL},
        {"mount", 0, OPT_LIST, &f.mount, "Attach a filesystem mount to the container", NULL},
        {"name", 0, OPT_STRING, &f.name, "Assign a name to the container", NULL},
        {"network", 0, OPT_STRING, &f.network, "Connect a container to a network", NULL},
        {"network-alias", 0, OPT_LIST, &f.network_alias,
         "Add network-scoped alias for the container", NULL},
        {"ip", 0, OPT_STRING, &f.ip, "IPv4 address (e.g., 172.30.100.104)", NULL},
        {"ip6", 0, OPT_STRING, &f.ip6, "IPv6 address (e.g., 2001:db8::33)", NULL},
        {"mac-address", 0, OPT_STRING, &f.mac_address,
         "Container MAC address (e.g., 92:d0:c6:0a:29:33)", NULL},
        {"net", 0, OPT_STRING, &f.network, NULL, NULL},
        {"no-healthcheck", 0, OPT_BOOL, &f.no_healthcheck,
         "Disable any container-specified HEALTHCHECK", NULL},
        {"oom-kill-disable", 0, OPT_BOOL, &f.oom_kill_disable, "Disable OOM Killer", &f.oom_seen},
        {"pids-limit", 0, OPT_STRING, &f.pids_limit, "Tune container pids limit", NULL},
        {"platform", 0, OPT_STRING, &f.platform, "Set platform if server is multi-platform capable",
         NULL},
        {"privileged", 0, OPT_BOOL, &f.privileged, "Give extended privileges to this container",
         NULL},
        {"publish", 'p', OPT_LIST, &f.publish, "Publish a container's port(s) to the host", NULL},
        {"publish-all", 'P', OPT_BOOL, &f.publish_all, "Publish all exposed ports to random ports",
         NULL},
        {"pull", 0, OPT_STRING, &f.pull,
         "Pull image before running (\"always\"|\"missing\"|\"never\")", NULL},
        {"read-only", 0, OPT_BOOL, &f.read_only,
         "Mount the container's root filesystem as read only", NULL},
        {"restart", 0, OPT_STRING, &f.restart, "Restart policy to apply when a container exits",
         NULL},
        {"rm", 0, OPT_BOOL, &f.rm, "Automatically remove the container when it exits", NULL},
        {"security-opt", 0, OPT_LIST, &f.security_opt, "Security Options", NULL},
        {"shm-size", 0, OPT_STRING, &f.shm_size, "Size of /dev/shm", NULL},
        {"sig-proxy", 0, OPT_BOOL, &f.sig_proxy, "Proxy received signals to the process", NULL},
        {"stop-signal", 0, OPT_STRING, &f.stop_signal, "Signal to stop a container", NULL},
        {"stop-timeout", 0, OPT_STRING, &f.stop_timeout, "Timeout (in seconds) to stop a container",
         NULL},
        {"tmpfs", 0, OPT_LIST, &f.tmpfs, "Mount a tmpfs directory", NULL},
        {"tty", 't', OPT_BOOL, &f.tty, "Allocate a pseudo-TTY", NULL},
        {"ulimit", 0, OPT_LIST, &f.ulimit, "Ulimit options", NULL},
        {"user", 'u', OPT_STRING, &f.user, "Username or UID (format: <name|uid>[:<group|gid>])",
         NULL},
        {"volume", 'v', OPT_LIST, &f.volume, "Bind mount a volume", NULL},
        {"volumes-from", 0, OPT_LIST, &f.volumes_from,
         "Mount volumes from the specified container(s)", NULL},
        {"workdir", 'w', OPT_STRING, &f.workdir, "Working directory inside the container", NULL},
        {0},
    };
    for (int i = 0; i < argc; i++) {
        if (!utf8_ok(argv[i])) {
            return berth_error_set(err, EINVAL, "argument %d is not valid utf-8", i + 1);
        }
    }
    _cleanup_strv_free_ char **args = NULL;
    int r = opts_parse(defs, argc, argv, 0, &args, err);
    if (r < 0) {
        return r;
    }
    if (!args || !args[0]) {
        return berth_error_set(err, EINVAL, "requires at least 1 argument");
    }
    if (f.pull && !streq(f.pull, "missing") && !streq(f.pull, "always") &&
        !streq(f.pull, "never")) {
        return berth_error_set(err, EINVAL,
                               "invalid pull option: '%s': must be one of \"always\", \"missing\" "
                               "or \"never\"",
                               f.pull);
    }
    _cleanup_json_ json_t *body = json_object();
    r = build_body(&f, args, body, err);
    if (r < 0) {
        return r;
    }
    {
        if (ret_opts) {
            *ret_opts = (struct create_cli_opts){
                .detach = f.detach,
                .name = f.name ? xstrdup(f.name) : NULL,
                .cidfile = f.cidfile ? xstrdup(f.cidfile) : NULL,
                .platform = f.platform ? xstrdup(f.platform) : NULL,
                .pull = xstrdup(f.pull ? f.pull : "missing"),
                .sig_proxy = f.sig_proxy,
                .detach_keys = f.detach_keys ? xstrdup(f.detach_keys) : NULL,
            };
        }
        if (ret_body) {
            *ret_body = TAKE_PTR(body);
        }
    }
    return 0;
}
