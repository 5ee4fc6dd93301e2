/* netlink.c - rtnetlink requests built by hand (see netlink.h). */
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strv.h"

/* Replies of a dump arrive in datagrams of at most a page or two per
 * message batch; 64 KiB holds any the kernel sends at once. */
#define NL_RECV_SIZE (64 * 1024)
/* The largest request berth builds (a veth with its nested peer) is a few
 * hundred bytes. */
#define NL_MSG_SIZE 1024

struct netlink {
    int fd;
    uint32_t seq;
    char *rbuf;
};

struct nlmsg {
    union {
        struct nlmsghdr h;
        char buf[NL_MSG_SIZE];
    } u;
};

/* Start a request: the netlink header and the family header. */
static void *msg_init(struct nlmsg *m, uint16_t type, uint16_t flags, size_t hdrlen)
{
    memset(m, 0, sizeof(*m));
    m->u.h.nlmsg_type = type;
    m->u.h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
    m->u.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdrlen);
    return NLMSG_DATA(&m->u.h);
}

/* Requests are built from constants and names capped at IFNAMSIZ, so
 * running out of room is a bug in this file, not bad input. */
static struct rtattr *attr_put(struct nlmsg *m, uint16_t type, const void *data, size_t len)
{
    size_t off = NLMSG_ALIGN(m->u.h.nlmsg_len);
    size_t total = RTA_LENGTH(len);
    if (off + RTA_ALIGN(total) > sizeof(m->u.buf)) {
        abort();
    }
    struct rtattr *a = (struct rtattr *)(m->u.buf + off);
    a->rta_type = type;
    a->rta_len = (unsigned short)total;
    if (len) {
        memcpy(RTA_DATA(a), data, len);
    }
    m->u.h.nlmsg_len = (uint32_t)(off + RTA_ALIGN(total));
    return a;
}

static void attr_str(struct nlmsg *m, uint16_t type, const char *s)
{
    attr_put(m, type, s, strlen(s) + 1);
}

static void attr_u32(struct nlmsg *m, uint16_t type, uint32_t v)
{
    attr_put(m, type, &v, sizeof(v));
}

static struct rtattr *nest_start(struct nlmsg *m, uint16_t type)
{
    return attr_put(m, type, NULL, 0);
}

static void nest_end(struct nlmsg *m, struct rtattr *a)
{
    a->rta_len = (unsigned short)((char *)&m->u.h + m->u.h.nlmsg_len - (char *)a);
}

int netlink_open(int netns_fd, struct netlink **ret, struct berth_error **err)
{
    _cleanup_close_ int self = -1;
    if (netns_fd >= 0) {
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0) {
            return berth_error_sys(err, errno, "open own network namespace");
        }
        if (setns(netns_fd, CLONE_NEWNET) < 0) {
            return berth_error_sys(err, errno, "enter network namespace");
        }
    }
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    int saved = errno;
    /* A thread left in the container's namespace would do everything after
     * this in the wrong place; there is no safe way on. */
    if (self >= 0 && setns(self, CLONE_NEWNET) < 0) {
        abort();
    }
    if (fd < 0) {
        return berth_error_sys(err, saved, "netlink socket");
    }
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        saved = errno;
        close(fd);
        return berth_error_sys(err, saved, "bind netlink socket");
    }
    int one = 1;
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    struct netlink *nl = xcalloc(1, sizeof(*nl));
    nl->fd = fd;
    nl->rbuf = xmalloc(NL_RECV_SIZE);
    *ret = nl;
    return 0;
}

void netlink_close(struct netlink *nl)
{
    if (!nl) {
        return;
    }
    close(nl->fd);
    free(nl->rbuf);
    free(nl);
}

typedef int (*reply_fn)(struct nlmsghdr *h, void *ud);

/* Send m and read replies until its ack (or NLMSG_DONE of a dump); other
 * replies to it go to fn. Returns 0 or -errno of the kernel's answer. */
static int transact(struct netlink *nl, struct nlmsg *m, reply_fn fn, void *ud)
{
    m->u.h.nlmsg_seq = ++nl->seq;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    ssize_t n;
    do {
        n = sendto(nl->fd, m->u.buf, m->u.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    int result = 0;
    for (;;) {
        n = recv(nl->fd, nl->rbuf, NL_RECV_SIZE, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        size_t len = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)nl->rbuf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != nl->seq) {
                continue;
            }
            if (h->nlmsg_type == NLMSG_DONE) {
                return result;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);
                return result < 0 ? result : e->error;
            }
            if (fn && result == 0) {
                result = fn(h, ud);
            }
        }
    }
}

static int link_msg_by_name(struct nlmsg *m, uint16_t type, uint16_t flags, const char *name)
{
    if (strlen(name) >= IFNAMSIZ) {
        return -EINVAL;
    }
    struct ifinfomsg *ifi = msg_init(m, type, flags, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    attr_str(m, IFLA_IFNAME, name);
    return 0;
}

static int name_error(struct berth_error **err, int r, const char *op, const char *name)
{
    if (r == -EINVAL && strlen(name) >= IFNAMSIZ) {
        return berth_error_set(err, EINVAL, "%s %s: interface name longer than %d bytes", op, name,
                               IFNAMSIZ - 1);
    }
    return berth_error_sys(err, -r, "%s %s", op, name);
}

static int got_index(struct nlmsghdr *h, void *ud)
{
    if (h->nlmsg_type == RTM_NEWLINK) {
        struct ifinfomsg *ifi = NLMSG_DATA(h);
        *(int *)ud = ifi->ifi_index;
    }
    return 0;
}

int netlink_link_index(struct netlink *nl, const char *name, int *ret, struct berth_error **err)
{
    struct nlmsg m;
    int r = link_msg_by_name(&m, RTM_GETLINK, NLM_F_ACK, name);
    int idx = 0;
    if (r == 0) {
        r = transact(nl, &m, got_index, &idx);
    }
    if (r == 0 && idx <= 0) {
        r = -ENODEV;
    }
    if (r < 0) {
        return name_error(err, r, "find link", name);
    }
    *ret = idx;
    return 0;
}

int netlink_link_delete(struct netlink *nl, const char *name, struct berth_error **err)
{
    struct nlmsg m;
    int r = link_msg_by_name(&m, RTM_DELLINK, NLM_F_ACK, name);
    if (r == 0) {
        r = transact(nl, &m, NULL, NULL);
    }
    return r < 0 ? name_error(err, r, "delete link", name) : 0;
}

/* RTM_NEWLINK on an existing link by index: the flags and attributes of
 * a setlink. */
static struct ifinfomsg *setlink_init(struct nlmsg *m, int index, bool up)
{
    struct ifinfomsg *ifi = msg_init(m, RTM_NEWLINK, NLM_F_ACK, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    if (up) {
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
    }
    return ifi;
}

int netlink_link_detach(struct netlink *nl, const char *name, struct berth_error **err)
{
    int idx;
    int r = netlink_link_index(nl, name, &idx, err);
    if (r < 0) {
        return r;
    }
    struct nlmsg m;
    struct ifinfomsg *ifi = setlink_init(&m, idx, false);
    ifi->ifi_change = IFF_UP; /* flags 0: down */
    attr_u32(&m, IFLA_MASTER, 0);
    r = transact(nl, &m, NULL, NULL);
    return r < 0 ? name_error(err, r, "detach link", name) : 0;
}

int netlink_link_set_up(struct netlink *nl, const char *name, struct berth_error **err)
{
    int idx;
    int r = netlink_link_index(nl, name, &idx, err);
    if (r < 0) {
        return r;
    }
    struct nlmsg m;
    setlink_init(&m, idx, true);
    r = transact(nl, &m, NULL, NULL);
    return r < 0 ? name_error(err, r, "set up link", name) : 0;
}

/* The value of one attribute of a reply, or NULL. */
static struct rtattr *find_attr(struct nlmsghdr *h, size_t hdrlen, unsigned short type)
{
    int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(hdrlen);
    for (struct rtattr *a = (struct rtattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(hdrlen));
         RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == type) {
            return a;
        }
    }
    return NULL;
}

struct list_ctx {
    const char *prefix;
    char **names;
};

static int got_link(struct nlmsghdr *h, void *ud)
{
    struct list_ctx *c = ud;
    if (h->nlmsg_type != RTM_NEWLINK) {
        return 0;
    }
    struct rtattr *a = find_attr(h, sizeof(struct ifinfomsg), IFLA_IFNAME);
    if (!a || RTA_PAYLOAD(a) < 1 || RTA_PAYLOAD(a) > IFNAMSIZ) {
        return 0;
    }
    char name[IFNAMSIZ + 1] = {0};
    memcpy(name, RTA_DATA(a), RTA_PAYLOAD(a));
    if (strncmp(name, c->prefix, strlen(c->prefix)) == 0) {
        strv_push(&c->names, name);
    }
    return 0;
}

int netlink_link_list(struct netlink *nl, const char *prefix, char ***ret, struct berth_error **err)
{
    struct nlmsg m;
    struct ifinfomsg *ifi = msg_init(&m, RTM_GETLINK, NLM_F_DUMP, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    struct list_ctx c = {.prefix = prefix};
    int r = transact(nl, &m, got_link, &c);
    if (r < 0) {
        strv_free(c.names);
        return berth_error_sys(err, -r, "list links");
    }
    *ret = c.names ? c.names : xcalloc(1, sizeof(char *));
    return 0;
}

int netlink_bridge_create(struct netlink *nl, const char *name, unsigned mtu,
                          struct berth_error **err)
{
    struct nlmsg m;
    int r = link_msg_by_name(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, name);
    if (r < 0) {
        return name_error(err, r, "create bridge", name);
    }
    if (mtu) {
        attr_u32(&m, IFLA_MTU, mtu);
    }
    struct rtattr *info = nest_start(&m, IFLA_LINKINFO);
    attr_str(&m, IFLA_INFO_KIND, "bridge");
    nest_end(&m, info);
    r = transact(nl, &m, NULL, NULL);
    return r < 0 ? name_error(err, r, "create bridge", name) : 0;
}

static int addr_add_index(struct netlink *nl, int idx, const struct ipam_prefix *addr)
{
    struct nlmsg m;
    struct ifaddrmsg *ifa =
        msg_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, sizeof(*ifa));
    ifa->ifa_family = (uint8_t)addr->family;
    ifa->ifa_prefixlen = (uint8_t)addr->len;
    ifa->ifa_index = (uint32_t)idx;
    /* A container's address is assigned by berth and unique in its
     * network: duplicate address detection would only keep it tentative
     * (unusable) for a second after start. */
    ifa->ifa_flags = addr->family == AF_INET6 ? IFA_F_NODAD : 0;
    size_t alen = ipam_bits(addr) / 8;
    attr_put(&m, IFA_LOCAL, addr->addr, alen);
    attr_put(&m, IFA_ADDRESS, addr->addr, alen);
    int r = transact(nl, &m, NULL, NULL);
    return r == -EEXIST ? 0 : r;
}

int netlink_addr_add(struct netlink *nl, const char *ifname, const struct ipam_prefix *addr,
                     struct berth_error **err)
{
    int idx;
    int r = netlink_link_index(nl, ifname, &idx, err);
    if (r < 0) {
        return r;
    }
    r = addr_add_index(nl, idx, addr);
    if (r < 0) {
        char a[IPAM_STRLEN];
        ipam_format(addr, true, a);
        return berth_error_sys(err, -r, "add address %s to %s", a, ifname);
    }
    return 0;
}

static int route_default_index(struct netlink *nl, int idx, const struct ipam_prefix *gw)
{
    struct nlmsg m;
    struct rtmsg *rt =
        msg_init(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, sizeof(*rt));
    rt->rtm_family = (uint8_t)gw->family;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    attr_put(&m, RTA_GATEWAY, gw->addr, ipam_bits(gw) / 8);
    attr_u32(&m, RTA_OIF, (uint32_t)idx);
    return transact(nl, &m, NULL, NULL);
}

int netlink_route_add_default(struct netlink *nl, const char *ifname, const struct ipam_prefix *gw,
                              struct berth_error **err)
{
    int idx;
    int r = netlink_link_index(nl, ifname, &idx, err);
    if (r < 0) {
        return r;
    }
    r = route_default_index(nl, idx, gw);
    if (r < 0) {
        char g[IPAM_STRLEN];
        ipam_format(gw, false, g);
        return berth_error_sys(err, -r, "add default route via %s dev %s", g, ifname);
    }
    return 0;
}

struct route_ctx {
    struct ipam_prefix *v;
    size_t n, alloc;
};

static int got_route(struct nlmsghdr *h, void *ud)
{
    struct route_ctx *c = ud;
    if (h->nlmsg_type != RTM_NEWROUTE) {
        return 0;
    }
    struct rtmsg *rt = NLMSG_DATA(h);
    uint32_t table = rt->rtm_table;
    struct rtattr *t = find_attr(h, sizeof(*rt), RTA_TABLE);
    if (t && RTA_PAYLOAD(t) == 4) {
        memcpy(&table, RTA_DATA(t), 4);
    }
    if (table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST ||
        (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6)) {
        return 0;
    }
    struct ipam_prefix p = {.family = rt->rtm_family, .len = rt->rtm_dst_len};
    struct rtattr *d = find_attr(h, sizeof(*rt), RTA_DST);
    if (d) {
        if (RTA_PAYLOAD(d) != ipam_bits(&p) / 8 || p.len > ipam_bits(&p)) {
            return 0;
        }
        memcpy(p.addr, RTA_DATA(d), RTA_PAYLOAD(d));
    }
    c->v = xgrow(c->v, sizeof(*c->v), c->n, &c->alloc);
    c->v[c->n++] = p;
    return 0;
}

int netlink_route_dump(struct netlink *nl, int family, struct ipam_prefix **ret, size_t *ret_n,
                       struct berth_error **err)
{
    struct route_ctx c = {0};
    int fams[2] = {AF_INET, AF_INET6};
    for (int i = 0; i < 2; i++) {
        if (family && family != fams[i]) {
            continue;
        }
        struct nlmsg m;
        struct rtmsg *rt = msg_init(&m, RTM_GETROUTE, NLM_F_DUMP, sizeof(*rt));
        rt->rtm_family = (uint8_t)fams[i];
        int r = transact(nl, &m, got_route, &c);
        if (r < 0) {
            free(c.v);
            return berth_error_sys(err, -r, "list routes");
        }
    }
    *ret = c.v;
    *ret_n = c.n;
    return 0;
}

/* The host side of a new veth (enslaved, up) with its peer created in the
 * container's namespace under tmp_name. */
static int veth_create(struct netlink *nl, const struct netlink_veth *v, int master)
{
    struct nlmsg m;
    int r = link_msg_by_name(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, v->host_name);
    if (r < 0) {
        return r;
    }
    struct ifinfomsg *ifi = NLMSG_DATA(&m.u.h);
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    unsigned mtu = v->mtu ? v->mtu : 1500;
    attr_u32(&m, IFLA_MTU, mtu);
    attr_u32(&m, IFLA_MASTER, (uint32_t)master);
    struct rtattr *info = nest_start(&m, IFLA_LINKINFO);
    attr_str(&m, IFLA_INFO_KIND, "veth");
    struct rtattr *data = nest_start(&m, IFLA_INFO_DATA);
    struct rtattr *peer = nest_start(&m, VETH_INFO_PEER);
    struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC};
    /* The peer's ifinfomsg is the payload's head, before its attributes. */
    size_t off = NLMSG_ALIGN(m.u.h.nlmsg_len);
    if (off + NLMSG_ALIGN(sizeof(pifi)) > sizeof(m.u.buf)) {
        abort();
    }
    memcpy(m.u.buf + off, &pifi, sizeof(pifi));
    m.u.h.nlmsg_len = (uint32_t)(off + NLMSG_ALIGN(sizeof(pifi)));
    attr_str(&m, IFLA_IFNAME, v->tmp_name);
    attr_u32(&m, IFLA_NET_NS_FD, (uint32_t)v->netns_fd);
    attr_u32(&m, IFLA_MTU, mtu);
    nest_end(&m, peer);
    nest_end(&m, data);
    nest_end(&m, info);
    return transact(nl, &m, NULL, NULL);
}

/* Inside the container's namespace: name, MAC, MTU, addresses, up, routes,
 * lo up. */
static int veth_configure_peer(struct netlink *nl, const struct netlink_veth *v,
                               struct berth_error **err)
{
    int idx;
    int r = netlink_link_index(nl, v->tmp_name, &idx, err);
    if (r < 0) {
        return r;
    }
    struct nlmsg m;
    setlink_init(&m, idx, false);
    attr_str(&m, IFLA_IFNAME, v->ifname);
    attr_put(&m, IFLA_ADDRESS, v->mac, 6);
    r = transact(nl, &m, NULL, NULL);
    if (r < 0) {
        return berth_error_sys(err, -r, "rename %s to %s in the container", v->tmp_name, v->ifname);
    }
    for (size_t i = 0; i < v->n_addrs; i++) {
        r = addr_add_index(nl, idx, &v->addrs[i]);
        if (r < 0) {
            char a[IPAM_STRLEN];
            ipam_format(&v->addrs[i], true, a);
            return berth_error_sys(err, -r, "add address %s to %s", a, v->ifname);
        }
    }
    setlink_init(&m, idx, true);
    r = transact(nl, &m, NULL, NULL);
    if (r < 0) {
        return berth_error_sys(err, -r, "set up link %s", v->ifname);
    }
    const struct ipam_prefix *gws[2] = {v->gateway4, v->gateway6};
    for (int i = 0; i < 2; i++) {
        if (!gws[i]) {
            continue;
        }
        r = route_default_index(nl, idx, gws[i]);
        if (r < 0 && r != -EEXIST) {
            char g[IPAM_STRLEN];
            ipam_format(gws[i], false, g);
            return berth_error_sys(err, -r, "add default route via %s dev %s", g, v->ifname);
        }
    }
    return netlink_link_set_up(nl, "lo", err);
}

int netlink_veth_setup(struct netlink *host_nl, const struct netlink_veth *v,
                       struct berth_error **err)
{
    if (strlen(v->host_name) >= IFNAMSIZ || strlen(v->tmp_name) >= IFNAMSIZ ||
        strlen(v->ifname) >= IFNAMSIZ) {
        return berth_error_set(err, EINVAL, "create veth %s: interface name too long",
                               v->host_name);
    }
    int master;
    int r = netlink_link_index(host_nl, v->bridge, &master, err);
    if (r < 0) {
        return r;
    }
    r = veth_create(host_nl, v, master);
    if (r < 0) {
        return berth_error_sys(err, -r, "create veth %s", v->host_name);
    }
    _cleanup_(netlink_closep) struct netlink *cnl = NULL;
    r = netlink_open(v->netns_fd, &cnl, err);
    if (r >= 0) {
        r = veth_configure_peer(cnl, v, err);
    }
    if (r < 0) {
        /* Deleting one end of a veth deletes both. */
        (void)netlink_link_delete(host_nl, v->host_name, NULL);
        return berth_error_prefix(err, "set up %s in the container", v->ifname);
    }
    return 0;
}

int netlink_sysctl_write(const char *key, const char *value, struct berth_error **err)
{
    if (strstr(key, "..") || key[0] == '/') {
        return berth_error_set(err, EINVAL, "sysctl 'net/%s': bad key", key);
    }
    _cleanup_close_ int dir = open("/proc/sys/net", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) {
        return berth_error_sys(err, errno, "open /proc/sys/net");
    }
    struct open_how how = {.flags = O_WRONLY | O_CLOEXEC | O_NOCTTY,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV};
    _cleanup_close_ int fd = (int)syscall(SYS_openat2, dir, key, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS) {
        fd = openat(dir, key, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    }
    if (fd < 0) {
        return berth_error_sys(err, errno, "sysctl 'net/%s'", key);
    }
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) {
        return berth_error_set(err, EPERM, "sysctl 'net/%s': target is not on procfs", key);
    }
    if (write(fd, value, strlen(value)) < 0) {
        return berth_error_sys(err, errno, "sysctl 'net/%s' = '%s'", key, value);
    }
    return 0;
}
