/* firewall.c - the `inet berth` nftables table (see firewall.h). */
#include "libberth/net/firewall.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strbuf.h"
#include "libberth/common/dl.h"

#define NFT_SYMBOLS(X)                                                                             \
    X(nft_ctx_new)                                                                                 \
    X(nft_ctx_free)                                                                                \
    X(nft_ctx_output_set_flags)                                                                    \
    X(nft_ctx_buffer_output)                                                                       \
    X(nft_ctx_buffer_error)                                                                        \
    X(nft_ctx_get_output_buffer)                                                                   \
    X(nft_ctx_get_error_buffer)                                                                    \
    X(nft_run_cmd_from_buffer)
DEFINE_DL_LIB(nft, NFT_SYMBOLS, "libnftables.so.1", "libnftables1")

#define FW_LOCK_PATH "/run/berth-firewall.lock"
#define T "inet " FW_TABLE
#define T_NAME FW_TABLE

/* The fixed part. Sets and maps hold all per-network and per-port state:
 *   bridges      every berth bridge            (isolation, 127/8 masquerade)
 *   internal     bridges of --internal networks (no forwarding in or out)
 *   same         "br" . "br" pairs              (intra-bridge traffic allowed)
 *   masq4/6      subnets of non-internal networks (egress masquerade)
 *   subnets4/6   every subnet                   (hairpin masquerade)
 *   dnat4/6      host addr . proto . port : container addr . port
 *   dnat4/6_any  proto . port : container addr . port (any local address)
 * "add" of an existing table/set/chain is a no-op; the chains are flushed and
 * their rules rewritten in the same transaction, so fw_init() converges to
 * the same ruleset however often it runs and never duplicates a rule. */
static const char fw_skeleton[] =
    "add table " T "\n"
    "add set " T " bridges { type ifname; }\n"
    "add set " T " internal { type ifname; }\n"
    "add set " T " same { type ifname . ifname; }\n"
    "add set " T " masq4 { type ipv4_addr; flags interval; }\n"
    "add set " T " masq6 { type ipv6_addr; flags interval; }\n"
    "add set " T " subnets4 { type ipv4_addr; flags interval; }\n"
    "add set " T " subnets6 { type ipv6_addr; flags interval; }\n"
    "add map " T
    " dnat4 { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n"
    "add map " T " dnat4_any { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
    "add map " T
    " dnat6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }\n"
    "add map " T " dnat6_any { type inet_proto . inet_service : ipv6_addr . inet_service; }\n"
    "add chain " T " raw_prerouting { type filter hook prerouting priority raw; policy accept; }\n"
    "add chain " T " prerouting { type nat hook prerouting priority dstnat; policy accept; }\n"
    "add chain " T " output { type nat hook output priority -100; policy accept; }\n"
    "add chain " T " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
    "add chain " T " forward { type filter hook forward priority filter; policy accept; }\n"
    "add chain " T " published\n"
    "flush chain " T " raw_prerouting\n"
    "flush chain " T " prerouting\n"
    "flush chain " T " output\n"
    "flush chain " T " postrouting\n"
    "flush chain " T " forward\n"
    "flush chain " T " published\n"
    /* CVE-2020-8558: with route_localnet=1 on a bridge, a neighbour could
     * otherwise reach services bound to 127.0.0.1 by sending packets to
     * 127.0.0.0/8 through it. Raw priority: before conntrack/NAT, so the
     * replies of our own 127.0.0.1 → container flows (addressed to the
     * gateway, de-NATed later) are unaffected. */
    "add rule " T " raw_prerouting iifname != \"lo\" ip daddr 127.0.0.0/8 drop\n"
    "add rule " T " published meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport "
    "map @dnat4\n"
    "add rule " T " published meta nfproto ipv4 dnat ip to meta l4proto . th dport map @dnat4_any\n"
    "add rule " T " published meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport "
    "map @dnat6\n"
    "add rule " T
    " published meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @dnat6_any\n"
    /* Published ports answer on local addresses only, from outside
     * (prerouting, also hairpin from containers) and from the host itself
     * (output: no userland proxy on that path). */
    "add rule " T " prerouting fib daddr type local jump published\n"
    "add rule " T " output fib daddr type local jump published\n"
    /* 127.0.0.1 → container: the source must be rewritten or the reply
     * would go to the container's own loopback. */
    "add rule " T " postrouting oifname @bridges ip saddr 127.0.0.0/8 masquerade\n"
    /* Hairpin: a container reaching a published port through a host
     * address; without this the server answers it directly and the
     * client drops the reply (wrong source address). */
    "add rule " T " postrouting ct status dnat oifname @bridges ip saddr @subnets4 masquerade\n"
    "add rule " T " postrouting ct status dnat oifname @bridges ip6 saddr @subnets6 masquerade\n"
    "add rule " T " postrouting oifname != @bridges ip saddr @masq4 masquerade\n"
    "add rule " T " postrouting oifname != @bridges ip6 saddr @masq6 masquerade\n"
    "add rule " T " forward iifname . oifname @same accept\n"
    "add rule " T " forward iifname @internal drop\n"
    "add rule " T " forward oifname @internal drop\n"
    /* Published ports are public: reachable from containers of other
     * networks through the host address, as with Docker's proxy. */
    "add rule " T " forward oifname @bridges ct status dnat accept\n"
    "add rule " T " forward iifname @bridges oifname @bridges drop\n";

static void nft_ctx_freep(struct nft_ctx **p)
{
    if (*p) {
        nft.nft_ctx_free(*p);
    }
}

/* The first line of libnftables' error text ("Error: Could not process
 * rule: File exists"), without the "Error: " prefix. */
static char *nft_first_error(const char *buf)
{
    if (!buf || !*buf) {
        return xstrdup("unknown error");
    }
    const char *s = strstr(buf, "Error: ");
    s = s ? s + 7 : buf;
    size_t n = strcspn(s, "\n");
    return xstrndup(s, n);
}

/* Run a batch (one transaction); on success *ret_out (if given) gets the
 * output (JSON when json). Returns -ENOENT when nft says so (a missing
 * table or element), -EEXIST for "File exists", else -EIO. */
static int nft_run(const char *cmd, bool json, char **ret_out, struct berth_error **err)
{
    int r = nft_load(err);
    if (r < 0) {
        return r;
    }
    _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = nft.nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        return berth_error_set(err, ENOMEM, "nftables: cannot create context");
    }
    if (json) {
        nft.nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
    }
    nft.nft_ctx_buffer_output(ctx);
    nft.nft_ctx_buffer_error(ctx);
    if (nft.nft_run_cmd_from_buffer(ctx, cmd) != 0) {
        const char *eb = nft.nft_ctx_get_error_buffer(ctx);
        _cleanup_free_ char *msg = nft_first_error(eb);
        int code = EIO;
        if (strstr(msg, "No such file or directory")) {
            code = ENOENT;
        } else if (strstr(msg, "File exists")) {
            code = EEXIST;
        } else if (strstr(msg, "Operation not permitted")) {
            code = EPERM;
        }
        log_debug("nft failed: %s", eb ? eb : "");
        return berth_error_set(err, code, "nftables: %s", msg);
    }
    if (ret_out) {
        const char *o = nft.nft_ctx_get_output_buffer(ctx);
        *ret_out = xstrdup(o ? o : "");
    }
    return 0;
}

static int fw_lock(struct berth_error **err)
{
    int fd = open(FW_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", FW_LOCK_PATH);
    }
    if (RETRY_EINTR(flock(fd, LOCK_EX)) < 0) {
        int e = errno;
        safe_close(fd);
        return berth_error_sys(err, e, "lock '%s'", FW_LOCK_PATH);
    }
    return fd;
}

/* Interface names go into nft syntax between quotes: the kernel's own rules
 * (at most 15 bytes, no '/', no whitespace) narrowed to a safe alphabet. */
static bool valid_ifname(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 15) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* "10.1.2.3/24" → "10.1.2.0/24" (host bits cleared: nft refuses them in
 * interval sets), written in canonical form so nothing else reaches nft. */
static int canon_prefix(const char *s, int family, char *out, size_t outlen,
                        struct berth_error **err)
{
    const char *slash = strchr(s, '/');
    int maxlen = family == AF_INET ? 32 : 128;
    if (!slash || slash == s || (size_t)(slash - s) >= INET6_ADDRSTRLEN) {
        return berth_error_set(err, EINVAL, "invalid subnet '%s'", s);
    }
    char addr[INET6_ADDRSTRLEN];
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    char *end;
    errno = 0;
    long plen = strtol(slash + 1, &end, 10);
    if (errno || *end || end == slash + 1 || plen < 0 || plen > maxlen) {
        return berth_error_set(err, EINVAL, "invalid subnet '%s'", s);
    }
    unsigned char bin[16] = {0};
    if (inet_pton(family, addr, bin) != 1) {
        return berth_error_set(err, EINVAL, "invalid subnet '%s'", s);
    }
    for (int bit = (int)plen; bit < maxlen; bit++) {
        bin[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    }
    char txt[INET6_ADDRSTRLEN];
    inet_ntop(family, bin, txt, sizeof(txt));
    snprintf(out, outlen, "%s/%ld", txt, plen);
    return 0;
}

/* The family of a literal address (canonicalised into out), or -EINVAL. */
static int canon_addr(const char *s, char *out, size_t outlen, struct berth_error **err)
{
    unsigned char bin[16];
    if (s && inet_pton(AF_INET, s, bin) == 1) {
        inet_ntop(AF_INET, bin, out, (socklen_t)outlen);
        return AF_INET;
    }
    if (s && inet_pton(AF_INET6, s, bin) == 1) {
        inet_ntop(AF_INET6, bin, out, (socklen_t)outlen);
        return AF_INET6;
    }
    return berth_error_set(err, EINVAL, "invalid IP address '%s'", s ? s : "");
}

/* ---- markers: what this boot's table already holds ---------------------
 * fw_init and fw_network_add run at every container start on a network; the
 * elements they add are there after the first, and loading libnftables and
 * parsing a batch costs milliseconds. So each success leaves a marker file
 * under FW_STATE_DIR whose content names the boot (kernel boot_id) and what
 * was added; a call whose marker matches returns at once. fw_network_remove
 * and fw_fini remove the markers of what they delete. Something outside
 * berth flushing the table (`nft flush ruleset`) is not noticed until the
 * next boot or `berth system check`, which calls fw_markers_clear. */
#define FW_STATE_DIR "/run/berth-firewall"
#define FW_RULES_VERSION "1"

/* The boot and the network namespace (a table lives in one: the tests
 * drive the firewall in a private one) the marker is about, then what. */
static char *marker_content(const char *what)
{
    char boot[64] = "", ns[64] = "";
    _cleanup_free_ char *b = NULL;
    size_t n = 0;
    if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", sizeof(boot), &b, &n, NULL) >=
        0) {
        snprintf(boot, sizeof(boot), "%.*s", (int)strcspn(b, "\n"), b);
    }
    ssize_t l = readlink("/proc/thread-self/ns/net", ns, sizeof(ns) - 1);
    ns[l > 0 ? l : 0] = '\0';
    return xasprintf("%s %s %s\n", boot, ns, what);
}

static char *marker_path(const char *name)
{
    return xasprintf(FW_STATE_DIR "/%s", name);
}

static bool marker_matches(const char *name, const char *what)
{
    _cleanup_free_ char *path = marker_path(name), *want = marker_content(what), *have = NULL;
    size_t n = 0;
    return read_file_at(AT_FDCWD, path, 4096, &have, &n, NULL) >= 0 && streq(have, want);
}

static void marker_write(const char *name, const char *what)
{
    (void)mkdir(FW_STATE_DIR, 0700);
    _cleanup_free_ char *path = marker_path(name), *text = marker_content(what);
    (void)write_file_replace_at(AT_FDCWD, path, text, strlen(text), 0600, NULL);
}

static void marker_remove(const char *name)
{
    _cleanup_free_ char *path = marker_path(name);
    (void)unlink(path);
}

void fw_markers_clear(void)
{
    (void)rm_rf_at(AT_FDCWD, FW_STATE_DIR, NULL);
}

/* Whether table inet berth exists in this network namespace: one
 * NFT_MSG_GETTABLE over nfnetlink (~20 us, no libnftables). 1 yes, 0 no
 * (or unknown: the caller then does the real work). */
static int table_exists(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        return 0;
    }
    struct {
        struct nlmsghdr h;
        struct nfgenmsg g;
        struct nlattr a;
        char name[8];
    } req = {0};
    req.h.nlmsg_len = sizeof(req);
    req.h.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.h.nlmsg_seq = 1;
    req.g.nfgen_family = NFPROTO_INET;
    req.g.version = NFNETLINK_V0;
    req.a.nla_type = NFTA_TABLE_NAME;
    req.a.nla_len = (uint16_t)(sizeof(req.a) + sizeof(T_NAME));
    memcpy(req.name, T_NAME, sizeof(T_NAME));
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int found = 0;
    if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) == sizeof(req)) {
        char buf[8192];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        /* A table answers with NEWTABLE (then an ACK); none with ENOENT. */
        if (n >= (ssize_t)sizeof(*h) && NLMSG_OK(h, (size_t)n) &&
            h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE)) {
            found = 1;
        }
    }
    close(fd);
    return found;
}

int fw_init(struct berth_error **err)
{
    /* The markers say what berth added this boot; the table itself is
     * checked every time too (a cheap netlink query), because someone
     * flushing the ruleset would otherwise leave bridges with
     * route_localnet=1 and no drop of remote packets to 127/8
     * (CVE-2020-8558) until the next `system check`. */
    if (marker_matches("table", "rules " FW_RULES_VERSION)) {
        if (table_exists()) {
            return 0;
        }
        fw_markers_clear();
    }
    _cleanup_close_ int lock = fw_lock(err);
    if (lock < 0) {
        return lock;
    }
    int r = nft_run(fw_skeleton, false, NULL, err);
    if (r < 0) {
        return berth_error_prefix(err, "firewall: create table '%s'", T);
    }
    marker_write("table", "rules " FW_RULES_VERSION);
    return 0;
}

/* The element lines of a network, one per line; verb is "add" or "delete". */
static int network_batch(const struct fw_network *n, const char *verb, struct strbuf *out,
                         struct berth_error **err)
{
    if (!n || !valid_ifname(n->bridge)) {
        return berth_error_set(err, EINVAL, "invalid bridge name '%s'",
                               n && n->bridge ? n->bridge : "");
    }
    char s4[64] = "", s6[80] = "";
    if (n->subnet4 && *n->subnet4 && canon_prefix(n->subnet4, AF_INET, s4, sizeof(s4), err) < 0) {
        return -EINVAL;
    }
    if (n->subnet6 && *n->subnet6 && canon_prefix(n->subnet6, AF_INET6, s6, sizeof(s6), err) < 0) {
        return -EINVAL;
    }
    const char *b = n->bridge;
    strbuf_addf(out, "%s element " T " bridges { \"%s\" }\n", verb, b);
    strbuf_addf(out, "%s element " T " same { \"%s\" . \"%s\" }\n", verb, b, b);
    if (n->internal) {
        strbuf_addf(out, "%s element " T " internal { \"%s\" }\n", verb, b);
    }
    if (*s4) {
        strbuf_addf(out, "%s element " T " subnets4 { %s }\n", verb, s4);
        if (!n->internal) {
            strbuf_addf(out, "%s element " T " masq4 { %s }\n", verb, s4);
        }
    }
    if (*s6) {
        strbuf_addf(out, "%s element " T " subnets6 { %s }\n", verb, s6);
        if (!n->internal) {
            strbuf_addf(out, "%s element " T " masq6 { %s }\n", verb, s6);
        }
    }
    return 0;
}

int fw_network_add(const struct fw_network *n, struct berth_error **err)
{
    struct strbuf b = STRBUF_INIT;
    int r = network_batch(n, "add", &b, err);
    if (r < 0) {
        strbuf_release(&b);
        return r;
    }
    /* The batch names the bridge, subnets and internal flag exactly: the
     * marker of the same batch means the same elements. */
    _cleanup_free_ char *mname = xasprintf("net-%s", n->bridge);
    if (marker_matches(mname, strbuf_str(&b))) {
        strbuf_release(&b);
        return 0;
    }
    _cleanup_close_ int lock = fw_lock(err);
    if (lock < 0) {
        strbuf_release(&b);
        return lock;
    }
    r = nft_run(strbuf_str(&b), false, NULL, err);
    strbuf_release(&b);
    if (r < 0) {
        return berth_error_prefix(err, "firewall: add network '%s'", n->bridge);
    }
    if (n->subnet4 && *n->subnet4) {
        /* 127.0.0.1 → container DNAT: without route_localnet the kernel
         * treats a 127/8 source leaving a non-loopback device as martian. */
        _cleanup_free_ char *p = xasprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", n->bridge);
        r = write_file_at(AT_FDCWD, p, "1", 1, err);
        if (r < 0) {
            struct strbuf undo = STRBUF_INIT;
            if (network_batch(n, "delete", &undo, NULL) == 0) {
                nft_run(strbuf_str(&undo), false, NULL, NULL);
            }
            strbuf_release(&undo);
            return berth_error_prefix(err, "firewall: add network '%s'", n->bridge);
        }
    }
    struct strbuf again = STRBUF_INIT;
    if (network_batch(n, "add", &again, NULL) == 0) {
        marker_write(mname, strbuf_str(&again));
    }
    strbuf_release(&again);
    return 0;
}

/* Run a delete batch; when it fails (some element already gone), delete
 * line by line so everything that is still there goes. */
static int run_deletes(const char *batch, struct berth_error **err)
{
    struct berth_error *e = NULL;
    int r = nft_run(batch, false, NULL, &e);
    if (r >= 0) {
        return 0;
    }
    if (r == -EPERM || r == -ELIBACC || r == -ELIBBAD) {
        berth_error_prefix(&e, "firewall");
        berth_error_pass(err, e);
        return r;
    }
    berth_error_free(e);
    const char *p = batch;
    while (*p) {
        size_t n = strcspn(p, "\n");
        _cleanup_free_ char *line = xstrndup(p, n);
        nft_run(line, false, NULL, NULL);
        p += n + (p[n] == '\n');
    }
    return 0;
}

int fw_network_remove(const struct fw_network *n, struct berth_error **err)
{
    struct strbuf b = STRBUF_INIT;
    int r = network_batch(n, "delete", &b, err);
    if (r < 0) {
        strbuf_release(&b);
        return r;
    }
    _cleanup_free_ char *mname = xasprintf("net-%s", n->bridge);
    marker_remove(mname);
    _cleanup_close_ int lock = fw_lock(err);
    if (lock >= 0) {
        r = run_deletes(strbuf_str(&b), err);
    } else {
        r = lock;
    }
    strbuf_release(&b);
    return r;
}

struct port_keys {
    int family; /* of the container address */
    bool any;   /* host_ip is a wildcard */
    char host[INET6_ADDRSTRLEN];
    char ctr[INET6_ADDRSTRLEN];
    unsigned first, last, cfirst;
    const char *proto;
};

static int port_keys(const struct fw_port *p, struct port_keys *k, struct berth_error **err)
{
    if (!p || (p->proto != FW_TCP && p->proto != FW_UDP)) {
        return berth_error_set(err, EINVAL, "invalid protocol");
    }
    k->proto = p->proto == FW_TCP ? "tcp" : "udp";
    k->family = canon_addr(p->container_ip, k->ctr, sizeof(k->ctr), err);
    if (k->family < 0) {
        return k->family;
    }
    k->any = !p->host_ip || !*p->host_ip || streq(p->host_ip, "0.0.0.0") || streq(p->host_ip, "::");
    if (k->any) {
        snprintf(k->host, sizeof(k->host), "%s",
                 p->host_ip && *p->host_ip ? p->host_ip
                                           : (k->family == AF_INET ? "0.0.0.0" : "::"));
    } else {
        int hf = canon_addr(p->host_ip, k->host, sizeof(k->host), err);
        if (hf < 0) {
            return hf;
        }
        if (hf != k->family) {
            return berth_error_set(err, EINVAL,
                                   "host address '%s' and container address '%s' "
                                   "are of different families",
                                   p->host_ip, p->container_ip);
        }
    }
    k->first = p->host_port;
    k->last = p->host_port_last ? p->host_port_last : p->host_port;
    k->cfirst = p->container_port;
    if (k->first == 0 || k->last < k->first || k->cfirst == 0 ||
        k->cfirst + (k->last - k->first) > 65535) {
        return berth_error_set(err, EINVAL, "invalid port range %u-%u:%u", k->first, k->last,
                               k->cfirst);
    }
    return 0;
}

static void port_batch(const struct port_keys *k, const char *verb, bool with_data,
                       struct strbuf *b)
{
    const char *map =
        k->family == AF_INET ? (k->any ? "dnat4_any" : "dnat4") : (k->any ? "dnat6_any" : "dnat6");
    for (unsigned port = k->first; port <= k->last; port++) {
        strbuf_addf(b, "%s element " T " %s { ", verb, map);
        if (!k->any) {
            strbuf_addf(b, "%s . ", k->host);
        }
        strbuf_addf(b, "%s . %u", k->proto, port);
        if (with_data) {
            strbuf_addf(b, " : %s . %u", k->ctr, k->cfirst + (port - k->first));
        }
        strbuf_adds(b, " }\n");
    }
}

static int port_in_use(const struct fw_port *p, const struct port_keys *k, unsigned port,
                       const char *why, struct berth_error **err)
{
    return berth_error_set(err, EADDRINUSE,
                           "driver failed programming external connectivity on endpoint %s: "
                           "Bind for %s%s%s:%u failed: %s",
                           p->endpoint ? p->endpoint : "", k->family == AF_INET6 ? "[" : "",
                           k->host, k->family == AF_INET6 ? "]" : "", port, why);
}

int fw_port_add(const struct fw_port *p, struct berth_error **err)
{
    struct port_keys k;
    int r = port_keys(p, &k, err);
    if (r < 0) {
        return r;
    }
    struct strbuf b = STRBUF_INIT;
    /* "create" fails on an existing key: a port published twice. */
    port_batch(&k, "create", true, &b);
    r = nft_run(strbuf_str(&b), false, NULL, err);
    strbuf_release(&b);
    if (r == -EEXIST) {
        if (err && *err) {
            berth_error_free(*err);
            *err = NULL;
        }
        return port_in_use(p, &k, k.first, "port is already allocated", err);
    }
    if (r < 0) {
        return berth_error_prefix(err, "firewall: publish port %u", k.first);
    }
    return 0;
}

int fw_port_remove(const struct fw_port *p, struct berth_error **err)
{
    struct port_keys k;
    int r = port_keys(p, &k, err);
    if (r < 0) {
        return r;
    }
    struct strbuf b = STRBUF_INIT;
    port_batch(&k, "delete", false, &b);
    r = run_deletes(strbuf_str(&b), err);
    strbuf_release(&b);
    return r;
}

/* Is proto/port (on host, or any) already in one of the dnat maps? The maps
 * are read as JSON: elem = [[{"concat": KEY}, {"concat": DATA}], ...]. */
static bool map_has(json_t *doc, const struct port_keys *k, unsigned port)
{
    json_t *items = json_object_get(doc, "nftables");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        json_t *m = json_object_get(it, "map");
        const char *name = json_string_value(json_object_get(m, "name"));
        if (!name || !strneq(name, "dnat", 4)) {
            continue;
        }
        bool map_any = strstr(name, "_any") != NULL;
        size_t j;
        json_t *e;
        json_array_foreach(json_object_get(m, "elem"), j, e)
        {
            json_t *key = json_object_get(json_array_get(e, 0), "concat");
            size_t n = json_array_size(key);
            if (n < 2) {
                continue;
            }
            const char *proto = json_string_value(json_array_get(key, n - 2));
            json_int_t kport = json_integer_value(json_array_get(key, n - 1));
            if (!proto || !streq(proto, k->proto) || kport != (json_int_t)port) {
                continue;
            }
            if (map_any || k->any) {
                return true;
            }
            const char *addr = json_string_value(json_array_get(key, 0));
            if (addr && streq(addr, k->host)) {
                return true;
            }
        }
    }
    return false;
}

/* Bind probe: whatever else on the host holds the port (a listener, a
 * proxy, another engine) makes bind fail. SO_REUSEADDR so that TIME_WAIT
 * leftovers do not count, as they would not stop a server either. */
static int bind_probe(const struct port_keys *k, unsigned port)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u = {0};
    socklen_t len;
    int fam = k->family;
    if (fam == AF_INET) {
        u.in.sin_family = AF_INET;
        u.in.sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, k->any ? "0.0.0.0" : k->host, &u.in.sin_addr);
        len = sizeof(u.in);
    } else {
        u.in6.sin6_family = AF_INET6;
        u.in6.sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, k->any ? "::" : k->host, &u.in6.sin6_addr);
        len = sizeof(u.in6);
    }
    bool tcp = streq(k->proto, "tcp");
    _cleanup_close_ int fd = socket(fam, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    if (tcp) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (fam == AF_INET6) {
        /* "::" probes IPv6 only; 0.0.0.0 is probed for the v4 mapping. */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, &u.sa, len) < 0) {
        return -errno;
    }
    return 0;
}

int fw_port_check_free(const struct fw_port *p, struct berth_error **err)
{
    struct port_keys k;
    int r = port_keys(p, &k, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *out = NULL;
    json_t *doc = NULL;
    struct berth_error *e = NULL;
    r = nft_run("list table " T "\n", true, &out, &e);
    if (r == -ENOENT) {
        berth_error_free(e);
    } else if (r < 0) {
        berth_error_pass(err, e);
        return r;
    } else {
        doc = json_loads(out, 0, NULL);
    }
    for (unsigned port = k.first; port <= k.last; port++) {
        if (doc && map_has(doc, &k, port)) {
            json_decref(doc);
            return port_in_use(p, &k, port, "port is already allocated", err);
        }
        r = bind_probe(&k, port);
        if (r == -EADDRINUSE) {
            json_decref(doc);
            return port_in_use(p, &k, port, "port is already allocated", err);
        }
        if (r < 0) {
            char buf[128];
            json_decref(doc);
            return port_in_use(p, &k, port, berth_strerror(-r, buf, sizeof(buf)), err);
        }
    }
    json_decref(doc);
    return 0;
}

int fw_fini(struct berth_error **err)
{
    _cleanup_close_ int lock = fw_lock(err);
    if (lock < 0) {
        return lock;
    }
    _cleanup_free_ char *out = NULL;
    struct berth_error *e = NULL;
    int r = nft_run("list set " T " bridges\n", true, &out, &e);
    if (r == -ENOENT) {
        berth_error_free(e);
        return 0;
    }
    if (r < 0) {
        berth_error_pass(err, e);
        return r;
    }
    json_t *doc = json_loads(out, 0, NULL);
    bool empty = true;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(doc, "nftables"), i, it)
    {
        json_t *s = json_object_get(it, "set");
        if (s && json_array_size(json_object_get(s, "elem")) > 0) {
            empty = false;
        }
    }
    json_decref(doc);
    if (!doc || !empty) {
        return 0;
    }
    fw_markers_clear();
    r = nft_run("delete table " T "\n", false, NULL, err);
    if (r < 0) {
        return berth_error_prefix(err, "firewall: delete table '%s'", T);
    }
    return 1;
}

int fw_forward_blocked(char **ret_where, struct berth_error **err)
{
    _cleanup_free_ char *out = NULL;
    int r = nft_run("list chains\n", true, &out, err);
    if (r < 0) {
        return r;
    }
    json_t *doc = json_loads(out, 0, NULL);
    size_t i;
    json_t *it;
    int found = 0;
    json_array_foreach(json_object_get(doc, "nftables"), i, it)
    {
        json_t *c = json_object_get(it, "chain");
        const char *hook = json_string_value(json_object_get(c, "hook"));
        const char *policy = json_string_value(json_object_get(c, "policy"));
        const char *fam = json_string_value(json_object_get(c, "family"));
        const char *table = json_string_value(json_object_get(c, "table"));
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!hook || !policy || !fam || !table || !name || !streq(hook, "forward") ||
            !streq(policy, "drop") || (streq(fam, "inet") && streq(table, FW_TABLE))) {
            continue;
        }
        if (ret_where) {
            *ret_where = xasprintf("table %s %s chain %s", fam, table, name);
        }
        found = 1;
        break;
    }
    json_decref(doc);
    return found;
}
