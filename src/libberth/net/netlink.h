/* netlink.h - links, addresses and routes over rtnetlink, in-process.
 *
 * Messages are built by hand (linux/rtnetlink.h): the handful berth sends
 * need a header, a few attributes and one level of nesting, which a small
 * builder here does without loading libmnl (docs/architecture.md).
 *
 * A socket belongs to the network namespace it was created in, for life:
 * netlink_open(netns_fd) enters that namespace in the calling thread
 * (setns), makes the socket and goes back, so later requests on it act
 * there without further setns. netns_fd -1 means the caller's namespace.
 * Every request waits for its ack; errors name the interface and the
 * operation ("create bridge br-1a2b3c4d5e6f: file exists").
 *
 * A container's interface is made with netlink_veth_setup: a veth pair
 * whose peer is created straight inside the container's namespace
 * (IFLA_NET_NS_FD) under a temporary name, the host side enslaved to the
 * bridge and up; then, inside the namespace, the peer is renamed (eth0),
 * given its MAC, MTU and addresses, set up, given a default route via the
 * gateway (unless internal), and lo is set up. On failure the host side
 * (and with it the peer) is deleted: nothing is left.
 *
 * Sysctls of interfaces (route_localnet, disable_ipv6) are written through
 * /proc/sys of the caller's namespace, opened with RESOLVE_NO_SYMLINKS and
 * checked to be procfs (CVE-2025-52881: writes redirected by racing mounts).
 */
#ifndef BERTH_NET_NETLINK_H
#define BERTH_NET_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"
#include "libberth/net/ipam.h"

struct netlink;

int netlink_open(int netns_fd, struct netlink **ret, struct berth_error **err);
void netlink_close(struct netlink *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct netlink *, netlink_close)

/* ifindex of a link; -ENODEV when there is none. */
int netlink_link_index(struct netlink *nl, const char *name, int *ret, struct berth_error **err);
/* Delete a link; -ENODEV (with an error) when it does not exist. */
int netlink_link_delete(struct netlink *nl, const char *name, struct berth_error **err);
int netlink_link_set_up(struct netlink *nl, const char *name, struct berth_error **err);
/* Take a link down and out of its bridge (no master): unlike a delete,
 * which waits for an RCU grace period (~20 ms), this returns at once;
 * -ENODEV (with an error) when it does not exist. */
int netlink_link_detach(struct netlink *nl, const char *name, struct berth_error **err);
/* Names of every link whose name starts with prefix (strv). */
int netlink_link_list(struct netlink *nl, const char *prefix, char ***ret,
                      struct berth_error **err);

/* A bridge, down, with this MTU (0: the kernel's); -EEXIST if the name is
 * taken. */
int netlink_bridge_create(struct netlink *nl, const char *name, unsigned mtu,
                          struct berth_error **err);
/* Add addr (address + prefix length) to a link; an address it already has
 * is fine. IPv6 addresses skip duplicate address detection. */
int netlink_addr_add(struct netlink *nl, const char *ifname, const struct ipam_prefix *addr,
                     struct berth_error **err);
/* Default route via gw on ifname. */
int netlink_route_add_default(struct netlink *nl, const char *ifname, const struct ipam_prefix *gw,
                              struct berth_error **err);
/* Destinations of the unicast routes of the main table of family
 * (AF_INET, AF_INET6 or 0 for both), default routes included (len 0). */
int netlink_route_dump(struct netlink *nl, int family, struct ipam_prefix **ret, size_t *ret_n,
                       struct berth_error **err);

struct netlink_veth {
    const char *host_name; /* host side, e.g. "vb1a2b3c4d5e6f7" (<= 15 bytes) */
    const char *tmp_name;  /* the peer's name until it is renamed, unique on the host */
    const char *bridge;    /* master of the host side */
    int netns_fd;          /* the container's network namespace */
    const char *ifname;    /* the peer's final name: "eth0" */
    uint8_t mac[6];
    unsigned mtu;                    /* 0: 1500 */
    const struct ipam_prefix *addrs; /* addresses with their subnet's prefix length */
    size_t n_addrs;
    const struct ipam_prefix *gateway4; /* NULL: no IPv4 default route */
    const struct ipam_prefix *gateway6; /* NULL: no IPv6 default route */
};
/* See the top of this file. host_nl is a socket of the bridge's namespace. */
int netlink_veth_setup(struct netlink *host_nl, const struct netlink_veth *v,
                       struct berth_error **err);

/* Write value to /proc/sys/net/<key> of the caller's network namespace,
 * key like "ipv4/conf/br-x/route_localnet". */
int netlink_sysctl_write(const char *key, const char *value, struct berth_error **err);

#endif
