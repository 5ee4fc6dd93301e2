/* network-attach.h - containers on networks: the glue between the container
 * lifecycle (lifecycle.h) and net/ (networks, firewall, embedded DNS).
 *
 * NetworkMode (HostConfig): "", "default" and "bridge" are the predefined
 * "bridge" network (Docker's default); "none" and "host" have no endpoint;
 * "container:NAME" joins that container's network namespace
 * (/proc/<its init>/ns/net) and has no endpoint of its own; any other value
 * names a user network, which must exist at create ("network x not found").
 * NetworkingConfig.EndpointsConfig (what Docker's CLI sends for --ip, --ip6,
 * --network-alias, --mac-address) gives the endpoint's aliases, static
 * addresses and MAC, under Docker's rules: aliases and static addresses only
 * on user networks, static addresses only on networks with a configured
 * subnet.
 *
 * Calling order (lifecycle.c):
 *   create:  network_attach_create   endpoint rows; on failure none is left
 *   bundle:  network_attach_netns    the namespace to join (container:NAME)
 *   start:   network_attach_start    after the monitor reports the init
 *            (namespace made, process not started) and before the runtime
 *            starts it: veths, addresses and routes (ethN in endpoint
 *            order), the firewall's networks and the published ports,
 *            /etc/hosts rewritten in place (same inode: it is bind-mounted),
 *            the DNS records of the user networks; on failure everything of
 *            this start is undone and the caller kills the init
 *   exit/rm: network_attach_stop     DNS records, port rules and veths go,
 *            leases are released; idempotent, and it works from what the
 *            start recorded, so it also cleans up after a killed monitor
 *   rm:      endpoint rows go with the container (ON DELETE CASCADE)
 *
 * What a start did is recorded in <runroot>/network/<id>.json (the init's
 * netns path, the published ports as programmed, whether DNS records were
 * set) before the first change is made, so stop, `rm -f` and `system check`
 * know what to undo even when nothing else is left. It lives in runroot:
 * after a reboot the rules and links it describes are gone too.
 *
 * Published ports (HostConfig.PortBindings; PublishAllPorts publishes every
 * ExposedPort of the image and the body): DNAT through the firewall to the
 * container's address on its first network with an IPv4 address; a host
 * port "" (or -P) takes the lowest free port of the kernel's ephemeral
 * range (net.ipv4.ip_local_port_range), a host range "8000-8010" with one
 * container port the lowest free port in it. A taken port fails the start
 * with Docker's message (firewall.h fw_port_check_free).
 *
 * Host-wide settings: net.ipv4.ip_forward is set to 1 when a container is
 * attached to a non-internal bridge network and it is 0 (as Docker does).
 */
#ifndef BERTH_CONTAINER_NETWORK_ATTACH_H
#define BERTH_CONTAINER_NETWORK_ATTACH_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "basic/error.h"
#include "libberth/container/containers.h"
#include "libberth/net/networks.h"
#include "libberth/store/store.h"

/* Check the body's NetworkMode and NetworkingConfig and record the
 * endpoints of a new container (its record exists). -ENOENT "network x not
 * found", -EINVAL for Docker's rule violations. */
int network_attach_create(struct store *s, const char *id, const char *name, json_t *body,
                          struct berth_error **err);

/* For NetworkMode "container:NAME": "/proc/<pid>/ns/net" of that running
 * container in *ret (malloc'd); NULL for any other mode. -EINVAL "cannot
 * join network of a non running container: <id>". */
int network_attach_netns(struct store *s, json_t *body, char **ret, struct berth_error **err);

/* See the top of this file. init_pid: the container's init, created but not
 * started. */
int network_attach_start(struct store *s, const struct container_record *c, pid_t init_pid,
                         struct berth_error **err);

/* See the top of this file. Never fails: every step is tried, failures go
 * to the debug log (an exit handler has no one to tell). */
void network_attach_stop(struct store *s, const char *id);

/* Docker's NetworkSettings object for inspect. running: the container's
 * status says so (then the addresses and ports are filled in). */
json_t *network_attach_settings(struct store *s, const struct container_record *c, bool running);

/* The PORTS column of ps: "0.0.0.0:8080->80/tcp, 0.0.0.0:5353->53/udp" for
 * a running container ("" when none). */
char *network_attach_ports_text(struct store *s, const char *id);

/* `network connect`: endpoint row, and when the container runs the next
 * ethN in its namespace and its DNS records. aliases: strv or NULL. */
int network_attach_connect(struct store *s, const char *network, const char *container,
                           char **aliases, const char *ipv4, const char *ipv6,
                           struct berth_error **err);
/* `network disconnect`: the reverse; -ENOENT "container x is not connected
 * to network y". force: a missing container or endpoint is not an error. */
int network_attach_disconnect(struct store *s, const char *network, const char *container,
                              bool force, struct berth_error **err);

/* After a network was removed: its firewall elements go (the table with
 * them when no network is left). Front ends call it with the network as it
 * was before network_remove/network_prune; never fails. */
void network_attach_network_removed(const struct network *n);
/* network rm and network prune (networks.h) with the firewall elements of
 * what they removed: the one path for the CLI, the API and system reset. */
int network_attach_remove(struct store *s, const char *name_or_id, struct berth_error **err);
int network_attach_prune(struct store *s, const struct network_prune_opts *o, char ***ret_removed,
                         struct berth_error **err);

struct network_attach_check {
    size_t leases, links, containers; /* released, deleted, cleaned up */
};
/* `system check`: network_repair with liveness from container_status, and
 * network_attach_stop for every recorded start of a container that is not
 * running (ports, DNS records) or that no longer exists. */
int network_attach_check(struct store *s, struct network_attach_check *ret,
                         struct berth_error **err);

#endif
