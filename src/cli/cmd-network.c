/* cmd-network.c - `berth network create|ls|inspect|rm|prune|connect|
 * disconnect`: flags into Docker's NetworkCreate body and filters, one
 * networks.h call, Docker's output. connect/disconnect plumb a running
 * container through container/network-attach.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "basic/units.h"
#include "cli/commands.h"
#include "libberth/common/json-util.h"
#include "libberth/common/template.h"
#include "libberth/container/network-attach.h"
#include "libberth/net/ipam.h"
#include "libberth/net/networks.h"

#define NETWORK_TABLE "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

/* "k=v" pairs (--label, --opt) into an object; a bare "k" is k="". */
static json_t *kv_object(char **list)
{
    json_t *o = json_object();
    STRV_FOREACH(kv, list)
    {
        const char *eq = strchr(*kv, '=');
        _cleanup_free_ char *k = eq ? xstrndup(*kv, (size_t)(eq - *kv)) : xstrdup(*kv);
        json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
    }
    return o;
}

/* Docker's CLI pairs each --gateway and --ip-range with the --subnet that
 * contains it; with a single subnet a stray one goes to it, so the daemon's
 * "not in subnet" error names both. */
static int attach_to_subnet(json_t *cfgs, const char *key, const char *value, bool is_range,
                            struct berth_error **err)
{
    struct ipam_prefix v;
    int r =
        is_range ? ipam_parse_subnet(value, 0, &v, NULL) : ipam_parse_addr(value, 0, key, &v, NULL);
    size_t i;
    json_t *c;
    json_array_foreach(cfgs, i, c)
    {
        struct ipam_prefix sn;
        if (r == 0 &&
            ipam_parse_subnet(json_string_value(json_object_get(c, "Subnet")), 0, &sn, NULL) == 0 &&
            ipam_contains(&sn, &v)) {
            if (json_object_get(c, key)) {
                return berth_error_set(err, EINVAL,
                                       "cannot configure multiple %s for the same subnet",
                                       is_range ? "ranges" : "gateways");
            }
            json_object_set_new(c, key, json_string(value));
            return 0;
        }
    }
    if (json_array_size(cfgs) == 0) {
        return berth_error_set(err, EINVAL,
                               "every ip-range or gateway must have a corresponding subnet");
    }
    if (json_array_size(cfgs) == 1 && !json_object_get(json_array_get(cfgs, 0), key)) {
        json_object_set_new(json_array_get(cfgs, 0), key, json_string(value));
        return 0;
    }
    return berth_error_set(err, EINVAL, "no matching subnet for %s %s",
                           is_range ? "range" : "gateway", value);
}

int cmd_network_create(struct cli *cli, int argc, char **argv)
{
    const char *driver = NULL;
    bool internal = false, ipv6 = false, attachable = false;
    _cleanup_strv_free_ char **subnets = NULL, **gateways = NULL, **ranges = NULL, **labels = NULL,
                             **opts = NULL;
    const struct opt_def defs[] = {
        {"driver", 'd', OPT_STRING, &driver, "Driver to manage the Network (default \"bridge\")",
         NULL},
        {"subnet", 0, OPT_LIST, &subnets, "Subnet in CIDR format that represents a network segment",
         NULL},
        {"gateway", 0, OPT_LIST, &gateways, "IPv4 or IPv6 Gateway for the master subnet", NULL},
        {"ip-range", 0, OPT_LIST, &ranges, "Allocate container ip from a sub-range", NULL},
        {"internal", 0, OPT_BOOL, &internal, "Restrict external access to the network", NULL},
        {"ipv6", 0, OPT_BOOL, &ipv6, "Enable IPv6 networking", NULL},
        {"attachable", 0, OPT_BOOL, &attachable, "Enable manual container attachment", NULL},
        {"label", 0, OPT_LIST, &labels, "Set metadata on a network", NULL},
        {"opt", 'o', OPT_LIST, &opts, "Set driver specific options", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    json_t *cfgs = json_array();
    STRV_FOREACH(sn, subnets)
    {
        json_array_append_new(cfgs, json_pack("{s:s}", "Subnet", *sn));
    }
    _cleanup_json_ json_t *req =
        json_pack("{s:s,s:s,s:b,s:b,s:b,s:{s:s,s:o},s:o,s:o}", "Name", args[0], "Driver",
                  driver ? driver : "bridge", "Internal", internal, "Attachable", attachable,
                  "EnableIPv6", ipv6, "IPAM", "Driver", "default", "Config", cfgs, "Options",
                  kv_object(opts), "Labels", kv_object(labels));
    STRV_FOREACH(g, gateways)
    {
        if (attach_to_subnet(cfgs, "Gateway", *g, false, &err) < 0) {
            return cli_fail(err, 1);
        }
    }
    STRV_FOREACH(g, ranges)
    {
        if (attach_to_subnet(cfgs, "IPRange", *g, true, &err) < 0) {
            return cli_fail(err, 1);
        }
    }
    struct store *s;
    _cleanup_(network_freep) struct network *n = NULL;
    if (cli_store(cli, &s, &err) < 0 || network_create(s, req, &n, &err) < 0) {
        return cli_fail(err, 1);
    }
    printf("%s\n", n->id);
    return 0;
}

/* Docker's filters: values of one key are OR'ed, keys AND'ed. */
static bool filter_key_matches(char **filters, const char *key, const struct network *n)
{
    bool seen = false, hit = false;
    size_t kl = strlen(key);
    STRV_FOREACH(f, filters)
    {
        bool neg = strncmp(*f, "label!=", 7) == 0 && streq(key, "label");
        if (!neg && !(strncmp(*f, key, kl) == 0 && (*f)[kl] == '=')) {
            continue;
        }
        seen = true;
        const char *v = *f + kl + (neg ? 2 : 1);
        if (streq(key, "driver")) {
            hit = hit || streq(n->driver, v);
        } else if (streq(key, "id")) {
            hit = hit || strncmp(n->id, v, strlen(v)) == 0;
        } else if (streq(key, "name")) {
            hit = hit || strstr(n->name, v) != NULL;
        } else if (streq(key, "type")) {
            hit = hit || (streq(v, "custom") && !n->predefined) ||
                  (streq(v, "builtin") && n->predefined);
        } else if (streq(key, "label")) {
            const char *eq = strchr(v, '=');
            _cleanup_free_ char *k = eq ? xstrndup(v, (size_t)(eq - v)) : xstrdup(v);
            const char *have = json_string_value(json_object_get(n->labels, k));
            bool m = have && (!eq || streq(have, eq + 1));
            hit = hit || (neg ? !m : m);
        }
    }
    return !seen || hit;
}

static int check_filters(char **filters, bool prune, struct berth_error **err)
{
    static const char *const ls_keys[] = {"driver", "id", "label", "name", "type", NULL};
    static const char *const prune_keys[] = {"label", "until", NULL};
    STRV_FOREACH(f, filters)
    {
        const char *eq = strchr(*f, '=');
        size_t kl = eq ? (size_t)(eq - *f) : strlen(*f);
        if (kl > 0 && (*f)[kl - 1] == '!') {
            kl--;
        }
        bool ok = false;
        for (const char *const *k = prune ? prune_keys : ls_keys; *k && eq; k++) {
            ok = ok || (strlen(*k) == kl && strneq(*f, *k, kl));
        }
        if (!eq) {
            return berth_error_set(err, EINVAL, "bad format of filter (expected name=value)");
        }
        if (!ok) {
            return berth_error_set(err, EINVAL, "invalid filter '%.*s'", (int)kl, *f);
        }
        if (strneq(*f, "type=", 5) && !streq(eq + 1, "custom") && !streq(eq + 1, "builtin")) {
            return berth_error_set(err, EINVAL, "invalid filter: 'type'='%s'", eq + 1);
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_network_ls(struct cli *cli, int argc, char **argv)
{
    bool quiet = false, no_trunc = false;
    const char *format = NULL;
    _cleanup_strv_free_ char **filters = NULL;
    const struct opt_def defs[] = {
        {"filter", 'f', OPT_LIST, &filters, "Provide filter values (e.g. 'driver=bridge')", NULL},
        {"format", 0, OPT_STRING, &format, "Pretty-print networks using a Go template", NULL},
        {"no-trunc", 0, OPT_BOOL, &no_trunc, "Do not truncate the output", NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "Only display network IDs", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    if (check_filters(filters, false, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct store *s;
    struct network **l = NULL;
    size_t n = 0;
    if (cli_store(cli, &s, &err) < 0 || network_list(s, &l, &n, &err) < 0) {
        return cli_fail(err, 1);
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        struct network *x = l[i];
        static const char *const keys[] = {"driver", "id", "label", "name", "type"};
        bool ok = true;
        for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
            ok = ok && filter_key_matches(filters, keys[k], x);
        }
        if (!ok) {
            continue;
        }
        /* Sorted by key, so the column is stable (Go's map order is not). */
        _cleanup_strv_free_ char **lkeys = NULL;
        const char *k;
        json_t *v;
        json_object_foreach(x->labels, k, v)
        {
            strv_push(&lkeys, k);
        }
        if (lkeys) {
            qsort(lkeys, strv_length(lkeys), sizeof(char *), cmp_str);
        }
        struct strbuf lb = STRBUF_INIT;
        STRV_FOREACH(key, lkeys)
        {
            strbuf_addf(&lb, "%s%s=%s", lb.len ? "," : "", *key,
                        json_string_value(json_object_get(x->labels, *key)));
        }
        _cleanup_free_ char *id = no_trunc ? xstrdup(x->id) : xstrndup(x->id, 12);
        json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", id, "Name",
                                              x->name, "Driver", x->driver, "Scope", "local",
                                              "IPv6", x->enable_ipv6 ? "true" : "false", "Internal",
                                              x->internal ? "true" : "false", "Labels",
                                              strbuf_str(&lb), "CreatedAt", x->created));
        strbuf_release(&lb);
    }
    network_list_free(l, n);
    json_t *headers =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "NETWORK ID", "Name", "NAME", "Driver",
                  "DRIVER", "Scope", "SCOPE", "IPv6", "IPV6", "Internal", "INTERNAL", "Labels",
                  "LABELS", "CreatedAt", "CREATED AT");
    int code = cli_print_rows(quiet ? "{{.ID}}" : format, NETWORK_TABLE, headers, rows);
    json_decref(headers);
    json_decref(rows);
    return code;
}

int cmd_network_inspect(struct cli *cli, int argc, char **argv)
{
    const char *format = NULL;
    bool verbose = false;
    const struct opt_def defs[] = {
        {"format", 'f', OPT_STRING, &format, "Format the output using the given Go template", NULL},
        {"verbose", 'v', OPT_BOOL, &verbose, "Verbose output for diagnostics", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    _cleanup_(template_freep) struct template *t = NULL;
    if (format && *format && template_parse(format, NULL, &t, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    json_t *all = json_array();
    struct strbuf out = STRBUF_INIT;
    int code = 0;
    STRV_FOREACH(name, args)
    {
        _cleanup_(network_freep) struct network *n = NULL;
        json_t *j = NULL;
        err = NULL;
        if (network_get(s, *name, &n, &err) < 0 || network_inspect(s, n, &j, &err) < 0) {
            code = cli_fail(err, 1);
            continue;
        }
        if (t) {
            if (template_execute(t, j, &out, &err) < 0) {
                json_decref(j);
                code = cli_fail(err, 1);
                break;
            }
            strbuf_addc(&out, '\n');
            json_decref(j);
        } else {
            json_array_append_new(all, j);
        }
    }
    if (t) {
        fwrite(strbuf_str(&out), 1, out.len, stdout);
    } else if (json_array_size(all) > 0 || code == 0) {
        cli_print_json(all);
    }
    strbuf_release(&out);
    json_decref(all);
    return code;
}

int cmd_network_rm(struct cli *cli, int argc, char **argv)
{
    bool force = false;
    const struct opt_def defs[] = {
        {"force", 'f', OPT_BOOL, &force, "Do not error if the network does not exist", NULL},
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
    int code = 0;
    STRV_FOREACH(name, args)
    {
        err = NULL;
        r = network_attach_remove(s, *name, &err);
        if (r == -ENOENT && force) {
            berth_error_free(err);
            continue;
        }
        if (r < 0) {
            code = cli_fail(err, 1);
            continue;
        }
        printf("%s\n", *name);
    }
    return code;
}

int cmd_network_prune(struct cli *cli, int argc, char **argv)
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
    struct berth_error *err = NULL;
    if (check_filters(filters, true, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct network_prune_opts o = {0};
    _cleanup_strv_free_ char **labels = NULL;
    STRV_FOREACH(f, filters)
    {
        if (strneq(*f, "until=", 6)) {
            /* A duration ("24h") before now, or an RFC 3339 time / unix
             * seconds, as Docker's until. */
            const char *v = *f + 6;
            char *end;
            long long x = strtoll(v, &end, 10);
            if (end != v && *end == '\0') {
                o.until = x;
            } else if (end != v && (streq(end, "h") || streq(end, "m") || streq(end, "s"))) {
                long long mul = *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;
                o.until = (long long)time(NULL) - x * mul;
            } else if ((o.until = rfc3339_parse(v)) == 0) {
                berth_error_set(&err, EINVAL, "invalid until filter '%s'", v);
                return cli_fail(err, 1);
            }
        } else {
            strv_push(&labels, *f);
        }
    }
    o.labels = labels;
    if (!force && !cli_confirm("WARNING! This will remove all custom networks not used by at "
                               "least one container.")) {
        return 0;
    }
    struct store *s;
    _cleanup_strv_free_ char **removed = NULL;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    r = network_attach_prune(s, &o, &removed, &err);
    if (removed && removed[0]) {
        printf("Deleted Networks:\n");
        STRV_FOREACH(name, removed)
        {
            printf("%s\n", *name);
        }
    }
    if (r < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}

int cmd_network_connect(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **aliases = NULL, **links = NULL, **opts = NULL;
    const char *ip = NULL, *ip6 = NULL;
    const struct opt_def defs[] = {
        {"alias", 0, OPT_LIST, &aliases, "Add network-scoped alias for the container", NULL},
        {"ip", 0, OPT_STRING, &ip, "IPv4 address (e.g., \"172.30.100.104\")", NULL},
        {"ip6", 0, OPT_STRING, &ip6, "IPv6 address (e.g., \"2001:db8::33\")", NULL},
        {"link", 0, OPT_LIST, &links, "Add link to another container", NULL},
        {"driver-opt", 0, OPT_LIST, &opts, "driver options for the network", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 2, 2, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0 ||
        network_attach_connect(s, args[0], args[1], aliases, ip, ip6, &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}

int cmd_network_disconnect(struct cli *cli, int argc, char **argv)
{
    bool force = false;
    const struct opt_def defs[] = {
        {"force", 'f', OPT_BOOL, &force, "Force the container to disconnect from a network", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 2, 2, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0 ||
        network_attach_disconnect(s, args[0], args[1], force, &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}
