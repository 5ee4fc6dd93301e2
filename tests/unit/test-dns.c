/* Unit tests for net/dns.h: message parsing and building, lookup rules. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "libberth/net/dns.h"

/* A query for name (dotted), type, optionally with an OPT record. */
static size_t make_query(uint8_t *b, const char *name, uint16_t type, bool edns, uint16_t size)
{
    static const uint8_t hdr[12] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(b, hdr, 12);
    size_t o = 12;
    const char *p = name;
    while (*p) {
        size_t l = strcspn(p, ".");
        b[o++] = (uint8_t)l;
        memcpy(b + o, p, l);
        o += l;
        p += l + (p[l] == '.');
    }
    b[o++] = 0;
    b[o++] = (uint8_t)(type >> 8);
    b[o++] = (uint8_t)type;
    b[o++] = 0;
    b[o++] = 1;
    if (edns) {
        b[11] = 1;
        const uint8_t opt[11] = {0, 0, 41, (uint8_t)(size >> 8), (uint8_t)size, 0, 0, 0, 0, 0, 0};
        memcpy(b + o, opt, 11);
        o += 11;
    }
    return o;
}

static void test_parse(void **state)
{
    (void)state;
    uint8_t b[600];
    struct dns_query q;
    size_t n = make_query(b, "Web.Example", DNS_TYPE_AAAA, true, 1232);
    assert_int_equal(dns_parse_query(b, n, &q), 0);
    assert_string_equal(q.name, "web.example");
    assert_int_equal(q.qtype, DNS_TYPE_AAAA);
    assert_int_equal(q.id, 0x1234);
    assert_true(q.rd);
    assert_true(q.edns);
    assert_int_equal(q.edns_size, 1232);
    /* every truncation of a valid query is malformed */
    for (size_t i = 0; i < n - 11; i++) {
        assert_int_equal(dns_parse_query(b, i, &q), -EBADMSG);
    }
    /* a response, two questions, a compression pointer, a 64-byte label */
    n = make_query(b, "web", DNS_TYPE_A, false, 0);
    b[2] |= 0x80;
    assert_int_equal(dns_parse_query(b, n, &q), -EBADMSG);
    b[2] &= 0x7f;
    b[5] = 2;
    assert_int_equal(dns_parse_query(b, n, &q), -EBADMSG);
    b[5] = 1;
    b[12] = 0xc0;
    assert_int_equal(dns_parse_query(b, n, &q), -EBADMSG);
    char longl[70];
    memset(longl, 'a', 64);
    longl[64] = '\0';
    n = make_query(b, longl, DNS_TYPE_A, false, 0);
    assert_int_equal(dns_parse_query(b, n, &q), -EBADMSG);
    /* opcode other than QUERY: parsed, answered NOTIMP */
    n = make_query(b, "web", DNS_TYPE_A, false, 0);
    b[2] |= 0x10;
    assert_int_equal(dns_parse_query(b, n, &q), -EOPNOTSUPP);
}

static void test_build_truncates(void **state)
{
    (void)state;
    uint8_t b[600], out[4096];
    struct dns_query q;
    size_t n = make_query(b, "many", DNS_TYPE_A, false, 0);
    assert_int_equal(dns_parse_query(b, n, &q), 0);
    struct dns_addr a[DNS_MAX_ADDRS];
    for (int i = 0; i < DNS_MAX_ADDRS; i++) {
        a[i].family = AF_INET;
        uint8_t ip[4] = {10, 0, 0, (uint8_t)i};
        memcpy(a[i].a, ip, 4);
    }
    int len = dns_build_answer(&q, b, DNS_RCODE_NOERROR, a, 2, 512, out, sizeof(out));
    assert_int_equal(len, (int)n + 2 * 16);
    assert_int_equal(out[2] & 0x82, 0x80); /* QR, no TC */
    assert_int_equal(out[7], 2);
    assert_memory_equal(out + len - 4, a[1].a, 4);
    /* 64 answers do not fit in 512 bytes without EDNS: TC, partial */
    len = dns_build_answer(&q, b, DNS_RCODE_NOERROR, a, DNS_MAX_ADDRS, 512, out, sizeof(out));
    assert_true(len <= 512);
    assert_true(out[2] & 0x02);
    /* over TCP they do */
    len = dns_build_answer(&q, b, DNS_RCODE_NOERROR, a, DNS_MAX_ADDRS, 65535, out, sizeof(out));
    assert_false(out[2] & 0x02);
    assert_int_equal(out[7], DNS_MAX_ADDRS);
    /* NXDOMAIN; AAAA query gets no A records */
    len = dns_build_answer(&q, b, DNS_RCODE_NXDOMAIN, NULL, 0, 512, out, sizeof(out));
    assert_int_equal(out[3] & 0xf, DNS_RCODE_NXDOMAIN);
    n = make_query(b, "many", DNS_TYPE_AAAA, true, 4096);
    assert_int_equal(dns_parse_query(b, n, &q), 0);
    len = dns_build_answer(&q, b, 0, a, 4, 4096, out, sizeof(out));
    assert_int_equal(out[7], 0);
    assert_int_equal(out[11], 1); /* OPT echoed */
}

static const char records_json[] =
    "{\"containers\": ["
    "{\"id\": \"aaaaaaaaaaaa11\", \"name\": \"/web\", \"netns\": \"/run/netns/a\", \"networks\": ["
    " {\"id\": \"n1\", \"ipv4\": \"10.0.0.2\", \"ipv6\": \"fd00::2\", \"aliases\": [\"db\"]},"
    " {\"id\": \"n2\", \"ipv4\": \"10.1.0.2\", \"aliases\": [\"web2\"]}]},"
    "{\"id\": \"bbbbbbbbbbbb22\", \"name\": \"client\", \"netns\": \"/run/netns/b\", \"networks\": "
    "["
    " {\"id\": \"n1\", \"ipv4\": \"10.0.0.3\"}]},"
    "{\"id\": \"cccccccccccc33\", \"name\": \"lonely\", \"netns\": \"/run/netns/c\", \"networks\": "
    "["
    " {\"id\": \"n3\", \"internal\": true, \"ipv4\": \"10.3.0.2\"}]}]}";

static void test_resolve(void **state)
{
    (void)state;
    json_t *doc = json_loads(records_json, 0, NULL);
    struct dns_records *r = NULL;
    assert_int_equal(dns_records_from_json(doc, &r, NULL), 0);
    json_decref(doc);
    struct dns_addr a[DNS_MAX_ADDRS];
    size_t n;
    const char *b = "bbbbbbbbbbbb22", *c = "cccccccccccc33";
    assert_int_equal(dns_resolve(r, b, "web", DNS_TYPE_A, a, &n), DNS_ANSWER);
    /* only the address on the shared network n1, not n2's */
    assert_int_equal(n, 1);
    uint8_t want[4] = {10, 0, 0, 2};
    assert_memory_equal(a[0].a, want, 4);
    assert_int_equal(dns_resolve(r, b, "db", DNS_TYPE_A, a, &n), DNS_ANSWER);
    assert_int_equal(n, 1);
    assert_int_equal(dns_resolve(r, b, "aaaaaaaaaaaa", DNS_TYPE_A, a, &n), DNS_ANSWER);
    assert_int_equal(dns_resolve(r, b, "web", DNS_TYPE_AAAA, a, &n), DNS_ANSWER);
    assert_int_equal(n, 1);
    assert_int_equal(a[0].family, AF_INET6);
    /* alias of another network, a container on no shared network */
    assert_int_equal(dns_resolve(r, b, "web2", DNS_TYPE_A, a, &n), DNS_NXDOMAIN);
    assert_int_equal(dns_resolve(r, b, "lonely", DNS_TYPE_A, a, &n), DNS_NXDOMAIN);
    /* 11 or 13 hex chars are no short id */
    assert_int_equal(dns_resolve(r, b, "aaaaaaaaaaa", DNS_TYPE_A, a, &n), DNS_FORWARD);
    assert_int_equal(dns_resolve(r, b, "example.com", DNS_TYPE_A, a, &n), DNS_FORWARD);
    /* internal only: never forwarded; unknown asker refused */
    assert_int_equal(dns_resolve(r, c, "example.com", DNS_TYPE_A, a, &n), DNS_REFUSED);
    assert_int_equal(dns_resolve(r, c, "lonely", DNS_TYPE_A, a, &n), DNS_ANSWER);
    assert_int_equal(dns_resolve(r, "nobody", "web", DNS_TYPE_A, a, &n), DNS_REFUSED);
    /* a name with no address of that type: answer, empty */
    assert_int_equal(dns_resolve(r, b, "client", DNS_TYPE_AAAA, a, &n), DNS_ANSWER);
    assert_int_equal(n, 0);
    dns_records_free(r);
}

static void test_records_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "{\"containers\": {}}",
        "{\"containers\": [{\"id\": \"x\", \"netns\": \"rel\"}]}",
        "{\"containers\": [{\"id\": \"x\", \"netns\": \"/a\", \"networks\": [{\"id\": \"n\", "
        "\"ipv4\": \"10.0.0.300\"}]}]}",
        "{\"containers\": [{\"id\": \"x\", \"netns\": \"/a\", \"networks\": [{}]}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *doc = json_loads(bad[i], 0, NULL);
        struct dns_records *r = NULL;
        struct berth_error *e = NULL;
        assert_int_equal(dns_records_from_json(doc, &r, &e), -EINVAL);
        assert_non_null(e);
        berth_error_free(e);
        json_decref(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_build_truncates),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_records_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
