/* Unit tests of IPAM: subnet parsing and printing, containment, Docker's
 * default pools avoiding taken space, gateways, ranges, leases, static
 * addresses, MACs, and the exact messages users see for each refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "basic/error.h"
#include "libberth/net/ipam.h"

static struct ipam_prefix subnet(const char *s)
{
    struct ipam_prefix p;
    assert_int_equal(ipam_parse_subnet(s, 0, &p, NULL), 0);
    return p;
}

static struct ipam_prefix addr(const char *s)
{
    struct ipam_prefix p;
    assert_int_equal(ipam_parse_addr(s, 0, "address", &p, NULL), 0);
    return p;
}

static const char *fmt(const struct ipam_prefix *p, bool with_len)
{
    static char buf[4][IPAM_STRLEN];
    static int k;
    k = (k + 1) % 4;
    ipam_format(p, with_len, buf[k]);
    return buf[k];
}

/* f must fail with errno e and exactly message msg. */
#define assert_fails(call, e, want)                                                                \
    do {                                                                                           \
        struct berth_error *err_ = NULL;                                                           \
        assert_int_equal((call), -(e));                                                            \
        assert_non_null(err_);                                                                     \
        assert_string_equal(err_->msg, (want));                                                    \
        berth_error_free(err_);                                                                    \
    } while (0)

static void test_parse_format(void **state)
{
    (void)state;
    struct ipam_prefix p = subnet("10.0.0.0/16");
    assert_int_equal(p.family, AF_INET);
    assert_int_equal(p.len, 16);
    assert_string_equal(fmt(&p, true), "10.0.0.0/16");
    assert_string_equal(fmt(&p, false), "10.0.0.0");
    p = subnet("fd00:1::/64");
    assert_int_equal(p.family, AF_INET6);
    assert_string_equal(fmt(&p, true), "fd00:1::/64");
    p = subnet("0.0.0.0/0");
    assert_int_equal(p.len, 0);
    p = addr("172.17.0.2");
    assert_int_equal(p.len, 32);
    assert_string_equal(fmt(&p, false), "172.17.0.2");
    p = addr("fd00::5");
    assert_int_equal(p.len, 128);

    struct ipam_prefix q;
    assert_fails(ipam_parse_subnet("10.0.0.0/33", 0, &q, &err_), EINVAL,
                 "invalid subnet 10.0.0.0/33");
    assert_fails(ipam_parse_subnet("10.0.0.0", 0, &q, &err_), EINVAL, "invalid subnet 10.0.0.0");
    assert_fails(ipam_parse_subnet("10.0.0/8", 0, &q, &err_), EINVAL, "invalid subnet 10.0.0/8");
    assert_fails(ipam_parse_subnet("10.0.0.0/-1", 0, &q, &err_), EINVAL,
                 "invalid subnet 10.0.0.0/-1");
    assert_fails(ipam_parse_subnet("10.0.0.0/", 0, &q, &err_), EINVAL, "invalid subnet 10.0.0.0/");
    assert_fails(ipam_parse_subnet("fd00::/129", 0, &q, &err_), EINVAL,
                 "invalid subnet fd00::/129");
    assert_fails(ipam_parse_subnet("10.0.0.1/24", 0, &q, &err_), EINVAL,
                 "invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24");
    assert_fails(ipam_parse_subnet("fd00::/64", AF_INET, &q, &err_), EINVAL,
                 "invalid subnet fd00::/64");
    assert_fails(ipam_parse_addr("10.0.0.256", 0, "gateway", &q, &err_), EINVAL,
                 "invalid gateway '10.0.0.256'");
}

static void test_contains_overlaps(void **state)
{
    (void)state;
    struct ipam_prefix a = subnet("10.0.0.0/16"), b = subnet("10.0.5.0/24"),
                       c = subnet("10.1.0.0/16"), d = subnet("fd00::/64");
    assert_true(ipam_contains(&a, &b));
    assert_false(ipam_contains(&b, &a));
    assert_true(ipam_overlaps(&a, &b));
    assert_true(ipam_overlaps(&b, &a));
    assert_false(ipam_overlaps(&a, &c));
    assert_false(ipam_overlaps(&a, &d));
    struct ipam_prefix x = addr("10.0.255.255");
    assert_true(ipam_contains(&a, &x));
    x = addr("10.1.0.0");
    assert_false(ipam_contains(&a, &x));
    struct ipam_prefix m = {.family = AF_INET, .addr = {10, 9, 8, 7}, .len = 12};
    ipam_mask(&m);
    assert_string_equal(fmt(&m, true), "10.0.0.0/12");
}

static void test_nth_gateway(void **state)
{
    (void)state;
    struct ipam_prefix s = subnet("192.168.16.0/20"), g;
    assert_int_equal(ipam_first_host(&s, &g, NULL), 0);
    assert_string_equal(fmt(&g, false), "192.168.16.1");
    assert_int_equal(ipam_nth(&s, 4095, &g), 0);
    assert_string_equal(fmt(&g, false), "192.168.31.255");
    assert_int_equal(ipam_nth(&s, 4096, &g), -ERANGE);
    s = subnet("fd00:1::/64");
    assert_int_equal(ipam_first_host(&s, &g, NULL), 0);
    assert_string_equal(fmt(&g, false), "fd00:1::1");
    s = subnet("10.0.0.0/31");
    assert_fails(ipam_first_host(&s, &g, &err_), EINVAL, "subnet 10.0.0.0/31 is too small");

    s = subnet("10.0.0.0/24");
    struct ipam_prefix gw = addr("10.0.0.254");
    assert_int_equal(ipam_check_gateway(&s, &gw, NULL), 0);
    gw = addr("10.1.0.1");
    assert_fails(ipam_check_gateway(&s, &gw, &err_), EINVAL,
                 "gateway 10.1.0.1 not in subnet 10.0.0.0/24");
    struct ipam_prefix r = subnet("10.0.0.128/25");
    assert_int_equal(ipam_check_range(&s, &r, NULL), 0);
    r = subnet("10.0.1.0/25");
    assert_fails(ipam_check_range(&s, &r, &err_), EINVAL,
                 "ip-range 10.0.1.0/25 not in subnet 10.0.0.0/24");
    r = subnet("10.0.0.0/23");
    assert_fails(ipam_check_range(&s, &r, &err_), EINVAL,
                 "ip-range 10.0.0.0/23 not in subnet 10.0.0.0/24");
}

static void test_pools(void **state)
{
    (void)state;
    struct ipam_prefix p;
    /* Nothing taken: the default network gets 172.17, user networks 172.18. */
    assert_int_equal(ipam_choose_pool(true, NULL, 0, &p, NULL), 0);
    assert_string_equal(fmt(&p, true), "172.17.0.0/16");
    assert_int_equal(ipam_choose_pool(false, NULL, 0, &p, NULL), 0);
    assert_string_equal(fmt(&p, true), "172.18.0.0/16");

    /* Another engine's docker0 and the default route: the default network
     * moves on; the default route never counts. */
    struct ipam_prefix taken[40];
    taken[0] = subnet("0.0.0.0/0");
    taken[1] = subnet("172.17.0.0/16");
    assert_int_equal(ipam_choose_pool(true, taken, 2, &p, NULL), 0);
    assert_string_equal(fmt(&p, true), "172.18.0.0/16");

    /* A narrower route inside a pool, and a wider one covering several. */
    taken[0] = subnet("172.18.5.0/24");
    taken[1] = subnet("172.19.0.0/16");
    taken[2] = subnet("172.20.0.0/15");
    assert_int_equal(ipam_choose_pool(false, taken, 3, &p, NULL), 0);
    assert_string_equal(fmt(&p, true), "172.22.0.0/16");

    /* All 172.x gone: 192.168.0.0/20, then the next /20. */
    taken[0] = subnet("172.16.0.0/12");
    assert_int_equal(ipam_choose_pool(false, taken, 1, &p, NULL), 0);
    assert_string_equal(fmt(&p, true), "192.168.0.0/20");
    taken[1] = subnet("192.168.0.0/24");
    assert_int_equal(ipam_choose_pool(false, taken, 2, &p, NULL), 0);
    assert_string_equal(fmt(&p, true), "192.168.16.0/20");

    /* Exhausted. */
    taken[1] = subnet("192.168.0.0/16");
    assert_fails(ipam_choose_pool(false, taken, 2, &p, &err_), ENOSPC, "no available network");

    /* Requested subnets against other networks. */
    struct ipam_prefix others[2] = {subnet("10.213.0.0/24"), subnet("fd00::/64")};
    struct ipam_prefix want = subnet("10.213.0.0/25");
    assert_fails(ipam_check_overlap(&want, others, 2, &err_), EEXIST,
                 "Pool overlaps with other one on this address space");
    want = subnet("10.0.0.0/8");
    assert_fails(ipam_check_overlap(&want, others, 2, &err_), EEXIST,
                 "Pool overlaps with other one on this address space");
    want = subnet("10.214.0.0/24");
    assert_int_equal(ipam_check_overlap(&want, others, 2, NULL), 0);
}

static void test_leases(void **state)
{
    (void)state;
    struct ipam_prefix s = subnet("10.0.0.0/29"), gw = addr("10.0.0.1"), a;
    /* .0 network, .1 gateway, .7 broadcast: .2 first. */
    assert_int_equal(ipam_next_free(&s, NULL, &gw, NULL, 0, &a, NULL), 0);
    assert_string_equal(fmt(&a, false), "10.0.0.2");
    struct ipam_prefix taken[6] = {addr("10.0.0.2"), addr("10.0.0.4")};
    assert_int_equal(ipam_next_free(&s, NULL, &gw, taken, 2, &a, NULL), 0);
    assert_string_equal(fmt(&a, false), "10.0.0.3");
    /* A gateway elsewhere frees .1. */
    gw = addr("10.0.0.6");
    assert_int_equal(ipam_next_free(&s, NULL, &gw, taken, 2, &a, NULL), 0);
    assert_string_equal(fmt(&a, false), "10.0.0.1");
    /* Full: .1-.5 taken, .6 gateway, .7 broadcast. */
    taken[2] = addr("10.0.0.1"), taken[3] = addr("10.0.0.3"), taken[4] = addr("10.0.0.5");
    assert_fails(ipam_next_free(&s, NULL, &gw, taken, 5, &a, &err_), ENOSPC,
                 "no available IPv4 addresses on this network's address pools");
    /* A range: leases start at the range. */
    s = subnet("10.9.0.0/16");
    gw = addr("10.9.0.1");
    struct ipam_prefix r = subnet("10.9.4.0/24");
    assert_int_equal(ipam_next_free(&s, &r, &gw, NULL, 0, &a, NULL), 0);
    assert_string_equal(fmt(&a, false), "10.9.4.0");
    /* A range at the subnet's start skips the network address. */
    r = subnet("10.9.0.0/30");
    assert_int_equal(ipam_next_free(&s, &r, &gw, NULL, 0, &a, NULL), 0);
    assert_string_equal(fmt(&a, false), "10.9.0.2");
    /* IPv6: no broadcast, gateway ::1. */
    s = subnet("fd00:1::/126");
    gw = addr("fd00:1::1");
    taken[0] = addr("fd00:1::2");
    assert_int_equal(ipam_next_free(&s, NULL, &gw, taken, 1, &a, NULL), 0);
    assert_string_equal(fmt(&a, false), "fd00:1::3");
    assert_fails(ipam_next_free(&s, NULL, &gw,
                                (struct ipam_prefix[]){addr("fd00:1::2"), addr("fd00:1::3")}, 2, &a,
                                &err_),
                 ENOSPC, "no available IPv6 addresses on this network's address pools");
}

static void test_static(void **state)
{
    (void)state;
    struct ipam_prefix s = subnet("10.0.0.0/24"), gw = addr("10.0.0.1");
    struct ipam_prefix taken[1] = {addr("10.0.0.5")};
    struct ipam_prefix a = addr("10.0.0.9");
    assert_int_equal(ipam_check_static(&s, &gw, &a, taken, 1, NULL), 0);
    a = addr("10.0.0.5");
    assert_fails(ipam_check_static(&s, &gw, &a, taken, 1, &err_), EADDRINUSE,
                 "Address already in use");
    a = addr("10.0.0.1");
    assert_fails(ipam_check_static(&s, &gw, &a, taken, 1, &err_), EADDRINUSE,
                 "Address already in use");
    a = addr("10.0.0.255");
    assert_fails(ipam_check_static(&s, &gw, &a, taken, 1, &err_), EADDRINUSE,
                 "Address already in use");
    a = addr("10.0.1.7");
    assert_fails(ipam_check_static(&s, &gw, &a, taken, 1, &err_), EINVAL,
                 "Invalid Address 10.0.1.7: It does not belong to any of this network's subnets");
}

static void test_mac(void **state)
{
    (void)state;
    char m[18];
    struct ipam_prefix a = addr("172.17.0.2");
    ipam_mac_from_ipv4(&a, m);
    assert_string_equal(m, "02:42:ac:11:00:02");
    a = addr("10.213.0.254");
    ipam_mac_from_ipv4(&a, m);
    assert_string_equal(m, "02:42:0a:d5:00:fe");
    uint8_t b[6];
    assert_int_equal(ipam_parse_mac("02:42:AC:11:00:0f", b, NULL), 0);
    assert_int_equal(b[2], 0xac);
    assert_int_equal(b[5], 0x0f);
    assert_fails(ipam_parse_mac("02:42:ac:11:00", b, &err_), EINVAL,
                 "invalid MAC address '02:42:ac:11:00'");
    assert_fails(ipam_parse_mac("02-42-ac-11-00-02", b, &err_), EINVAL,
                 "invalid MAC address '02-42-ac-11-00-02'");
    assert_fails(ipam_parse_mac("02:42:ag:11:00:02", b, &err_), EINVAL,
                 "invalid MAC address '02:42:ag:11:00:02'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format), cmocka_unit_test(test_contains_overlaps),
        cmocka_unit_test(test_nth_gateway),  cmocka_unit_test(test_pools),
        cmocka_unit_test(test_leases),       cmocka_unit_test(test_static),
        cmocka_unit_test(test_mac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
