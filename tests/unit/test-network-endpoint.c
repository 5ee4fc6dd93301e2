/* Endpoints for real: a network with its bridge, a network namespace made
 * by a child that unshares one, and network_endpoint_up/down/remove and
 * network_repair checked from outside with `ip` (never berth's own netlink
 * code, so a bug there cannot hide itself). Needs root (netns, links);
 * skips with a message otherwise. Leaves no link, address or route. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "libberth/common/json-util.h"
#include "libberth/net/networks.h"
#include "libberth/store/store.h"

#define BRIDGE "br-berthut"
#define SUBNET "10.213.7.0/24"
#define C1 "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define C2 "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"

struct fixture {
    char dir[64];
    struct store *s;
    char *net_id;
};

/* A child in a new network namespace, sleeping until killed. */
struct netns {
    pid_t pid;
    int fd;
};

static void netns_new(struct netns *n)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Dies with the test, whatever ends it (a failed assertion, a
         * sanitizer's abort), and holds none of its output pipes: an
         * orphaned holder kept the test runner waiting for EOF. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0), dup2(null, 1), dup2(null, 2);
        close(p[0]);
        if (unshare(CLONE_NEWNET) < 0) {
            _exit(1);
        }
        (void)write(p[1], "x", 1);
        for (;;) {
            pause();
        }
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    n->pid = pid;
    n->fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(n->fd >= 0);
}

static void netns_kill(struct netns *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGKILL);
        waitpid(n->pid, NULL, 0);
        n->pid = 0;
    }
    if (n->fd >= 0) {
        close(n->fd);
        n->fd = -1;
    }
}

/* Output of a shell command (stderr dropped). */
static char *run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = xvasprintf(fmt, ap);
    va_end(ap);
    char *full = xasprintf("%s 2>/dev/null", cmd);
    FILE *f = popen(full, "r");
    assert_non_null(f);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(read_fd_full(fileno(f), 1 << 20, &out, &len, NULL), 0);
    pclose(f);
    free(cmd);
    free(full);
    return out;
}

static bool link_exists(const char *name)
{
    char *cmd = xasprintf("ip link show dev %s >/dev/null 2>&1", name);
    int rc = system(cmd);
    free(cmd);
    return rc == 0;
}

static int setup(void **state)
{
    if (geteuid() != 0) {
        fprintf(stderr, "# SKIP test-network-endpoint: needs root (network namespaces, links)\n");
        return -1;
    }
    struct fixture *f = xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-ep-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *root = xasprintf("%s/root", f->dir), *runroot = xasprintf("%s/run", f->dir);
    struct store_options o = {.root = root, .runroot = runroot, .driver = "vfs"};
    struct berth_error *err = NULL;
    int r = store_open(&o, &f->s, &err);
    if (r < 0) {
        fprintf(stderr, "store_open: %s\n", err->msg);
    }
    assert_int_equal(r, 0);
    free(root), free(runroot);
    const char *ids[2] = {C1, C2};
    for (int i = 0; i < 2; i++) {
        assert_true(db_run(f->s->db, NULL,
                           "INSERT INTO containers(id, name, image_id, created, body)"
                           " VALUES(?, ?, 'img', '2026-01-01T00:00:00Z', '{}')",
                           "ss", ids[i], i == 0 ? "one" : "two") >= 0);
    }
    json_t *req = json_pack("{s:s,s:{s:[{s:s}]},s:{s:s}}", "Name", "eptest", "IPAM", "Config",
                            "Subnet", SUBNET, "Options", NETWORK_BRIDGE_NAME_OPT, BRIDGE);
    struct network *n = NULL;
    r = network_create(f->s, req, &n, &err);
    if (r < 0) {
        fprintf(stderr, "network_create: %s\n", err->msg);
    }
    assert_int_equal(r, 0);
    json_decref(req);
    f->net_id = xstrdup(n->id);
    network_free(n);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f) {
        return 0;
    }
    /* Whatever a failed assertion left behind. */
    char host[16];
    network_veth_name(f->net_id, C1, host);
    (void)!system("ip link del " BRIDGE " 2>/dev/null");
    char *cmd = xasprintf("ip link del %s 2>/dev/null; rm -rf %s", host, f->dir);
    (void)!system(cmd);
    free(cmd);
    store_free(f->s);
    free(f->net_id);
    free(f);
    return 0;
}

static void test_up_down(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    struct netns ns = {.fd = -1};
    netns_new(&ns);

    assert_int_equal(network_endpoint_add(f->s, "eptest", C1, "one", NULL, &err), 0);
    struct network_endpoint_info *info = NULL;
    int r = network_endpoint_up(f->s, "eptest", C1, ns.fd, "eth0", &info, &err);
    if (r < 0) {
        fprintf(stderr, "up: %s\n", err->msg);
    }
    assert_int_equal(r, 0);
    char a[IPAM_STRLEN];
    ipam_format(&info->ipv4, true, a);
    assert_string_equal(a, "10.213.7.2/24");
    assert_string_equal(info->mac, "02:42:0a:d5:07:02");
    char *host = xstrdup(info->host_ifname);
    network_endpoint_info_free(info);

    /* Inside: eth0 with the address, the MAC, up; default route; lo up. */
    char *out = run("nsenter --net=/proc/%d/ns/net ip -o addr show dev eth0", (int)ns.pid);
    assert_non_null(strstr(out, "inet 10.213.7.2/24"));
    free(out);
    out = run("nsenter --net=/proc/%d/ns/net ip -o link show dev eth0", (int)ns.pid);
    assert_non_null(strstr(out, "link/ether 02:42:0a:d5:07:02"));
    assert_non_null(strstr(out, ",UP"));
    free(out);
    out = run("nsenter --net=/proc/%d/ns/net ip route", (int)ns.pid);
    assert_non_null(strstr(out, "default via 10.213.7.1 dev eth0"));
    free(out);
    out = run("nsenter --net=/proc/%d/ns/net ip -o link show dev lo", (int)ns.pid);
    assert_non_null(strstr(out, "UP"));
    free(out);
    /* Outside: the host side is enslaved to the bridge, which has the
     * gateway. */
    out = run("ip -o link show dev %s", host);
    assert_non_null(strstr(out, "master " BRIDGE));
    free(out);
    out = run("ip -o addr show dev " BRIDGE);
    assert_non_null(strstr(out, "inet 10.213.7.1/24"));
    free(out);

    /* inspect lists the running endpoint. */
    struct network *n = NULL;
    json_t *j = NULL;
    assert_int_equal(network_get(f->s, "eptest", &n, NULL), 0);
    assert_int_equal(network_inspect(f->s, n, &j, NULL), 0);
    json_t *c = json_object_get(json_object_get(j, "Containers"), C1);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "Name")), "one");
    assert_string_equal(json_string_value(json_object_get(c, "IPv4Address")), "10.213.7.2/24");
    assert_string_equal(json_string_value(json_object_get(c, "MacAddress")), "02:42:0a:d5:07:02");
    json_decref(j);

    /* A taken static address: refused, nothing left for C2. */
    struct network_endpoint_config cfg = {.ipv4 = "10.213.7.2"};
    assert_int_equal(network_endpoint_add(f->s, "eptest", C2, "two", &cfg, NULL), 0);
    err = NULL;
    assert_int_equal(network_endpoint_up(f->s, "eptest", C2, ns.fd, "eth1", NULL, &err),
                     -EADDRINUSE);
    assert_non_null(strstr(err->msg, "Address already in use"));
    berth_error_free(err);
    char host2[16];
    network_veth_name(f->net_id, C2, host2);
    assert_false(link_exists(host2));
    /* An address outside the subnet is refused at add. */
    struct network_endpoint_config bad = {.ipv4 = "10.9.9.9"};
    err = NULL;
    assert_int_equal(network_endpoint_remove(f->s, "eptest", C2, NULL), 0);
    assert_int_equal(network_endpoint_add(f->s, "eptest", C2, "two", &bad, &err), -EINVAL);
    assert_string_equal(err->msg, "Invalid Address 10.9.9.9: It does not belong to any of this "
                                  "network's subnets");
    berth_error_free(err);
    /* Adding twice. */
    err = NULL;
    assert_int_equal(network_endpoint_add(f->s, "eptest", C1, "one", NULL, &err), -EEXIST);
    assert_string_equal(err->msg, "endpoint with name one already exists in network eptest");
    berth_error_free(err);

    /* A network with endpoints cannot go. */
    err = NULL;
    assert_int_equal(network_remove(f->s, "eptest", &err), -EBUSY);
    char *want = xasprintf(
        "error while removing network: network eptest id %s has active endpoints", f->net_id);
    assert_string_equal(err->msg, want);
    free(want);
    berth_error_free(err);

    /* Down: the veth goes (in the netns too), the lease is free; twice is
     * fine. */
    assert_int_equal(network_endpoint_down(f->s, "eptest", C1, NULL), 0);
    assert_false(link_exists(host));
    out = run("nsenter --net=/proc/%d/ns/net ip -o link show", (int)ns.pid);
    assert_null(strstr(out, "eth0"));
    free(out);
    assert_int_equal(network_endpoint_down(f->s, "eptest", C1, NULL), 0);
    assert_int_equal(network_inspect(f->s, n, &j, NULL), 0);
    assert_int_equal(json_object_size(json_object_get(j, "Containers")), 0);
    json_decref(j);

    /* Up again after the bridge vanished (a reboot): it comes back. */
    assert_int_equal(system("ip link del " BRIDGE), 0);
    assert_int_equal(network_endpoint_up(f->s, "eptest", C1, ns.fd, "eth0", NULL, NULL), 0);
    assert_true(link_exists(BRIDGE));
    assert_true(link_exists(host));

    /* The namespace dies (a killed container): down still works. */
    netns_kill(&ns);
    assert_int_equal(network_endpoint_down(f->s, "eptest", C1, NULL), 0);
    assert_false(link_exists(host));

    /* Repair: a lease whose namespace is gone, and a stray veth named like
     * berth's for this network; a veth of another store's network (another
     * --root on this host: a network id this store does not have) stays. */
    netns_new(&ns);
    assert_int_equal(network_endpoint_up(f->s, "eptest", C1, ns.fd, "eth0", NULL, NULL), 0);
    char *stray = xasprintf("vb0123456%.6s", f->net_id);
    const char *foreign = streq(stray + 9, "fedcba") ? "vb0123456abcdef" : "vb0123456fedcba";
    char *cmd = xasprintf("ip link add %s type veth peer name vbtestpeer && "
                          "ip link add %s type veth peer name vbtestpeer2",
                          stray, foreign);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    netns_kill(&ns);
    size_t leases = 0, links = 0;
    assert_int_equal(network_repair(f->s, NULL, NULL, &leases, &links, NULL), 0);
    assert_int_equal(leases, 1);
    assert_int_equal(links, 1);
    assert_false(link_exists(stray));
    assert_false(link_exists("vbtestpeer"));
    assert_true(link_exists(foreign));
    cmd = xasprintf("ip link del %s", foreign);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(stray);
    assert_int_equal(network_inspect(f->s, n, &j, NULL), 0);
    assert_int_equal(json_object_size(json_object_get(j, "Containers")), 0);
    json_decref(j);

    /* Remove the membership, then the network: the bridge goes. */
    assert_int_equal(network_endpoint_remove(f->s, "eptest", C1, NULL), 0);
    err = NULL;
    assert_int_equal(network_endpoint_remove(f->s, "eptest", C1, &err), -ENOENT);
    berth_error_free(err);
    assert_int_equal(network_remove(f->s, "eptest", NULL), 0);
    assert_false(link_exists(BRIDGE));
    network_free(n);
    free(host);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("1..0 # SKIP test-network-endpoint needs root (network namespaces, links)\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_up_down, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
