/* firewall.h - berth's packet filtering and NAT, in one nftables table.
 *
 * What: masquerade for egress of bridge networks, DNAT of published ports
 * (from other hosts, from the host itself including 127.0.0.1, hairpin from
 * containers), isolation between berth bridges, no forwarding at all in or out
 * of --internal bridges, and a drop of remote packets aimed at 127.0.0.0/8.
 *
 * Why this shape: everything lives in ONE table, `inet berth`; no other table
 * is ever read for writing or touched. The rules are fixed and written once by
 * fw_init(); they match against sets and maps (bridges, internal bridges,
 * subnets, published ports). Adding or removing a network or a port is then
 * only element adds/deletes in one libnftables transaction: no rule handles to
 * remember, nothing to leak if the caller crashes between two steps (a retry of
 * the same remove converges), and the ruleset stays small however many
 * containers run.
 *
 * libnftables is dlopen()ed on the first call (common/dl.h): `berth run`
 * without networks never loads it.
 *
 * Calling order: fw_init() (idempotent: a second call leaves the same ruleset)
 * before fw_network_add(); fw_port_check_free() then fw_port_add() for each
 * published port of a container whose address is on a network already added;
 * fw_port_remove() and fw_network_remove() with the same arguments as the adds
 * to remove exactly what they added; fw_fini() deletes the table once no
 * network is left. Network-level calls serialise on a host-wide lock
 * (/run/berth-firewall.lock) since the table is host-wide state.
 *
 * Invariants: every string that reaches nft syntax is validated first
 * (interface names, addresses, prefixes) so input cannot inject commands.
 * fw_network_add() also sets route_localnet=1 on the bridge (required so that
 * 127.0.0.1 → container DNAT'd packets may leave through it; the setting dies
 * with the bridge). IPv4 forwarding (net.ipv4.ip_forward) is the caller's.
 *
 * Known limit: if another table's forward base chain (e.g. iptables' FORWARD
 * with policy DROP, as dockerd sets it) drops packets, accepting them here
 * does not help: a drop in any base chain wins. fw_forward_blocked() detects
 * that so a front end can say so clearly.
 */
#ifndef BERTH_NET_FIREWALL_H
#define BERTH_NET_FIREWALL_H

#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"

#define FW_TABLE "berth"

struct fw_network {
    const char *bridge;  /* interface name of the bridge */
    const char *subnet4; /* "10.89.0.0/24", or NULL */
    const char *subnet6; /* "fd00:1::/64", or NULL */
    bool internal;       /* no masquerade, nothing forwarded in or out */
};

enum fw_proto { FW_TCP, FW_UDP };

struct fw_port {
    enum fw_proto proto;
    const char *host_ip;      /* NULL, "", "0.0.0.0" or "::" = any local address */
    uint16_t host_port;       /* first host port (non-zero) */
    uint16_t host_port_last;  /* last host port of a range, 0 = single */
    const char *container_ip; /* the container's address on the network */
    uint16_t container_port;  /* first container port */
    const char *endpoint;     /* container name, for error messages (may be NULL) */
};

/* Create table, sets, maps and chains if missing; (re)write the fixed rules
 * in the same transaction. Idempotent. */
int fw_init(struct berth_error **err);

/* Add a bridge network: masquerade (unless internal), isolation, internal
 * drops, and route_localnet=1 on the bridge (which must exist). -EEXIST-like
 * failures when an overlapping subnet is already present. */
int fw_network_add(const struct fw_network *n, struct berth_error **err);

/* Remove what fw_network_add(n) added. Elements already gone are not an
 * error (crash repair calls this for half-removed networks). */
int fw_network_remove(const struct fw_network *n, struct berth_error **err);

/* DNAT host_port[..host_port_last] on host_ip (or every local address) to
 * container_ip:container_port[+i], from other hosts, from the host itself
 * (127.0.0.1 too, via route_localnet) and from containers (hairpin). All
 * ports of a range in one transaction: all or nothing. A port already
 * published by berth fails with -EADDRINUSE and Docker's message. */
int fw_port_add(const struct fw_port *p, struct berth_error **err);

/* Remove what fw_port_add(p) added; missing elements are not an error. */
int fw_port_remove(const struct fw_port *p, struct berth_error **err);

/* 0 when every port of p is free: not published by berth (on that address or
 * on "any") and bindable on host_ip (a bind probe, tcp or udp). Otherwise
 * -EADDRINUSE with Docker's error: "driver failed programming external
 * connectivity on endpoint E: Bind for 0.0.0.0:8080 failed: port is already
 * allocated". */
int fw_port_check_free(const struct fw_port *p, struct berth_error **err);

/* fw_init and fw_network_add return at once when a marker under
 * /run/berth-firewall says this boot's table already has what they would
 * add (so a container start on a set-up network never loads libnftables);
 * fw_init still asks the kernel whether the table exists (nfnetlink) and
 * forgets the markers when it does not. This forgets every marker, so the
 * next calls do the work for real (`berth system check`). */
void fw_markers_clear(void);
/* Delete the table when no network is left in it; 0 if it was kept or is
 * absent, 1 if deleted. */
int fw_fini(struct berth_error **err);

/* 1 (and *ret_where = "table ip filter chain FORWARD", caller frees) if a
 * forward base chain of another nftables table has policy drop, so that
 * forwarded container traffic dies there whatever berth accepts; 0 if not. */
int fw_forward_blocked(char **ret_where, struct berth_error **err);

#endif
