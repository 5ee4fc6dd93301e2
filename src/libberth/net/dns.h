/* dns.h - DNS messages, the records of berth's embedded resolver, and its
 * name lookup rules. Pure functions: no I/O, no global state, so they are
 * unit-tested and fuzzed on their own (tests/unit/test-dns.c,
 * tests/fuzz/fuzz-dns.c); dns-server.h does the sockets.
 *
 * Semantics (Docker's embedded DNS): a container on a user-defined network
 * resolves other containers by name, network alias and 12-hex short id, A and
 * AAAA, only on the networks it shares with them (itself included). A name
 * that is some berth container's but on no shared network gets NXDOMAIN
 * locally, never forwarded, so container names do not leak upstream. Any
 * other name is forwarded to the host's resolvers, unless every network of
 * the asker is --internal: then REFUSED (the container has no way out; a
 * REFUSED makes resolvers fail at once instead of timing out).
 *
 * Untrusted input: queries come from containers. dns_parse_query() caps
 * every length (name 255, label 63, message 65535), rejects compression in
 * the question and anything that is not one standard query; callers drop
 * what it rejects (no answer to malformed queries).
 */
#ifndef BERTH_NET_DNS_H
#define BERTH_NET_DNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_OPT 41
#define DNS_CLASS_IN 1

#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

#define DNS_NAME_MAX 255  /* wire form, RFC 1035 2.3.4 */
#define DNS_UDP_PLAIN 512 /* UDP answers without EDNS, RFC 1035 4.2.1 */
#define DNS_TTL 600       /* as Docker's resolver */
#define DNS_MAX_ADDRS 64  /* answers per query: enough for a round-robin alias */

struct dns_query {
    uint16_t id;
    bool rd;                     /* recursion desired, echoed back */
    char name[DNS_NAME_MAX + 1]; /* lowercase, dotted, no trailing dot ("" = root) */
    uint16_t qtype, qclass;
    size_t question_end; /* offset just past the question in the message */
    bool edns;           /* an OPT record was present */
    uint16_t edns_size;  /* its UDP payload size (>= 512) */
};

/* Parse a standard query (QR=0, opcode QUERY, exactly one question). 0 or
 * -EBADMSG (malformed: drop it) or -EOPNOTSUPP (well-formed but not a
 * standard query: answer NOTIMP). */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *ret);

struct dns_addr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t a[16];
};

/* Build the answer to q (whose raw message is msg: the question is copied
 * as sent, case included). Answers addrs whose family matches qtype; if the
 * whole message exceeds max (512 for UDP without EDNS, the asker's EDNS size
 * for UDP, 65535 over TCP) the answers that do not fit are left out and TC is
 * set. Returns the length written into out (outlen >= 512 required), or
 * -ENOBUFS. */
int dns_build_answer(const struct dns_query *q, const uint8_t *msg, int rcode,
                     const struct dns_addr *addrs, size_t n, size_t max, uint8_t *out,
                     size_t outlen);

/* The records file (<runroot>/dns/records.json):
 *   {"containers": [{"id": "<64 hex>", "name": "web", "netns": "/run/netns/x",
 *     "upstream": "192.0.2.53" (optional: --dns),
 *     "networks": [{"id": "<net id>", "internal": false, "ipv4": "10.1.0.2",
 *                   "ipv6": "fd00::2", "aliases": ["db"]}]}]} */
struct dns_endpoint {
    char *network;
    bool internal;
    bool has4, has6;
    uint8_t ipv4[4], ipv6[16];
    char **aliases; /* NULL-terminated */
};

struct dns_container {
    char *id, *name, *netns;
    struct dns_endpoint *eps;
    size_t n_eps;
    /* The container's own resolvers (`--dns`): its forwarded queries go to
     * the first instead of the host's; "" when none. */
    char *upstream;
};

struct dns_records {
    struct dns_container *c;
    size_t n;
};

#define DNS_RECORDS_MAX 4096 /* containers; networks and aliases per container: 256 */

/* Validate and convert a records document. */
int dns_records_from_json(json_t *doc, struct dns_records **ret, struct berth_error **err);
void dns_records_free(struct dns_records *r);
const struct dns_container *dns_records_find(const struct dns_records *r, const char *id);

enum dns_verdict { DNS_ANSWER, DNS_NXDOMAIN, DNS_FORWARD, DNS_REFUSED };

/* The lookup rules above, for a query by container asker (NULL when the
 * asker is unknown: REFUSED). DNS_ANSWER fills ret (possibly empty: the name
 * exists but has no address of that type, or the type is not A/AAAA). */
enum dns_verdict dns_resolve(const struct dns_records *r, const char *asker, const char *name,
                             uint16_t qtype, struct dns_addr *ret, size_t *ret_n);

#endif
