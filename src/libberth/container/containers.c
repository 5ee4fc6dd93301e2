/* containers.c - container records, names, root filesystems and state files. */
#include "containers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/units.h"
#include "basic/fileio.h"
#include "basic/hexid.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/net/networks.h"
#include "libberth/runtime/state.h"

/* Caps on what we read back from disk or take from a request. */
#define NAME_MAX_LEN 253
#define BODY_MAX (4u << 20)
#define STATE_MAX (64u << 10)
#define RESOLV_MAX (64u << 10)
#define HOSTS_MAX (1u << 20)
#define XATTR_LIST_MAX_ (64u << 10)
#define XATTR_VALUE_MAX (64u << 10)
/* Every level of the vfs copy holds three descriptors; 256 levels stay well
 * inside the usual 1024-descriptor soft limit. */
#define COPY_MAX_DEPTH 256

static const char zero_time[] = "0001-01-01T00:00:00Z";

void container_record_free(struct container_record *c)
{
    if (!c) {
        return;
    }
    free(c->id);
    free(c->name);
    free(c->image_id);
    free(c->image_name);
    free(c->created);
    json_decref(c->body);
    free(c);
}

void container_record_list_free(struct container_record **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        container_record_free(l[i]);
    }
    free(l);
}

/* ---- ids, names, times ---- */

/* Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+: at least two characters. The
 * name later becomes a path component (logs, the API) and a hosts entry, so
 * nothing outside this set may ever get in. */
static bool name_valid(const char *n)
{
    size_t len = strlen(n);
    if (len < 2 || len > NAME_MAX_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || (ch != '_' && ch != '.' && ch != '-'))) {
            return false;
        }
    }
    return true;
}

static int check_name(const char *name, struct berth_error **err)
{
    if (!name_valid(name)) {
        if (strlen(name) > NAME_MAX_LEN) {
            return berth_error_set(err, EINVAL, "Invalid container name: longer than %d characters",
                                   NAME_MAX_LEN);
        }
        return berth_error_set(err, EINVAL,
                               "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
                               "allowed",
                               name);
    }
    return 0;
}

static int name_conflict(const char *name, const char *id, struct berth_error **err)
{
    return berth_error_set(err, EEXIST,
                           "Conflict. The container name \"/%s\" is already in use by container "
                           "\"%s\". You have to remove (or rename) that container to be able to "
                           "reuse that name.",
                           name, id);
}

/* berth's own word lists: a harbour theme, adjectives of weather and sea,
 * surnames of navigators and explorers. */
static const char *const adjectives[] = {
    "amber",  "ardent",  "azure",    "becalmed", "bold",    "brackish",  "brave",  "breezy",
    "brisk",  "buoyant", "calm",     "clever",   "coastal", "cobalt",    "crisp",  "dauntless",
    "deft",   "eager",   "fair",     "fearless", "foggy",   "gallant",   "gentle", "gusty",
    "hardy",  "hazy",    "jolly",    "keen",     "lively",  "lucid",     "mellow", "misty",
    "nimble", "pelagic", "placid",   "plucky",   "quiet",   "rugged",    "salty",  "serene",
    "sleek",  "sparkly", "spry",     "stalwart", "steady",  "stormy",    "sturdy", "sunny",
    "swift",  "tidal",   "tranquil", "trusty",   "vivid",   "wandering", "wary",   "windward",
};
static const char *const surnames[] = {
    "amundsen",     "baffin",     "barents",    "bass",      "bering",     "bougainville",
    "cabot",        "cabral",     "cartier",    "champlain", "cook",       "dampier",
    "davis",        "dezhnev",    "dias",       "drake",     "flinders",   "frobisher",
    "gama",         "hatshepsut", "henson",     "hudson",    "ibnbattuta", "kupe",
    "laperouse",    "leif",       "magellan",   "malaspina", "mawson",     "nansen",
    "nordenskiold", "pytheas",    "quiros",     "ross",      "shackleton", "tasman",
    "torres",       "vancouver",  "verrazzano", "vespucci",  "weddell",    "zheng",
};

static int generate_name(char **ret, struct berth_error **err)
{
    uint32_t rnd[2];
    int r = random_bytes(rnd, sizeof(rnd), err);
    if (r < 0) {
        return r;
    }
    *ret = xasprintf("%s_%s", adjectives[rnd[0] % ARRAY_SIZE(adjectives)],
                     surnames[rnd[1] % ARRAY_SIZE(surnames)]);
    return 0;
}

/* ---- /etc files ---- */

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A value that ends up as one word of a line in hosts or resolv.conf:
 * whitespace or a newline in it would let a request write lines of its
 * own into the container's resolver configuration. */
static bool one_word(const char *s)
{
    if (!s || !*s) {
        return false;
    }
    for (; *s; s++) {
        if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '#') {
            return false;
        }
    }
    return true;
}

static bool is_ip(const char *s, bool *ret_v6)
{
    unsigned char buf[16];
    if (inet_pton(AF_INET, s, buf) == 1) {
        *ret_v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        *ret_v6 = true;
        return true;
    }
    return false;
}

static int strv_from_json(json_t *hc, const char *key, char ***ret, struct berth_error **err)
{
    *ret = NULL;
    if (!hc) {
        return 0;
    }
    return jget_strv(hc, "HostConfig", key, false, ret, err);
}

static bool host_network(json_t *body)
{
    const char *mode = jstr(json_object_get(body, "HostConfig"), "NetworkMode");
    return mode && streq(mode, "host");
}

/* A user-defined network: anything but the predefined modes. Containers
 * on one resolve each other through the embedded DNS (net/dns.h). */
static bool user_network(json_t *body)
{
    const char *mode = jstr(json_object_get(body, "HostConfig"), "NetworkMode");
    return mode && *mode && !streq(mode, "default") && !streq(mode, "bridge") &&
           !streq(mode, "host") && !streq(mode, "none") && strncmp(mode, "container:", 10) != 0;
}

static char *container_hostname(json_t *body, const char *id)
{
    const char *h = jstr(body, "Hostname");
    if (h && *h) {
        return xstrdup(h);
    }
    if (host_network(body)) {
        char buf[256] = "";
        if (gethostname(buf, sizeof(buf) - 1) == 0 && buf[0]) {
            return xstrdup(buf);
        }
    }
    return xstrndup(id, 12);
}

/* hosts: Docker's fixed lines, then ExtraHosts ("name:ip", split at the
 * first colon because the address may be IPv6). With the host's network,
 * the host's own file is the start, as Docker does. */
static int build_hosts(json_t *body, const char *id, char **addrs, const char *host_gw, char **ret,
                       struct berth_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    json_t *hc = json_object_get(body, "HostConfig");
    if (host_network(body)) {
        _cleanup_free_ char *host = NULL;
        size_t len;
        if (read_file_at(AT_FDCWD, "/etc/hosts", HOSTS_MAX, &host, &len, NULL) >= 0) {
            strbuf_adds(&sb, host);
            if (len > 0 && host[len - 1] != '\n') {
                strbuf_adds(&sb, "\n");
            }
        }
    }
    if (sb.len == 0) {
        strbuf_adds(&sb, "127.0.0.1\tlocalhost\n"
                         "::1\tlocalhost ip6-localhost ip6-loopback\n"
                         "fe00::0\tip6-localnet\n"
                         "ff00::0\tip6-mcastprefix\n"
                         "ff02::1\tip6-allnodes\n"
                         "ff02::2\tip6-allrouters\n");
    }
    _cleanup_strv_free_ char **extra = NULL;
    int r = strv_from_json(hc, "ExtraHosts", &extra, err);
    if (r < 0) {
        strbuf_release(&sb);
        return r;
    }
    STRV_FOREACH(e, extra)
    {
        const char *colon = strchr(*e, ':');
        _cleanup_free_ char *name = colon ? xstrndup(*e, (size_t)(colon - *e)) : NULL;
        /* Docker's special address: the host, as the default bridge
         * network's gateway reaches it. */
        const char *ip = colon && streq(colon + 1, "host-gateway") ? host_gw
                         : colon                                   ? colon + 1
                                                                   : NULL;
        bool v6;
        if (!colon || !one_word(name) || !ip || !is_ip(ip, &v6)) {
            strbuf_release(&sb);
            if (colon && streq(colon + 1, "host-gateway")) {
                return berth_error_set(err, EINVAL,
                                       "invalid IP address in add-host: \"host-gateway\": the "
                                       "default network has no gateway");
            }
            return berth_error_set(err, EINVAL, "invalid argument \"%s\" for \"--add-host\" flag",
                                   *e);
        }
        strbuf_addf(&sb, "%s\t%s\n", ip, name);
    }
    if (addrs && !host_network(body)) {
        /* Docker's: the container's own addresses last, under its
         * hostname (with the domain first when there is one). */
        _cleanup_free_ char *hn = container_hostname(body, id);
        const char *domain = jstr(body, "Domainname");
        STRV_FOREACH(a, addrs)
        {
            if (domain && one_word(domain)) {
                strbuf_addf(&sb, "%s\t%s.%s %s\n", *a, hn, domain, hn);
            } else {
                strbuf_addf(&sb, "%s\t%s\n", *a, hn);
            }
        }
    }
    *ret = strbuf_detach(&sb, NULL);
    return 0;
}

/* The default bridge network's gateway, for "host-gateway" in ExtraHosts
 * (malloc'd), or NULL. Looked up only when a container asks for it. */
static char *host_gateway(struct store *s, json_t *body)
{
    bool wanted = false;
    json_t *eh = json_object_get(json_object_get(body, "HostConfig"), "ExtraHosts");
    for (size_t i = 0; i < json_array_size(eh); i++) {
        const char *e = json_string_value(json_array_get(eh, i));
        const char *colon = e ? strchr(e, ':') : NULL;
        wanted |= colon && streq(colon + 1, "host-gateway");
    }
    _cleanup_(network_freep) struct network *n = NULL;
    if (!wanted || network_get(s, "bridge", &n, NULL) < 0 || n->n_subnets == 0) {
        return NULL;
    }
    char b[IPAM_STRLEN];
    ipam_format(&n->subnets[0].gateway, false, b);
    return xstrdup(b);
}

int container_hosts_text(struct store *s, json_t *body, const char *id, char **addrs, char **ret,
                         struct berth_error **err)
{
    _cleanup_free_ char *gw = host_gateway(s, body);
    return build_hosts(body, id, addrs, gw, ret, err);
}

static bool ns_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || streq(addr, "::1");
}

/* Split a resolv.conf line into its keyword and the rest (both trimmed). */
static bool resolv_keyword(const char *line, const char *kw, const char **ret_rest)
{
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    size_t n = strlen(kw);
    if (strncmp(line, kw, n) != 0 || (line[n] != ' ' && line[n] != '\t')) {
        return false;
    }
    line += n;
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    *ret_rest = line;
    return true;
}

static char *first_word(const char *s)
{
    size_t n = strcspn(s, " \t\r");
    return xstrndup(s, n);
}

/* Docker's resolv.conf on a user network: the embedded resolver at
 * 127.0.0.11 (which forwards what is not a container's name to the host's
 * resolvers), the search domains and options of the request or the host,
 * and ndots:0 so that a container's bare name is asked as is. */
static int embedded_dns_conf(const char *host_conf, char **search, char **options, char **ret)
{
    _cleanup_strv_free_ char **lines = strv_split(host_conf ? host_conf : "", "\n");
    _cleanup_free_ char *h_search = NULL, *h_options = NULL;
    STRV_FOREACH(l, lines)
    {
        const char *rest;
        if (resolv_keyword(*l, "search", &rest) || resolv_keyword(*l, "domain", &rest)) {
            free(h_search);
            h_search = xstrdup(rest);
        } else if (resolv_keyword(*l, "options", &rest)) {
            free(h_options);
            h_options = xstrdup(rest);
        }
    }
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "nameserver 127.0.0.11\n");
    if (strv_length(search)) {
        _cleanup_free_ char *j = strv_join(search, " ");
        if (!streq(j, ".")) {
            strbuf_addf(&sb, "search %s\n", j);
        }
    } else if (h_search && *h_search) {
        strbuf_addf(&sb, "search %s\n", h_search);
    }
    _cleanup_free_ char *opts = strv_length(options) ? strv_join(options, " ")
                                : h_options          ? xstrdup(h_options)
                                                     : xstrdup("");
    strbuf_addf(&sb, "options ndots:0%s%s\n", *opts ? " " : "", opts);
    *ret = strbuf_detach(&sb, NULL);
    return 0;
}

int container_resolv_conf(const char *host_conf, json_t *body, char **ret, struct berth_error **err)
{
    json_t *hc = json_object_get(body, "HostConfig");
    _cleanup_strv_free_ char **dns = NULL, **search = NULL, **options = NULL;
    int r = strv_from_json(hc, "Dns", &dns, err);
    if (r >= 0) {
        r = strv_from_json(hc, "DnsSearch", &search, err);
    }
    if (r >= 0) {
        r = strv_from_json(hc, "DnsOptions", &options, err);
    }
    if (r < 0) {
        return r;
    }
    bool v6;
    STRV_FOREACH(d, dns)
    {
        if (!is_ip(*d, &v6)) {
            return berth_error_set(err, EINVAL, "%s is not an ip address", *d);
        }
    }
    STRV_FOREACH(d, search)
    {
        if (!one_word(*d)) {
            return berth_error_set(err, EINVAL, "invalid DNS search domain \"%s\"", *d);
        }
    }
    STRV_FOREACH(d, options)
    {
        if (!one_word(*d)) {
            return berth_error_set(err, EINVAL, "invalid DNS option \"%s\"", *d);
        }
    }
    /* With the host's network the host's resolvers are reachable, loopback
     * ones included: Docker copies the file unfiltered. */
    bool keep_local = host_network(body);
    if (user_network(body)) {
        return embedded_dns_conf(host_conf, search, options, ret);
    }
    _cleanup_strv_free_ char **lines = strv_split(host_conf ? host_conf : "", "\n");
    struct strbuf sb = STRBUF_INIT;
    size_t n_ns = 0;
    if (!strv_length(dns) && !strv_length(search) && !strv_length(options)) {
        /* Docker's FilterResolvDNS: drop loopback nameservers (the
         * container's loopback is its own, nothing listens there) and IPv6
         * ones (no IPv6 in a container's network yet), keep the rest. */
        STRV_FOREACH(l, lines)
        {
            const char *rest;
            if (!keep_local && resolv_keyword(*l, "nameserver", &rest)) {
                _cleanup_free_ char *a = first_word(rest);
                if (ns_loopback(a) || (is_ip(a, &v6) && v6)) {
                    continue;
                }
            }
            if (resolv_keyword(*l, "nameserver", &rest)) {
                n_ns++;
            }
            if (**l || l[1]) {
                strbuf_addf(&sb, "%s\n", *l);
            }
        }
        if (n_ns == 0) {
            strbuf_adds(&sb, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        }
        *ret = strbuf_detach(&sb, NULL);
        return 0;
    }
    /* Docker's Build: search, nameservers, options; each from the request
     * when given, else from the host file. */
    _cleanup_strv_free_ char **h_ns = xcalloc(1, sizeof(char *));
    _cleanup_free_ char *h_search = NULL, *h_options = NULL;
    STRV_FOREACH(l, lines)
    {
        const char *rest;
        if (resolv_keyword(*l, "nameserver", &rest)) {
            char *a = first_word(rest);
            if (keep_local || (!ns_loopback(a) && !(is_ip(a, &v6) && v6))) {
                strv_consume(&h_ns, a);
            } else {
                free(a);
            }
        } else if (resolv_keyword(*l, "search", &rest) || resolv_keyword(*l, "domain", &rest)) {
            free(h_search);
            h_search = xstrdup(rest);
        } else if (resolv_keyword(*l, "options", &rest)) {
            free(h_options);
            h_options = xstrdup(rest);
        }
    }
    if (strv_length(search)) {
        _cleanup_free_ char *j = strv_join(search, " ");
        /* "--dns-search ." means no search domains at all. */
        if (!streq(j, ".")) {
            strbuf_addf(&sb, "search %s\n", j);
        }
    } else if (h_search && *h_search) {
        strbuf_addf(&sb, "search %s\n", h_search);
    }
    char **ns = strv_length(dns) ? dns : h_ns;
    STRV_FOREACH(d, ns)
    {
        strbuf_addf(&sb, "nameserver %s\n", *d);
    }
    if (!strv_length(ns)) {
        strbuf_adds(&sb, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    if (strv_length(options)) {
        _cleanup_free_ char *j = strv_join(options, " ");
        strbuf_addf(&sb, "options %s\n", j);
    } else if (h_options && *h_options) {
        strbuf_addf(&sb, "options %s\n", h_options);
    }
    *ret = strbuf_detach(&sb, NULL);
    return 0;
}

/* The host's resolver file: systemd-resolved's stub (127.0.0.53) is a
 * loopback address the container cannot reach, so its upstream list is the
 * one to start from, as Docker does. */
static char *host_resolv_conf(void)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (read_file_at(AT_FDCWD, "/etc/resolv.conf", RESOLV_MAX, &buf, &len, NULL) < 0) {
        return xstrdup("");
    }
    _cleanup_strv_free_ char **lines = strv_split(buf, "\n");
    STRV_FOREACH(l, lines)
    {
        const char *rest;
        if (resolv_keyword(*l, "nameserver", &rest) && strncmp(rest, "127.0.0.53", 10) == 0) {
            char *up = NULL;
            if (read_file_at(AT_FDCWD, "/run/systemd/resolve/resolv.conf", RESOLV_MAX, &up, &len,
                             NULL) >= 0) {
                return up;
            }
            break;
        }
    }
    return TAKE_PTR(buf);
}

static int write_etc_files(struct store *s, int dirfd, json_t *body, const char *id,
                           struct berth_error **err)
{
    _cleanup_free_ char *hostname = container_hostname(body, id);
    if (!one_word(hostname) || strlen(hostname) > 253) {
        return berth_error_set(err, EINVAL, "invalid hostname '%s'", hostname);
    }
    _cleanup_free_ char *hosts = NULL, *resolv = NULL, *host_conf = host_resolv_conf();
    _cleanup_free_ char *gw = host_gateway(s, body);
    int r = build_hosts(body, id, NULL, gw, &hosts, err);
    if (r >= 0) {
        r = container_resolv_conf(host_conf, body, &resolv, err);
    }
    _cleanup_free_ char *hn = xasprintf("%s\n", hostname);
    /* 0644: the files are bind-mounted into the container and read by any
     * user in it. */
    if (r >= 0) {
        /* No fsync: these are derived from the record and rewritten by any
         * repair; a flush each would be most of create's cost. Written in
         * place: the directory is new, nothing reads them yet. */
        r = write_file_new_at(dirfd, "hosts", hosts, strlen(hosts), 0644, err);
    }
    if (r >= 0) {
        r = write_file_new_at(dirfd, "hostname", hn, strlen(hn), 0644, err);
    }
    if (r >= 0) {
        r = write_file_new_at(dirfd, "resolv.conf", resolv, strlen(resolv), 0644, err);
    }
    return r;
}

/* ---- the vfs copy ---- */

struct hardlink {
    dev_t dev;
    ino_t ino;
    char *path; /* relative to the copy's root */
};

struct copy_ctx {
    int dst_root;
    struct hardlink *links;
    size_t n_links, cap_links;
};

/* Copy extended attributes. Reads go through a path under /proc/self/fd
 * for nodes we must not open (device nodes would open the device, symlinks
 * cannot be opened), with the l* calls so a final symlink is never
 * followed. security.capability is written after the chown that would
 * clear it (the kernel drops file capabilities on owner change). */
static int copy_xattrs(int sfd, const char *spath, int dfd, const char *dpath,
                       struct berth_error **err)
{
    _cleanup_free_ char *names = xmalloc(XATTR_LIST_MAX_);
    ssize_t n = sfd >= 0 ? flistxattr(sfd, names, XATTR_LIST_MAX_)
                         : llistxattr(spath, names, XATTR_LIST_MAX_);
    if (n < 0) {
        if (errno == ENOTSUP || errno == ENODATA) {
            return 0;
        }
        return berth_error_sys(err, errno, "list xattrs");
    }
    _cleanup_free_ char *val = xmalloc(XATTR_VALUE_MAX);
    for (ssize_t off = 0; off < n; off += (ssize_t)strlen(names + off) + 1) {
        const char *name = names + off;
        ssize_t vl = sfd >= 0 ? fgetxattr(sfd, name, val, XATTR_VALUE_MAX)
                              : lgetxattr(spath, name, val, XATTR_VALUE_MAX);
        if (vl < 0) {
            if (errno == ENODATA) {
                continue;
            }
            return berth_error_sys(err, errno, "read xattr '%s'", name);
        }
        int rc = dfd >= 0 ? fsetxattr(dfd, name, val, (size_t)vl, 0)
                          : lsetxattr(dpath, name, val, (size_t)vl, 0);
        if (rc < 0) {
            /* A destination that cannot hold this namespace at all (user.*
             * on a symlink, no xattr support) cannot keep it: skipped,
             * as the layer unpacker does. */
            if (errno == ENOTSUP || (errno == EPERM && sfd < 0)) {
                log_debug("vfs copy: xattr '%s' not kept: %s", name, strerror(errno));
                continue;
            }
            return berth_error_sys(err, errno, "set xattr '%s'", name);
        }
    }
    return 0;
}

static int copy_data(int sfd, int dfd, struct berth_error **err)
{
    for (;;) {
        ssize_t n = copy_file_range(sfd, NULL, dfd, NULL, 1 << 30, 0);
        if (n == 0) {
            return 0;
        }
        if (n > 0) {
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
            return berth_error_sys(err, errno, "copy data");
        }
        break;
    }
    char buf[128 * 1024];
    for (;;) {
        ssize_t n = RETRY_EINTR(read(sfd, buf, sizeof(buf)));
        if (n < 0) {
            return berth_error_sys(err, errno, "read");
        }
        if (n == 0) {
            return 0;
        }
        if (write_all(dfd, buf, (size_t)n) < 0) {
            return berth_error_sys(err, errno, "write");
        }
    }
}

/* Owner, xattrs, mode, times, in that order: chown clears setuid/setgid
 * and file capabilities, so the mode and xattrs go after it; times last,
 * since every other change touches ctime/mtime of directories. */
static int copy_meta(int sdir, int ddir, const char *name, int sfd, int dfd, const struct stat *st,
                     struct berth_error **err)
{
    bool lnk = S_ISLNK(st->st_mode);
    int rc = dfd >= 0 ? fchown(dfd, st->st_uid, st->st_gid)
                      : fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
    if (rc < 0) {
        return berth_error_sys(err, errno, "chown '%s'", name);
    }
    char sp[64], dp[64];
    _cleanup_free_ char *spath = NULL, *dpath = NULL;
    if (sfd < 0) {
        snprintf(sp, sizeof(sp), "/proc/self/fd/%d/", sdir);
        snprintf(dp, sizeof(dp), "/proc/self/fd/%d/", ddir);
        spath = xasprintf("%s%s", sp, name);
        dpath = xasprintf("%s%s", dp, name);
    }
    int r = copy_xattrs(sfd, spath, dfd, dpath, err);
    if (r < 0) {
        return berth_error_prefix(err, "'%s'", name);
    }
    if (!lnk) {
        rc = dfd >= 0 ? fchmod(dfd, st->st_mode & 07777)
                      : fchmodat(ddir, name, st->st_mode & 07777, 0);
        if (rc < 0) {
            return berth_error_sys(err, errno, "chmod '%s'", name);
        }
    }
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    rc = dfd >= 0 ? futimens(dfd, ts) : utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW);
    if (rc < 0) {
        return berth_error_sys(err, errno, "set times of '%s'", name);
    }
    return 0;
}

static int copy_tree(struct copy_ctx *ctx, int sdir, int ddir, const char *rel, unsigned depth,
                     struct berth_error **err);

static int copy_entry(struct copy_ctx *ctx, int sdir, int ddir, const char *name, const char *rel,
                      unsigned depth, struct berth_error **err)
{
    struct stat st;
    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return berth_error_sys(err, errno, "stat '%s'", rel);
    }
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        for (size_t i = 0; i < ctx->n_links; i++) {
            struct hardlink *h = &ctx->links[i];
            if (h->dev == st.st_dev && h->ino == st.st_ino) {
                if (linkat(ctx->dst_root, h->path, ddir, name, 0) < 0) {
                    return berth_error_sys(err, errno, "link '%s' to '%s'", rel, h->path);
                }
                return 0;
            }
        }
        ctx->links = xgrow(ctx->links, sizeof(*ctx->links), ctx->n_links + 1, &ctx->cap_links);
        ctx->links[ctx->n_links++] =
            (struct hardlink){.dev = st.st_dev, .ino = st.st_ino, .path = xstrdup(rel)};
    }
    _cleanup_close_ int sfd = -1, dfd = -1;
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
        if (depth >= COPY_MAX_DEPTH) {
            return berth_error_set(err, ELOOP, "'%s': directories nested deeper than %d", rel,
                                   COPY_MAX_DEPTH);
        }
        if (mkdirat(ddir, name, 0700) < 0) {
            return berth_error_sys(err, errno, "mkdir '%s'", rel);
        }
        sfd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0 || dfd < 0) {
            return berth_error_sys(err, errno, "open '%s'", rel);
        }
        {
            int r = copy_tree(ctx, sfd, dfd, rel, depth + 1, err);
            if (r < 0) {
                return r;
            }
        }
        break;
    case S_IFREG:
        sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (sfd < 0) {
            return berth_error_sys(err, errno, "open '%s'", rel);
        }
        dfd = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (dfd < 0) {
            return berth_error_sys(err, errno, "create '%s'", rel);
        }
        {
            int r = copy_data(sfd, dfd, err);
            if (r < 0) {
                return berth_error_prefix(err, "'%s'", rel);
            }
        }
        break;
    case S_IFLNK: {
        if (st.st_size < 0 || st.st_size >= PATH_MAX) {
            return berth_error_set(err, ENAMETOOLONG, "symlink '%s': target too long", rel);
        }
        char target[PATH_MAX];
        ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
        if (n < 0) {
            return berth_error_sys(err, errno, "readlink '%s'", rel);
        }
        target[n] = '\0';
        if (symlinkat(target, ddir, name) < 0) {
            return berth_error_sys(err, errno, "symlink '%s'", rel);
        }
        break;
    }
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
        if (mknodat(ddir, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0) {
            return berth_error_sys(err, errno, "mknod '%s'", rel);
        }
        break;
    default:
        return berth_error_set(err, EINVAL, "'%s': unknown file type", rel);
    }
    return copy_meta(sdir, ddir, name, sfd, dfd, &st, err);
}

static int copy_tree(struct copy_ctx *ctx, int sdir, int ddir, const char *rel, unsigned depth,
                     struct berth_error **err)
{
    int fd = fcntl(sdir, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
        return berth_error_sys(err, errno, "dup");
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        safe_close(fd);
        return berth_error_sys(err, errno, "opendir '%s'", rel ? rel : "/");
    }
    rewinddir(d);
    int r = 0;
    struct dirent *de;
    errno = 0;
    while (r >= 0 && (de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        _cleanup_free_ char *child =
            rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        r = copy_entry(ctx, sdir, ddir, de->d_name, child, depth, err);
        errno = 0;
    }
    if (r >= 0 && errno != 0) {
        r = berth_error_sys(err, errno, "readdir '%s'", rel ? rel : "/");
    }
    closedir(d);
    return r;
}

/* Copy the tree at src into the existing empty directory dst. */
static int vfs_copy(const char *src, int dst_fd, struct berth_error **err)
{
    _cleanup_close_ int sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        return berth_error_sys(err, errno, "open layer '%s'", src);
    }
    return container_tree_copy(sfd, dst_fd, err);
}

int container_tree_copy(int src_fd, int dst_fd, struct berth_error **err)
{
    struct stat st;
    if (fstat(src_fd, &st) < 0) {
        return berth_error_sys(err, errno, "stat copy source");
    }
    struct copy_ctx ctx = {.dst_root = dst_fd};
    int r = copy_tree(&ctx, src_fd, dst_fd, NULL, 0, err);
    for (size_t i = 0; i < ctx.n_links; i++) {
        free(ctx.links[i].path);
    }
    free(ctx.links);
    if (r >= 0) {
        r = copy_meta(-1, -1, "/", src_fd, dst_fd, &st, err);
    }
    return r;
}

/* ---- records ---- */

/* Chain ids of an image's layers, bottom first. */
static int image_chain_ids(struct store *s, const char *image_id, char ***ret,
                           struct berth_error **err)
{
    _cleanup_free_ char *found = NULL;
    int r = db_get_text(s->db, &found, err, "SELECT id FROM images WHERE id = ?", "s", image_id);
    if (r == -ENOENT) {
        return berth_error_set(err, ENOENT, "No such image: %s", image_id);
    }
    if (r < 0) {
        return r;
    }
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    r = db_query(s->db, &st, err,
                 "SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx", "s",
                 image_id);
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **l = xcalloc(1, sizeof(char *));
    while ((r = db_step(st, err)) > 0) {
        strv_push(&l, db_text(st, 0));
    }
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(l);
    return 0;
}

static char *container_dir(struct store *s, const char *id)
{
    return xasprintf("%s/containers/%s", s->root, id);
}

static char *run_dir(struct store *s, const char *id)
{
    return xasprintf("%s/containers/%s", s->runroot, id);
}

/* The container's files: /etc files, and the upper and work dirs
 * (overlay) or the copy of the image's tree (vfs). */
static int make_files(struct store *s, const char *id, json_t *body, char **layers,
                      struct berth_error **err)
{
    _cleanup_free_ char *base = xasprintf("%s/containers", s->root);
    int r = mkdir_p(base, 0700, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *dir = container_dir(s, id);
    if (mkdir(dir, 0700) < 0) {
        return berth_error_sys(err, errno, "mkdir '%s'", dir);
    }
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        return berth_error_sys(err, errno, "open '%s'", dir);
    }
    r = write_etc_files(s, dfd, body, id, err);
    if (r < 0) {
        return r;
    }
    size_t n = strv_length(layers);
    _cleanup_free_ char *top = n ? layer_store_diff_path(s->layers, layers[n - 1]) : NULL;
    if (streq(s->driver, "overlay")) {
        /* The merged root takes the upper dir's owner and mode: give it
         * the top layer's. */
        struct stat st = {.st_mode = S_IFDIR | 0755};
        if (top && stat(top, &st) < 0) {
            return berth_error_sys(err, errno, "layer '%s'", top);
        }
        if (mkdirat(dfd, "upper", st.st_mode & 07777) < 0 ||
            fchownat(dfd, "upper", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(dfd, "upper", st.st_mode & 07777, 0) < 0) {
            return berth_error_sys(err, errno, "'%s/upper'", dir);
        }
        if (mkdirat(dfd, "work", 0700) < 0) {
            return berth_error_sys(err, errno, "mkdir '%s/work'", dir);
        }
        /* overlayfs needs at least one lower layer; an image without
         * layers gets an empty one. */
        if (n == 0 && mkdirat(dfd, "empty", 0755) < 0) {
            return berth_error_sys(err, errno, "mkdir '%s/empty'", dir);
        }
        return 0;
    }
    if (mkdirat(dfd, "rootfs", 0755) < 0) {
        return berth_error_sys(err, errno, "mkdir '%s/rootfs'", dir);
    }
    if (!top) {
        return 0;
    }
    _cleanup_close_ int rfd =
        openat(dfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rfd < 0) {
        return berth_error_sys(err, errno, "open '%s/rootfs'", dir);
    }
    r = vfs_copy(top, rfd, err);
    return r < 0 ? berth_error_prefix(err, "copy image tree") : 0;
}

int container_record_create(struct store *s, json_t *body, const char *name, const char *image_id,
                            const char *image_name, struct container_record **ret,
                            struct berth_error **err)
{
    if (name && name[0] == '/') {
        name++;
    }
    if (name && !*name) {
        name = NULL; /* Docker: an empty name is a generated one */
    }
    int r = name ? check_name(name, err) : 0;
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **layers = NULL;
    r = image_chain_ids(s, image_id, &layers, err);
    if (r < 0) {
        return r;
    }
    char id[65];
    r = random_hex(id, 32, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *created = rfc3339_now();
    _cleanup_free_ char *body_s = json_dump_compact(body);
    _cleanup_free_ char *chosen = name ? xstrdup(name) : NULL;
    r = db_begin(s->db, err);
    if (r < 0) {
        return r;
    }
    /* A generated name that is taken is drawn again; after a few misses a
     * number is added, so a crowded store still gets a name. */
    for (int attempt = 0; r >= 0; attempt++) {
        if (!name) {
            free(chosen);
            chosen = NULL;
            r = generate_name(&chosen, err);
            if (r >= 0 && attempt >= 8) {
                char *numbered = xasprintf("%s%d", chosen, attempt);
                free(chosen);
                chosen = numbered;
            }
            if (r < 0) {
                break;
            }
        }
        _cleanup_free_ char *other = NULL;
        r = db_get_text(s->db, &other, err, "SELECT id FROM containers WHERE name = ?", "s",
                        chosen);
        if (r == -ENOENT) {
            r = 0;
            break;
        }
        if (r >= 0 && name) {
            r = name_conflict(chosen, other, err);
        }
        if (r >= 0 && attempt > 100) {
            r = berth_error_set(err, EEXIST, "could not generate a free container name");
        }
    }
    if (r >= 0) {
        r = db_run(s->db, err,
                   "INSERT INTO containers(id, name, image_id, image_name, created, body)"
                   " VALUES(?, ?, ?, ?, ?, ?)",
                   "ssssss", id, chosen, image_id, image_name, created, body_s);
    }
    if (r >= 0) {
        r = db_commit(s->db, err);
    } else {
        db_rollback(s->db);
    }
    if (r < 0) {
        return r;
    }
    /* The record goes in first (it reserves the name); the files follow
     * outside the write lock, since a vfs copy can take long. A failure
     * takes both back out. */
    r = make_files(s, id, body, layers, err);
    if (r < 0) {
        container_remove(s, id, NULL);
        return r;
    }
    struct container_record *c = xcalloc(1, sizeof(*c));
    c->id = xstrdup(id);
    c->name = TAKE_PTR(chosen);
    c->image_id = xstrdup(image_id);
    c->image_name = image_name ? xstrdup(image_name) : NULL;
    c->created = TAKE_PTR(created);
    c->body = json_incref(body);
    *ret = c;
    return 0;
}

int container_resolve(struct store *s, const char *name_or_id, char **ret_id,
                      struct berth_error **err)
{
    const char *name = name_or_id[0] == '/' ? name_or_id + 1 : name_or_id;
    _cleanup_free_ char *id = NULL;
    int r = -ENOENT;
    if (is_hex(name_or_id, 64, 64)) {
        r = db_get_text(s->db, &id, err, "SELECT id FROM containers WHERE id = ?", "s", name_or_id);
    }
    if (r == -ENOENT && *name) {
        r = db_get_text(s->db, &id, err, "SELECT id FROM containers WHERE name = ?", "s", name);
    }
    if (r == -ENOENT && is_hex(name_or_id, 1, 63)) {
        _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
        r = db_query(s->db, &st, err,
                     "SELECT id FROM containers WHERE substr(id, 1, ?) = ? LIMIT 2", "is",
                     (int64_t)strlen(name_or_id), name_or_id);
        if (r >= 0) {
            r = db_step(st, err);
        }
        if (r > 0) {
            id = xstrdup(db_text(st, 0));
            r = db_step(st, err);
            if (r > 0) {
                return berth_error_set(err, EINVAL, "multiple containers match '%s'", name_or_id);
            }
        } else if (r == 0) {
            r = -ENOENT;
        }
    }
    if (r == -ENOENT) {
        return berth_error_set(err, ENOENT, "No such container: %s", name_or_id);
    }
    if (r < 0) {
        return r;
    }
    *ret_id = TAKE_PTR(id);
    return 0;
}

#define RECORD_COLUMNS "SELECT id, name, image_id, image_name, created, body FROM containers"

static int load_record(struct db_stmt *st, struct container_record **ret, struct berth_error **err)
{
    struct container_record *c = xcalloc(1, sizeof(*c));
    _cleanup_(container_record_freep) struct container_record *owned = c;
    c->id = xstrdup(db_text(st, 0));
    c->name = xstrdup(db_text(st, 1));
    c->image_id = xstrdup(db_text(st, 2));
    c->image_name = db_text(st, 3) ? xstrdup(db_text(st, 3)) : NULL;
    c->created = xstrdup(db_text(st, 4));
    const char *b = db_text(st, 5);
    int r = json_parse_buf(b ? b : "{}", b ? strlen(b) : 2, BODY_MAX, &c->body, err);
    if (r < 0) {
        return berth_error_prefix(err, "container '%s': stored body", c->id);
    }
    *ret = TAKE_PTR(owned);
    return 0;
}

int container_record_get(struct store *s, const char *id, struct container_record **ret,
                         struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, RECORD_COLUMNS " WHERE id = ?", "s", id);
    if (r >= 0) {
        r = db_step(st, err);
    }
    if (r == 0) {
        return berth_error_set(err, ENOENT, "No such container: %s", id);
    }
    if (r < 0) {
        return r;
    }
    return load_record(st, ret, err);
}

int container_record_list(struct store *s, struct container_record ***ret, size_t *ret_n,
                          struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, RECORD_COLUMNS " ORDER BY created DESC, rowid DESC", "");
    if (r < 0) {
        return r;
    }
    struct container_record **l = NULL;
    size_t n = 0, cap = 0;
    while ((r = db_step(st, err)) > 0) {
        struct container_record *c = NULL;
        r = load_record(st, &c, err);
        if (r < 0) {
            break;
        }
        l = xgrow(l, sizeof(*l), n + 1, &cap);
        l[n++] = c;
    }
    if (r < 0) {
        container_record_list_free(l, n);
        return r;
    }
    *ret = l;
    *ret_n = n;
    return 0;
}

int container_rename(struct store *s, const char *name_or_id, const char *new_name,
                     struct berth_error **err)
{
    if (new_name[0] == '/') {
        new_name++;
    }
    int r = check_name(new_name, err);
    if (r < 0) {
        return r;
    }
    r = db_begin(s->db, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *id = NULL, *old = NULL, *other = NULL;
    r = container_resolve(s, name_or_id, &id, err);
    if (r >= 0) {
        r = db_get_text(s->db, &old, err, "SELECT name FROM containers WHERE id = ?", "s", id);
    }
    if (r >= 0 && streq(old, new_name)) {
        r = berth_error_set(err, EINVAL,
                            "Renaming a container with the same name as its current name");
    }
    if (r >= 0) {
        r = db_get_text(s->db, &other, err, "SELECT id FROM containers WHERE name = ?", "s",
                        new_name);
        if (r == 0) {
            r = name_conflict(new_name, other, err);
        } else if (r == -ENOENT) {
            r = 0;
        }
    }
    if (r >= 0) {
        r = db_run(s->db, err, "UPDATE containers SET name = ? WHERE id = ?", "ss", new_name, id);
    }
    if (r >= 0) {
        r = db_commit(s->db, err);
    } else {
        db_rollback(s->db);
    }
    return r < 0 ? r : 0;
}

bool container_image_in_use(struct store *s, const char *image_id)
{
    _cleanup_free_ char *id = NULL;
    return db_get_text(s->db, &id, NULL, "SELECT id FROM containers WHERE image_id = ? LIMIT 1",
                       "s", image_id) == 0;
}

/* ---- rootfs ---- */

static bool is_mountpoint(const char *path)
{
    struct statx sx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
        (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
        return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    }
    /* Kernels before 5.8: overlayfs has its own device number. */
    struct stat a, b;
    _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd >= 0 && fstat(fd, &a) == 0 && fstatat(fd, "..", &b, 0) == 0 && a.st_dev != b.st_dev;
}

/* overlayfs splits its options at ',' and lowerdir at ':' (with no
 * escaping through mount(2)'s data string): a path holding either would
 * name other directories than meant. */
static int check_overlay_path(const char *p, struct berth_error **err)
{
    if (strpbrk(p, ",:")) {
        return berth_error_set(err, EINVAL,
                               "overlay: path '%s' contains ',' or ':', which overlayfs cannot "
                               "take (use another --root or --runroot)",
                               p);
    }
    return 0;
}

static int overlay_mount(struct store *s, const char *id, const char *target, bool volatile_,
                         struct berth_error **err)
{
    _cleanup_strv_free_ char **layers = NULL;
    _cleanup_free_ char *image_id = NULL;
    int r =
        db_get_text(s->db, &image_id, err, "SELECT image_id FROM containers WHERE id = ?", "s", id);
    if (r == -ENOENT) {
        return berth_error_set(err, ENOENT, "No such container: %s", id);
    }
    if (r >= 0) {
        r = image_chain_ids(s, image_id, &layers, err);
    }
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *dir = container_dir(s, id);
    _cleanup_free_ char *layers_dir = xasprintf("%s/layers", s->root);
    r = check_overlay_path(dir, err);
    if (r >= 0) {
        r = check_overlay_path(layers_dir, err);
    }
    if (r < 0) {
        return r;
    }
    size_t n = strv_length(layers);
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) {
        page = 4096;
    }
    /* The kernel takes at most one page of options. Absolute paths first;
     * when they do not fit, paths relative to the layers dir (the mount
     * runs with that as the working directory), as Docker does with its
     * short links. */
    char *opts = NULL;
    for (int relative = 0; relative < 2; relative++) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_adds(&sb, "lowerdir=");
        for (size_t i = n; i-- > 0;) {
            const char *l = layers[i];
            const char *hex = strncmp(l, "sha256:", 7) == 0 ? l + 7 : l;
            if (check_overlay_path(hex, err) < 0) {
                strbuf_release(&sb);
                return -EINVAL;
            }
            if (relative) {
                strbuf_addf(&sb, "%s/diff", hex);
            } else {
                _cleanup_free_ char *diff = layer_store_diff_path(s->layers, l);
                strbuf_adds(&sb, diff);
            }
            if (i) {
                strbuf_adds(&sb, ":");
            }
        }
        /* Relative, the container's own dirs are reached from the layers
         * dir too: <root>/layers/../containers/<id>. */
        _cleanup_free_ char *cdir = relative ? xasprintf("../containers/%s", id) : xstrdup(dir);
        if (n == 0) {
            strbuf_addf(&sb, "%s/empty", cdir);
        }
        strbuf_addf(&sb, ",upperdir=%s/upper,workdir=%s/work", cdir, cdir);
        if (sb.len < (size_t)page) {
            opts = strbuf_detach(&sb, NULL);
            break;
        }
        strbuf_release(&sb);
        if (relative) {
            return berth_error_set(err, E2BIG,
                                   "overlay: %zu layers do not fit in one mount's options (%ld "
                                   "bytes)",
                                   n, page);
        }
    }
    _cleanup_free_ char *owned_opts = opts;
    bool relative = strncmp(opts, "lowerdir=/", 10) != 0;
    _cleanup_close_ int cwd = -1;
    if (relative) {
        cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0) {
            return berth_error_sys(err, errno, "open the working directory");
        }
        if (chdir(layers_dir) < 0) {
            return berth_error_sys(err, errno, "chdir '%s'", layers_dir);
        }
    }
    /* An AutoRemove container's upper dir dies with it: "volatile" (Linux
     * 5.10) spares it every sync, the one at unmount included (a disk flush
     * that costs `run --rm` milliseconds). Kernels without it refuse the
     * option: mount again without. */
    int rc = -1;
    if (volatile_) {
        _cleanup_free_ char *vopts = xasprintf("%s,volatile", opts);
        rc = mount("overlay", target, "overlay", 0, vopts);
    }
    if (rc < 0) {
        rc = mount("overlay", target, "overlay", 0, opts);
    }
    int saved = errno;
    if (relative && fchdir(cwd) < 0) {
        log_debug("overlay: cannot return to the working directory: %s", strerror(errno));
    }
    if (rc < 0) {
        return berth_error_sys(err, saved, "mount overlay at '%s'", target);
    }
    return 0;
}

int container_rootfs_mount(struct store *s, const struct container_record *c, char **ret_path,
                           struct berth_error **err)
{
    if (!streq(s->driver, "overlay")) {
        _cleanup_free_ char *dir = container_dir(s, c->id);
        char *path = xasprintf("%s/rootfs", dir);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
            int e = errno;
            free(path);
            return berth_error_sys(err, e ? e : ENOTDIR, "container '%s': rootfs", c->id);
        }
        *ret_path = path;
        return 0;
    }
    _cleanup_free_ char *rdir = run_dir(s, c->id);
    _cleanup_free_ char *target = xasprintf("%s/rootfs", rdir);
    int r = check_overlay_path(target, err);
    if (r >= 0) {
        r = mkdir_p(target, 0700, err);
    }
    if (r < 0) {
        return r;
    }
    if (!is_mountpoint(target)) {
        bool auto_remove =
            json_is_true(json_object_get(json_object_get(c->body, "HostConfig"), "AutoRemove"));
        r = overlay_mount(s, c->id, target, auto_remove, err);
        if (r < 0) {
            return berth_error_prefix(err, "container '%.12s'", c->id);
        }
    }
    *ret_path = TAKE_PTR(target);
    return 0;
}

/* A plain umount first: it succeeds only when nothing uses the rootfs, and
 * then the overlay is gone for sure, so its upper and work dirs may be
 * deleted. Only when it is busy (a process outside the container kept a
 * cwd or an fd in it, or an exec'd process is still exiting) does it get
 * detached: the mount leaves the namespace now and the kernel frees it
 * with its last user, instead of the container being impossible to remove
 * for as long as a stray process lives. Detaching always would hide such
 * leaks. */
int container_rootfs_unmount(struct store *s, const char *id, struct berth_error **err)
{
    if (!streq(s->driver, "overlay")) {
        return 0;
    }
    _cleanup_free_ char *rdir = run_dir(s, id);
    _cleanup_free_ char *target = xasprintf("%s/rootfs", rdir);
    for (int i = 0; i < 64; i++) {
        if (umount2(target, UMOUNT_NOFOLLOW) == 0) {
            continue; /* stacked mounts from an earlier crash: take them all */
        }
        if (errno == EINVAL || errno == ENOENT) {
            return 0;
        }
        if (errno == EBUSY) {
            log_debug("rootfs of '%.12s' busy: detaching", id);
            if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
                continue;
            }
        }
        return berth_error_sys(err, errno, "unmount '%s'", target);
    }
    return berth_error_set(err, EBUSY, "unmount '%s': still mounted", target);
}

int container_remove(struct store *s, const char *id, struct berth_error **err)
{
    int r = container_rootfs_unmount(s, id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *dir = container_dir(s, id), *rdir = run_dir(s, id);
    r = rm_rf_at(AT_FDCWD, rdir, err);
    if (r >= 0) {
        r = rm_rf_at(AT_FDCWD, dir, err);
    }
    if (r < 0) {
        return berth_error_prefix(err, "remove container '%.12s'", id);
    }
    /* The record goes last: while any file is left, the container stays
     * listed and a second rm can finish the job. */
    r = db_run(s->db, err, "DELETE FROM containers WHERE id = ?", "s", id);
    return r < 0 ? r : 0;
}

/* ---- state file ---- */

void container_state_file_release(struct container_state_file *st)
{
    if (!st) {
        return;
    }
    free(st->status);
    free(st->error);
    free(st->started_at);
    free(st->finished_at);
    *st = (struct container_state_file){0};
}

static int state_dir_open(const char *root, const char *id, int *ret, struct berth_error **err)
{
    if (!is_hex(id, 64, 64)) {
        return berth_error_set(err, EINVAL, "invalid container id '%s'", id);
    }
    _cleanup_free_ char *dir = xasprintf("%s/containers/%s", root, id);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", dir);
    }
    *ret = fd;
    return 0;
}

int container_state_write(const char *root, const char *id, const struct container_state_file *st,
                          struct berth_error **err)
{
    _cleanup_close_ int dfd = -1;
    int r = state_dir_open(root, id, &dfd, err);
    if (r < 0) {
        return r;
    }
    json_t *o =
        json_pack("{s:s, s:I, s:I, s:I, s:i, s:b, s:s, s:s, s:s, s:i}", "Status",
                  st->status ? st->status : "created", "Pid", (json_int_t)st->pid, "MonitorPid",
                  (json_int_t)st->monitor_pid, "MonitorStartTime",
                  (json_int_t)(st->monitor_start > INT64_MAX ? 0 : st->monitor_start), "ExitCode",
                  st->exit_code, "OOMKilled", st->oom_killed, "Error", st->error ? st->error : "",
                  "StartedAt", st->started_at ? st->started_at : zero_time, "FinishedAt",
                  st->finished_at ? st->finished_at : zero_time, "RestartCount", st->restart_count);
    if (!o) {
        return berth_error_set(err, EINVAL, "state of '%.12s': not valid UTF-8", id);
    }
    _cleanup_free_ char *s = json_dump_compact(o);
    json_decref(o);
    /* Only a final state must survive a crash of the machine: "created",
     * "running" and "restarting" mean nothing after a reboot (the runtime
     * state under the runroot is gone too), so they skip the fsync that
     * would cost `berth run` a disk flush each. */
    const char *status = st->status ? st->status : "created";
    if (streq(status, "exited") || streq(status, "dead")) {
        return write_file_atomic_at(dfd, "state.json", s, strlen(s), 0600, err);
    }
    return write_file_replace_at(dfd, "state.json", s, strlen(s), 0600, err);
}

int container_state_read(const char *root, const char *id, struct container_state_file *ret,
                         struct berth_error **err)
{
    _cleanup_close_ int dfd = -1;
    int r = state_dir_open(root, id, &dfd, err);
    if (r < 0) {
        return r;
    }
    _cleanup_json_ json_t *o = NULL;
    r = json_load_file_at(dfd, "state.json", STATE_MAX, &o, err);
    if (r < 0) {
        return berth_error_prefix(err, "state of '%.12s'", id);
    }
    const char *status = "created", *error = "", *started = zero_time, *finished = zero_time;
    int64_t pid = 0, mpid = 0, mstart = 0, code = 0, restarts = 0;
    bool oom = false;
    const char *w = "state.json";
    r = jget_str(o, w, "Status", false, &status, err);
    if (r >= 0) {
        r = jget_i64(o, w, "Pid", false, &pid, err);
    }
    if (r >= 0) {
        r = jget_i64(o, w, "MonitorPid", false, &mpid, err);
    }
    if (r >= 0) {
        /* Absent in older state files: unknown (0). */
        r = jget_i64(o, w, "MonitorStartTime", false, &mstart, err);
    }
    if (r >= 0) {
        r = jget_i64(o, w, "ExitCode", false, &code, err);
    }
    if (r >= 0) {
        r = jget_bool(o, w, "OOMKilled", &oom, err);
    }
    if (r >= 0) {
        r = jget_str(o, w, "Error", false, &error, err);
    }
    if (r >= 0) {
        r = jget_str(o, w, "StartedAt", false, &started, err);
    }
    if (r >= 0) {
        r = jget_str(o, w, "FinishedAt", false, &finished, err);
    }
    if (r >= 0) {
        r = jget_i64(o, w, "RestartCount", false, &restarts, err);
    }
    if (r >= 0 && (code < INT32_MIN || code > INT32_MAX || restarts < 0 || restarts > INT32_MAX)) {
        r = berth_error_set(err, EINVAL, "state.json: ExitCode or RestartCount out of range");
    }
    if (r < 0) {
        return berth_error_prefix(err, "state of '%.12s'", id);
    }
    *ret = (struct container_state_file){
        .status = xstrdup(status),
        .pid = pid,
        .monitor_pid = mpid,
        .monitor_start = mstart > 0 ? (uint64_t)mstart : 0,
        .exit_code = (int)code,
        .oom_killed = oom,
        .error = error && *error ? xstrdup(error) : NULL,
        .started_at = xstrdup(started),
        .finished_at = xstrdup(finished),
        .restart_count = (int)restarts,
    };
    return 0;
}

uint64_t container_pid_start_time(int64_t pid)
{
    uint64_t start = 0;
    bool zombie = false;
    if (pid <= 0 || pid > INT32_MAX || proc_pid_start_time((pid_t)pid, &start, &zombie) < 0 ||
        zombie) {
        return 0;
    }
    return start;
}

bool container_state_monitor_alive(const struct container_state_file *st)
{
    if (st->monitor_pid <= 0 || st->monitor_pid > INT32_MAX) {
        return false;
    }
    uint64_t start = 0;
    bool zombie = false;
    if (proc_pid_start_time((pid_t)st->monitor_pid, &start, &zombie) < 0) {
        /* No /proc entry: gone. (Under a /proc we cannot read the answer
         * would be the same: nothing there is ours to trust.) */
        return false;
    }
    /* The monitor is double-forked, so its parent is the host's pid 1 or
     * a subreaper, which may not reap it: a zombie is an exited monitor.
     * A different start time is another process that got the pid after
     * the monitor was gone (pid reuse). */
    return !zombie && (st->monitor_start == 0 || start == st->monitor_start);
}
