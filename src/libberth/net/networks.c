/* networks.c - network records, bridges and endpoints (see networks.h). */
#include "networks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/hexid.h"
#include "basic/sha256.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "basic/units.h"
#include "libberth/common/json-util.h"
#include "libberth/net/netlink.h"

/* Caps on what a request may carry: a network config is a few hundred bytes
 * in practice, and everything here is read back at every lookup. */
#define NETWORK_CONFIG_MAX (256 * 1024)
#define NETWORK_NAME_MAX 128

/* ---- small helpers ---- */

static bool is_predefined_name(const char *name)
{
    return streq(name, "bridge") || streq(name, "host") || streq(name, "none");
}

/* Docker's network names: [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
            return false;
        }
    }
    return true;
}

void network_veth_name(const char *network_id, const char *container_id, char buf[16])
{
    snprintf(buf, 16, "%s%.7s%.6s", NETWORK_VETH_PREFIX, container_id, network_id);
}

/* "vb" and 13 hex digits: a host veth berth made (vboxnet0 and the like
 * are not). */
static bool is_berth_veth(const char *name)
{
    return strncmp(name, NETWORK_VETH_PREFIX, 2) == 0 && is_hex(name + 2, 13, 13);
}

void network_free(struct network *n)
{
    if (!n) {
        return;
    }
    free(n->id), free(n->name), free(n->driver), free(n->bridge), free(n->created);
    free(n->subnets);
    json_decref(n->options);
    json_decref(n->labels);
    free(n);
}

void network_list_free(struct network **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        network_free(l[i]);
    }
    free(l);
}

void network_endpoint_info_free(struct network_endpoint_info *i)
{
    if (!i) {
        return;
    }
    free(i->network_id), free(i->network_name), free(i->endpoint_id);
    free(i->ifname), free(i->host_ifname), free(i->bridge);
    strv_free(i->aliases);
    free(i);
}

void network_endpoint_info_list_free(struct network_endpoint_info **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        network_endpoint_info_free(l[i]);
    }
    free(l);
}

/* ---- rows <-> structs ---- */

/* Ranges a bridge must never be addressed from. The gateway goes on the
 * host's bridge: 127.0.0.1/8 there (or ::1 from ::/0) would duplicate the
 * loopback's local routes, and removing the bridge later takes them with it;
 * 0.0.0.0/0 gives the host a second default route; multicast and class E
 * (255.255.255.255 included) are not unicast subnets at all. */
static bool reserved_subnet(const struct ipam_prefix *p)
{
    static const struct {
        int family;
        const char *addr;
        unsigned len;
    } reserved[] = {
        {AF_INET, "0.0.0.0", 8},   {AF_INET, "127.0.0.0", 8}, {AF_INET, "224.0.0.0", 4},
        {AF_INET, "240.0.0.0", 4}, {AF_INET6, "::", 127},     {AF_INET6, "ff00::", 8},
    };
    for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
        struct ipam_prefix x = {.family = reserved[i].family, .len = reserved[i].len};
        if (p->family == x.family && inet_pton(x.family, reserved[i].addr, x.addr) == 1 &&
            ipam_overlaps(p, &x)) {
            return true;
        }
    }
    return false;
}

/* One IPAM.Config entry into a subnet; gateway defaults to the first host
 * address. Validates containment. */
static int parse_ipam_entry(json_t *e, const char *where, struct network_subnet *ret,
                            struct berth_error **err)
{
    const char *subnet = NULL, *range = NULL, *gw = NULL;
    int r;
    if ((r = jget_str(e, where, "Subnet", false, &subnet, err)) < 0 ||
        (r = jget_str(e, where, "IPRange", false, &range, err)) < 0 ||
        (r = jget_str(e, where, "Gateway", false, &gw, err)) < 0) {
        return r;
    }
    if (range && !*range) {
        range = NULL;
    }
    if (gw && !*gw) {
        gw = NULL;
    }
    if (!subnet || !*subnet) {
        return berth_error_set(err, EINVAL,
                               "every ip-range or gateway must have a corresponding subnet");
    }
    struct network_subnet s = {0};
    if ((r = ipam_parse_subnet(subnet, 0, &s.subnet, err)) < 0) {
        return r;
    }
    if (reserved_subnet(&s.subnet)) {
        return berth_error_set(err, EINVAL,
                               "invalid subnet %s: it overlaps a reserved range (this-host, "
                               "loopback, multicast or class E)",
                               subnet);
    }
    if (range) {
        if ((r = ipam_parse_subnet(range, s.subnet.family, &s.range, err)) < 0) {
            return berth_error_prefix(err, "ip-range");
        }
        if ((r = ipam_check_range(&s.subnet, &s.range, err)) < 0) {
            return r;
        }
        s.has_range = true;
    }
    if (gw) {
        if ((r = ipam_parse_addr(gw, 0, "gateway", &s.gateway, err)) < 0 ||
            (r = ipam_check_gateway(&s.subnet, &s.gateway, err)) < 0) {
            return r;
        }
    } else if ((r = ipam_first_host(&s.subnet, &s.gateway, err)) < 0) {
        return r;
    }
    *ret = s;
    return 0;
}

static json_t *subnet_json(const struct network_subnet *s)
{
    char a[IPAM_STRLEN];
    json_t *o = json_object();
    ipam_format(&s->subnet, true, a);
    json_object_set_new(o, "Subnet", json_string(a));
    if (s->has_range) {
        ipam_format(&s->range, true, a);
        json_object_set_new(o, "IPRange", json_string(a));
    }
    ipam_format(&s->gateway, false, a);
    json_object_set_new(o, "Gateway", json_string(a));
    return o;
}

static json_t *config_json(const struct network *n)
{
    json_t *cfgs = json_array();
    for (size_t i = 0; i < n->n_subnets; i++) {
        json_array_append_new(cfgs, subnet_json(&n->subnets[i]));
    }
    return json_pack("{s:b,s:b,s:b,s:{s:s,s:o},s:O,s:O}", "Internal", n->internal, "Attachable",
                     n->attachable, "EnableIPv6", n->enable_ipv6, "IPAM", "Driver", "default",
                     "Config", cfgs, "Options", n->options, "Labels", n->labels);
}

static int unsigned_opt(json_t *options, const char *key, unsigned min, unsigned max, unsigned *ret,
                        struct berth_error **err)
{
    const char *v = json_string_value(json_object_get(options, key));
    if (!v) {
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max) {
        return berth_error_set(err, EINVAL, "invalid value '%s' for option %s", v, key);
    }
    *ret = (unsigned)x;
    return 0;
}

/* Options and Labels: objects of strings. */
static int string_map(json_t *o, const char *where, const char *key, json_t **ret,
                      struct berth_error **err)
{
    json_t *v = NULL;
    int r = jget_obj(o, where, key, false, &v, err);
    if (r < 0) {
        return r;
    }
    if (v) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (!json_is_string(x)) {
                return berth_error_set(err, EINVAL, "%s.%s.%s: expected a string", where, key, k);
            }
        }
    }
    *ret = v ? json_deep_copy(v) : json_object();
    return 0;
}

/* The fields of a config (stored or requested) into n. */
static int network_fill_config(struct network *n, json_t *cfg, struct berth_error **err)
{
    int r;
    json_t *ipam = NULL, *arr = NULL;
    if ((r = jget_bool(cfg, "network", "Internal", &n->internal, err)) < 0 ||
        (r = jget_bool(cfg, "network", "Attachable", &n->attachable, err)) < 0 ||
        (r = jget_bool(cfg, "network", "EnableIPv6", &n->enable_ipv6, err)) < 0 ||
        (r = jget_obj(cfg, "network", "IPAM", false, &ipam, err)) < 0 ||
        (r = string_map(cfg, "network", "Options", &n->options, err)) < 0 ||
        (r = string_map(cfg, "network", "Labels", &n->labels, err)) < 0) {
        return r;
    }
    if (ipam && (r = jget_arr(ipam, "IPAM", "Config", false, &arr, err)) < 0) {
        return r;
    }
    size_t cnt = arr ? json_array_size(arr) : 0;
    if (cnt > 2) {
        return berth_error_set(err, EINVAL, "at most one IPv4 and one IPv6 subnet are supported");
    }
    n->subnets = xcalloc(cnt ? cnt : 1, sizeof(*n->subnets));
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e)) {
            return berth_error_set(err, EINVAL, "IPAM.Config[%zu]: expected an object", i);
        }
        struct network_subnet s;
        if ((r = parse_ipam_entry(e, "IPAM.Config", &s, err)) < 0) {
            return r;
        }
        for (size_t k = 0; k < n->n_subnets; k++) {
            if (n->subnets[k].subnet.family == s.subnet.family) {
                return berth_error_set(err, EINVAL,
                                       "at most one IPv4 and one IPv6 subnet are supported");
            }
        }
        /* IPv4 first: leases and inspect read them in that order. */
        if (s.subnet.family == AF_INET && n->n_subnets > 0) {
            n->subnets[1] = n->subnets[0];
            n->subnets[0] = s;
        } else {
            n->subnets[n->n_subnets] = s;
        }
        n->n_subnets++;
    }
    r = unsigned_opt(n->options, NETWORK_MTU_OPT, 68, 65535, &n->mtu, err);
    return r;
}

static const struct network_subnet *subnet_of(const struct network *n, int family)
{
    for (size_t i = 0; i < n->n_subnets; i++) {
        if (n->subnets[i].subnet.family == family) {
            return &n->subnets[i];
        }
    }
    return NULL;
}

/* Columns: id, name, driver, bridge, created, config. */
#define NETWORK_COLS "id, name, driver, bridge, created, config"

static int network_from_row(struct db_stmt *st, struct network **ret, struct berth_error **err)
{
    _cleanup_(network_freep) struct network *n = xcalloc(1, sizeof(*n));
    n->id = xstrdup(db_text(st, 0));
    n->name = xstrdup(db_text(st, 1));
    n->driver = xstrdup(db_text(st, 2));
    n->bridge = db_text(st, 3) ? xstrdup(db_text(st, 3)) : NULL;
    n->created = xstrdup(db_text(st, 4));
    n->predefined = is_predefined_name(n->name);
    const char *cfg = db_text(st, 5);
    _cleanup_json_ json_t *j = NULL;
    int r = json_parse_buf(cfg, strlen(cfg), NETWORK_CONFIG_MAX, &j, err);
    if (r < 0 || (r = network_fill_config(n, j, err)) < 0) {
        return berth_error_prefix(err, "network '%s': stored config", n->name);
    }
    *ret = TAKE_PTR(n);
    return 0;
}

/* ---- taken address space ---- */

/* Subnets of every network but skip_id. */
static int other_subnets(struct store *s, const char *skip_id, struct ipam_prefix **v, size_t *n,
                         size_t *alloc, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, "SELECT " NETWORK_COLS " FROM networks", "");
    if (r < 0) {
        return r;
    }
    while ((r = db_step(st, err)) > 0) {
        if (skip_id && streq(db_text(st, 0), skip_id)) {
            continue;
        }
        _cleanup_(network_freep) struct network *o = NULL;
        if ((r = network_from_row(st, &o, err)) < 0) {
            return r;
        }
        for (size_t i = 0; i < o->n_subnets; i++) {
            *v = xgrow(*v, sizeof(**v), *n, alloc);
            (*v)[(*n)++] = o->subnets[i].subnet;
        }
    }
    return r;
}

/* Host routes (main table, both families) plus other networks' subnets:
 * what an automatic subnet must avoid. Our own bridges' routes show up
 * too, which is harmless: those subnets are taken anyway. */
static int taken_space(struct store *s, struct ipam_prefix **ret, size_t *ret_n,
                       struct berth_error **err)
{
    _cleanup_(netlink_closep) struct netlink *nl = NULL;
    struct ipam_prefix *v = NULL;
    size_t n = 0;
    int r = netlink_open(-1, &nl, err);
    if (r >= 0) {
        r = netlink_route_dump(nl, AF_INET, &v, &n, err);
    }
    if (r < 0) {
        return r;
    }
    size_t alloc = n;
    r = other_subnets(s, NULL, &v, &n, &alloc, err);
    if (r < 0) {
        free(v);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* ---- bridges ---- */

/* Make the bridge of n (addresses, sysctls, up), or, with adopt, complete
 * one that exists (the network's own bridge after a reboot took its
 * addresses, say). Never touches a link that is not a bridge, nor any
 * existing link without adopt: `network create -o
 * com.docker.network.bridge.name=lo` must leave the host's loopback alone.
 * created tells whether this call made it, so a failed create can remove
 * it. */
static int bridge_ensure(struct network *n, bool adopt, bool *ret_created, struct berth_error **err)
{
    _cleanup_(netlink_closep) struct netlink *nl = NULL;
    int r = netlink_open(-1, &nl, err);
    if (r < 0) {
        return r;
    }
    bool created = false;
    int idx;
    r = netlink_link_index(nl, n->bridge, &idx, NULL);
    if (r == -ENODEV) {
        r = netlink_bridge_create(nl, n->bridge, n->mtu, err);
        if (r < 0) {
            return r;
        }
        created = true;
    } else if (r < 0) {
        return netlink_link_index(nl, n->bridge, &idx, err);
    } else {
        _cleanup_free_ char *br = xasprintf("/sys/class/net/%s/bridge", n->bridge);
        struct stat st;
        if (!adopt || stat(br, &st) < 0) {
            return berth_error_set(err, EEXIST,
                                   adopt ? "bridge %s: a link with that name exists and is not a "
                                           "bridge"
                                         : "create bridge %s: a link with that name exists",
                                   n->bridge);
        }
        /* Ours and set up when it was made (a reboot takes the bridge with
         * its addresses, and it is made again above): every container
         * start would otherwise pay for its sysctls and addresses again. */
        if (ret_created) {
            *ret_created = false;
        }
        return 0;
    }
    _cleanup_free_ char *v6 = xasprintf("ipv6/conf/%s/disable_ipv6", n->bridge);
    _cleanup_free_ char *lnet = xasprintf("ipv4/conf/%s/route_localnet", n->bridge);
    /* IPv6 off unless asked for: otherwise the bridge grows a link-local
     * address and answers router solicitations on a network that is meant
     * to be IPv4 only. A host without IPv6 has no such file. */
    r = netlink_sysctl_write(v6, n->enable_ipv6 ? "0" : "1", err);
    if (r == -ENOENT && !n->enable_ipv6) {
        r = 0;
    }
    /* Published ports answer on 127.0.0.1 through DNAT (firewall); the
     * kernel drops packets with a loopback source routed out of a
     * non-loopback device unless route_localnet is on for it. */
    if (r >= 0) {
        r = netlink_sysctl_write(lnet, "1", err);
    }
    for (size_t i = 0; r >= 0 && i < n->n_subnets; i++) {
        struct ipam_prefix gw = n->subnets[i].gateway;
        gw.len = n->subnets[i].subnet.len;
        r = netlink_addr_add(nl, n->bridge, &gw, err);
    }
    if (r >= 0) {
        r = netlink_link_set_up(nl, n->bridge, err);
    }
    if (r < 0) {
        if (created) {
            (void)netlink_link_delete(nl, n->bridge, NULL);
        }
        return berth_error_prefix(err, "set up bridge %s", n->bridge);
    }
    if (ret_created) {
        *ret_created = created;
    }
    return 0;
}

static void bridge_delete(const char *name)
{
    _cleanup_(netlink_closep) struct netlink *nl = NULL;
    if (netlink_open(-1, &nl, NULL) >= 0) {
        (void)netlink_link_delete(nl, name, NULL);
    }
}

/* ---- predefined networks ---- */

static int insert_network(struct store *s, const struct network *n, struct berth_error **err)
{
    _cleanup_json_ json_t *cfg = config_json(n);
    _cleanup_free_ char *text = json_dump_compact(cfg);
    return db_run(s->db, err,
                  "INSERT INTO networks(id, name, driver, bridge, created, config)"
                  " VALUES(?, ?, ?, ?, ?, ?)",
                  "ssssss", n->id, n->name, n->driver, n->bridge, n->created, text);
}

/* The default network's device: "berth0" for the default store; another
 * store (--root) gets its own, "berth-<8 hex of its root's SHA-256>", so two
 * stores on one host never share (and fight over) one bridge. */
static char *default_bridge_name(const struct store *s)
{
    if (streq(s->root, STORE_DEFAULT_ROOT)) {
        return xstrdup(NETWORK_DEFAULT_BRIDGE);
    }
    uint8_t md[32];
    sha256(s->root, strlen(s->root), md);
    return xasprintf("berth-%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
}

static int make_predefined(struct store *s, const char *name, struct berth_error **err)
{
    _cleanup_(network_freep) struct network *n = xcalloc(1, sizeof(*n));
    char id[65];
    int r = random_hex(id, 32, err);
    if (r < 0) {
        return r;
    }
    n->id = xstrdup(id);
    n->name = xstrdup(name);
    n->created = rfc3339_now();
    n->options = json_object();
    n->labels = json_object();
    if (streq(name, "bridge")) {
        n->driver = xstrdup("bridge");
        n->bridge = default_bridge_name(s);
        json_object_set_new(n->options, "com.docker.network.bridge.default_bridge",
                            json_string("true"));
        json_object_set_new(n->options, "com.docker.network.bridge.enable_icc",
                            json_string("true"));
        json_object_set_new(n->options, "com.docker.network.bridge.enable_ip_masquerade",
                            json_string("true"));
        json_object_set_new(n->options, NETWORK_BRIDGE_NAME_OPT, json_string(n->bridge));
        _cleanup_free_ struct ipam_prefix *taken = NULL;
        size_t nt = 0;
        n->subnets = xcalloc(1, sizeof(*n->subnets));
        if ((r = taken_space(s, &taken, &nt, err)) < 0 ||
            (r = ipam_choose_pool(true, taken, nt, &n->subnets[0].subnet, err)) < 0 ||
            (r = ipam_first_host(&n->subnets[0].subnet, &n->subnets[0].gateway, err)) < 0) {
            return berth_error_prefix(err, "default network");
        }
        n->n_subnets = 1;
    } else {
        n->driver = xstrdup(streq(name, "host") ? "host" : "null");
    }
    return insert_network(s, n, err);
}

/* The rows of bridge, host and none, made once per store. */
static int ensure_predefined(struct store *s, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err,
                     "SELECT count(*) FROM networks WHERE name IN ('bridge', 'host', 'none')", "");
    if (r >= 0) {
        r = db_step(st, err);
    }
    if (r < 0) {
        return r;
    }
    if (r > 0 && db_int(st, 0) == 3) {
        return 0;
    }
    db_stmt_free(TAKE_PTR(st));
    if ((r = db_begin(s->db, err)) < 0) {
        return r;
    }
    const char *names[] = {"bridge", "host", "none"};
    for (size_t i = 0; i < ARRAY_SIZE(names) && r >= 0; i++) {
        _cleanup_free_ char *id = NULL;
        r = db_get_text(s->db, &id, NULL, "SELECT id FROM networks WHERE name = ?", "s", names[i]);
        if (r == -ENOENT) {
            r = make_predefined(s, names[i], err);
        }
    }
    if (r >= 0) {
        r = db_commit(s->db, err);
    }
    if (r < 0) {
        db_rollback(s->db);
    }
    return r;
}

/* ---- lookup ---- */

static int lookup(struct store *s, const char *key, struct network **ret, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err,
                     "SELECT " NETWORK_COLS " FROM networks WHERE id = ? OR name = ?"
                     " ORDER BY id = ? DESC LIMIT 1",
                     "sss", key, key, key);
    if (r < 0) {
        return r;
    }
    r = db_step(st, err);
    if (r < 0) {
        return r;
    }
    if (r > 0) {
        return network_from_row(st, ret, err);
    }
    db_stmt_free(TAKE_PTR(st));
    if (is_hex(key, 1, 63)) {
        _cleanup_free_ char *pat = xasprintf("%s%%", key);
        r = db_query(s->db, &st, err,
                     "SELECT " NETWORK_COLS " FROM networks WHERE id LIKE ? LIMIT 2", "s", pat);
        if (r < 0) {
            return r;
        }
        _cleanup_(network_freep) struct network *found = NULL;
        int cnt = 0;
        while ((r = db_step(st, err)) > 0) {
            if (cnt++ == 0 && (r = network_from_row(st, &found, err)) < 0) {
                return r;
            }
        }
        if (r < 0) {
            return r;
        }
        if (cnt > 1) {
            return berth_error_set(err, EINVAL,
                                   "network %s is ambiguous (%d matches found based on ID prefix)",
                                   key, cnt);
        }
        if (found) {
            *ret = TAKE_PTR(found);
            return 0;
        }
    }
    return berth_error_set(err, ENOENT, "network %s not found", key);
}

int network_get(struct store *s, const char *name_or_id, struct network **ret,
                struct berth_error **err)
{
    int r = ensure_predefined(s, err);
    if (r < 0) {
        return r;
    }
    return lookup(s, name_or_id, ret, err);
}

int network_list(struct store *s, struct network ***ret, size_t *ret_n, struct berth_error **err)
{
    int r = ensure_predefined(s, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    r = db_query(s->db, &st, err, "SELECT " NETWORK_COLS " FROM networks ORDER BY name", "");
    if (r < 0) {
        return r;
    }
    struct network **v = NULL;
    size_t n = 0, alloc = 0;
    while ((r = db_step(st, err)) > 0) {
        v = xgrow(v, sizeof(*v), n + 1, &alloc);
        if ((r = network_from_row(st, &v[n], err)) < 0) {
            break;
        }
        n++;
    }
    if (r < 0) {
        network_list_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

int network_endpoint_count(struct store *s, const char *network_id, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, "SELECT count(*) FROM endpoints WHERE network_id = ?", "s",
                     network_id);
    if (r >= 0) {
        r = db_step(st, err);
    }
    if (r < 0) {
        return r;
    }
    int64_t cnt = r > 0 ? db_int(st, 0) : 0;
    return cnt > INT32_MAX ? INT32_MAX : (int)cnt;
}

/* ---- create ---- */

/* The request's fields into a new struct (no subnets chosen yet). */
static int parse_request(json_t *req, struct network **ret, struct berth_error **err)
{
    if (!json_is_object(req)) {
        return berth_error_set(err, EINVAL, "network create: expected a JSON object");
    }
    const char *name = NULL, *driver = NULL;
    bool ingress = false;
    int r;
    if ((r = jget_str(req, "network", "Name", false, &name, err)) < 0 ||
        (r = jget_str(req, "network", "Driver", false, &driver, err)) < 0 ||
        (r = jget_bool(req, "network", "Ingress", &ingress, err)) < 0) {
        return r;
    }
    if (!name || !*name) {
        return berth_error_set(err, EINVAL, "network name is required");
    }
    if (!valid_name(name, NETWORK_NAME_MAX)) {
        return berth_error_set(err, EINVAL,
                               "invalid network name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
                               "allowed",
                               name);
    }
    if (!driver || !*driver) {
        driver = "bridge";
    }
    if (streq(driver, "host") || streq(driver, "null")) {
        return berth_error_set(err, EPERM, "only one instance of \"%s\" network is allowed",
                               driver);
    }
    if (!streq(driver, "bridge")) {
        return berth_error_set(err, ENOTSUP, "plugin \"%s\" not found", driver);
    }
    if (ingress) {
        return berth_error_set(err, ENOTSUP, "ingress networks need swarm mode");
    }
    json_t *ipam = json_object_get(req, "IPAM");
    const char *ipam_driver = json_string_value(json_object_get(ipam, "Driver"));
    if (ipam_driver && *ipam_driver && !streq(ipam_driver, "default")) {
        return berth_error_set(err, ENOTSUP, "plugin \"%s\" not found", ipam_driver);
    }
    _cleanup_(network_freep) struct network *n = xcalloc(1, sizeof(*n));
    n->name = xstrdup(name);
    n->driver = xstrdup(driver);
    if ((r = network_fill_config(n, req, err)) < 0) {
        return r;
    }
    json_t *bname = json_object_get(n->options, NETWORK_BRIDGE_NAME_OPT);
    if (bname) {
        const char *b = json_string_value(bname);
        if (!valid_name(b, 15)) {
            return berth_error_set(err, EINVAL, "invalid bridge name \"%s\"", b);
        }
        n->bridge = xstrdup(b);
    }
    const struct network_subnet *v6 = subnet_of(n, AF_INET6);
    if (v6 && !n->enable_ipv6) {
        return berth_error_set(err, EINVAL, "an IPv6 subnet needs IPv6 enabled (--ipv6)");
    }
    if (n->enable_ipv6 && !v6) {
        return berth_error_set(err, EINVAL,
                               "--ipv6 needs an IPv6 --subnet: automatic IPv6 subnets are not "
                               "supported");
    }
    *ret = TAKE_PTR(n);
    return 0;
}

int network_create(struct store *s, json_t *req, struct network **ret, struct berth_error **err)
{
    int r = ensure_predefined(s, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(network_freep) struct network *n = NULL;
    if ((r = parse_request(req, &n, err)) < 0) {
        return r;
    }
    char id[65];
    if ((r = random_hex(id, 32, err)) < 0) {
        return r;
    }
    n->id = xstrdup(id);
    n->created = rfc3339_now();
    if (!n->bridge) {
        n->bridge = xasprintf("br-%.12s", n->id);
    }
    if ((r = db_begin(s->db, err)) < 0) {
        return r;
    }
    bool made_bridge = false;
    _cleanup_free_ char *other = NULL;
    _cleanup_free_ struct ipam_prefix *taken = NULL;
    size_t nt = 0, alloc = 0;
    if (db_get_text(s->db, &other, NULL, "SELECT id FROM networks WHERE name = ?", "s", n->name) ==
        0) {
        r = berth_error_set(err, EEXIST, "network with name %s already exists", n->name);
        goto rollback;
    }
    free(TAKE_PTR(other));
    /* Default networks' devices (berth0, berth-<hash>) belong to stores,
     * this one's or another's: a user network never takes one. */
    if (streq(n->bridge, NETWORK_DEFAULT_BRIDGE) || strneq(n->bridge, "berth-", 6)) {
        r = berth_error_set(err, EINVAL,
                            "bridge name %s is reserved for the default networks of berth stores",
                            n->bridge);
        goto rollback;
    }
    if (db_get_text(s->db, &other, NULL, "SELECT name FROM networks WHERE bridge = ?", "s",
                    n->bridge) == 0) {
        r = berth_error_set(err, EEXIST, "bridge name %s is used by network %s", n->bridge, other);
        goto rollback;
    }
    if (n->n_subnets > 0) {
        /* Requested subnets only have to miss other networks: the host's
         * routes are the user's business, as in Docker. */
        if ((r = other_subnets(s, NULL, &taken, &nt, &alloc, err)) < 0) {
            goto rollback;
        }
        for (size_t i = 0; i < n->n_subnets; i++) {
            if ((r = ipam_check_overlap(&n->subnets[i].subnet, taken, nt, err)) < 0) {
                goto rollback;
            }
        }
    }
    if (!subnet_of(n, AF_INET)) {
        free(TAKE_PTR(taken));
        if ((r = taken_space(s, &taken, &nt, err)) < 0) {
            goto rollback;
        }
        struct network_subnet sn = {0};
        if ((r = ipam_choose_pool(false, taken, nt, &sn.subnet, err)) < 0 ||
            (r = ipam_first_host(&sn.subnet, &sn.gateway, err)) < 0) {
            goto rollback;
        }
        /* IPv4 first. */
        n->subnets = xrealloc(n->subnets, (n->n_subnets + 1) * sizeof(*n->subnets));
        memmove(n->subnets + 1, n->subnets, n->n_subnets * sizeof(*n->subnets));
        n->subnets[0] = sn;
        n->n_subnets++;
    }
    if ((r = insert_network(s, n, err)) < 0) {
        goto rollback;
    }
    if ((r = bridge_ensure(n, false, &made_bridge, err)) < 0) {
        goto rollback;
    }
    if ((r = db_commit(s->db, err)) < 0) {
        goto rollback;
    }
    if (ret) {
        *ret = TAKE_PTR(n);
    }
    return 0;
rollback:
    db_rollback(s->db);
    if (made_bridge) {
        bridge_delete(n->bridge);
    }
    return berth_error_prefix(err, "create network %s", n->name);
}

/* ---- remove, prune ---- */

static int remove_network(struct store *s, const struct network *n, struct berth_error **err)
{
    if (n->predefined) {
        return berth_error_set(err, EPERM, "%s is a pre-defined network and cannot be removed",
                               n->name);
    }
    int r = db_begin(s->db, err);
    if (r < 0) {
        return r;
    }
    /* Docker's rule: only running containers (a lease) keep a network;
     * stopped members lose their membership with it (their next start
     * fails with "network x not found", as Docker's). */
    _cleanup_free_ char *active = NULL;
    r = db_get_text(s->db, &active, err,
                    "SELECT COUNT(*) FROM endpoints WHERE network_id = ?"
                    " AND (ipv4 IS NOT NULL OR ipv6 IS NOT NULL)",
                    "s", n->id);
    if (r >= 0 && active && !streq(active, "0")) {
        r = berth_error_set(err, EBUSY,
                            "error while removing network: network %s id %s has active endpoints",
                            n->name, n->id);
    }
    if (r >= 0) {
        r = db_run(s->db, err, "DELETE FROM endpoints WHERE network_id = ?", "s", n->id);
    }
    if (r >= 0) {
        r = db_run(s->db, err, "DELETE FROM networks WHERE id = ?", "s", n->id);
    }
    if (r >= 0 && n->bridge) {
        _cleanup_(netlink_closep) struct netlink *nl = NULL;
        r = netlink_open(-1, &nl, err);
        if (r >= 0) {
            r = netlink_link_delete(nl, n->bridge, err);
            if (r == -ENODEV) {
                r = 0;
            }
        }
    }
    if (r >= 0) {
        r = db_commit(s->db, err);
    }
    if (r < 0) {
        db_rollback(s->db);
    }
    return r;
}

int network_remove(struct store *s, const char *name_or_id, struct berth_error **err)
{
    _cleanup_(network_freep) struct network *n = NULL;
    int r = network_get(s, name_or_id, &n, err);
    if (r < 0) {
        return r;
    }
    return remove_network(s, n, err);
}

/* Docker's label filter: "label=k", "label=k=v", "label!=k", "label!=k=v". */
static bool label_matches(json_t *labels, const char *term)
{
    bool neg = strncmp(term, "label!=", 7) == 0;
    const char *kv = term + (neg ? 7 : 6);
    const char *eq = strchr(kv, '=');
    _cleanup_free_ char *key = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
    const char *have = json_string_value(json_object_get(labels, key));
    bool hit = have && (!eq || streq(have, eq + 1));
    return neg ? !hit : hit;
}

int network_prune(struct store *s, const struct network_prune_opts *o, char ***ret_removed,
                  struct berth_error **err)
{
    struct network **l = NULL;
    size_t n = 0;
    int r = network_list(s, &l, &n, err);
    if (r < 0) {
        return r;
    }
    char **removed = xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < n && r >= 0; i++) {
        struct network *x = l[i];
        bool match = !x->predefined;
        STRV_FOREACH(t, o ? o->labels : NULL)
        {
            match = match && label_matches(x->labels, *t);
        }
        if (match && o && o->until > 0 && rfc3339_parse(x->created) >= o->until) {
            match = false;
        }
        if (!match) {
            continue;
        }
        int c = network_endpoint_count(s, x->id, err);
        if (c != 0) {
            r = c < 0 ? c : 0;
            continue;
        }
        struct berth_error *e = NULL;
        int rr = remove_network(s, x, &e);
        if (rr == -EBUSY) {
            /* An endpoint appeared since the count: in use, not pruned. */
            berth_error_free(e);
            continue;
        }
        if (rr < 0) {
            r = rr;
            berth_error_pass(err, e);
            continue;
        }
        strv_push(&removed, x->name);
    }
    network_list_free(l, n);
    *ret_removed = removed;
    return r < 0 ? r : 0;
}

/* ---- inspect ---- */

int network_inspect(struct store *s, const struct network *n, json_t **ret,
                    struct berth_error **err)
{
    json_t *cfgs = json_array();
    for (size_t i = 0; i < n->n_subnets; i++) {
        json_array_append_new(cfgs, subnet_json(&n->subnets[i]));
    }
    json_t *containers = json_object();
    _cleanup_json_ json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:n,s:o},s:b,s:b,s:b,s:{s:s},s:b,s:o,s:O,s:O}", "Name",
        n->name, "Id", n->id, "Created", n->created, "Scope", "local", "Driver", n->driver,
        "EnableIPv6", n->enable_ipv6, "IPAM", "Driver", "default", "Options", "Config", cfgs,
        "Internal", n->internal, "Attachable", n->attachable, "Ingress", 0, "ConfigFrom", "Network",
        "", "ConfigOnly", 0, "Containers", containers, "Options", n->options, "Labels", n->labels);
    if (!o) {
        return berth_error_set(err, ENOMEM, "network inspect: build JSON");
    }
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err,
                     "SELECT e.container_id, c.name, e.config, e.ipv4, e.ipv6, e.mac"
                     " FROM endpoints e LEFT JOIN containers c ON c.id = e.container_id"
                     " WHERE e.network_id = ? AND (e.ipv4 IS NOT NULL OR e.ipv6 IS NOT NULL)"
                     " ORDER BY e.container_id",
                     "s", n->id);
    if (r < 0) {
        return r;
    }
    const struct network_subnet *s4 = subnet_of(n, AF_INET), *s6 = subnet_of(n, AF_INET6);
    while ((r = db_step(st, err)) > 0) {
        const char *cfg = db_text(st, 2);
        _cleanup_json_ json_t *c = NULL;
        if (cfg) {
            (void)json_parse_buf(cfg, strlen(cfg), NETWORK_CONFIG_MAX, &c, NULL);
        }
        const char *epid = json_string_value(json_object_get(c, "EndpointID"));
        _cleanup_free_ char *v4 =
            db_text(st, 3) && s4 ? xasprintf("%s/%u", db_text(st, 3), s4->subnet.len) : xstrdup("");
        _cleanup_free_ char *v6 =
            db_text(st, 4) && s6 ? xasprintf("%s/%u", db_text(st, 4), s6->subnet.len) : xstrdup("");
        const char *name = db_text(st, 1);
        json_object_set_new(containers, db_text(st, 0),
                            json_pack("{s:s,s:s,s:s,s:s,s:s}", "Name", name ? name : "",
                                      "EndpointID", epid ? epid : "", "MacAddress",
                                      db_text(st, 5) ? db_text(st, 5) : "", "IPv4Address", v4,
                                      "IPv6Address", v6));
    }
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(o);
    return 0;
}

/* ---- endpoints ---- */

static int check_static(const struct network *n, int family, const char *text,
                        const struct ipam_prefix *taken, size_t nt, struct ipam_prefix *ret,
                        struct berth_error **err)
{
    struct ipam_prefix a;
    int r =
        ipam_parse_addr(text, family, family == AF_INET ? "IPv4 address" : "IPv6 address", &a, err);
    if (r < 0) {
        return r;
    }
    const struct network_subnet *sn = subnet_of(n, family);
    if (!sn) {
        return berth_error_set(err, EINVAL,
                               "Invalid Address %s: It does not belong to any of this network's "
                               "subnets",
                               text);
    }
    if ((r = ipam_check_static(&sn->subnet, &sn->gateway, &a, taken, nt, err)) < 0) {
        return r;
    }
    *ret = a;
    return 0;
}

int network_endpoint_add(struct store *s, const char *network, const char *container_id,
                         const char *container_name, const struct network_endpoint_config *cfg,
                         struct berth_error **err)
{
    _cleanup_(network_freep) struct network *n = NULL;
    int r = network_get(s, network, &n, err);
    if (r < 0) {
        return r;
    }
    struct ipam_prefix a;
    if (cfg && (cfg->ipv4 || cfg->ipv6) && n->predefined) {
        return berth_error_set(err, EINVAL,
                               "user specified IP address is supported on user defined networks "
                               "only");
    }
    if (cfg && cfg->ipv4 && (r = check_static(n, AF_INET, cfg->ipv4, NULL, 0, &a, err)) < 0) {
        return r;
    }
    if (cfg && cfg->ipv6 && (r = check_static(n, AF_INET6, cfg->ipv6, NULL, 0, &a, err)) < 0) {
        return r;
    }
    uint8_t mac[6];
    if (cfg && cfg->mac && (r = ipam_parse_mac(cfg->mac, mac, err)) < 0) {
        return r;
    }
    char epid[65];
    if ((r = random_hex(epid, 32, err)) < 0) {
        return r;
    }
    _cleanup_json_ json_t *c = json_pack("{s:s}", "EndpointID", epid);
    json_t *aliases = json_array();
    STRV_FOREACH(al, cfg ? cfg->aliases : NULL)
    {
        json_array_append_new(aliases, json_string(*al));
    }
    json_object_set_new(c, "Aliases", aliases);
    if (cfg && cfg->ipv4) {
        json_object_set_new(c, "IPv4Address", json_string(cfg->ipv4));
    }
    if (cfg && cfg->ipv6) {
        json_object_set_new(c, "IPv6Address", json_string(cfg->ipv6));
    }
    if (cfg && cfg->mac) {
        json_object_set_new(c, "MacAddress", json_string(cfg->mac));
    }
    _cleanup_free_ char *text = json_dump_compact(c);
    r = db_run(s->db, err,
               "INSERT INTO endpoints(network_id, container_id, config) VALUES(?, ?, ?)", "sss",
               n->id, container_id, text);
    if (r == -EEXIST) {
        berth_error_free(err ? *err : NULL);
        if (err) {
            *err = NULL;
        }
        return berth_error_set(err, EEXIST, "endpoint with name %s already exists in network %s",
                               container_name ? container_name : container_id, n->name);
    }
    return r < 0 ? r : 0;
}

/* Info of an endpoint row: network_id, config, ipv4, ipv6, mac. */
static int endpoint_info(const struct network *n, const char *container_id, const char *cfg,
                         const char *ipv4, const char *ipv6, const char *mac,
                         struct network_endpoint_info **ret, struct berth_error **err)
{
    _cleanup_(network_endpoint_info_freep) struct network_endpoint_info *i = xcalloc(1, sizeof(*i));
    i->network_id = xstrdup(n->id);
    i->network_name = xstrdup(n->name);
    i->bridge = n->bridge ? xstrdup(n->bridge) : NULL;
    i->internal = n->internal;
    char host[16];
    network_veth_name(n->id, container_id, host);
    i->host_ifname = xstrdup(host);
    _cleanup_json_ json_t *c = NULL;
    if (cfg) {
        int r = json_parse_buf(cfg, strlen(cfg), NETWORK_CONFIG_MAX, &c, err);
        if (r < 0) {
            return r;
        }
        const char *e = json_string_value(json_object_get(c, "EndpointID"));
        i->endpoint_id = e ? xstrdup(e) : NULL;
        json_t *al = json_object_get(c, "Aliases");
        size_t k;
        json_t *v;
        i->aliases = xcalloc(1, sizeof(char *));
        json_array_foreach(al, k, v)
        {
            if (json_is_string(v)) {
                strv_push(&i->aliases, json_string_value(v));
            }
        }
    }
    const struct network_subnet *s4 = subnet_of(n, AF_INET), *s6 = subnet_of(n, AF_INET6);
    if (ipv4 && s4 && ipam_parse_addr(ipv4, AF_INET, "address", &i->ipv4, err) == 0) {
        i->ipv4.len = s4->subnet.len;
        i->gateway4 = s4->gateway;
        i->has_ipv4 = true;
    }
    if (ipv6 && s6 && ipam_parse_addr(ipv6, AF_INET6, "address", &i->ipv6, err) == 0) {
        i->ipv6.len = s6->subnet.len;
        i->gateway6 = s6->gateway;
        i->has_ipv6 = true;
    }
    snprintf(i->mac, sizeof(i->mac), "%s", mac ? mac : "");
    *ret = TAKE_PTR(i);
    return 0;
}

/* Taken addresses of family in the network, but container_id's. */
static int taken_leases(struct store *s, const char *network_id, const char *container_id,
                        int family, struct ipam_prefix **ret, size_t *ret_n,
                        struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err,
                     family == AF_INET
                         ? "SELECT ipv4 FROM endpoints WHERE network_id = ? AND container_id != ?"
                           " AND ipv4 IS NOT NULL"
                         : "SELECT ipv6 FROM endpoints WHERE network_id = ? AND container_id != ?"
                           " AND ipv6 IS NOT NULL",
                     "ss", network_id, container_id);
    if (r < 0) {
        return r;
    }
    struct ipam_prefix *v = NULL;
    size_t n = 0, alloc = 0;
    while ((r = db_step(st, err)) > 0) {
        struct ipam_prefix a;
        if (ipam_parse_addr(db_text(st, 0), family, "address", &a, NULL) == 0) {
            v = xgrow(v, sizeof(*v), n, &alloc);
            v[n++] = a;
        }
    }
    if (r < 0) {
        free(v);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* Allocate (or keep) the lease of an endpoint in one transaction. */
static int lease_allocate(struct store *s, const struct network *n, const char *container_id,
                          struct network_endpoint_info **ret, struct berth_error **err)
{
    int r = db_begin(s->db, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    _cleanup_free_ char *cfg = NULL, *ipv4 = NULL, *ipv6 = NULL, *mac = NULL;
    _cleanup_json_ json_t *c = NULL;
    _cleanup_free_ struct ipam_prefix *taken = NULL;
    size_t nt = 0;
    r = db_query(s->db, &st, err,
                 "SELECT config, ipv4, ipv6, mac FROM endpoints"
                 " WHERE network_id = ? AND container_id = ?",
                 "ss", n->id, container_id);
    if (r >= 0) {
        r = db_step(st, err);
    }
    if (r == 0) {
        r = berth_error_set(err, ENOENT, "container %s is not connected to network %s",
                            container_id, n->name);
    }
    if (r < 0) {
        goto fail;
    }
    cfg = db_text(st, 0) ? xstrdup(db_text(st, 0)) : NULL;
    ipv4 = db_text(st, 1) ? xstrdup(db_text(st, 1)) : NULL;
    ipv6 = db_text(st, 2) ? xstrdup(db_text(st, 2)) : NULL;
    mac = db_text(st, 3) ? xstrdup(db_text(st, 3)) : NULL;
    db_stmt_free(TAKE_PTR(st));
    if (cfg && (r = json_parse_buf(cfg, strlen(cfg), NETWORK_CONFIG_MAX, &c, err)) < 0) {
        goto fail;
    }
    const int fams[2] = {AF_INET, AF_INET6};
    char **slots[2] = {&ipv4, &ipv6};
    const char *keys[2] = {"IPv4Address", "IPv6Address"};
    for (int k = 0; k < 2; k++) {
        const struct network_subnet *sn = subnet_of(n, fams[k]);
        if (*slots[k] || !sn || (fams[k] == AF_INET6 && !n->enable_ipv6)) {
            continue;
        }
        free(TAKE_PTR(taken));
        if ((r = taken_leases(s, n->id, container_id, fams[k], &taken, &nt, err)) < 0) {
            goto fail;
        }
        const char *want = json_string_value(json_object_get(c, keys[k]));
        struct ipam_prefix a;
        if (want) {
            r = check_static(n, fams[k], want, taken, nt, &a, err);
        } else {
            r = ipam_next_free(&sn->subnet, sn->has_range ? &sn->range : NULL, &sn->gateway, taken,
                               nt, &a, err);
        }
        if (r < 0) {
            goto fail;
        }
        char text[IPAM_STRLEN];
        ipam_format(&a, false, text);
        *slots[k] = xstrdup(text);
    }
    if (!mac) {
        const char *want = json_string_value(json_object_get(c, "MacAddress"));
        char buf[18] = "02:42:00:00:00:00";
        struct ipam_prefix a;
        if (want) {
            snprintf(buf, sizeof(buf), "%s", want);
        } else if (ipv4 && ipam_parse_addr(ipv4, AF_INET, "address", &a, NULL) == 0) {
            ipam_mac_from_ipv4(&a, buf);
        } else {
            char hex[9];
            if ((r = random_hex(hex, 4, err)) < 0) {
                goto fail;
            }
            snprintf(buf, sizeof(buf), "02:42:%.2s:%.2s:%.2s:%.2s", hex, hex + 2, hex + 4, hex + 6);
        }
        mac = xstrdup(buf);
    }
    r = db_run(s->db, err,
               "UPDATE endpoints SET ipv4 = ?, ipv6 = ?, mac = ?"
               " WHERE network_id = ? AND container_id = ?",
               "sssss", ipv4, ipv6, mac, n->id, container_id);
    if (r >= 0) {
        r = db_commit(s->db, err);
    }
    if (r < 0) {
        goto fail;
    }
    return endpoint_info(n, container_id, cfg, ipv4, ipv6, mac, ret, err);
fail:
    db_rollback(s->db);
    return r;
}

static int lease_release(struct store *s, const char *network_id, const char *container_id,
                         struct berth_error **err)
{
    return db_run(s->db, err,
                  "UPDATE endpoints SET ipv4 = NULL, ipv6 = NULL, mac = NULL"
                  " WHERE network_id = ? AND container_id = ?",
                  "ss", network_id, container_id);
}

/* Delete a host veth, or with detach only take it down and out of its
 * bridge (netlink_link_detach: no wait for the kernel); a missing one is
 * fine (the namespace went and took its pair along). */
static int veth_end(const char *name, bool detach, struct berth_error **err)
{
    _cleanup_(netlink_closep) struct netlink *nl = NULL;
    int r = netlink_open(-1, &nl, err);
    if (r < 0) {
        return r;
    }
    struct berth_error *e = NULL;
    r = detach ? netlink_link_detach(nl, name, &e) : netlink_link_delete(nl, name, &e);
    if (r == -ENODEV) {
        berth_error_free(e);
        return 0;
    }
    if (r < 0) {
        berth_error_pass(err, e);
    }
    return r;
}

int network_endpoint_up(struct store *s, const char *network, const char *container_id,
                        int netns_fd, const char *ifname, struct network_endpoint_info **ret,
                        struct berth_error **err)
{
    _cleanup_(network_freep) struct network *n = NULL;
    int r = network_get(s, network, &n, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(network_endpoint_info_freep) struct network_endpoint_info *i = NULL;
    if (!streq(n->driver, "bridge")) {
        /* host and none: membership only, nothing to plumb. */
        i = xcalloc(1, sizeof(*i));
        i->network_id = xstrdup(n->id);
        i->network_name = xstrdup(n->name);
        i->aliases = xcalloc(1, sizeof(char *));
        if (ret) {
            *ret = TAKE_PTR(i);
        }
        return 0;
    }
    if ((r = lease_allocate(s, n, container_id, &i, err)) < 0) {
        return berth_error_prefix(err, "connect to network %s", n->name);
    }
    i->ifname = xstrdup(ifname);
    uint8_t mac[6];
    struct ipam_prefix addrs[2];
    size_t na = 0;
    if (i->has_ipv4) {
        addrs[na++] = i->ipv4;
    }
    if (i->has_ipv6) {
        addrs[na++] = i->ipv6;
    }
    char tmp[16];
    snprintf(tmp, sizeof(tmp), "vt%s", i->host_ifname + 2);
    struct netlink_veth v = {
        .host_name = i->host_ifname,
        .tmp_name = tmp,
        .bridge = n->bridge,
        .netns_fd = netns_fd,
        .ifname = ifname,
        .mtu = n->mtu,
        .addrs = addrs,
        .n_addrs = na,
        .gateway4 = i->has_ipv4 && !n->internal ? &i->gateway4 : NULL,
        .gateway6 = i->has_ipv6 && !n->internal ? &i->gateway6 : NULL,
    };
    _cleanup_(netlink_closep) struct netlink *nl = NULL;
    if ((r = ipam_parse_mac(i->mac, mac, err)) < 0 || (r = bridge_ensure(n, true, NULL, err)) < 0 ||
        (r = veth_end(i->host_ifname, false, err)) < 0 || (r = netlink_open(-1, &nl, err)) < 0) {
        goto fail;
    }
    memcpy(v.mac, mac, 6);
    if ((r = netlink_veth_setup(nl, &v, err)) < 0) {
        goto fail;
    }
    if (ret) {
        *ret = TAKE_PTR(i);
    }
    return 0;
fail:
    (void)lease_release(s, n->id, container_id, NULL);
    return berth_error_prefix(err, "connect to network %s", n->name);
}

static int endpoint_down(struct store *s, const char *network, const char *container_id, bool dying,
                         struct berth_error **err)
{
    _cleanup_(network_freep) struct network *n = NULL;
    int r = network_get(s, network, &n, err);
    if (r < 0) {
        return r;
    }
    if (streq(n->driver, "bridge")) {
        char host[16];
        network_veth_name(n->id, container_id, host);
        r = veth_end(host, dying, err);
        if (r < 0) {
            return berth_error_prefix(err, "disconnect from network %s", n->name);
        }
    }
    r = lease_release(s, n->id, container_id, err);
    return r < 0 ? r : 0;
}

int network_endpoint_down(struct store *s, const char *network, const char *container_id,
                          struct berth_error **err)
{
    return endpoint_down(s, network, container_id, false, err);
}

int network_endpoint_down_dying(struct store *s, const char *network, const char *container_id,
                                struct berth_error **err)
{
    return endpoint_down(s, network, container_id, true, err);
}

int network_endpoint_remove(struct store *s, const char *network, const char *container_id,
                            struct berth_error **err)
{
    _cleanup_(network_freep) struct network *n = NULL;
    int r = network_get(s, network, &n, err);
    if (r < 0) {
        return r;
    }
    if ((r = network_endpoint_down(s, n->id, container_id, err)) < 0) {
        return r;
    }
    r = db_run(s->db, err, "DELETE FROM endpoints WHERE network_id = ? AND container_id = ?", "ss",
               n->id, container_id);
    if (r == 0) {
        return berth_error_set(err, ENOENT, "container %s is not connected to network %s",
                               container_id, n->name);
    }
    return r < 0 ? r : 0;
}

int network_endpoints_of(struct store *s, const char *container_id,
                         struct network_endpoint_info ***ret, size_t *ret_n,
                         struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err,
                     "SELECT network_id, config, ipv4, ipv6, mac FROM endpoints"
                     " WHERE container_id = ? ORDER BY rowid",
                     "s", container_id);
    if (r < 0) {
        return r;
    }
    struct network_endpoint_info **v = NULL;
    size_t n = 0, alloc = 0;
    while ((r = db_step(st, err)) > 0) {
        _cleanup_(network_freep) struct network *net = NULL;
        if ((r = lookup(s, db_text(st, 0), &net, err)) < 0) {
            break;
        }
        v = xgrow(v, sizeof(*v), n + 1, &alloc);
        if ((r = endpoint_info(net, container_id, db_text(st, 1), db_text(st, 2), db_text(st, 3),
                               db_text(st, 4), &v[n], err)) < 0) {
            break;
        }
        n++;
    }
    if (r < 0) {
        network_endpoint_info_list_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* ---- repair ---- */

int network_repair(struct store *s, network_alive_fn alive, void *ud, size_t *ret_leases,
                   size_t *ret_links, struct berth_error **err)
{
    size_t leases = 0, links = 0;
    _cleanup_(netlink_closep) struct netlink *nl = NULL;
    _cleanup_strv_free_ char **names = NULL;
    /* Links first, leases second: a veth made after the listing is not in
     * it, and one listed has its lease committed before it was made, so a
     * concurrent up is never mistaken for debris. */
    int r = netlink_open(-1, &nl, err);
    if (r >= 0) {
        r = netlink_link_list(nl, NETWORK_VETH_PREFIX, &names, err);
    }
    if (r < 0) {
        return r;
    }
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    r = db_query(s->db, &st, err,
                 "SELECT network_id, container_id FROM endpoints"
                 " WHERE ipv4 IS NOT NULL OR ipv6 IS NOT NULL",
                 "");
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **pairs = NULL, **owned = NULL;
    while ((r = db_step(st, err)) > 0) {
        strv_push(&pairs, db_text(st, 0));
        strv_push(&pairs, db_text(st, 1));
    }
    db_stmt_free(TAKE_PTR(st));
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; pairs && pairs[i]; i += 2) {
        char host[16];
        network_veth_name(pairs[i], pairs[i + 1], host);
        if (alive && alive(pairs[i + 1], ud)) {
            strv_push(&owned, host);
            continue;
        }
        if ((r = network_endpoint_down(s, pairs[i], pairs[i + 1], err)) < 0) {
            return r;
        }
        leases++;
    }
    /* Only veths of this store's networks (the name ends in 6 hex of the
     * network id): other stores (--root) on the same host have containers
     * with veths named the same way, which this store's leases know nothing
     * of. */
    _cleanup_strv_free_ char **suffixes = NULL;
    r = db_query(s->db, &st, err, "SELECT id FROM networks", "");
    if (r < 0) {
        return r;
    }
    while ((r = db_step(st, err)) > 0) {
        strv_consume(&suffixes, xstrndup(db_text(st, 0), 6));
    }
    db_stmt_free(TAKE_PTR(st));
    if (r < 0) {
        return r;
    }
    STRV_FOREACH(name, names)
    {
        if (!is_berth_veth(*name) || strv_contains(owned, *name) ||
            !strv_contains(suffixes, *name + 9)) {
            continue;
        }
        r = netlink_link_delete(nl, *name, NULL);
        if (r == 0) {
            links++;
        }
    }
    if (ret_leases) {
        *ret_leases = leases;
    }
    if (ret_links) {
        *ret_links = links;
    }
    return 0;
}
