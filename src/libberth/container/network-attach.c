/* network-attach.c - containers on networks (see network-attach.h). */
#include "libberth/container/network-attach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/container/lifecycle.h"
#include "libberth/image/images.h"
#include "libberth/net/dns-server.h"
#include "libberth/net/firewall.h"
#include "libberth/net/netlink.h"
#include "libberth/net/networks.h"

#define STATE_MAX (1u << 20)
#define MAX_IFACES 64

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const char *net_mode(json_t *body)
{
    const char *m = jstr(json_object_get(body, "HostConfig"), "NetworkMode");
    return m ? m : "";
}

/* The network a mode puts the container on, or NULL (none, host,
 * container:NAME: no endpoint of its own). */
static const char *mode_network(const char *mode)
{
    if (!*mode || streq(mode, "default") || streq(mode, "bridge")) {
        return "bridge";
    }
    if (streq(mode, "none") || streq(mode, "host") || strncmp(mode, "container:", 10) == 0) {
        return NULL;
    }
    return mode;
}

/* ---- the record of a start: <runroot>/network/<id>.json ---------------- */

static char *state_path(struct store *s, const char *id)
{
    return xasprintf("%s/network/%s.json", s->runroot, id);
}

static json_t *state_load(struct store *s, const char *id)
{
    _cleanup_free_ char *p = state_path(s, id);
    json_t *j = NULL;
    if (json_load_file_at(AT_FDCWD, p, STATE_MAX, &j, NULL) < 0 || !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int state_save(struct store *s, const char *id, json_t *st, struct berth_error **err)
{
    _cleanup_free_ char *dir = xasprintf("%s/network", s->runroot);
    int r = mkdir_p(dir, 0700, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *p = state_path(s, id);
    _cleanup_free_ char *text = json_dumps(st, JSON_COMPACT);
    return write_file_replace_at(AT_FDCWD, p, text, strlen(text), 0600, err);
}

/* ---- create ------------------------------------------------------------- */

/* The endpoint settings the body gives for network net (name or id as the
 * user wrote it): Docker's CLI keys them by the --network value. */
static json_t *endpoint_settings(json_t *body, const char *mode, const struct network *n)
{
    json_t *eps = json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig");
    if (!json_is_object(eps)) {
        return NULL;
    }
    const char *keys[] = {mode, n ? n->name : NULL, n ? n->id : NULL, "default"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        json_t *e = keys[i] ? json_object_get(eps, keys[i]) : NULL;
        if (json_is_object(e)) {
            return e;
        }
    }
    if (json_object_size(eps) == 1) {
        const char *k;
        json_t *v;
        json_object_foreach(eps, k, v)
        {
            return json_is_object(v) ? v : NULL;
        }
    }
    return NULL;
}

struct ep_request {
    char **aliases;
    const char *ipv4, *ipv6, *mac;
};

static int parse_request(json_t *e, json_t *body, struct ep_request *ret, struct berth_error **err)
{
    *ret = (struct ep_request){0};
    json_t *ipam = json_object_get(e, "IPAMConfig");
    const char *v4 = jstr(ipam, "IPv4Address"), *v6 = jstr(ipam, "IPv6Address");
    ret->ipv4 = v4 && *v4 ? v4 : NULL;
    ret->ipv6 = v6 && *v6 ? v6 : NULL;
    const char *mac = jstr(e, "MacAddress");
    if (!mac || !*mac) {
        mac = jstr(body, "MacAddress"); /* API < 1.44 */
    }
    ret->mac = mac && *mac ? mac : NULL;
    json_t *al = json_object_get(e, "Aliases");
    if (al && !json_is_null(al)) {
        int r = jget_strv(e, "EndpointsConfig", "Aliases", false, &ret->aliases, err);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

int network_attach_create(struct store *s, const char *id, const char *name, json_t *body,
                          struct berth_error **err)
{
    const char *mode = net_mode(body);
    const char *net = mode_network(mode);
    if (strncmp(mode, "container:", 10) == 0) {
        _cleanup_free_ char *other = NULL;
        int r = container_resolve(s, mode + 10, &other, err);
        if (r < 0) {
            return r;
        }
        if (streq(other, id)) {
            return berth_error_set(err, EINVAL, "cannot join own network");
        }
    }
    _cleanup_(network_freep) struct network *n = NULL;
    if (net) {
        int r = network_get(s, net, &n, err);
        if (r < 0) {
            return r;
        }
    }
    json_t *e = endpoint_settings(body, mode, n);
    struct ep_request req;
    int r = parse_request(e, body, &req, err);
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **aliases = req.aliases;
    if (!n || n->predefined) {
        /* Docker's daemon: these need a user network's own IPAM and DNS. */
        if (req.ipv4 || req.ipv6) {
            return berth_error_set(err, EINVAL,
                                   "user specified IP address is supported on user defined "
                                   "networks only");
        }
        if (strv_length(aliases)) {
            return berth_error_set(err, EINVAL,
                                   "network-scoped alias is supported only for containers in "
                                   "user defined networks");
        }
    }
    if (!n) {
        return 0;
    }
    if (!streq(n->driver, "bridge")) {
        return 0; /* "host", "none" by name: no endpoint, as the modes */
    }
    struct network_endpoint_config cfg = {
        .aliases = aliases, .ipv4 = req.ipv4, .ipv6 = req.ipv6, .mac = req.mac};
    return network_endpoint_add(s, n->id, id, name, &cfg, err);
}

int network_attach_netns(struct store *s, json_t *body, char **ret, struct berth_error **err)
{
    *ret = NULL;
    const char *mode = net_mode(body);
    if (strncmp(mode, "container:", 10) != 0) {
        return 0;
    }
    _cleanup_free_ char *other = NULL;
    int r = container_resolve(s, mode + 10, &other, err);
    if (r < 0) {
        return r;
    }
    struct container_state_file st = {0};
    r = container_status(s, other, &st, err);
    if (r < 0) {
        return r;
    }
    bool running = streq(st.status, "running") || streq(st.status, "paused");
    int64_t pid = st.pid;
    container_state_file_release(&st);
    if (!running || pid <= 0) {
        return berth_error_set(err, EINVAL, "cannot join network of a non running container: %s",
                               other);
    }
    *ret = xasprintf("/proc/%lld/ns/net", (long long)pid);
    return 0;
}

/* ---- start -------------------------------------------------------------- */

/* Docker sets it when it makes its first bridge: containers' egress is
 * forwarded by the host. Only written when off. */
static void ensure_ip_forward(void)
{
    _cleanup_free_ char *v = NULL;
    size_t n;
    if (read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_forward", 16, &v, &n, NULL) >= 0 &&
        v[0] == '1') {
        return;
    }
    struct berth_error *e = NULL;
    if (netlink_sysctl_write("ipv4/ip_forward", "1", &e) < 0) {
        log_debug("ip_forward: %s", e->msg);
        berth_error_free(e);
    }
}

/* The firewall's view of a bridge network (strings in the caller's bufs). */
static void fw_net_of(const struct network *n, struct fw_network *f, char b4[IPAM_STRLEN],
                      char b6[IPAM_STRLEN])
{
    *f = (struct fw_network){.bridge = n->bridge, .internal = n->internal};
    for (size_t i = 0; i < n->n_subnets; i++) {
        const struct ipam_prefix *p = &n->subnets[i].subnet;
        if (p->family == AF_INET && !f->subnet4) {
            ipam_format(p, true, b4);
            f->subnet4 = b4;
        } else if (p->family == AF_INET6 && !f->subnet6) {
            ipam_format(p, true, b6);
            f->subnet6 = b6;
        }
    }
}

/* The firewall state of the network (masquerade, isolation): the same
 * elements for every container on it, so adding them again is harmless. */
static int firewall_network(struct store *s, const char *network_id, struct berth_error **err)
{
    _cleanup_(network_freep) struct network *n = NULL;
    int r = network_get(s, network_id, &n, err);
    if (r < 0 || !streq(n->driver, "bridge")) {
        return r < 0 ? r : 0;
    }
    char b4[IPAM_STRLEN], b6[IPAM_STRLEN];
    struct fw_network f;
    fw_net_of(n, &f, b4, b6);
    if ((r = fw_init(err)) < 0 || (r = fw_network_add(&f, err)) < 0) {
        return berth_error_prefix(err, "firewall for network %s", n->name);
    }
    if (!n->internal) {
        ensure_ip_forward();
    }
    return 0;
}

/* One published port as the state file keeps it. */
struct pub {
    enum fw_proto proto;
    char host_ip[IPAM_STRLEN];
    uint16_t host_port, container_port;
    char container_ip[IPAM_STRLEN];
};

static json_t *pub_json(const struct pub *p)
{
    return json_pack("{s:s, s:s, s:i, s:s, s:i}", "proto", p->proto == FW_UDP ? "udp" : "tcp",
                     "host_ip", p->host_ip, "host_port", (int)p->host_port, "container_ip",
                     p->container_ip, "container_port", (int)p->container_port);
}

static bool pub_from_json(json_t *j, struct pub *p)
{
    const char *proto = jstr(j, "proto"), *hip = jstr(j, "host_ip"), *cip = jstr(j, "container_ip");
    json_int_t hp = json_integer_value(json_object_get(j, "host_port"));
    json_int_t cp = json_integer_value(json_object_get(j, "container_port"));
    if (!proto || !hip || !cip || hp <= 0 || hp > 65535 || cp <= 0 || cp > 65535 ||
        strlen(hip) >= IPAM_STRLEN || strlen(cip) >= IPAM_STRLEN) {
        return false;
    }
    *p = (struct pub){.proto = streq(proto, "udp") ? FW_UDP : FW_TCP,
                      .host_port = (uint16_t)hp,
                      .container_port = (uint16_t)cp};
    snprintf(p->host_ip, sizeof(p->host_ip), "%s", hip);
    snprintf(p->container_ip, sizeof(p->container_ip), "%s", cip);
    return true;
}

static struct fw_port fw_port_of(const struct pub *p, const char *endpoint)
{
    return (struct fw_port){.proto = p->proto,
                            .host_ip = p->host_ip,
                            .host_port = p->host_port,
                            .container_ip = p->container_ip,
                            .container_port = p->container_port,
                            .endpoint = endpoint};
}

static void ephemeral_range(unsigned *lo, unsigned *hi)
{
    _cleanup_free_ char *v = NULL;
    size_t n;
    *lo = 32768, *hi = 60999;
    unsigned a, b;
    if (read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_local_port_range", 64, &v, &n, NULL) >= 0 &&
        sscanf(v, "%u %u", &a, &b) == 2 && a > 0 && a <= b && b <= 65535) {
        *lo = a, *hi = b;
    }
}

/* "80/tcp" -> port and protocol; false for anything else (sctp included:
 * the firewall does tcp and udp). */
static bool parse_port_key(const char *key, uint16_t *ret_port, enum fw_proto *ret_proto)
{
    const char *slash = strchr(key, '/');
    _cleanup_free_ char *num = slash ? xstrndup(key, (size_t)(slash - key)) : xstrdup(key);
    const char *proto = slash ? slash + 1 : "tcp";
    uint64_t v;
    if (parse_uint64(num, &v) < 0 || v == 0 || v > 65535 ||
        (!streq(proto, "tcp") && !streq(proto, "udp"))) {
        return false;
    }
    *ret_port = (uint16_t)v;
    *ret_proto = streq(proto, "udp") ? FW_UDP : FW_TCP;
    return true;
}

/* Publish one binding: a fixed port, the lowest free one of a host range,
 * or of the ephemeral range when none is given. A port taken meanwhile by
 * another start (EADDRINUSE from fw_port_add) makes a range try the next. */
static int publish_one(struct pub *p, const char *host_port, const char *endpoint,
                       struct berth_error **err)
{
    unsigned lo, hi;
    bool fixed = false;
    if (!host_port || !*host_port) {
        ephemeral_range(&lo, &hi);
    } else {
        const char *dash = strchr(host_port, '-');
        _cleanup_free_ char *a =
            dash ? xstrndup(host_port, (size_t)(dash - host_port)) : xstrdup(host_port);
        uint64_t x, y;
        if (parse_uint64(a, &x) < 0 || x == 0 || x > 65535 ||
            (dash && (parse_uint64(dash + 1, &y) < 0 || y < x || y > 65535))) {
            return berth_error_set(err, EINVAL, "invalid host port '%s'", host_port);
        }
        lo = (unsigned)x, hi = dash ? (unsigned)y : (unsigned)x;
        fixed = !dash;
    }
    for (unsigned port = lo; port <= hi; port++) {
        p->host_port = (uint16_t)port;
        struct fw_port f = fw_port_of(p, endpoint);
        struct berth_error *e = NULL;
        int r = fw_port_check_free(&f, &e);
        if (r >= 0) {
            r = fw_port_add(&f, &e);
        }
        if (r >= 0) {
            return 0;
        }
        if (fixed || r != -EADDRINUSE || port == hi) {
            berth_error_pass(err, e);
            return r;
        }
        berth_error_free(e);
    }
    return berth_error_set(err, EADDRINUSE, "no free host port in %s", host_port);
}

/* Every port to publish: PortBindings, and with PublishAllPorts every
 * exposed port (body and image) without a binding, on an ephemeral port. */
static int publish_all(struct store *s, const struct container_record *c, const char *cip,
                       json_t *published, struct berth_error **err)
{
    json_t *hc = json_object_get(c->body, "HostConfig");
    _cleanup_json_ json_t *want = json_object(); /* "80/tcp" -> [bindings] */
    json_t *pb = json_object_get(hc, "PortBindings");
    const char *k;
    json_t *v;
    json_object_foreach(pb, k, v)
    {
        if (json_array_size(v) > 0) {
            json_object_set(want, k, v);
        }
    }
    if (json_is_true(json_object_get(hc, "PublishAllPorts"))) {
        json_object_foreach(json_object_get(c->body, "ExposedPorts"), k, v)
        {
            if (!json_object_get(want, k)) {
                json_object_set_new(want, k,
                                    json_pack("[{s:s, s:s}]", "HostIp", "", "HostPort", ""));
            }
        }
        const struct image_config *config = NULL;
        if (image_config_get(s, c->image_id, &config, NULL) >= 0 && config) {
            STRV_FOREACH(e, config->exposed_ports)
            {
                if (!json_object_get(want, *e)) {
                    json_object_set_new(want, *e,
                                        json_pack("[{s:s, s:s}]", "HostIp", "", "HostPort", ""));
                }
            }
        }
    }
    json_object_foreach(want, k, v)
    {
        struct pub p = {0};
        if (!parse_port_key(k, &p.container_port, &p.proto)) {
            log_debug("publish '%s': not a tcp or udp port, skipped", k);
            continue;
        }
        snprintf(p.container_ip, sizeof(p.container_ip), "%s", cip);
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *b = json_array_get(v, i);
            const char *hip = jstr(b, "HostIp");
            if (hip && strchr(hip, ':') && !streq(hip, "::")) {
                log_debug("publish '%s' on '%s': no IPv6 address, skipped", k, hip);
                continue;
            }
            snprintf(p.host_ip, sizeof(p.host_ip), "%s",
                     hip && *hip && !streq(hip, "::") ? hip : "");
            int r = publish_one(&p, jstr(b, "HostPort"), c->name, err);
            if (r < 0) {
                return r;
            }
            json_array_append_new(published, pub_json(&p));
        }
    }
    return 0;
}

/* Rewrite the container's hosts file in place: it is bind-mounted into the
 * container, a rename would leave the container with the old inode. */
static int write_hosts(struct store *s, const struct container_record *c,
                       struct network_endpoint_info **eps, size_t n, struct berth_error **err)
{
    _cleanup_strv_free_ char **addrs = NULL;
    for (size_t i = 0; i < n; i++) {
        char b[IPAM_STRLEN];
        if (eps[i]->has_ipv4) {
            ipam_format(&eps[i]->ipv4, false, b);
            strv_push(&addrs, b);
        }
        if (eps[i]->has_ipv6) {
            ipam_format(&eps[i]->ipv6, false, b);
            strv_push(&addrs, b);
        }
    }
    _cleanup_free_ char *text = NULL;
    int r = container_hosts_text(s, c->body, c->id, addrs, &text, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *p = xasprintf("%s/containers/%s/hosts", s->root, c->id);
    _cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", p);
    }
    if (write_all(fd, text, strlen(text)) < 0) {
        return berth_error_sys(err, errno, "write '%s'", p);
    }
    return 0;
}

/* The container's DNS records entry (dns.h): its endpoints on user
 * networks with an address; NULL when it has none (the default bridge
 * network has no DNS by name, as in Docker). */
static json_t *dns_entry(struct store *s, const struct container_record *c, const char *netns,
                         struct network_endpoint_info **eps, size_t n)
{
    json_t *nets = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct network_endpoint_info *e = eps[i];
        _cleanup_(network_freep) struct network *net = NULL;
        if ((!e->has_ipv4 && !e->has_ipv6) || network_get(s, e->network_id, &net, NULL) < 0 ||
            net->predefined) {
            continue;
        }
        json_t *o = json_pack("{s:s, s:b}", "id", e->network_id, "internal", e->internal);
        char b[IPAM_STRLEN];
        if (e->has_ipv4) {
            ipam_format(&e->ipv4, false, b);
            json_object_set_new(o, "ipv4", json_string(b));
        }
        if (e->has_ipv6) {
            ipam_format(&e->ipv6, false, b);
            json_object_set_new(o, "ipv6", json_string(b));
        }
        json_t *al = json_array();
        STRV_FOREACH(a, e->aliases)
        {
            json_array_append_new(al, json_string(*a));
        }
        json_object_set_new(o, "aliases", al);
        json_array_append_new(nets, o);
    }
    if (json_array_size(nets) == 0) {
        json_decref(nets);
        return NULL;
    }
    json_t *entry = json_pack("{s:s, s:s, s:s, s:o}", "id", c->id, "name", c->name, "netns", netns,
                              "networks", nets);
    /* --dns: the embedded DNS forwards this container's other names there,
     * as Docker's does (the first server). */
    const char *dns = json_string_value(
        json_array_get(json_object_get(json_object_get(c->body, "HostConfig"), "Dns"), 0));
    if (dns && *dns) {
        json_object_set_new(entry, "upstream", json_string(dns));
    }
    return entry;
}

/* Set or clear the container's DNS records from its endpoints now; the
 * state file says whether it has any (so stop knows). */
static int dns_sync(struct store *s, const struct container_record *c, const char *netns,
                    json_t *st, struct berth_error **err)
{
    struct network_endpoint_info **eps = NULL;
    size_t n = 0;
    int r = network_endpoints_of(s, c->id, &eps, &n, err);
    if (r < 0) {
        return r;
    }
    json_t *entry = dns_entry(s, c, netns, eps, n);
    network_endpoint_info_list_free(eps, n);
    bool had = json_is_true(json_object_get(st, "dns"));
    if (!entry && !had) {
        return 0;
    }
    json_object_set_new(st, "dns", json_true());
    if ((r = state_save(s, c->id, st, err)) < 0) {
        json_decref(entry);
        return r;
    }
    r = dns_records_update(s->runroot, c->id, entry, err);
    json_decref(entry);
    if (r < 0) {
        return berth_error_prefix(err, "embedded DNS");
    }
    if (!entry) {
        json_object_set_new(st, "dns", json_false());
        (void)state_save(s, c->id, st, NULL);
    }
    return 0;
}

/* The lowest ethN not present in the namespace. */
static int next_ifname(int netns_fd, char buf[16], struct berth_error **err)
{
    _cleanup_(netlink_closep) struct netlink *nl = NULL;
    int r = netlink_open(netns_fd, &nl, err);
    if (r < 0) {
        return r;
    }
    for (int i = 0; i < MAX_IFACES; i++) {
        snprintf(buf, 16, "eth%d", i);
        int idx;
        if (netlink_link_index(nl, buf, &idx, NULL) < 0) {
            return 0;
        }
    }
    return berth_error_set(err, ENOSPC, "too many network interfaces");
}

int network_attach_start(struct store *s, const struct container_record *c, pid_t init_pid,
                         struct berth_error **err)
{
    /* A user network removed while the container was stopped: Docker's
     * start fails rather than run it without its network. */
    const char *mode = jstr(json_object_get(c->body, "HostConfig"), "NetworkMode");
    if (mode && *mode && !streq(mode, "default") && !streq(mode, "bridge") &&
        !streq(mode, "none") && !streq(mode, "host") && strncmp(mode, "container:", 10) != 0) {
        _cleanup_(network_freep) struct network *want = NULL;
        int q = network_get(s, mode, &want, err);
        if (q < 0) {
            return q;
        }
    }
    struct network_endpoint_info **eps = NULL;
    size_t n = 0;
    int r = network_endpoints_of(s, c->id, &eps, &n, err);
    if (r < 0) {
        return r;
    }
    /* DNS by name on user networks only (Docker's); the default network's
     * predefined name is "bridge". */
    bool user_net = false;
    for (size_t i = 0; i < n; i++) {
        user_net |= !streq(eps[i]->network_name, "bridge");
    }
    if (n == 0) {
        network_endpoint_info_list_free(eps, n);
        return 0; /* none, host, container:NAME: nothing of ours */
    }
    _cleanup_free_ char *netns = xasprintf("/proc/%d/ns/net", (int)init_pid);
    /* "dns" is set before the records are: stop removing records the
     * container never got is harmless, and it is one write less per start. */
    _cleanup_json_ json_t *st = json_pack("{s:i, s:s, s:[], s:b}", "pid", (int)init_pid, "netns",
                                          netns, "ports", "dns", user_net);
    /* Recorded before the first change: whatever a crash interrupts, stop
     * finds this and undoes it. */
    if ((r = state_save(s, c->id, st, err)) < 0) {
        network_endpoint_info_list_free(eps, n);
        return r;
    }
    _cleanup_close_ int fd = open(netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = berth_error_sys(err, errno, "open '%s'", netns);
        goto rollback_eps;
    }
    char cip[IPAM_STRLEN] = "";
    for (size_t i = 0; i < n; i++) {
        char ifname[24];
        snprintf(ifname, sizeof(ifname), "eth%u", (unsigned)i);
        struct network_endpoint_info *info = NULL;
        if ((r = network_endpoint_up(s, eps[i]->network_id, c->id, fd, ifname, &info, err)) < 0) {
            goto rollback_eps;
        }
        network_endpoint_info_free(eps[i]);
        eps[i] = info;
        if ((r = firewall_network(s, info->network_id, err)) < 0) {
            goto rollback_eps;
        }
        if (!*cip && info->has_ipv4) {
            ipam_format(&info->ipv4, false, cip);
        }
    }
    log_trace_point("net: endpoints up");
    json_t *ports = json_object_get(st, "ports");
    if (*cip) {
        r = publish_all(s, c, cip, ports, err);
        if (json_array_size(ports)) {
            /* what stop must unpublish, saved even when a later port failed */
            int q = state_save(s, c->id, st, r < 0 ? NULL : err);
            r = r < 0 ? r : q;
        }
        if (r < 0) {
            goto rollback_eps;
        }
    }
    if ((r = write_hosts(s, c, eps, n, err)) < 0) {
        goto rollback_eps;
    }
    log_trace_point("net: ports, hosts");
    json_t *entry = dns_entry(s, c, netns, eps, n);
    if (entry) {
        r = dns_records_update(s->runroot, c->id, entry, err);
        if (r < 0) {
            berth_error_prefix(err, "embedded DNS");
        }
        json_decref(entry);
        if (r < 0) {
            goto rollback_eps;
        }
    }
    log_trace_point("net: dns");
    network_endpoint_info_list_free(eps, n);
    return 0;

rollback_eps:
    network_endpoint_info_list_free(eps, n);
    network_attach_stop(s, c->id);
    return r;
}

/* ---- stop --------------------------------------------------------------- */

void network_attach_stop(struct store *s, const char *id)
{
    _cleanup_json_ json_t *st = state_load(s, id);
    if (!st) {
        return; /* never started on a network, or cleaned up already */
    }
    struct berth_error *e = NULL;
    if (json_is_true(json_object_get(st, "dns")) &&
        dns_records_update(s->runroot, id, NULL, &e) < 0) {
        log_debug("container %.12s: DNS records: %s", id, e->msg);
        berth_error_free(TAKE_PTR(e));
    }
    json_t *ports = json_object_get(st, "ports");
    for (size_t i = 0; i < json_array_size(ports); i++) {
        struct pub p;
        if (!pub_from_json(json_array_get(ports, i), &p)) {
            continue;
        }
        struct fw_port f = fw_port_of(&p, NULL);
        if (fw_port_remove(&f, &e) < 0) {
            log_debug("container %.12s: port %u: %s", id, p.host_port, e->msg);
            berth_error_free(TAKE_PTR(e));
        }
    }
    struct network_endpoint_info **eps = NULL;
    size_t n = 0;
    if (network_endpoints_of(s, id, &eps, &n, &e) < 0) {
        log_debug("container %.12s: endpoints: %s", id, e->msg);
        berth_error_free(TAKE_PTR(e));
    }
    /* Every stop is of a container whose processes are gone (or about to
     * be, on a failed start): its namespace goes once the DNS server has
     * closed its sockets there (above), and the kernel deletes the veths
     * with it. */
    for (size_t i = 0; i < n; i++) {
        if (network_endpoint_down_dying(s, eps[i]->network_id, id, &e) < 0) {
            log_debug("container %.12s: %s", id, e->msg);
            berth_error_free(TAKE_PTR(e));
        }
    }
    network_endpoint_info_list_free(eps, n);
    _cleanup_free_ char *p = state_path(s, id);
    (void)unlink(p);
}

/* ---- inspect and ps ------------------------------------------------------ */

static json_t *str_or_null_array(char **v)
{
    if (!strv_length(v)) {
        return json_null();
    }
    json_t *a = json_array();
    STRV_FOREACH(x, v)
    {
        json_array_append_new(a, json_string(*x));
    }
    return a;
}

/* Docker's EndpointSettings of one network. */
static json_t *endpoint_json(json_t *body, const struct network_endpoint_info *e)
{
    char ip4[IPAM_STRLEN] = "", gw4[IPAM_STRLEN] = "", ip6[IPAM_STRLEN] = "", gw6[IPAM_STRLEN] = "";
    if (e->has_ipv4) {
        ipam_format(&e->ipv4, false, ip4);
        ipam_format(&e->gateway4, false, gw4);
    }
    if (e->has_ipv6) {
        ipam_format(&e->ipv6, false, ip6);
        ipam_format(&e->gateway6, false, gw6);
    }
    json_t *o = json_object();
    json_t *req = NULL;
    json_t *eps = json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig");
    const char *k;
    json_t *v;
    json_object_foreach(eps, k, v)
    {
        if (streq(k, e->network_name) || streq(k, e->network_id) ||
            (streq(net_mode(body), k) && mode_network(k) &&
             streq(mode_network(k), e->network_name))) {
            req = json_object_get(v, "IPAMConfig");
        }
    }
    json_object_set_new(o, "IPAMConfig", json_is_object(req) ? json_deep_copy(req) : json_null());
    json_object_set_new(o, "Links", json_null());
    json_object_set_new(o, "Aliases", str_or_null_array(e->aliases));
    json_object_set_new(o, "MacAddress", json_string(e->has_ipv4 || e->has_ipv6 ? e->mac : ""));
    json_object_set_new(o, "DriverOpts", json_null());
    json_object_set_new(o, "NetworkID", json_string(e->network_id));
    json_object_set_new(o, "EndpointID",
                        json_string(e->has_ipv4 || e->has_ipv6 ? e->endpoint_id : ""));
    json_object_set_new(o, "Gateway", json_string(gw4));
    json_object_set_new(o, "IPAddress", json_string(ip4));
    json_object_set_new(o, "IPPrefixLen", json_integer(e->has_ipv4 ? e->ipv4.len : 0));
    json_object_set_new(o, "IPv6Gateway", json_string(gw6));
    json_object_set_new(o, "GlobalIPv6Address", json_string(ip6));
    json_object_set_new(o, "GlobalIPv6PrefixLen", json_integer(e->has_ipv6 ? e->ipv6.len : 0));
    return o;
}

static char *port_key(const struct pub *p)
{
    return xasprintf("%u/%s", p->container_port, p->proto == FW_UDP ? "udp" : "tcp");
}

json_t *network_attach_settings(struct store *s, const struct container_record *c, bool running)
{
    json_t *ns = json_object();
    _cleanup_json_ json_t *st = running ? state_load(s, c->id) : NULL;
    json_t *ports = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(c->body, "ExposedPorts"), k, v)
    {
        json_object_set_new(ports, k, json_null());
    }
    json_t *pl = json_object_get(st, "ports");
    for (size_t i = 0; i < json_array_size(pl); i++) {
        struct pub p;
        if (!pub_from_json(json_array_get(pl, i), &p)) {
            continue;
        }
        _cleanup_free_ char *key = port_key(&p);
        json_t *list = json_object_get(ports, key);
        if (!json_is_array(list)) {
            list = json_array();
            json_object_set_new(ports, key, list);
        }
        char hp[8];
        snprintf(hp, sizeof(hp), "%u", p.host_port);
        json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp",
                                              *p.host_ip ? p.host_ip : "0.0.0.0", "HostPort", hp));
    }
    const char *sandbox = st ? jstr(st, "netns") : NULL;
    json_object_set_new(ns, "Bridge", json_string(""));
    json_object_set_new(ns, "SandboxID", json_string(""));
    json_object_set_new(ns, "SandboxKey", json_string(sandbox ? sandbox : ""));
    json_object_set_new(ns, "HairpinMode", json_false());
    json_object_set_new(ns, "LinkLocalIPv6Address", json_string(""));
    json_object_set_new(ns, "LinkLocalIPv6PrefixLen", json_integer(0));
    json_object_set_new(ns, "Ports", ports);
    json_object_set_new(ns, "SecondaryIPAddresses", json_null());
    json_object_set_new(ns, "SecondaryIPv6Addresses", json_null());
    struct network_endpoint_info **eps = NULL;
    size_t n = 0;
    if (network_endpoints_of(s, c->id, &eps, &n, NULL) < 0) {
        eps = NULL, n = 0;
    }
    json_t *nets = json_object();
    json_t *dflt = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *e = endpoint_json(c->body, eps[i]);
        if (streq(eps[i]->network_name, "bridge")) {
            dflt = e;
        }
        json_object_set_new(nets, eps[i]->network_name, e);
    }
    const char *mode = net_mode(c->body);
    if (n == 0 && (streq(mode, "host") || streq(mode, "none"))) {
        /* Docker lists the predefined network the container is "on". */
        _cleanup_(network_freep) struct network *net = NULL;
        if (network_get(s, mode, &net, NULL) >= 0) {
            json_object_set_new(
                nets, net->name,
                json_pack("{s:n, s:n, s:n, s:s, s:n, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i}",
                          "IPAMConfig", "Links", "Aliases", "MacAddress", "", "DriverOpts",
                          "NetworkID", net->id, "EndpointID", "", "Gateway", "", "IPAddress", "",
                          "IPPrefixLen", 0, "IPv6Gateway", "", "GlobalIPv6Address", "",
                          "GlobalIPv6PrefixLen", 0));
        }
    }
    static const char *const top[] = {"EndpointID", "Gateway",     "GlobalIPv6Address",
                                      "IPAddress",  "IPv6Gateway", "MacAddress"};
    for (size_t i = 0; i < ARRAY_SIZE(top); i++) {
        json_t *x = dflt ? json_object_get(dflt, top[i]) : NULL;
        json_object_set_new(ns, top[i], x ? json_incref(x) : json_string(""));
    }
    json_t *pfx = dflt ? json_object_get(dflt, "IPPrefixLen") : NULL;
    json_object_set_new(ns, "IPPrefixLen", pfx ? json_incref(pfx) : json_integer(0));
    json_t *pfx6 = dflt ? json_object_get(dflt, "GlobalIPv6PrefixLen") : NULL;
    json_object_set_new(ns, "GlobalIPv6PrefixLen", pfx6 ? json_incref(pfx6) : json_integer(0));
    json_object_set_new(ns, "Networks", nets);
    network_endpoint_info_list_free(eps, n);
    return ns;
}

char *network_attach_ports_text(struct store *s, const char *id)
{
    _cleanup_json_ json_t *st = state_load(s, id);
    struct strbuf sb = STRBUF_INIT;
    json_t *pl = json_object_get(st, "ports");
    for (size_t i = 0; i < json_array_size(pl); i++) {
        struct pub p;
        if (!pub_from_json(json_array_get(pl, i), &p)) {
            continue;
        }
        strbuf_addf(&sb, "%s%s:%u->%u/%s", sb.len ? ", " : "", *p.host_ip ? p.host_ip : "0.0.0.0",
                    p.host_port, p.container_port, p.proto == FW_UDP ? "udp" : "tcp");
    }
    return strbuf_detach(&sb, NULL);
}

/* ---- connect and disconnect --------------------------------------------- */

/* The running container's recorded start (made now if it has none: a
 * container started before it had any endpoint). */
static json_t *running_state(struct store *s, const char *id, int64_t pid)
{
    json_t *st = state_load(s, id);
    if (!st) {
        _cleanup_free_ char *netns = xasprintf("/proc/%lld/ns/net", (long long)pid);
        st = json_pack("{s:I, s:s, s:[], s:b}", "pid", (json_int_t)pid, "netns", netns, "ports",
                       "dns", false);
    }
    return st;
}

static int refresh_hosts(struct store *s, const struct container_record *c,
                         struct berth_error **err)
{
    struct network_endpoint_info **eps = NULL;
    size_t n = 0;
    int r = network_endpoints_of(s, c->id, &eps, &n, err);
    if (r >= 0) {
        r = write_hosts(s, c, eps, n, err);
    }
    network_endpoint_info_list_free(eps, n);
    return r;
}

int network_attach_connect(struct store *s, const char *network, const char *container,
                           char **aliases, const char *ipv4, const char *ipv6,
                           struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    _cleanup_close_ int lock = -1;
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    int r = container_get_locked(s, container, &id, &lock, &c, err);
    if (r < 0) {
        return r;
    }
    const char *mode = net_mode(c->body);
    if (!mode_network(mode)) {
        return berth_error_set(err, EINVAL,
                               "container sharing network namespace with another container or "
                               "host cannot be connected to any other network");
    }
    _cleanup_(network_freep) struct network *n = NULL;
    if ((r = network_get(s, network, &n, err)) < 0) {
        return r;
    }
    if (!streq(n->driver, "bridge")) {
        return berth_error_set(err, EINVAL,
                               "container cannot be disconnected from host network or connected "
                               "to host network");
    }
    if (n->predefined && (ipv4 || ipv6)) {
        return berth_error_set(err, EINVAL,
                               "user specified IP address is supported on user defined networks "
                               "only");
    }
    if (n->predefined && strv_length(aliases)) {
        return berth_error_set(err, EINVAL,
                               "network-scoped alias is supported only for containers in user "
                               "defined networks");
    }
    struct network_endpoint_config cfg = {.aliases = aliases, .ipv4 = ipv4, .ipv6 = ipv6};
    _cleanup_json_ json_t *st = NULL;
    _cleanup_close_ int fd = -1;
    if ((r = network_endpoint_add(s, n->id, id, c->name, &cfg, err)) < 0) {
        return r;
    }
    struct container_state_file cs = {0};
    if ((r = container_status(s, id, &cs, err)) < 0) {
        goto undo;
    }
    bool running = streq(cs.status, "running") || streq(cs.status, "paused");
    int64_t pid = cs.pid;
    container_state_file_release(&cs);
    if (!running || pid <= 0) {
        return 0;
    }
    st = running_state(s, id, pid);
    const char *netns = jstr(st, "netns");
    if ((r = state_save(s, id, st, err)) < 0) {
        goto undo;
    }
    fd = open(netns, O_RDONLY | O_CLOEXEC);
    char ifname[16];
    if (fd < 0) {
        r = berth_error_sys(err, errno, "open '%s'", netns);
        goto undo;
    }
    if ((r = next_ifname(fd, ifname, err)) < 0 ||
        (r = network_endpoint_up(s, n->id, id, fd, ifname, NULL, err)) < 0 ||
        (r = firewall_network(s, n->id, err)) < 0 || (r = refresh_hosts(s, c, err)) < 0 ||
        (r = dns_sync(s, c, netns, st, err)) < 0) {
        goto undo;
    }
    return 0;
undo:
    (void)network_endpoint_remove(s, n->id, id, NULL);
    return r;
}

int network_attach_disconnect(struct store *s, const char *network, const char *container,
                              bool force, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    _cleanup_close_ int lock = -1;
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    int r = container_get_locked(s, container, &id, &lock, &c, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(network_freep) struct network *n = NULL;
    if ((r = network_get(s, network, &n, err)) < 0) {
        return r;
    }
    if (!streq(n->driver, "bridge")) {
        return berth_error_set(err, EINVAL,
                               "container cannot be disconnected from host network or connected "
                               "to host network");
    }
    r = network_endpoint_remove(s, n->id, id, err);
    if (r == -ENOENT) {
        if (force) {
            berth_error_free(*err);
            *err = NULL;
            return 0;
        }
        berth_error_free(*err);
        *err = NULL;
        return berth_error_set(err, ENOENT, "container %s is not connected to network %s", id,
                               n->name);
    }
    if (r < 0) {
        return r;
    }
    _cleanup_json_ json_t *st = state_load(s, id);
    struct container_state_file cs = {0};
    if (!st || container_status(s, id, &cs, NULL) < 0) {
        return 0;
    }
    bool running = streq(cs.status, "running") || streq(cs.status, "paused");
    container_state_file_release(&cs);
    if (!running) {
        return 0;
    }
    if ((r = refresh_hosts(s, c, err)) < 0) {
        return r;
    }
    return dns_sync(s, c, jstr(st, "netns"), st, err);
}

void network_attach_network_removed(const struct network *n)
{
    if (!n->bridge || !streq(n->driver, "bridge")) {
        return;
    }
    char b4[IPAM_STRLEN], b6[IPAM_STRLEN];
    struct fw_network f;
    fw_net_of(n, &f, b4, b6);
    struct berth_error *e = NULL;
    if (fw_network_remove(&f, &e) < 0 || fw_fini(&e) < 0) {
        log_debug("firewall of removed network '%s': %s", n->name, e->msg);
        berth_error_free(e);
    }
}

int network_attach_remove(struct store *s, const char *name_or_id, struct berth_error **err)
{
    _cleanup_(network_freep) struct network *before = NULL;
    (void)network_get(s, name_or_id, &before, NULL);
    int r = network_remove(s, name_or_id, err);
    if (r >= 0 && before) {
        network_attach_network_removed(before);
    }
    return r;
}

int network_attach_prune(struct store *s, const struct network_prune_opts *o, char ***ret_removed,
                         struct berth_error **err)
{
    struct network **before = NULL;
    size_t n_before = 0;
    if (network_list(s, &before, &n_before, NULL) < 0) {
        before = NULL, n_before = 0;
    }
    char **removed = NULL;
    int r = network_prune(s, o, &removed, err);
    for (size_t i = 0; i < n_before; i++) {
        if (strv_contains(removed, before[i]->name)) {
            network_attach_network_removed(before[i]);
        }
    }
    network_list_free(before, n_before);
    *ret_removed = removed;
    return r;
}

/* ---- system check --------------------------------------------------------- */

static bool container_alive(const char *id, void *ud)
{
    struct store *s = ud;
    struct container_state_file st = {0};
    if (container_status(s, id, &st, NULL) < 0) {
        return false;
    }
    bool alive = streq(st.status, "running") || streq(st.status, "paused");
    container_state_file_release(&st);
    return alive;
}

int network_attach_check(struct store *s, struct network_attach_check *ret,
                         struct berth_error **err)
{
    /* What the firewall believes it added is checked again for real. */
    fw_markers_clear();
    struct network_attach_check res = {0};
    /* Recorded starts first: their ports and DNS records are only known
     * from the state files, and stop also releases their leases. */
    _cleanup_free_ char *dir = xasprintf("%s/network", s->runroot);
    DIR *d = opendir(dir);
    _cleanup_strv_free_ char **dead = NULL;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l != 64 + 5 || !streq(de->d_name + 64, ".json")) {
                continue;
            }
            _cleanup_free_ char *id = xstrndup(de->d_name, 64);
            if (!container_alive(id, s)) {
                strv_push(&dead, id);
            }
        }
        closedir(d);
    }
    STRV_FOREACH(id, dead)
    {
        /* Under the container's lock, and only if it is still not running
         * then: a start in progress (lease and veth made, status still
         * "created") holds the lock until it has written "running". */
        int lock = container_lock(s, *id, NULL); /* < 0: the container is gone */
        if (lock < 0 || !container_alive(*id, s)) {
            network_attach_stop(s, *id);
            res.containers++;
        }
        safe_close(lock);
    }
    /* DNS records of containers that are not running (a start that died
     * between the records and its state file cannot leave any: the state
     * file is written first, but a records file from an older run can). */
    _cleanup_free_ char *rec = xasprintf("%s/dns/records.json", s->runroot);
    _cleanup_json_ json_t *doc = NULL;
    if (json_load_file_at(AT_FDCWD, rec, 64u << 20, &doc, NULL) >= 0) {
        json_t *cs = json_object_get(doc, "containers");
        _cleanup_strv_free_ char **gone = NULL;
        for (size_t i = 0; i < json_array_size(cs); i++) {
            const char *id = jstr(json_array_get(cs, i), "id");
            if (id && !container_alive(id, s)) {
                strv_push(&gone, id);
            }
        }
        STRV_FOREACH(id, gone)
        {
            struct berth_error *e = NULL;
            if (dns_records_update(s->runroot, *id, NULL, &e) < 0) {
                log_debug("DNS records of %.12s: %s", *id, e->msg);
                berth_error_free(e);
            }
            res.containers++;
        }
    }
    int r = network_repair(s, container_alive, s, &res.leases, &res.links, err);
    if (r < 0) {
        return r;
    }
    if (ret) {
        *ret = res;
    }
    return 0;
}
