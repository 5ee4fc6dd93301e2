/* dns-server.h - berth's embedded resolver process and its control API.
 *
 * One server process (`berth dns --runroot R`, hidden) serves every container
 * of a runroot. For each container in the records file it holds a UDP and a
 * TCP socket bound to 127.0.0.11:53 INSIDE the container's network namespace
 * (setns to the netns file, socket, bind, setns back: a socket keeps the
 * namespace it was made in), so the socket a query arrives on names the
 * asking container and the rules of dns.h apply. Forwarded queries leave from
 * the host namespace to the host's resolvers (every `nameserver` of
 * /etc/resolv.conf, loopback ones like 127.0.0.53 included; env
 * BERTH_DNS_UPSTREAM=ip:port overrides, for tests), first one only, 3 s.
 *
 * State, all under <runroot>/dns/:
 *   records.json  the records (dns.h), replaced atomically (temp + rename)
 *   lock          flock held while records.json changes and while a server
 *                 is being started, so only one starts
 *   ctl.sock      the server's control socket: "reload\n" makes it reread
 *                 records.json, open sockets for new containers and close
 *                 those of containers gone, then answer "ok\n" (or
 *                 "error: ...\n"), so a caller that got "ok" knows DNS works
 *                 in the container before starting it
 * With no container left in the records the server lingers 30 s (env
 * BERTH_DNS_LINGER_MS; 0: exit at once) for the next one, then exits; a
 * "stop" on the control socket ends it at once. Small: no
 * SQLite or libcurl here, one poll() loop, no threads.
 */
#ifndef BERTH_NET_DNS_SERVER_H
#define BERTH_NET_DNS_SERVER_H

#include <jansson.h>

#include "basic/error.h"

/* Set (container != NULL, a records entry as in dns.h with the same "id") or
 * remove (container == NULL) one container's records, then make the server
 * serve the result: started when needed (dns_ensure_running), reloaded, or
 * left to exit when no container remains. */
int dns_records_update(const char *runroot, const char *id, json_t *container,
                       struct berth_error **err);

/* Replace the whole records document (tests, repair), then as above. */
int dns_records_replace(const char *runroot, json_t *doc, struct berth_error **err);

/* Connect to the server, starting it if none answers (double fork, setsid,
 * exec /proc/self/exe dns --runroot R, stdio on /dev/null) and waiting up to
 * 5 s for its control socket. Caller holds no lock. */
int dns_ensure_running(const char *runroot, struct berth_error **err);

/* Stop the server now (`berth system reset`); no server is not an error. */
int dns_server_stop(const char *runroot, struct berth_error **err);
/* The server's main loop; returns when it has had no container for its
 * linger time or was stopped (0), or on a fatal error. */
int dns_server_run(const char *runroot, struct berth_error **err);

#endif
