/* ipam.h - IP address management as pure functions: no I/O, no state.
 *
 * A prefix is an address family, the address bytes (network order, IPv4 in
 * the first 4) and a prefix length; a plain address is a prefix of full
 * length. The networks module (networks.h) feeds these functions what it
 * read from the db and the host's routes, and stores their answers.
 *
 * Docker's behaviour and wording, which users' scripts match on:
 *  - subnets "a.b.c.d/n" or IPv6 "x::/n"; a malformed one is
 *    "invalid subnet 10.0.0.0/33", one with host bits set is
 *    "invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24";
 *  - a requested subnet that overlaps another network's:
 *    "Pool overlaps with other one on this address space";
 *  - automatic subnets come from Docker's default pools: the default network
 *    takes 172.17.0.0/16, user networks 172.18.0.0/16 .. 172.31.0.0/16 and
 *    then 192.168.0.0/16 split into /20s; the first pool that overlaps
 *    neither a taken prefix (host routes other than the default route, other
 *    networks) wins; none left is "no available network";
 *  - the gateway is the first host address unless given, and must lie in the
 *    subnet: "gateway 10.1.0.1 not in subnet 10.0.0.0/24";
 *  - --ip-range must lie inside its subnet;
 *  - leases are the lowest free address of the range, never the network
 *    address, the gateway or (IPv4) the broadcast address; a static address
 *    outside the subnet is "Invalid Address 10.0.0.x: It does not belong to
 *    any of this network's subnets", a taken one "Address already in use";
 *  - a container's MAC is 02:42 followed by its IPv4 address.
 */
#ifndef BERTH_NET_IPAM_H
#define BERTH_NET_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" and a NUL. */
#define IPAM_STRLEN 52

struct ipam_prefix {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order */
    unsigned len;     /* prefix length: 0..32 or 0..128 */
};

/* Address bits of the family: 32 or 128. */
unsigned ipam_bits(const struct ipam_prefix *p);

/* "10.0.0.0/16" -> prefix; family 0 accepts either. Errors as above
 * (EINVAL). A subnet with host bits set is refused. */
int ipam_parse_subnet(const char *s, int family, struct ipam_prefix *ret, struct berth_error **err);
/* "10.0.0.1" -> full-length prefix. what names the value in the error
 * ("invalid gateway 'x'"). */
int ipam_parse_addr(const char *s, int family, const char *what, struct ipam_prefix *ret,
                    struct berth_error **err);
/* Text of p: with "/len" when with_len, else the bare address. */
void ipam_format(const struct ipam_prefix *p, bool with_len, char buf[IPAM_STRLEN]);

/* Clear the host bits of p (in place). */
void ipam_mask(struct ipam_prefix *p);
/* inner lies wholly within outer (same family, inner no shorter). */
bool ipam_contains(const struct ipam_prefix *outer, const struct ipam_prefix *inner);
/* The two share an address. */
bool ipam_overlaps(const struct ipam_prefix *a, const struct ipam_prefix *b);
bool ipam_equal_addr(const struct ipam_prefix *a, const struct ipam_prefix *b);

/* The n-th address of subnet (n = 0 is the network address), as a
 * full-length prefix; -ERANGE past the end. */
int ipam_nth(const struct ipam_prefix *subnet, uint64_t n, struct ipam_prefix *ret);
/* The first host address: the default gateway. */
int ipam_first_host(const struct ipam_prefix *subnet, struct ipam_prefix *ret,
                    struct berth_error **err);

/* Pick an IPv4 pool (see above) overlapping none of taken[0..n). */
int ipam_choose_pool(bool default_network, const struct ipam_prefix *taken, size_t n,
                     struct ipam_prefix *ret, struct berth_error **err);
/* A requested subnet against the other networks' subnets. */
int ipam_check_overlap(const struct ipam_prefix *subnet, const struct ipam_prefix *others, size_t n,
                       struct berth_error **err);
int ipam_check_gateway(const struct ipam_prefix *subnet, const struct ipam_prefix *gateway,
                       struct berth_error **err);
int ipam_check_range(const struct ipam_prefix *subnet, const struct ipam_prefix *range,
                     struct berth_error **err);

/* The lowest free address of range (NULL: the whole subnet) that is not
 * the network address, the gateway, the IPv4 broadcast address or in
 * taken[0..n). -ENOSPC "no available IPv4 addresses on this network's
 * address pools" when none is left. */
int ipam_next_free(const struct ipam_prefix *subnet, const struct ipam_prefix *range,
                   const struct ipam_prefix *gateway, const struct ipam_prefix *taken, size_t n,
                   struct ipam_prefix *ret, struct berth_error **err);
/* A requested static address: inside subnet, not the network or broadcast
 * address, not the gateway, not taken. */
int ipam_check_static(const struct ipam_prefix *subnet, const struct ipam_prefix *gateway,
                      const struct ipam_prefix *addr, const struct ipam_prefix *taken, size_t n,
                      struct berth_error **err);

/* "02:42:ac:11:00:02" for 172.17.0.2 (Docker's generated MAC). */
void ipam_mac_from_ipv4(const struct ipam_prefix *addr, char buf[18]);
/* Parse "aa:bb:cc:dd:ee:ff" (EINVAL "invalid MAC address 'x'"). */
int ipam_parse_mac(const char *s, uint8_t ret[6], struct berth_error **err);

#endif
