/* ipam.c - subnets, pools and leases (see ipam.h). */
#include "ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

unsigned ipam_bits(const struct ipam_prefix *p)
{
    return p->family == AF_INET6 ? 128 : 32;
}

/* inet_pton for either family; the family found, or 0. */
static int parse_bytes(const char *s, int family, uint8_t out[16])
{
    memset(out, 0, 16);
    if ((family == 0 || family == AF_INET) && inet_pton(AF_INET, s, out) == 1) {
        return AF_INET;
    }
    if ((family == 0 || family == AF_INET6) && inet_pton(AF_INET6, s, out) == 1) {
        return AF_INET6;
    }
    return 0;
}

int ipam_parse_subnet(const char *s, int family, struct ipam_prefix *ret, struct berth_error **err)
{
    const char *slash = strchr(s, '/');
    char addr[64];
    if (!slash || (size_t)(slash - s) >= sizeof(addr) || !slash[1] || strlen(slash + 1) > 3) {
        return berth_error_set(err, EINVAL, "invalid subnet %s", s);
    }
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    struct ipam_prefix p = {0};
    p.family = parse_bytes(addr, family, p.addr);
    unsigned len = 0;
    for (const char *c = slash + 1; *c; c++) {
        if (*c < '0' || *c > '9') {
            return berth_error_set(err, EINVAL, "invalid subnet %s", s);
        }
        len = len * 10 + (unsigned)(*c - '0');
    }
    if (!p.family || len > ipam_bits(&p)) {
        return berth_error_set(err, EINVAL, "invalid subnet %s", s);
    }
    p.len = len;
    struct ipam_prefix masked = p;
    ipam_mask(&masked);
    if (memcmp(masked.addr, p.addr, 16) != 0) {
        char want[IPAM_STRLEN];
        ipam_format(&masked, true, want);
        return berth_error_set(err, EINVAL, "invalid subnet %s: it should be %s", s, want);
    }
    *ret = p;
    return 0;
}

int ipam_parse_addr(const char *s, int family, const char *what, struct ipam_prefix *ret,
                    struct berth_error **err)
{
    struct ipam_prefix p = {0};
    p.family = parse_bytes(s, family, p.addr);
    if (!p.family) {
        return berth_error_set(err, EINVAL, "invalid %s '%s'", what, s);
    }
    p.len = ipam_bits(&p);
    *ret = p;
    return 0;
}

void ipam_format(const struct ipam_prefix *p, bool with_len, char buf[IPAM_STRLEN])
{
    char a[INET6_ADDRSTRLEN];
    if (!inet_ntop(p->family == AF_INET6 ? AF_INET6 : AF_INET, p->addr, a, sizeof(a))) {
        snprintf(a, sizeof(a), "?");
    }
    if (with_len) {
        snprintf(buf, IPAM_STRLEN, "%s/%u", a, p->len);
    } else {
        snprintf(buf, IPAM_STRLEN, "%s", a);
    }
}

void ipam_mask(struct ipam_prefix *p)
{
    unsigned bits = ipam_bits(p);
    for (unsigned i = 0; i < bits / 8; i++) {
        unsigned first = i * 8;
        if (first >= p->len) {
            p->addr[i] = 0;
        } else if (first + 8 > p->len) {
            p->addr[i] &= (uint8_t)(0xff << (8 - (p->len - first)));
        }
    }
    memset(p->addr + bits / 8, 0, 16 - bits / 8);
}

/* The first len bits of a and b are equal. */
static bool same_bits(const uint8_t *a, const uint8_t *b, unsigned len)
{
    unsigned full = len / 8, rest = len % 8;
    if (memcmp(a, b, full) != 0) {
        return false;
    }
    if (rest == 0) {
        return true;
    }
    uint8_t m = (uint8_t)(0xff << (8 - rest));
    return (a[full] & m) == (b[full] & m);
}

bool ipam_contains(const struct ipam_prefix *outer, const struct ipam_prefix *inner)
{
    return outer->family == inner->family && inner->len >= outer->len &&
           same_bits(outer->addr, inner->addr, outer->len);
}

bool ipam_overlaps(const struct ipam_prefix *a, const struct ipam_prefix *b)
{
    return ipam_contains(a, b) || ipam_contains(b, a);
}

bool ipam_equal_addr(const struct ipam_prefix *a, const struct ipam_prefix *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, ipam_bits(a) / 8) == 0;
}

/* Add n to the address, big-endian; false on overflow of the family. */
static bool addr_add(struct ipam_prefix *p, uint64_t n)
{
    unsigned bytes = ipam_bits(p) / 8;
    unsigned carry = 0;
    for (int i = (int)bytes - 1; i >= 0; i--) {
        unsigned v = p->addr[i] + (unsigned)(n & 0xff) + carry;
        p->addr[i] = (uint8_t)v;
        carry = v >> 8;
        n >>= 8;
    }
    return carry == 0 && n == 0;
}

/* Number of addresses in subnet, saturated at UINT64_MAX. */
static uint64_t subnet_size(const struct ipam_prefix *subnet)
{
    unsigned host = ipam_bits(subnet) - subnet->len;
    return host >= 64 ? UINT64_MAX : (uint64_t)1 << host;
}

int ipam_nth(const struct ipam_prefix *subnet, uint64_t n, struct ipam_prefix *ret)
{
    if (n >= subnet_size(subnet)) {
        return -ERANGE;
    }
    struct ipam_prefix p = *subnet;
    ipam_mask(&p);
    if (!addr_add(&p, n)) {
        return -ERANGE;
    }
    p.len = ipam_bits(&p);
    *ret = p;
    return 0;
}

int ipam_first_host(const struct ipam_prefix *subnet, struct ipam_prefix *ret,
                    struct berth_error **err)
{
    char s[IPAM_STRLEN];
    /* /31 and /32 (and their IPv6 twins) leave no room for a gateway and a
     * container. */
    if (subnet_size(subnet) < 4) {
        ipam_format(subnet, true, s);
        return berth_error_set(err, EINVAL, "subnet %s is too small", s);
    }
    return ipam_nth(subnet, 1, ret);
}

/* Docker's default address pools (libnetwork ipamutils). */
static int pool_at(size_t i, struct ipam_prefix *ret)
{
    struct ipam_prefix p = {.family = AF_INET};
    if (i < 15) {
        p.addr[0] = 172, p.addr[1] = (uint8_t)(17 + i), p.len = 16;
    } else if (i < 15 + 16) {
        p.addr[0] = 192, p.addr[1] = 168, p.addr[2] = (uint8_t)((i - 15) << 4), p.len = 20;
    } else {
        return -ENOENT;
    }
    *ret = p;
    return 0;
}

int ipam_choose_pool(bool default_network, const struct ipam_prefix *taken, size_t n,
                     struct ipam_prefix *ret, struct berth_error **err)
{
    struct ipam_prefix p;
    for (size_t i = default_network ? 0 : 1; pool_at(i, &p) == 0; i++) {
        bool free_pool = true;
        for (size_t k = 0; k < n && free_pool; k++) {
            /* The default route overlaps everything and says nothing about
             * which private ranges are in use. */
            if (taken[k].len > 0 && ipam_overlaps(&p, &taken[k])) {
                free_pool = false;
            }
        }
        if (free_pool) {
            *ret = p;
            return 0;
        }
    }
    return berth_error_set(err, ENOSPC, "no available network");
}

int ipam_check_overlap(const struct ipam_prefix *subnet, const struct ipam_prefix *others, size_t n,
                       struct berth_error **err)
{
    for (size_t k = 0; k < n; k++) {
        if (ipam_overlaps(subnet, &others[k])) {
            return berth_error_set(err, EEXIST,
                                   "Pool overlaps with other one on this address space");
        }
    }
    return 0;
}

int ipam_check_gateway(const struct ipam_prefix *subnet, const struct ipam_prefix *gateway,
                       struct berth_error **err)
{
    if (!ipam_contains(subnet, gateway)) {
        char g[IPAM_STRLEN], s[IPAM_STRLEN];
        ipam_format(gateway, false, g);
        ipam_format(subnet, true, s);
        return berth_error_set(err, EINVAL, "gateway %s not in subnet %s", g, s);
    }
    return 0;
}

int ipam_check_range(const struct ipam_prefix *subnet, const struct ipam_prefix *range,
                     struct berth_error **err)
{
    if (!ipam_contains(subnet, range)) {
        char g[IPAM_STRLEN], s[IPAM_STRLEN];
        ipam_format(range, true, g);
        ipam_format(subnet, true, s);
        return berth_error_set(err, EINVAL, "ip-range %s not in subnet %s", g, s);
    }
    return 0;
}

/* The network address, or (IPv4, subnets with a broadcast) the last one. */
static bool reserved_addr(const struct ipam_prefix *subnet, const struct ipam_prefix *a)
{
    struct ipam_prefix x;
    if (ipam_nth(subnet, 0, &x) == 0 && ipam_equal_addr(&x, a)) {
        return true;
    }
    if (subnet->family == AF_INET && subnet->len < 31 &&
        ipam_nth(subnet, subnet_size(subnet) - 1, &x) == 0 && ipam_equal_addr(&x, a)) {
        return true;
    }
    return false;
}

static bool addr_taken(const struct ipam_prefix *a, const struct ipam_prefix *taken, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (ipam_equal_addr(a, &taken[k])) {
            return true;
        }
    }
    return false;
}

int ipam_next_free(const struct ipam_prefix *subnet, const struct ipam_prefix *range,
                   const struct ipam_prefix *gateway, const struct ipam_prefix *taken, size_t n,
                   struct ipam_prefix *ret, struct berth_error **err)
{
    const struct ipam_prefix *r = range ? range : subnet;
    /* Every candidate skipped is the network or broadcast address, the
     * gateway or a taken one, so n + 4 candidates always suffice. */
    uint64_t size = subnet_size(r);
    uint64_t tries = (uint64_t)n + 4;
    for (uint64_t i = 0; i < size && i < tries; i++) {
        struct ipam_prefix a;
        if (ipam_nth(r, i, &a) < 0) {
            break;
        }
        if (reserved_addr(subnet, &a) || (gateway && ipam_equal_addr(&a, gateway)) ||
            addr_taken(&a, taken, n)) {
            continue;
        }
        *ret = a;
        return 0;
    }
    return berth_error_set(err, ENOSPC, "no available %s addresses on this network's address pools",
                           subnet->family == AF_INET6 ? "IPv6" : "IPv4");
}

int ipam_check_static(const struct ipam_prefix *subnet, const struct ipam_prefix *gateway,
                      const struct ipam_prefix *addr, const struct ipam_prefix *taken, size_t n,
                      struct berth_error **err)
{
    if (!ipam_contains(subnet, addr)) {
        char a[IPAM_STRLEN];
        ipam_format(addr, false, a);
        return berth_error_set(err, EINVAL,
                               "Invalid Address %s: It does not belong to any of this network's "
                               "subnets",
                               a);
    }
    if (reserved_addr(subnet, addr) || (gateway && ipam_equal_addr(addr, gateway)) ||
        addr_taken(addr, taken, n)) {
        return berth_error_set(err, EADDRINUSE, "Address already in use");
    }
    return 0;
}

void ipam_mac_from_ipv4(const struct ipam_prefix *addr, char buf[18])
{
    snprintf(buf, 18, "02:42:%02x:%02x:%02x:%02x", addr->addr[0], addr->addr[1], addr->addr[2],
             addr->addr[3]);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int ipam_parse_mac(const char *s, uint8_t ret[6], struct berth_error **err)
{
    uint8_t m[6];
    if (strlen(s) != 17) {
        return berth_error_set(err, EINVAL, "invalid MAC address '%s'", s);
    }
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':')) {
            return berth_error_set(err, EINVAL, "invalid MAC address '%s'", s);
        }
        m[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(ret, m, 6);
    return 0;
}
