/* dns-server.c - the embedded resolver process and its control client
 * (dns-server.h). */
#include "libberth/net/dns-server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "libberth/common/json-util.h"
#include "libberth/net/dns.h"

#define RECORDS_MAX (16u << 20)
#define UPSTREAM_TIMEOUT_MS 3000
#define TCP_TIMEOUT_MS 5000
#define CTL_TIMEOUT_S 10
/* Forwarded queries waiting for the upstream hold a socket each for up to
 * UPSTREAM_TIMEOUT_MS: without caps one container flooding names to forward
 * would take every fd of the server (then no control connection, no reload,
 * no container start) and starve the others. Per container and in all;
 * over the cap a query gets SERVFAIL at once. The same for TCP clients. */
#define PENDING_PER_CONTAINER 128
#define PENDING_MAX 1024
#define CONNS_PER_CONTAINER 16
#define CONNS_MAX 256

static char *dns_path(const char *runroot, const char *name)
{
    return xasprintf("%s/dns%s%s", runroot, name ? "/" : "", name ? name : "");
}

static int ctl_addr(const char *runroot, struct sockaddr_un *sa, struct berth_error **err)
{
    _cleanup_free_ char *p = dns_path(runroot, "ctl.sock");
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(p) >= sizeof(sa->sun_path)) {
        return berth_error_set(err, ENAMETOOLONG, "dns: socket path '%s' too long", p);
    }
    memcpy(sa->sun_path, p, strlen(p) + 1);
    return 0;
}

static int ctl_connect(const char *runroot, struct berth_error **err)
{
    struct sockaddr_un sa;
    int r = ctl_addr(runroot, &sa, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return berth_error_sys(err, errno, "dns: socket");
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return -errno; /* no server: the caller decides */
    }
    struct timeval tv = {.tv_sec = CTL_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return TAKE_FD(fd);
}

/* "reload" (or another command): returns 0 on "ok", -ECONNREFUSED/-ENOENT
 * when no server runs. */
static int ctl_command(const char *runroot, const char *cmd, struct berth_error **err)
{
    _cleanup_close_ int fd = ctl_connect(runroot, NULL);
    if (fd < 0) {
        return fd;
    }
    if (write_all(fd, cmd, strlen(cmd)) < 0) {
        return berth_error_sys(err, errno, "dns: send %s", cmd);
    }
    char buf[512];
    ssize_t n = read_all(fd, buf, sizeof(buf) - 1);
    if (n <= 0) {
        return berth_error_set(err, EIO, "dns: no answer to %.*s", (int)strcspn(cmd, "\n"), cmd);
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (!streq(buf, "ok")) {
        return berth_error_set(err, EIO, "dns: %s", buf);
    }
    return 0;
}

static int lock_dir(const char *runroot, struct berth_error **err)
{
    _cleanup_free_ char *dir = dns_path(runroot, NULL);
    _cleanup_free_ char *lock = dns_path(runroot, "lock");
    int r = mkdir_p(dir, 0700, err);
    if (r < 0) {
        return r;
    }
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", lock);
    }
    if (RETRY_EINTR(flock(fd, LOCK_EX)) < 0) {
        int e = errno;
        safe_close(fd);
        return berth_error_sys(err, e, "lock '%s'", lock);
    }
    return fd;
}

static int ensure_running_locked(const char *runroot, struct berth_error **err)
{
    int fd = ctl_connect(runroot, NULL);
    if (fd >= 0) {
        safe_close(fd);
        return 0;
    }
    /* Double fork + setsid: the server is nobody's child and survives the
     * CLI and the caller's session. */
    pid_t pid = fork();
    if (pid < 0) {
        return berth_error_sys(err, errno, "dns: fork");
    }
    if (pid == 0) {
        setsid();
        if (fork() != 0) {
            _exit(0);
        }
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        execl("/proc/self/exe", "berth", "dns", "--runroot", runroot, (char *)NULL);
        _exit(127);
    }
    int st;
    RETRY_EINTR(waitpid(pid, &st, 0));
    for (int i = 0; i < 1000; i++) {
        fd = ctl_connect(runroot, NULL);
        if (fd >= 0) {
            safe_close(fd);
            return 0;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return berth_error_set(err, ETIMEDOUT, "dns: the resolver did not start");
}

int dns_ensure_running(const char *runroot, struct berth_error **err)
{
    _cleanup_close_ int lock = lock_dir(runroot, err);
    if (lock < 0) {
        return lock;
    }
    return ensure_running_locked(runroot, err);
}

static json_t *load_doc(const char *runroot)
{
    _cleanup_free_ char *p = dns_path(runroot, "records.json");
    json_t *doc = NULL;
    if (json_load_file_at(AT_FDCWD, p, RECORDS_MAX, &doc, NULL) < 0 || !json_is_object(doc)) {
        json_decref(doc);
        doc = json_pack("{s:[]}", "containers");
    }
    return doc;
}

/* With the lock held: write doc, then have a server serve it (or let it
 * exit when empty). */
static int apply_locked(const char *runroot, json_t *doc, struct berth_error **err)
{
    struct dns_records *rec = NULL;
    int r = dns_records_from_json(doc, &rec, err);
    if (r < 0) {
        return r;
    }
    size_t n = rec->n;
    dns_records_free(rec);
    _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
    _cleanup_free_ char *p = dns_path(runroot, "records.json");
    if (!text) {
        return berth_error_set(err, ENOMEM, "dns: encode records");
    }
    r = write_file_replace_at(AT_FDCWD, p, text, strlen(text), 0600, err);
    if (r < 0) {
        return r;
    }
    if (n == 0) {
        r = ctl_command(runroot, "reload\n", err);
        return r == -ECONNREFUSED || r == -ENOENT ? 0 : r;
    }
    r = ensure_running_locked(runroot, err);
    if (r < 0) {
        return r;
    }
    return ctl_command(runroot, "reload\n", err);
}

int dns_records_replace(const char *runroot, json_t *doc, struct berth_error **err)
{
    _cleanup_close_ int lock = lock_dir(runroot, err);
    if (lock < 0) {
        return lock;
    }
    return apply_locked(runroot, doc, err);
}

int dns_records_update(const char *runroot, const char *id, json_t *container,
                       struct berth_error **err)
{
    _cleanup_close_ int lock = lock_dir(runroot, err);
    if (lock < 0) {
        return lock;
    }
    _cleanup_json_ json_t *doc = load_doc(runroot);
    json_t *arr = json_object_get(doc, "containers");
    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(doc, "containers", arr);
    }
    for (size_t i = json_array_size(arr); i-- > 0;) {
        const char *cid = json_string_value(json_object_get(json_array_get(arr, i), "id"));
        if (cid && streq(cid, id)) {
            json_array_remove(arr, i);
        }
    }
    if (container) {
        json_array_append(arr, container);
    }
    return apply_locked(runroot, doc, err);
}

/* ---- the server ---- */

struct served {
    char *id, *netns;
    int udp, tcp;
};

struct tcpconn {
    int fd;
    char *id;
    uint8_t buf[2 + 65535];
    size_t len;
    uint64_t deadline;
};

struct pending {
    char *id;                /* the asking container */
    int up;                  /* upstream socket */
    int udp;                 /* container's UDP socket, or -1 */
    struct sockaddr_in peer; /* its client (127.0.0.11 is IPv4) */
    int tcp;                 /* or a TCP client */
    uint64_t deadline;
};

struct server {
    const char *runroot;
    int hostns, ctl;
    struct dns_records *rec;
    struct served *sv;
    size_t n_sv;
    struct tcpconn **conns;
    size_t n_conns;
    struct pending *pend;
    size_t n_pend;
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    /* With no container left the server lingers this long (a `run --rm`
     * after another would otherwise start a new one each time), then
     * exits; "stop" ends it at once. */
    uint64_t linger_ms, empty_since;
};

#define LINGER_DEFAULT_MS 30000

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_hostport(const char *s, uint16_t defport, struct sockaddr_storage *ss,
                          socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 8];
    uint16_t port = defport;
    const char *colon = strrchr(s, ':');
    if (s[0] == '[') { /* [v6]:port */
        const char *rb = strchr(s, ']');
        if (!rb || (size_t)(rb - s - 1) >= sizeof(host)) {
            return -EINVAL;
        }
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        if (rb[1] == ':') {
            port = (uint16_t)strtoul(rb + 2, NULL, 10);
        }
    } else if (colon && strchr(s, ':') == colon) { /* v4:port */
        if ((size_t)(colon - s) >= sizeof(host)) {
            return -EINVAL;
        }
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = (uint16_t)strtoul(colon + 1, NULL, 10);
    } else {
        snprintf(host, sizeof(host), "%s", s);
    }
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        *len = sizeof(*in);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
        return 0;
    }
    return -EINVAL;
}

/* The first nameserver of the host's resolv.conf, loopback ones included:
 * the server runs in the host's namespace, where 127.0.0.53 answers. */
static void load_upstream(struct server *s)
{
    const char *env = getenv("BERTH_DNS_UPSTREAM");
    if (env && *env) {
        parse_hostport(env, 53, &s->upstream, &s->upstream_len);
        return;
    }
    _cleanup_free_ char *text = NULL;
    if (read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &text, NULL, NULL) < 0) {
        return;
    }
    char *p = text;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
        }
        char addr[INET6_ADDRSTRLEN];
        if (sscanf(p, " nameserver %45s", addr) == 1 && !streq(addr, "127.0.0.11") &&
            parse_hostport(addr, 53, &s->upstream, &s->upstream_len) == 0) {
            return;
        }
        p = nl ? nl + 1 : NULL;
    }
}

/* Make this container's sockets inside its namespace. The thread returns
 * to the host namespace before anything else happens: if it cannot, the
 * process would serve and forward from the wrong place, so it aborts. */
static int open_served(struct server *s, const struct dns_container *c, struct served *out,
                       struct berth_error **err)
{
    _cleanup_close_ int ns = open(c->netns, O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
        return berth_error_sys(err, errno, "container '%s': open '%s'", c->id, c->netns);
    }
    /* A netns path of a process that is gone may now name another process
     * (pid reuse), the host's own namespace included: never bind
     * 127.0.0.11:53 there and answer host processes as this container. */
    struct stat a, b;
    if (fstat(ns, &a) < 0 || fstat(s->hostns, &b) < 0 ||
        (a.st_dev == b.st_dev && a.st_ino == b.st_ino)) {
        return berth_error_set(err, EPERM, "container '%s': '%s' is the host's network namespace",
                               c->id, c->netns);
    }
    if (setns(ns, CLONE_NEWNET) < 0) {
        return berth_error_sys(err, errno, "container '%s': setns", c->id);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, "127.0.0.11", &sa.sin_addr);
    int one = 1, r = 0;
    _cleanup_close_ int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    _cleanup_close_ int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (udp < 0 || tcp < 0) {
        r = -errno;
    } else {
        setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(udp, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            bind(tcp, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(tcp, 64) < 0) {
            r = -errno;
        }
    }
    if (setns(s->hostns, CLONE_NEWNET) < 0) {
        abort();
    }
    if (r < 0) {
        return berth_error_sys(err, -r, "container '%s': bind 127.0.0.11:53", c->id);
    }
    out->id = xstrdup(c->id);
    out->netns = xstrdup(c->netns);
    out->udp = TAKE_FD(udp);
    out->tcp = TAKE_FD(tcp);
    return 0;
}

static void served_release(struct served *v)
{
    free(v->id);
    free(v->netns);
    safe_close(v->udp);
    safe_close(v->tcp);
}

/* Reread records.json; open sockets for new containers, close those gone.
 * Containers whose sockets cannot be made are reported, others served. */
static int reload(struct server *s, struct berth_error **err)
{
    _cleanup_json_ json_t *doc = load_doc(s->runroot);
    struct dns_records *rec = NULL;
    int r = dns_records_from_json(doc, &rec, err);
    if (r < 0) {
        return r;
    }
    struct served *next = xcalloc(rec->n ? rec->n : 1, sizeof(*next));
    size_t n = 0;
    bool *kept = xcalloc(s->n_sv ? s->n_sv : 1, sizeof(bool));
    for (size_t i = 0; i < rec->n; i++) {
        const struct dns_container *c = &rec->c[i];
        bool found = false;
        for (size_t j = 0; j < s->n_sv; j++) {
            if (!kept[j] && streq(s->sv[j].id, c->id) && streq(s->sv[j].netns, c->netns)) {
                next[n++] = s->sv[j];
                kept[j] = found = true;
                break;
            }
        }
        if (found) {
            continue;
        }
        struct berth_error *e = NULL;
        int rr = open_served(s, c, &next[n], &e);
        if (rr == 0) {
            n++;
        } else if (rr == -ENOENT || rr == -EPERM) {
            /* Its namespace is gone (a container whose monitor was killed,
             * its records not yet cleaned by `system check`), or it is not
             * a container's: nothing to serve, and no reason to fail the
             * reload every other container start waits for. */
            log_debug("dns: %s", e->msg);
            berth_error_free(e);
        } else {
            if (r >= 0 && err && !*err) {
                *err = TAKE_PTR(e);
            }
            berth_error_free(e);
            r = -EIO;
        }
    }
    for (size_t j = 0; j < s->n_sv; j++) {
        if (!kept[j]) {
            served_release(&s->sv[j]);
        }
    }
    free(kept);
    free(s->sv);
    s->sv = next;
    s->n_sv = n;
    dns_records_free(s->rec);
    s->rec = rec;
    return r;
}

static bool pending_allowed(const struct server *s, const char *id)
{
    if (s->n_pend >= PENDING_MAX) {
        return false;
    }
    size_t mine = 0;
    for (size_t i = 0; i < s->n_pend; i++) {
        mine += streq(s->pend[i].id, id);
    }
    return mine < PENDING_PER_CONTAINER;
}

/* Answer or forward one query from container id; reply via the callback
 * data: udp socket + peer, or tcp fd. Malformed queries get no answer. */
static void handle_query(struct server *s, const char *id, const uint8_t *msg, size_t len, int udp,
                         const struct sockaddr_in *peer, int tcp)
{
    struct dns_query q;
    uint8_t out[4096];
    int r = dns_parse_query(msg, len, &q);
    if (r == -EBADMSG) {
        if (tcp >= 0) {
            safe_close(tcp);
        }
        return;
    }
    size_t max = tcp >= 0 ? sizeof(out) : q.edns ? q.edns_size : DNS_UDP_PLAIN;
    struct dns_addr addrs[DNS_MAX_ADDRS];
    size_t n = 0;
    int rcode = DNS_RCODE_NOERROR;
    if (r == -EOPNOTSUPP) {
        rcode = DNS_RCODE_NOTIMP;
    } else {
        switch (dns_resolve(s->rec, id, q.name, q.qtype, addrs, &n)) {
        case DNS_ANSWER:
            break;
        case DNS_NXDOMAIN:
            rcode = DNS_RCODE_NXDOMAIN;
            break;
        case DNS_REFUSED:
            rcode = DNS_RCODE_REFUSED;
            break;
        case DNS_FORWARD: {
            /* The container's own resolvers (--dns) when it has any, as
             * Docker's embedded DNS forwards; else the host's. */
            struct sockaddr_storage own;
            socklen_t own_len = 0;
            const struct dns_container *dc = dns_records_find(s->rec, id);
            if (dc && dc->upstream && *dc->upstream &&
                parse_hostport(dc->upstream, 53, &own, &own_len) < 0) {
                own_len = 0;
            }
            const struct sockaddr_storage *ua = own_len ? &own : &s->upstream;
            socklen_t ulen = own_len ? own_len : s->upstream_len;
            if (ulen && pending_allowed(s, id)) {
                int up = socket(ua->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (up >= 0 && connect(up, (const struct sockaddr *)ua, ulen) == 0 &&
                    send(up, msg, len, MSG_NOSIGNAL) == (ssize_t)len) {
                    s->pend = xrealloc(s->pend, (s->n_pend + 1) * sizeof(*s->pend));
                    struct pending *p = &s->pend[s->n_pend++];
                    *p = (struct pending){.id = xstrdup(id),
                                          .up = up,
                                          .udp = udp,
                                          .tcp = tcp,
                                          .deadline = now_ms() + UPSTREAM_TIMEOUT_MS};
                    if (peer) {
                        p->peer = *peer;
                    }
                    return;
                }
                safe_close(up);
            }
            rcode = DNS_RCODE_SERVFAIL;
            break;
        }
        }
    }
    int olen = dns_build_answer(&q, msg, rcode, addrs, n, max, out, sizeof(out));
    if (olen < 0) {
        safe_close(tcp);
        return;
    }
    if (tcp >= 0) {
        uint8_t hdr[2] = {(uint8_t)(olen >> 8), (uint8_t)olen};
        fd_set_nonblock(tcp, 0);
        struct timeval tv = {.tv_sec = 1};
        setsockopt(tcp, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (write_all(tcp, hdr, 2) == 0) {
            write_all(tcp, out, (size_t)olen);
        }
        safe_close(tcp);
    } else {
        sendto(udp, out, (size_t)olen, MSG_NOSIGNAL, (const struct sockaddr *)peer, sizeof(*peer));
    }
}

static void finish_pending(struct server *s, size_t i, bool readable)
{
    struct pending *p = &s->pend[i];
    uint8_t buf[65535];
    ssize_t n = readable ? recv(p->up, buf, sizeof(buf), 0) : -1;
    if (n >= 12) {
        if (p->tcp >= 0) {
            uint8_t hdr[2] = {(uint8_t)(n >> 8), (uint8_t)n};
            fd_set_nonblock(p->tcp, 0);
            struct timeval tv = {.tv_sec = 1};
            setsockopt(p->tcp, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            if (write_all(p->tcp, hdr, 2) == 0) {
                write_all(p->tcp, buf, (size_t)n);
            }
        } else {
            sendto(p->udp, buf, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&p->peer,
                   sizeof(p->peer));
        }
    }
    safe_close(p->up);
    safe_close(p->tcp);
    free(p->id);
    s->pend[i] = s->pend[--s->n_pend];
}

static void ctl_serve(struct server *s, bool *quit)
{
    _cleanup_close_ int c = accept4(s->ctl, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        return;
    }
    struct timeval tv = {.tv_sec = 1};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char buf[64];
    ssize_t n = recv(c, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    if (strneq(buf, "stop", 4)) {
        write_all(c, "ok\n", 3);
        *quit = true;
        return;
    }
    if (!strneq(buf, "reload", 6)) {
        write_all(c, "error: unknown command\n", 23);
        return;
    }
    struct berth_error *e = NULL;
    if (reload(s, &e) < 0) {
        _cleanup_free_ char *m = xasprintf("error: %s\n", e && e->msg ? e->msg : "reload failed");
        write_all(c, m, strlen(m));
    } else {
        write_all(c, "ok\n", 3);
    }
    berth_error_free(e);
    if (s->rec->n > 0) {
        s->empty_since = 0;
    } else if (s->linger_ms == 0) {
        *quit = true;
    } else if (!s->empty_since) {
        s->empty_since = now_ms();
    }
}

static void tcp_accept(struct server *s, const struct served *v)
{
    int fd = accept4(v->tcp, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        return;
    }
    size_t mine = 0;
    for (size_t i = 0; i < s->n_conns; i++) {
        mine += streq(s->conns[i]->id, v->id);
    }
    /* Caps (see PENDING_MAX): a container holding connections open cannot
     * exhaust our fds nor take every slot from the others. */
    if (s->n_conns >= CONNS_MAX || mine >= CONNS_PER_CONTAINER) {
        safe_close(fd);
        return;
    }
    struct tcpconn *t = xcalloc(1, sizeof(*t));
    t->fd = fd;
    t->id = xstrdup(v->id);
    t->deadline = now_ms() + TCP_TIMEOUT_MS;
    s->conns = xrealloc(s->conns, (s->n_conns + 1) * sizeof(*s->conns));
    s->conns[s->n_conns++] = t;
}

static void conn_drop(struct server *s, size_t i, bool close_fd)
{
    struct tcpconn *t = s->conns[i];
    if (close_fd) {
        safe_close(t->fd);
    }
    free(t->id);
    free(t);
    s->conns[i] = s->conns[--s->n_conns];
}

/* Read what arrived; once a whole length-prefixed query is there, hand the
 * connection to handle_query (which answers and closes it). */
static void tcp_read(struct server *s, size_t i)
{
    struct tcpconn *t = s->conns[i];
    ssize_t n = recv(t->fd, t->buf + t->len, sizeof(t->buf) - t->len, 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            conn_drop(s, i, true);
        }
        return;
    }
    t->len += (size_t)n;
    if (t->len < 2) {
        return;
    }
    size_t want = (size_t)((t->buf[0] << 8) | t->buf[1]);
    if (t->len < 2 + want) {
        return;
    }
    int fd = t->fd;
    _cleanup_free_ char *id = xstrdup(t->id);
    uint8_t *msg = xmalloc(want ? want : 1);
    memcpy(msg, t->buf + 2, want);
    conn_drop(s, i, false);
    handle_query(s, id, msg, want, -1, NULL, fd);
    free(msg);
}

enum { K_CTL, K_UDP, K_TCP, K_CONN, K_PEND };

int dns_server_run(const char *runroot, struct berth_error **err)
{
    struct server s = {.runroot = runroot, .ctl = -1, .linger_ms = LINGER_DEFAULT_MS};
    const char *linger = getenv("BERTH_DNS_LINGER_MS");
    if (linger && *linger) {
        s.linger_ms = strtoull(linger, NULL, 10);
    }
    signal(SIGPIPE, SIG_IGN);
    s.hostns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (s.hostns < 0) {
        return berth_error_sys(err, errno, "dns: open own netns");
    }
    load_upstream(&s);
    struct berth_error *e = NULL;
    reload(&s, &e); /* containers that failed are retried on the next reload */
    berth_error_free(e);
    if (s.rec == NULL || s.rec->n == 0) {
        dns_records_free(s.rec);
        safe_close(s.hostns);
        return 0;
    }
    struct sockaddr_un sa;
    int r = ctl_addr(runroot, &sa, err);
    if (r < 0) {
        return r;
    }
    s.ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(sa.sun_path); /* a dead server's socket; we were started under the lock */
    if (s.ctl < 0 || bind(s.ctl, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s.ctl, 16) < 0) {
        return berth_error_sys(err, errno, "dns: listen on '%s'", sa.sun_path);
    }
    bool quit = false;
    while (!quit) {
        size_t cap = 1 + 2 * s.n_sv + s.n_conns + s.n_pend;
        struct pollfd *pf = xcalloc(cap, sizeof(*pf));
        int *kind = xcalloc(cap, sizeof(int));
        size_t *idx = xcalloc(cap, sizeof(size_t));
        size_t n = 0;
        pf[n] = (struct pollfd){.fd = s.ctl, .events = POLLIN};
        kind[n++] = K_CTL;
        for (size_t i = 0; i < s.n_sv; i++) {
            pf[n] = (struct pollfd){.fd = s.sv[i].udp, .events = POLLIN};
            kind[n] = K_UDP, idx[n++] = i;
            pf[n] = (struct pollfd){.fd = s.sv[i].tcp, .events = POLLIN};
            kind[n] = K_TCP, idx[n++] = i;
        }
        uint64_t now = now_ms(), next = now + 1000;
        if (s.empty_since) {
            if (now >= s.empty_since + s.linger_ms) {
                free(pf), free(kind), free(idx);
                break;
            }
            next = s.empty_since + s.linger_ms < next ? s.empty_since + s.linger_ms : next;
        }
        for (size_t i = 0; i < s.n_conns; i++) {
            pf[n] = (struct pollfd){.fd = s.conns[i]->fd, .events = POLLIN};
            kind[n] = K_CONN, idx[n++] = i;
            next = s.conns[i]->deadline < next ? s.conns[i]->deadline : next;
        }
        for (size_t i = 0; i < s.n_pend; i++) {
            pf[n] = (struct pollfd){.fd = s.pend[i].up, .events = POLLIN};
            kind[n] = K_PEND, idx[n++] = i;
            next = s.pend[i].deadline < next ? s.pend[i].deadline : next;
        }
        int pr = poll(pf, n, next > now ? (int)(next - now) : 0);
        if (pr < 0 && errno != EINTR) {
            free(pf), free(kind), free(idx);
            return berth_error_sys(err, errno, "dns: poll");
        }
        /* Handle in reverse so that removals (swap with the last) from the
         * conns and pending arrays do not disturb indexes still to visit. */
        for (size_t j = n; pr > 0 && j-- > 0;) {
            if (!pf[j].revents) {
                continue;
            }
            if (kind[j] == K_CTL) {
                ctl_serve(&s, &quit);
                break; /* the served sockets may have changed */
            } else if (kind[j] == K_UDP) {
                uint8_t buf[4096];
                struct sockaddr_in peer;
                socklen_t pl = sizeof(peer);
                ssize_t m =
                    recvfrom(s.sv[idx[j]].udp, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl);
                if (m > 0 && pl == sizeof(peer)) {
                    handle_query(&s, s.sv[idx[j]].id, buf, (size_t)m, s.sv[idx[j]].udp, &peer, -1);
                }
            } else if (kind[j] == K_TCP) {
                tcp_accept(&s, &s.sv[idx[j]]);
            } else if (kind[j] == K_CONN) {
                tcp_read(&s, idx[j]);
            } else {
                finish_pending(&s, idx[j], true);
            }
        }
        free(pf), free(kind), free(idx);
        now = now_ms();
        for (size_t i = s.n_pend; i-- > 0;) {
            if (s.pend[i].deadline <= now) {
                finish_pending(&s, i, false);
            }
        }
        for (size_t i = s.n_conns; i-- > 0;) {
            if (s.conns[i]->deadline <= now) {
                conn_drop(&s, i, true);
            }
        }
    }
    unlink(sa.sun_path);
    safe_close(s.ctl);
    for (size_t i = 0; i < s.n_sv; i++) {
        served_release(&s.sv[i]);
    }
    free(s.sv);
    while (s.n_conns) {
        conn_drop(&s, s.n_conns - 1, true);
    }
    while (s.n_pend) {
        finish_pending(&s, s.n_pend - 1, false);
    }
    free(s.conns);
    free(s.pend);
    dns_records_free(s.rec);
    safe_close(s.hostns);
    return 0;
}

int dns_server_stop(const char *runroot, struct berth_error **err)
{
    int r = ctl_command(runroot, "stop\n", err);
    return r == -ECONNREFUSED || r == -ENOENT ? 0 : r;
}
