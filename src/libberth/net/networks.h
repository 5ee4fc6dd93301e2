/* networks.h - networks, their bridges, and containers' endpoints.
 *
 * A network is a row of the db (table networks: id, name, driver, bridge,
 * created, config JSON) and, for the "bridge" driver, a Linux bridge on the
 * host whose addresses are the networks' gateways. config holds the parts
 * of Docker's NetworkCreate request berth keeps: {"Internal", "Attachable",
 * "EnableIPv6", "IPAM": {"Config": [{"Subnet", "IPRange"?, "Gateway"}]},
 * "Options", "Labels"}; subnets chosen by the pools are written into it at
 * create, so inspect shows them as Docker does.
 *
 * Predefined networks always exist (their rows are made on the first call
 * of any function here): "bridge" (driver bridge, device berth0, subnet
 * from the pools - 172.17.0.0/16 unless the host routes it already, e.g. to
 * another engine's docker0 - the device made on first use; a store other
 * than the default one names it "berth-<8 hex of its root's SHA-256>"), "host"
 * (driver host) and "none" (driver null); none can be removed.
 *
 * Create: driver "bridge" only (other names: ENOTSUP 'plugin "x" not
 * found', "host"/"null": 'only one instance of "host" network is allowed');
 * a 64-hex id; bridge device br-<first 12 hex of the id> unless option
 * com.docker.network.bridge.name names one (and com.docker.network.driver.mtu
 * sets its MTU); "network with name x already exists" (EEXIST). The bridge
 * is made, given its gateway addresses, route_localnet=1 (published ports
 * answer on 127.0.0.1 through DNAT; see firewall) and IPv6 off unless
 * EnableIPv6, and set up, all before the row commits: on any failure
 * neither row nor link is left.
 *
 * Lookup (network_get and everything that takes a network): full id, exact
 * name, then a unique id prefix; "network x not found" (ENOENT),
 * "network x is ambiguous (2 matches found based on ID prefix)".
 *
 * Endpoints: a container's membership of a network. Calling order for the
 * container layer:
 *     create/connect:  network_endpoint_add       (row: aliases, requests)
 *     start/connect:   network_endpoint_up        (lease + veth in netns)
 *     stop/disconnect: network_endpoint_down      (veth gone, lease freed)
 *     rm/disconnect:   network_endpoint_remove    (row gone; does down)
 * up allocates the lease in one transaction (a static address is checked,
 * else the lowest free one; the MAC from the IPv4 address unless given),
 * recreates the bridge if it is gone (after a reboot), and makes the veth
 * (host side vb<7 hex of container><6 hex of network>) with the peer named
 * ifname inside netns_fd; on failure the lease is released and no link is
 * left. down is idempotent and works when the namespace or the link is
 * already gone. A removed container's rows also go with it (ON DELETE
 * CASCADE), but its veth only goes with down or network_repair.
 *
 * Repair: network_repair releases the leases of containers the caller says
 * are not running (their namespace is gone), deletes their veths, and
 * deletes host links named like berth's veths of this store's networks
 * (the name's last 6 hex) that no leased endpoint owns; veths of other
 * stores on the host are never touched. Create refuses subnets in the
 * this-host, loopback, multicast and class E ranges (::/127, ff00::/8).
 *
 * Concurrency: every change is one db transaction (BEGIN IMMEDIATE), taken
 * before any link is made, so two creates never pick one subnet or name
 * and two ups never pick one address.
 */
#ifndef BERTH_NET_NETWORKS_H
#define BERTH_NET_NETWORKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "basic/error.h"
#include "libberth/net/ipam.h"
#include "libberth/store/store.h"

#define NETWORK_DEFAULT_BRIDGE "berth0"
#define NETWORK_BRIDGE_NAME_OPT "com.docker.network.bridge.name"
#define NETWORK_MTU_OPT "com.docker.network.driver.mtu"
/* Host sides of containers' veths start with this. */
#define NETWORK_VETH_PREFIX "vb"

struct network_subnet {
    struct ipam_prefix subnet, gateway, range;
    bool has_range;
};

struct network {
    char *id, *name;
    char *driver;  /* "bridge", "host" or "null" */
    char *bridge;  /* device name; NULL for host and null */
    char *created; /* RFC 3339 */
    bool internal, attachable, enable_ipv6;
    bool predefined;
    struct network_subnet *subnets; /* IPv4 first */
    size_t n_subnets;
    unsigned mtu;             /* 0: default */
    json_t *options, *labels; /* objects, never NULL */
};
void network_free(struct network *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct network *, network_free)
void network_list_free(struct network **l, size_t n);

/* req: Docker's NetworkCreate body (Name, Driver, Internal, Attachable,
 * EnableIPv6, IPAM.Config, Options, Labels; CheckDuplicate and Ingress
 * accepted). */
int network_create(struct store *s, json_t *req, struct network **ret, struct berth_error **err);
int network_get(struct store *s, const char *name_or_id, struct network **ret,
                struct berth_error **err);
/* Every network, sorted by name. */
int network_list(struct store *s, struct network ***ret, size_t *ret_n, struct berth_error **err);
/* Number of endpoints (any container, running or not). */
int network_endpoint_count(struct store *s, const char *network_id, struct berth_error **err);
/* EBUSY "error while removing network: network x id <id> has active
 * endpoints"; EPERM "bridge is a pre-defined network and cannot be
 * removed". */
int network_remove(struct store *s, const char *name_or_id, struct berth_error **err);

struct network_prune_opts {
    char **labels;   /* strv of "label=k[=v]" / "label!=k[=v]" terms */
    long long until; /* unix seconds; 0: no limit */
};
/* Remove every user network without endpoints that matches; *ret_removed
 * their names (strv). */
int network_prune(struct store *s, const struct network_prune_opts *o, char ***ret_removed,
                  struct berth_error **err);

/* Docker's network inspect object. */
int network_inspect(struct store *s, const struct network *n, json_t **ret,
                    struct berth_error **err);

struct network_endpoint_config {
    char **aliases;   /* strv or NULL */
    const char *ipv4; /* requested static address or NULL */
    const char *ipv6;
    const char *mac; /* "02:42:..." or NULL: from the IPv4 address */
};
/* Record membership; the static addresses are checked against the subnets
 * now (taken ones only at up). EEXIST "endpoint with name x already exists
 * in network y" when the container is a member already. container_name is
 * for that message. */
int network_endpoint_add(struct store *s, const char *network, const char *container_id,
                         const char *container_name, const struct network_endpoint_config *cfg,
                         struct berth_error **err);

struct network_endpoint_info {
    char *network_id, *network_name, *endpoint_id;
    char *ifname;      /* inside the container */
    char *host_ifname; /* the host side of the veth */
    char *bridge;
    struct ipam_prefix ipv4, ipv6; /* with the subnet's prefix length */
    struct ipam_prefix gateway4, gateway6;
    bool has_ipv4, has_ipv6, internal;
    char mac[18];
    char **aliases;
};
void network_endpoint_info_free(struct network_endpoint_info *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct network_endpoint_info *, network_endpoint_info_free)

/* See the top of this file. netns_fd: an fd of the container's network
 * namespace. ret may be NULL. */
int network_endpoint_up(struct store *s, const char *network, const char *container_id,
                        int netns_fd, const char *ifname, struct network_endpoint_info **ret,
                        struct berth_error **err);
int network_endpoint_down(struct store *s, const char *network, const char *container_id,
                          struct berth_error **err);
/* As down, for a container whose network namespace is going away (its
 * processes are gone): the host-side veth is only taken down and out of
 * the bridge - the kernel deletes the pair with the namespace, without the
 * ~20 ms a delete waits for - so no later container given the same address
 * ever shares the bridge with it. */
int network_endpoint_down_dying(struct store *s, const char *network, const char *container_id,
                                struct berth_error **err);
/* Down, then the row; -ENOENT "container x is not connected to network y"
 * when it is not a member. */
int network_endpoint_remove(struct store *s, const char *network, const char *container_id,
                            struct berth_error **err);
/* The endpoints of a container (leased or not). */
int network_endpoints_of(struct store *s, const char *container_id,
                         struct network_endpoint_info ***ret, size_t *ret_n,
                         struct berth_error **err);
void network_endpoint_info_list_free(struct network_endpoint_info **l, size_t n);

/* alive(container_id): whether its network namespace still exists. Counts
 * of released leases and deleted links go to ret_* (may be NULL). */
typedef bool (*network_alive_fn)(const char *container_id, void *ud);
int network_repair(struct store *s, network_alive_fn alive, void *ud, size_t *ret_leases,
                   size_t *ret_links, struct berth_error **err);

/* The host veth name of an endpoint (IFNAMSIZ). */
void network_veth_name(const char *network_id, const char *container_id, char buf[16]);

#endif
