/* dns.c - DNS messages and lookup rules of the embedded resolver (dns.h). */
#include "libberth/net/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "basic/alloc.h"
#include "basic/macro.h"

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Skip a possibly compressed name in a later section (the OPT owner):
 * bounded by len, a pointer ends the name. */
static int skip_name(const uint8_t *msg, size_t len, size_t *off)
{
    size_t o = *off;
    for (int labels = 0; labels < 128; labels++) {
        if (o >= len) {
            return -EBADMSG;
        }
        uint8_t l = msg[o];
        if ((l & 0xc0) == 0xc0) {
            if (o + 2 > len) {
                return -EBADMSG;
            }
            *off = o + 2;
            return 0;
        }
        if (l & 0xc0) {
            return -EBADMSG;
        }
        o += 1u + l;
        if (l == 0) {
            *off = o;
            return 0;
        }
    }
    return -EBADMSG;
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *ret)
{
    if (!msg || len < 12 || len > 65535) {
        return -EBADMSG;
    }
    struct dns_query q = {0};
    q.id = rd16(msg);
    uint16_t flags = rd16(msg + 2);
    if (flags & 0x8000) { /* a response: never answer one (loops) */
        return -EBADMSG;
    }
    q.rd = (flags & 0x0100) != 0;
    uint16_t qd = rd16(msg + 4), an = rd16(msg + 6), ns = rd16(msg + 8), ar = rd16(msg + 10);
    if (qd != 1) {
        return -EBADMSG;
    }
    /* The question name: plain labels only (compression has nothing to
     * point back to in the first name of a query). */
    size_t o = 12, w = 0;
    for (;;) {
        if (o >= len) {
            return -EBADMSG;
        }
        uint8_t l = msg[o++];
        if (l == 0) {
            break;
        }
        if (l > 63 || o + l > len || w + l + 2 > DNS_NAME_MAX) {
            return -EBADMSG;
        }
        if (w) {
            q.name[w++] = '.';
        }
        for (uint8_t i = 0; i < l; i++) {
            uint8_t c = msg[o + i];
            /* No NUL or '.' inside a label: the dotted form must be
             * unambiguous for the name comparisons. */
            if (c == 0 || c == '.') {
                return -EBADMSG;
            }
            q.name[w++] = (char)tolower(c);
        }
        o += l;
    }
    q.name[w] = '\0';
    if (o + 4 > len) {
        return -EBADMSG;
    }
    q.qtype = rd16(msg + o);
    q.qclass = rd16(msg + o + 2);
    o += 4;
    q.question_end = o;
    /* Look for OPT among the additional records of a query (answer and
     * authority sections are empty in queries; refuse anything else). */
    if (an || ns) {
        return -EBADMSG;
    }
    for (uint16_t i = 0; i < ar && i < 8; i++) {
        if (skip_name(msg, len, &o) < 0 || o + 10 > len) {
            return -EBADMSG;
        }
        uint16_t type = rd16(msg + o), cls = rd16(msg + o + 2), rdlen = rd16(msg + o + 8);
        if (o + 10 + rdlen > len) {
            return -EBADMSG;
        }
        if (type == DNS_TYPE_OPT && !q.edns) {
            q.edns = true;
            q.edns_size = cls < DNS_UDP_PLAIN ? DNS_UDP_PLAIN : cls;
        }
        o += 10u + rdlen;
    }
    if ((flags >> 11) & 0xf) { /* opcode other than QUERY */
        *ret = q;
        return -EOPNOTSUPP;
    }
    *ret = q;
    return 0;
}

int dns_build_answer(const struct dns_query *q, const uint8_t *msg, int rcode,
                     const struct dns_addr *addrs, size_t n, size_t max, uint8_t *out,
                     size_t outlen)
{
    if (outlen < DNS_UDP_PLAIN || q->question_end < 12 || q->question_end > 65535) {
        return -ENOBUFS;
    }
    if (max > outlen) {
        max = outlen;
    }
    size_t qlen = q->question_end - 12;
    size_t opt = q->edns ? 11 : 0;
    if (12 + qlen + opt > max) {
        return -ENOBUFS;
    }
    uint16_t want = q->qtype == DNS_TYPE_A ? AF_INET : q->qtype == DNS_TYPE_AAAA ? AF_INET6 : 0;
    memcpy(out + 12, msg + 12, qlen);
    size_t o = 12 + qlen;
    uint16_t count = 0;
    bool tc = false;
    for (size_t i = 0; want && i < n; i++) {
        if (addrs[i].family != want) {
            continue;
        }
        size_t alen = want == AF_INET ? 4 : 16;
        if (o + 12 + alen + opt > max) {
            tc = true;
            break;
        }
        wr16(out + o, 0xc00c); /* the question's name */
        wr16(out + o + 2, q->qtype);
        wr16(out + o + 4, DNS_CLASS_IN);
        wr16(out + o + 6, 0);
        wr16(out + o + 8, DNS_TTL);
        wr16(out + o + 10, (uint16_t)alen);
        memcpy(out + o + 12, addrs[i].a, alen);
        o += 12 + alen;
        count++;
    }
    if (q->edns) { /* RFC 6891 6.1.1: answer EDNS with EDNS */
        out[o] = 0;
        wr16(out + o + 1, DNS_TYPE_OPT);
        wr16(out + o + 3, 1232);
        memset(out + o + 5, 0, 6);
        o += 11;
    }
    wr16(out, q->id);
    uint16_t flags = 0x8000 | 0x0400 | 0x0080 | (q->rd ? 0x0100 : 0) | (tc ? 0x0200 : 0) |
                     (uint16_t)(rcode & 0xf);
    wr16(out + 2, flags);
    wr16(out + 4, 1);
    wr16(out + 6, count);
    wr16(out + 8, 0);
    wr16(out + 10, q->edns ? 1 : 0);
    return (int)o;
}

static void endpoint_release(struct dns_endpoint *e)
{
    free(e->network);
    for (char **a = e->aliases; a && *a; a++) {
        free(*a);
    }
    free(e->aliases);
}

void dns_records_free(struct dns_records *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        struct dns_container *c = &r->c[i];
        free(c->id);
        free(c->name);
        free(c->netns);
        free(c->upstream);
        for (size_t j = 0; j < c->n_eps; j++) {
            endpoint_release(&c->eps[j]);
        }
        free(c->eps);
    }
    free(r->c);
    free(r);
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int endpoint_from_json(json_t *n, struct dns_endpoint *e, const char *cid,
                              struct berth_error **err)
{
    const char *net = jstr(n, "id");
    if (!net || !*net) {
        return berth_error_set(err, EINVAL, "container '%s': network without id", cid);
    }
    e->network = xstrdup(net);
    e->internal = json_is_true(json_object_get(n, "internal"));
    const char *v4 = jstr(n, "ipv4"), *v6 = jstr(n, "ipv6");
    if (v4 && *v4) {
        if (inet_pton(AF_INET, v4, e->ipv4) != 1) {
            return berth_error_set(err, EINVAL, "container '%s': invalid ipv4 '%s'", cid, v4);
        }
        e->has4 = true;
    }
    if (v6 && *v6) {
        if (inet_pton(AF_INET6, v6, e->ipv6) != 1) {
            return berth_error_set(err, EINVAL, "container '%s': invalid ipv6 '%s'", cid, v6);
        }
        e->has6 = true;
    }
    json_t *al = json_object_get(n, "aliases");
    size_t na = json_array_size(al);
    if (na > 256) {
        return berth_error_set(err, E2BIG, "container '%s': too many aliases", cid);
    }
    e->aliases = xcalloc(na + 1, sizeof(char *));
    for (size_t k = 0, w = 0; k < na; k++) {
        const char *a = json_string_value(json_array_get(al, k));
        if (a && *a) {
            e->aliases[w++] = xstrdup(a);
        }
    }
    return 0;
}

int dns_records_from_json(json_t *doc, struct dns_records **ret, struct berth_error **err)
{
    json_t *arr = json_object_get(doc, "containers");
    if (!json_is_object(doc) || (arr && !json_is_array(arr))) {
        return berth_error_set(err, EINVAL, "dns records: expected {\"containers\": [...]}");
    }
    size_t n = json_array_size(arr);
    if (n > DNS_RECORDS_MAX) {
        return berth_error_set(err, E2BIG, "dns records: more than %d containers", DNS_RECORDS_MAX);
    }
    struct dns_records *r = xcalloc(1, sizeof(*r));
    r->c = xcalloc(n ? n : 1, sizeof(*r->c));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        const char *id = jstr(o, "id"), *name = jstr(o, "name"), *netns = jstr(o, "netns");
        if (!id || !*id || !netns || *netns != '/') {
            dns_records_free(r);
            return berth_error_set(err, EINVAL,
                                   "dns records: container %zu needs id and an "
                                   "absolute netns path",
                                   i);
        }
        struct dns_container *c = &r->c[r->n++];
        c->id = xstrdup(id);
        c->name = xstrdup(name ? (*name == '/' ? name + 1 : name) : "");
        c->netns = xstrdup(netns);
        const char *up = jstr(o, "upstream");
        c->upstream = xstrdup(up && strlen(up) < 64 ? up : "");
        json_t *nets = json_object_get(o, "networks");
        size_t nn = json_array_size(nets);
        if (nn > 256) {
            dns_records_free(r);
            return berth_error_set(err, E2BIG, "container '%s': too many networks", id);
        }
        c->eps = xcalloc(nn ? nn : 1, sizeof(*c->eps));
        for (size_t j = 0; j < nn; j++) {
            c->n_eps++;
            if (endpoint_from_json(json_array_get(nets, j), &c->eps[j], id, err) < 0) {
                dns_records_free(r);
                return -EINVAL;
            }
        }
    }
    *ret = r;
    return 0;
}

const struct dns_container *dns_records_find(const struct dns_records *r, const char *id)
{
    for (size_t i = 0; r && id && i < r->n; i++) {
        if (streq(r->c[i].id, id)) {
            return &r->c[i];
        }
    }
    return NULL;
}

/* Does name designate container c on endpoint e? Its name, one of its
 * aliases on that network, or its 12-hex short id (case-insensitive: DNS
 * names are). */
static bool name_matches(const struct dns_container *c, const struct dns_endpoint *e,
                         const char *name)
{
    if (*c->name && strcasecmp(c->name, name) == 0) {
        return true;
    }
    if (strlen(name) == 12 && strlen(c->id) >= 12 && strncasecmp(c->id, name, 12) == 0) {
        return true;
    }
    for (char **a = e->aliases; a && *a; a++) {
        if (strcasecmp(*a, name) == 0) {
            return true;
        }
    }
    return false;
}

enum dns_verdict dns_resolve(const struct dns_records *r, const char *asker, const char *name,
                             uint16_t qtype, struct dns_addr *ret, size_t *ret_n)
{
    *ret_n = 0;
    const struct dns_container *me = dns_records_find(r, asker);
    if (!me || !name || !*name) {
        return DNS_REFUSED;
    }
    bool found = false, external = false;
    for (size_t i = 0; i < me->n_eps; i++) {
        const char *net = me->eps[i].network;
        external |= !me->eps[i].internal;
        for (size_t j = 0; j < r->n; j++) {
            const struct dns_container *c = &r->c[j];
            for (size_t k = 0; k < c->n_eps; k++) {
                const struct dns_endpoint *e = &c->eps[k];
                if (!streq(e->network, net) || !name_matches(c, e, name)) {
                    continue;
                }
                found = true;
                if (qtype == DNS_TYPE_A && e->has4 && *ret_n < DNS_MAX_ADDRS) {
                    ret[*ret_n].family = AF_INET;
                    memcpy(ret[*ret_n].a, e->ipv4, 4);
                    (*ret_n)++;
                } else if (qtype == DNS_TYPE_AAAA && e->has6 && *ret_n < DNS_MAX_ADDRS) {
                    ret[*ret_n].family = AF_INET6;
                    memcpy(ret[*ret_n].a, e->ipv6, 16);
                    (*ret_n)++;
                }
            }
        }
    }
    if (found) {
        return DNS_ANSWER;
    }
    for (size_t j = 0; j < r->n; j++) {
        for (size_t k = 0; k < r->c[j].n_eps; k++) {
            if (name_matches(&r->c[j], &r->c[j].eps[k], name)) {
                return DNS_NXDOMAIN;
            }
        }
    }
    return external ? DNS_FORWARD : DNS_REFUSED;
}
