/* registry.c - registry HTTP API client over a dlopen()ed libcurl (see
 * registry.h for the contract).
 *
 * Every call goes through do_request(), which owns the policy: endpoint
 * order (docker.io mirrors first for pulls), scheme (HTTPS, or for insecure
 * registries HTTPS unverified then HTTP, remembered per endpoint), auth
 * (Basic, Bearer tokens cached per realm/service/scope) and retries. One
 * exchange is perform_once(), on an easy handle from a small per-registry
 * pool: handles are reused one request after another, so connections and
 * TLS sessions are reused too, and several threads can each hold one.
 */
#include "registry.h"

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/sha256.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/dl.h"
#include "libberth/common/json-util.h"
#include "libberth/image/auth.h"
#include "libberth/image/manifest.h"

#define CURL_SONAME "libcurl.so.4"
#define ERROR_BODY_MAX (64u * 1024)
#define TOKEN_BODY_MAX (1u << 20)
#define CA_FILE_MAX (16u << 20)
#define HEADER_MAX 8192
#define RETRY_AFTER_MAX_S 30
#define TOKEN_MIN_LIFETIME_S 60 /* as docker/distribution's token handler */
#define MAX_AUTH_ROUNDS 4
#define POOL_MAX 8
#define DEFAULT_CHUNK (8ULL << 20)
#define USER_AGENT "berth/" BERTH_VERSION

/* ---- libcurl, loaded on first use ---------------------------------------- */

#define CURL_SYMBOLS(X)                                                                            \
    X(curl_global_init)                                                                            \
    X(curl_easy_init)                                                                              \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_reset)                                                                             \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_strerror)                                                                          \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)                                                                         \
    X(curl_version_info)

DEFINE_DL_LIB(cu, CURL_SYMBOLS, CURL_SONAME, "libcurl4")

static pthread_once_t cu_init_once = PTHREAD_ONCE_INIT;
static bool cu_init_ok;

static void cu_init(void)
{
    cu_init_ok = cu.curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* libcurl loaded and initialised. curl_global_init is not thread-safe: it
 * runs once, here, before any pull thread exists. */
static int curl_ready(struct berth_error **err)
{
    int r = cu_load(err);
    if (r < 0) {
        return r;
    }
    pthread_once(&cu_init_once, cu_init);
    if (!cu_init_ok) {
        return berth_error_set(err, EIO, "%s: curl_global_init failed", CURL_SONAME);
    }
    return 0;
}

/* ---- small helpers ------------------------------------------------------- */

static uint64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Manifests are small (MANIFEST_MAX): the portable sha256 beats loading
 * libcrypto for them. */
static char *sha256_digest(const void *data, size_t len)
{
    uint8_t md[32];
    sha256(data, len, md);
    char *s = xmalloc(7 + 64 + 1);
    memcpy(s, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) {
        snprintf(s + 7 + 2 * i, 3, "%02x", md[i]);
    }
    return s;
}

/* Percent-encode a query value (RFC 3986 unreserved kept). */
static void add_query_escaped(struct strbuf *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            strbuf_addc(sb, (char)c);
        } else {
            strbuf_addf(sb, "%%%02X", c);
        }
    }
}

/* "host:port" or "[v6]:port" or "host" -> host part (malloc'd). */
static char *domain_host(const char *domain)
{
    if (domain[0] == '[') {
        const char *e = strchr(domain, ']');
        return e ? xstrndup(domain + 1, (size_t)(e - domain - 1)) : xstrdup(domain);
    }
    const char *c = strrchr(domain, ':');
    if (c && strchr(domain, ':') == c) {
        return xstrndup(domain, (size_t)(c - domain));
    }
    return xstrdup(domain);
}

int registry_is_loopback(const char *domain)
{
    _cleanup_free_ char *h = domain_host(domain);
    if (strcasecmp(h, "localhost") == 0 || streq(h, "::1")) {
        return 1;
    }
    struct in_addr a4;
    if (inet_pton(AF_INET, h, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    return 0;
}

/* Host of an absolute URL ("https://h:p/x" -> "h:p"), malloc'd. */
static char *url_hostport(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memrchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    return xstrndup(p, n);
}

/* Whether an absolute URL carries "user:password@" before its host. */
static bool url_has_userinfo(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    return memchr(p, '@', strcspn(p, "/?#")) != NULL;
}

/* scheme://host[:port]/path of a URL, for debug logs: the userinfo (a
 * mirror's password) and the query (an upload's state token, a token
 * request's account) never reach a log (SECURITY.md: no secrets in logs). */
static char *url_for_log(const char *url)
{
    const char *p = strstr(url, "://");
    size_t scheme_len = p ? (size_t)(p - url) + 3 : 0;
    const char *authority = url + scheme_len;
    size_t alen = strcspn(authority, "/?#");
    const char *at = memrchr(authority, '@', alen);
    const char *host = at ? at + 1 : authority;
    size_t hlen = alen - (size_t)(host - authority);
    const char *path = authority + alen;
    size_t plen = strcspn(path, "?#");
    return xasprintf("%.*s%.*s%.*s", (int)scheme_len, url, (int)hlen, host, (int)plen, path);
}

/* "scheme://host:port" of an http(s) URL: lowercased, without userinfo,
 * the default port filled in, so that two spellings of one origin compare
 * equal. NULL for anything but http and https. */
static char *url_origin(const char *url)
{
    bool https = strncasecmp(url, "https://", 8) == 0;
    if (!https && strncasecmp(url, "http://", 7) != 0) {
        return NULL;
    }
    _cleanup_free_ char *hp = url_hostport(url);
    for (char *c = hp; *c; c++) {
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    }
    const char *after_host = hp[0] == '[' ? strchr(hp, ']') : hp;
    bool has_port = after_host && strchr(after_host, ':');
    return xasprintf("%s://%s%s", https ? "https" : "http", hp,
                     has_port ? ""
                     : https  ? ":443"
                              : ":80");
}

/* Registry text (a reason phrase, a header value, an error code) made safe
 * to print, at most max bytes of it: C0 controls, DEL and the UTF-8 forms of
 * the C1 controls (U+0080..U+009F, obeyed by xterm-like terminals) become
 * '?'. A registry must not drive the user's terminal with escape sequences
 * (retitle it, recolour it, fake output; cf. CVE-2021-25743 in kubectl). */
static void add_printable(struct strbuf *sb, const char *s, size_t max)
{
    size_t start = sb->len;
    for (; s && *s && sb->len - start < max; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f) {
            s++;
            c = '?';
        } else if (c < 0x20 || c == 0x7f) {
            c = '?';
        }
        strbuf_addc(sb, (char)c);
    }
}

static char *printable_dup(const char *s, size_t max)
{
    struct strbuf sb = STRBUF_INIT;
    add_printable(&sb, s, max);
    return strbuf_detach(&sb, NULL);
}

/* ---- TLS material: system CAs + certs.d ---------------------------------- */

struct tls_conf {
    char *ca_pem; /* system bundle + extra CAs, NULL: curl's default */
    size_t ca_len;
    char *cert, *key; /* client certificate, key */
};

static void tls_conf_release(struct tls_conf *t)
{
    free(t->ca_pem);
    free(t->cert);
    free(t->key);
    memset(t, 0, sizeof(*t));
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a > b && streq(s + a - b, suf);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Docker's certs.d/<host[:port]>/ layout: *.crt are extra CAs, X.cert with
 * X.key a client certificate (daemon/registry: ReadCertsDirectory). */
static void tls_read_dir(const char *dir, struct strbuf *extra, struct tls_conf *t)
{
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    char **names = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] != '.') {
            strv_push(&names, de->d_name);
        }
    }
    closedir(d);
    size_t n = strv_length(names);
    if (n) {
        qsort(names, n, sizeof(char *), name_cmp);
    }
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
        if (has_suffix(names[i], ".crt")) {
            _cleanup_free_ char *buf = NULL;
            size_t len = 0;
            if (read_file_at(AT_FDCWD, path, CA_FILE_MAX, &buf, &len, NULL) >= 0) {
                strbuf_add(extra, buf, len);
                strbuf_addc(extra, '\n');
                log_debug("registry: extra CA '%s'", path);
            }
        } else if (has_suffix(names[i], ".cert") && !t->cert) {
            _cleanup_free_ char *key = xasprintf("%.*s.key", (int)(strlen(path) - 5), path);
            if (access(key, R_OK) == 0) {
                t->cert = TAKE_PTR(path);
                t->key = TAKE_PTR(key);
                log_debug("registry: client certificate '%s'", t->cert);
            }
        }
    }
    strv_free(names);
}

static void tls_load(const char *certs_dir, const char *hostport, struct tls_conf *t)
{
    struct strbuf extra = STRBUF_INIT;
    const char *dirs[] = {certs_dir ? certs_dir : "/etc/docker/certs.d",
                          certs_dir ? NULL : "/etc/containers/certs.d"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        if (!dirs[i]) {
            continue;
        }
        _cleanup_free_ char *dir = xasprintf("%s/%s", dirs[i], hostport);
        tls_read_dir(dir, &extra, t);
    }
    if (extra.len > 0) {
        /* curl takes one CA source: the system bundle and the extra CAs go
         * together into one in-memory PEM (Docker adds them to the system
         * pool, it does not replace it). */
        struct strbuf all = STRBUF_INIT;
        curl_version_info_data *v = cu.curl_version_info(CURLVERSION_NOW);
        const char *sys = v && v->cainfo ? v->cainfo : "/etc/ssl/certs/ca-certificates.crt";
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if (read_file_at(AT_FDCWD, sys, CA_FILE_MAX, &buf, &len, NULL) >= 0) {
            strbuf_add(&all, buf, len);
            strbuf_addc(&all, '\n');
        }
        strbuf_add(&all, extra.buf, extra.len);
        t->ca_pem = strbuf_detach(&all, &t->ca_len);
    }
    strbuf_release(&extra);
}

/* ---- registry object ----------------------------------------------------- */

enum scheme { SCHEME_UNKNOWN, SCHEME_HTTPS, SCHEME_HTTP };
enum auth_kind { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct endpoint {
    char *hostport;  /* what certs.d and Host: name */
    char *fixed_url; /* mirrors: "https://m.example" as configured, no trailing '/' */
    bool insecure;
    bool mirror;
    enum scheme scheme; /* learnt; under r->lock */
    enum auth_kind auth;
    char *realm, *service;
    struct tls_conf tls;
};

struct token {
    char *key; /* realm \n service \n scope */
    char *value;
    uint64_t expires; /* monotonic seconds */
    struct token *next;
};

struct registry {
    char *domain;
    struct endpoint *eps; /* mirrors first, then the registry itself (last) */
    size_t n_eps;
    char *username, *password;
    bool creds_looked_up;
    long connect_timeout_ms, low_speed_s;
    unsigned max_retries;
    pthread_mutex_t lock;       /* endpoints' learnt state, pool, tokens, creds */
    pthread_mutex_t token_lock; /* one token fetch at a time */
    struct token *tokens;
    CURL *pool[POOL_MAX];
    size_t n_pool;
};

static void endpoint_release(struct endpoint *e)
{
    free(e->hostport);
    free(e->fixed_url);
    free(e->realm);
    free(e->service);
    tls_conf_release(&e->tls);
}

/* A positive number of seconds from the environment, else 0. */
static long env_seconds(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        return 0;
    }
    char *end = NULL;
    long n = strtol(v, &end, 10);
    return end && *end == '\0' && n > 0 && n < 86400 ? n : 0;
}

int registry_new(const char *domain, const struct registry_options *opts, struct registry **ret,
                 struct berth_error **err)
{
    int r = curl_ready(err);
    if (r < 0) {
        return r;
    }
    static const struct registry_options none = {0};
    if (!opts) {
        opts = &none;
    }
    /* Credentials in a mirror URL would be logged with every request and
     * sent to every host the mirror redirects to; a mirror gets no
     * credentials at all (see request_endpoint). Refused, as a whole,
     * without echoing the password. */
    for (char **m = opts->mirrors; m && *m; m++) {
        if (url_has_userinfo(*m)) {
            _cleanup_free_ char *shown = url_for_log(*m);
            return berth_error_set(err, EINVAL,
                                   "registry mirror '%s': credentials in a mirror URL are not "
                                   "supported",
                                   shown);
        }
    }
    struct registry *reg = xcalloc(1, sizeof(*reg));
    bool secure_loopback;
    reg->domain = xstrdup(domain);
    long env_timeout = env_seconds("BERTH_REGISTRY_TIMEOUT");
    reg->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                              : env_timeout > 0            ? env_timeout * 1000
                                                           : 30000;
    reg->low_speed_s = opts->low_speed_timeout_s > 0 ? opts->low_speed_timeout_s
                       : env_timeout > 0             ? env_timeout
                                                     : 30;
    secure_loopback = getenv("BERTH_REGISTRY_SECURE_LOOPBACK") &&
                      streq(getenv("BERTH_REGISTRY_SECURE_LOOPBACK"), "1");
    reg->max_retries = opts->max_retries > 0 ? opts->max_retries : 3;
    if (opts->username) {
        reg->username = xstrdup(opts->username);
        reg->password = xstrdup(opts->password ? opts->password : "");
        reg->creds_looked_up = true;
    }
    pthread_mutex_init(&reg->lock, NULL);
    pthread_mutex_init(&reg->token_lock, NULL);

    bool hub = streq(domain, "docker.io");
    size_t n_mirrors = hub ? strv_length(opts->mirrors) : 0;
    reg->eps = xcalloc(n_mirrors + 1, sizeof(*reg->eps));
    for (size_t i = 0; i < n_mirrors; i++) {
        struct endpoint *e = &reg->eps[reg->n_eps++];
        const char *m = opts->mirrors[i];
        e->fixed_url = strstr(m, "://") ? xstrdup(m) : xasprintf("https://%s", m);
        size_t l = strlen(e->fixed_url);
        while (l > 0 && e->fixed_url[l - 1] == '/') {
            e->fixed_url[--l] = '\0';
        }
        e->hostport = url_hostport(e->fixed_url);
        e->mirror = true;
        e->insecure = (!secure_loopback && registry_is_loopback(e->hostport)) ||
                      strv_contains(opts->insecure, e->hostport);
        tls_load(opts->certs_dir, e->hostport, &e->tls);
    }
    struct endpoint *e = &reg->eps[reg->n_eps++];
    e->hostport = xstrdup(hub ? "registry-1.docker.io" : domain);
    e->insecure =
        (!secure_loopback && registry_is_loopback(domain)) || strv_contains(opts->insecure, domain);
    tls_load(opts->certs_dir, e->hostport, &e->tls);
    if (hub && !e->tls.ca_pem) {
        tls_load(opts->certs_dir, "docker.io", &e->tls);
    }
    *ret = reg;
    return 0;
}

void registry_free(struct registry *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n_pool; i++) {
        cu.curl_easy_cleanup(r->pool[i]);
    }
    for (size_t i = 0; i < r->n_eps; i++) {
        endpoint_release(&r->eps[i]);
    }
    free(r->eps);
    while (r->tokens) {
        struct token *t = r->tokens;
        r->tokens = t->next;
        free(t->key);
        if (t->value) {
            explicit_bzero(t->value, strlen(t->value));
        }
        free(t->value);
        free(t);
    }
    if (r->password) {
        explicit_bzero(r->password, strlen(r->password));
    }
    free(r->username);
    free(r->password);
    free(r->domain);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->token_lock);
    free(r);
}

static CURL *handle_get(struct registry *r)
{
    CURL *h = NULL;
    pthread_mutex_lock(&r->lock);
    if (r->n_pool > 0) {
        h = r->pool[--r->n_pool];
    }
    pthread_mutex_unlock(&r->lock);
    if (h) {
        cu.curl_easy_reset(h);
    } else {
        h = cu.curl_easy_init();
        if (!h) {
            abort(); /* only fails on out-of-memory */
        }
    }
    return h;
}

static void handle_put(struct registry *r, CURL *h)
{
    pthread_mutex_lock(&r->lock);
    if (r->n_pool < POOL_MAX) {
        r->pool[r->n_pool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    if (h) {
        cu.curl_easy_cleanup(h);
    }
}

/* Credentials for the registry (not mirrors): explicit, else auth.h. */
static void creds_get(struct registry *r, char **ret_user, char **ret_pass)
{
    pthread_mutex_lock(&r->lock);
    if (!r->creds_looked_up) {
        r->creds_looked_up = true;
        (void)auth_get(r->domain, &r->username, &r->password, NULL);
    }
    *ret_user = r->username ? xstrdup(r->username) : NULL;
    *ret_pass = r->password ? xstrdup(r->password) : NULL;
    pthread_mutex_unlock(&r->lock);
}

/* ---- one HTTP exchange --------------------------------------------------- */

struct req {
    const char *method;
    const char *path;  /* "/v2/..." or an absolute URL (upload Location) */
    const char *scope; /* token scope(s), space separated */
    const char *accept;
    const char *content_type;
    const char *content_range;
    const char *body; /* upload from memory */
    size_t body_len;
    int fd; /* upload from fd (>= 0): fd_len bytes at fd_off */
    uint64_t fd_off, fd_len;
    bool has_body;
    bool pull;   /* may go to mirrors */
    bool follow; /* follow redirects (blob GET/HEAD) */
    uint64_t range_from;
    size_t cap; /* capture cap of a 2xx body without sink */
    registry_data_cb sink;
    void *sink_data;
    int64_t expected; /* sink: total blob size or -1 */
    registry_progress_cb progress;
    void *progress_data;
    const char *what; /* "manifest", "blob": for 404 messages */
};

struct resp {
    long status;
    char reason[64];
    struct strbuf body;
    char *content_type, *digest, *location, *www_auth;
    long retry_after;
    int64_t content_length;
    /* sink state, across attempts */
    uint64_t delivered; /* bytes of the blob handed to the sink, from range_from's origin */
    uint64_t skip;      /* bytes still to drop (server ignored Range) */
    bool sink_failed, too_big, body_started;
    char errbuf[CURL_ERROR_SIZE]; /* curl's detail of the last failure */
    int sink_r;
    struct berth_error *sink_err;
    /* upload state */
    uint64_t sent;
    const struct req *q;
    CURL *h;
};

static void resp_headers_reset(struct resp *s)
{
    free(TAKE_PTR(s->content_type));
    free(TAKE_PTR(s->digest));
    free(TAKE_PTR(s->location));
    free(TAKE_PTR(s->www_auth));
    s->retry_after = -1;
    s->content_length = -1;
    s->status = 0;
    s->reason[0] = '\0';
}

static void resp_release(struct resp *s)
{
    resp_headers_reset(s);
    strbuf_release(&s->body);
    berth_error_free(TAKE_PTR(s->sink_err));
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct resp *s = userdata;
    size_t len = size * nmemb;
    if (len > HEADER_MAX) {
        return len; /* ignored, never needed */
    }
    char line[HEADER_MAX + 1];
    memcpy(line, data, len);
    line[len] = '\0';
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n')) {
        line[--len] = '\0';
    }
    if (strneq(line, "HTTP/", 5)) {
        /* A new response (after a redirect or 100 Continue): forget the last. */
        resp_headers_reset(s);
        const char *sp = strchr(line, ' ');
        if (sp) {
            s->status = strtol(sp + 1, NULL, 10);
            const char *rs = strchr(sp + 1, ' ');
            _cleanup_free_ char *reason = printable_dup(rs ? rs + 1 : "", sizeof(s->reason) - 1);
            snprintf(s->reason, sizeof(s->reason), "%s", reason);
        }
        return size * nmemb;
    }
    char *colon = strchr(line, ':');
    if (!colon) {
        return size * nmemb;
    }
    *colon = '\0';
    const char *raw = colon + 1;
    while (*raw == ' ' || *raw == '\t') {
        raw++;
    }
    /* Values end up in messages (a digest, a media type, a realm's host):
     * no control byte gets past here. */
    _cleanup_free_ char *v = printable_dup(raw, HEADER_MAX);
    if (strcasecmp(line, "Content-Type") == 0) {
        free(s->content_type);
        s->content_type = TAKE_PTR(v);
    } else if (strcasecmp(line, "Docker-Content-Digest") == 0) {
        free(s->digest);
        s->digest = TAKE_PTR(v);
    } else if (strcasecmp(line, "Location") == 0) {
        free(s->location);
        s->location = TAKE_PTR(v);
    } else if (strcasecmp(line, "WWW-Authenticate") == 0) {
        free(s->www_auth);
        s->www_auth = TAKE_PTR(v);
    } else if (strcasecmp(line, "Retry-After") == 0) {
        s->retry_after = strtol(v, NULL, 10);
    } else if (strcasecmp(line, "Content-Length") == 0) {
        s->content_length = strtoll(v, NULL, 10);
    }
    return size * nmemb;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct resp *s = userdata;
    const struct req *q = s->q;
    size_t len = size * nmemb;
    long status = s->status;
    if (status >= 200 && status < 300 && q->sink) {
        if (!s->body_started) {
            /* Bytes before range_from + delivered were delivered already: a
             * server answering 200 to our Range sends them again. */
            s->body_started = true;
            s->skip = status == 200 ? q->range_from + s->delivered : 0;
        }
        if (s->skip > 0) {
            size_t k = s->skip < len ? (size_t)s->skip : len;
            s->skip -= k;
            data += k;
            len -= k;
            if (len == 0) {
                return size * nmemb;
            }
        }
        if (q->expected >= 0 && q->range_from + s->delivered + len > (uint64_t)q->expected) {
            s->too_big = true;
            return 0;
        }
        int r = q->sink(data, len, q->sink_data, &s->sink_err);
        if (r < 0) {
            s->sink_failed = true;
            s->sink_r = r;
            return 0;
        }
        s->delivered += len;
        return size * nmemb;
    }
    size_t cap = status >= 200 && status < 300 ? q->cap : ERROR_BODY_MAX;
    if (s->body.len + len > cap) {
        if (status >= 200 && status < 300) {
            s->too_big = true;
            return 0;
        }
        len = cap > s->body.len ? cap - s->body.len : 0; /* error bodies: keep the start */
    }
    strbuf_add(&s->body, data, len);
    return size * nmemb;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct resp *s = userdata;
    const struct req *q = s->q;
    size_t room = size * nitems;
    uint64_t total = q->fd >= 0 ? q->fd_len : q->body_len;
    uint64_t left = total - s->sent;
    size_t n = left < room ? (size_t)left : room;
    if (n == 0) {
        return 0;
    }
    if (q->fd >= 0) {
        ssize_t k;
        do {
            k = pread(q->fd, buf, n, (off_t)(q->fd_off + s->sent));
        } while (k < 0 && errno == EINTR);
        if (k <= 0) {
            return CURL_READFUNC_ABORT;
        }
        n = (size_t)k;
    } else {
        memcpy(buf, q->body + s->sent, n);
    }
    s->sent += n;
    if (q->progress) {
        q->progress(s->sent, q->progress_data);
    }
    return n;
}

static char *endpoint_url(const struct endpoint *e, enum scheme sc, const char *path)
{
    if (strstr(path, "://")) {
        return xstrdup(path);
    }
    if (e->fixed_url) {
        return xasprintf("%s%s", e->fixed_url, path);
    }
    return xasprintf("%s://%s%s", sc == SCHEME_HTTP ? "http" : "https", e->hostport, path);
}

static void set_tls(CURL *h, const struct tls_conf *t, bool verify)
{
    if (!verify) {
        cu.curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        cu.curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (t->ca_pem) {
        struct curl_blob blob = {.data = t->ca_pem, .len = t->ca_len, .flags = CURL_BLOB_NOCOPY};
        cu.curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (t->cert) {
        cu.curl_easy_setopt(h, CURLOPT_SSLCERT, t->cert);
        cu.curl_easy_setopt(h, CURLOPT_SSLKEY, t->key);
    }
}

static void set_common(struct registry *r, CURL *h)
{
    cu.curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu.curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
    cu.curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
    cu.curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    cu.curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, r->low_speed_s);
    cu.curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cu.curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    cu.curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "identity");
    /* HTTP/1.1, as Docker's registry transport (Go only speaks HTTP/2 there
     * when forced): parallel layers use one connection each anyway, and a
     * TLS alert (a refused client certificate) then reaches us as itself,
     * not as an HTTP/2 send error. */
    cu.curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
}

/* One exchange. auth_header is the full "Authorization: ..." line or NULL. */
static CURLcode perform_once(struct registry *r, const struct endpoint *e, enum scheme sc,
                             const struct req *q, const char *auth_header, struct resp *s)
{
    CURL *h = handle_get(r);
    _cleanup_free_ char *url = endpoint_url(e, sc, q->path);
    struct curl_slist *hdrs = NULL;
    _cleanup_free_ char *accept = NULL, *ctype = NULL, *range = NULL, *crange = NULL;
    set_common(r, h);
    cu.curl_easy_setopt(h, CURLOPT_URL, url);
    set_tls(h, &e->tls, !e->insecure);
    if (auth_header) {
        hdrs = cu.curl_slist_append(hdrs, auth_header);
    }
    if (q->accept) {
        accept = xasprintf("Accept: %s", q->accept);
        hdrs = cu.curl_slist_append(hdrs, accept);
    }
    if (q->content_type) {
        ctype = xasprintf("Content-Type: %s", q->content_type);
        hdrs = cu.curl_slist_append(hdrs, ctype);
    }
    if (q->content_range) {
        crange = xasprintf("Content-Range: %s", q->content_range);
        hdrs = cu.curl_slist_append(hdrs, crange);
    }
    if (q->range_from + s->delivered > 0 && q->sink) {
        range = xasprintf("Range: bytes=%llu-", (unsigned long long)(q->range_from + s->delivered));
        hdrs = cu.curl_slist_append(hdrs, range);
    }
    /* No "Expect: 100-continue" round trip (a 1 s stall with some servers). */
    hdrs = cu.curl_slist_append(hdrs, "Expect:");
    cu.curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (streq(q->method, "HEAD")) {
        cu.curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!streq(q->method, "GET")) {
        cu.curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }
    if (q->has_body) {
        s->sent = 0;
        uint64_t total = q->fd >= 0 ? q->fd_len : q->body_len;
        cu.curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        cu.curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        cu.curl_easy_setopt(h, CURLOPT_READDATA, s);
        cu.curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)total);
    } else if (streq(q->method, "POST")) {
        cu.curl_easy_setopt(h, CURLOPT_POST, 1L);
        cu.curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        cu.curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    } else if (streq(q->method, "PUT")) {
        cu.curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        cu.curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
        cu.curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        cu.curl_easy_setopt(h, CURLOPT_READDATA, s);
    }
    if (q->follow) {
        cu.curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        cu.curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    }
    cu.curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    cu.curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    cu.curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    cu.curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    s->errbuf[0] = '\0';
    cu.curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
    s->q = q;
    s->h = h;
    resp_headers_reset(s);
    strbuf_reset(&s->body);
    s->skip = 0;
    s->body_started = false;
    if (log_get_level() >= LOG_LEVEL_DEBUG) {
        _cleanup_free_ char *shown = url_for_log(url);
        log_debug("registry: %s %s", q->method, shown);
    }
    CURLcode c = cu.curl_easy_perform(h);
    cu.curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    cu.curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    cu.curl_slist_free_all(hdrs);
    s->h = NULL;
    handle_put(r, h);
    return c;
}

/* ---- auth ---------------------------------------------------------------- */

/* WWW-Authenticate: scheme, then key="value" pairs (RFC 7235). Only the
 * first challenge is used: registries send one. */
struct challenge {
    enum auth_kind kind;
    char *realm, *service, *scope, *error;
};

static void challenge_release(struct challenge *c)
{
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
}

static void parse_challenge(const char *h, struct challenge *c)
{
    memset(c, 0, sizeof(*c));
    if (!h) {
        return;
    }
    while (*h == ' ') {
        h++;
    }
    size_t n = strcspn(h, " ");
    if (n == 5 && strncasecmp(h, "Basic", 5) == 0) {
        c->kind = AUTH_BASIC;
    } else if (n == 6 && strncasecmp(h, "Bearer", 6) == 0) {
        c->kind = AUTH_BEARER;
    } else {
        return;
    }
    const char *p = h + n;
    while (*p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t kl = strcspn(p, "=, ");
        if (kl == 0 || p[kl] != '=') {
            break;
        }
        const char *key = p;
        p += kl + 1;
        struct strbuf v = STRBUF_INIT;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) {
                    p++;
                }
                strbuf_addc(&v, *p++);
            }
            if (*p == '"') {
                p++;
            }
        } else {
            size_t vl = strcspn(p, ",");
            strbuf_add(&v, p, vl);
            p += vl;
        }
        char **slot = NULL;
        if (kl == 5 && strncasecmp(key, "realm", 5) == 0) {
            slot = &c->realm;
        } else if (kl == 7 && strncasecmp(key, "service", 7) == 0) {
            slot = &c->service;
        } else if (kl == 5 && strncasecmp(key, "scope", 5) == 0) {
            slot = &c->scope;
        } else if (kl == 5 && strncasecmp(key, "error", 5) == 0) {
            slot = &c->error;
        }
        if (slot) {
            free(*slot);
            *slot = strbuf_detach(&v, NULL);
        }
        strbuf_release(&v);
    }
}

/* The registry's error JSON as Docker prints it: "<code lowercase, '_' as
 * ' '>: <message>"; NULL if the body is not that. */
static char *registry_error_text(const struct strbuf *body)
{
    if (body->len == 0) {
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(body->buf, body->len, 0, &je);
    if (!j) {
        return NULL;
    }
    char *out = NULL;
    json_t *errs = json_object_get(j, "errors");
    json_t *e0 = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
    const char *code = e0 ? json_string_value(json_object_get(e0, "code")) : NULL;
    const char *msg = e0 ? json_string_value(json_object_get(e0, "message")) : NULL;
    if (!code && !msg) {
        /* token servers: {"details": "..."} */
        msg = json_string_value(json_object_get(j, "details"));
    }
    if (code || msg) {
        /* The code and the message are untrusted text: printable only. */
        struct strbuf sb = STRBUF_INIT;
        add_printable(&sb, code, 128);
        for (char *c = sb.buf; c && *c; c++) {
            *c = *c == '_' ? ' ' : (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        }
        if (code && msg) {
            strbuf_adds(&sb, ": ");
        }
        add_printable(&sb, msg, 512);
        out = strbuf_detach(&sb, NULL);
    }
    json_decref(j);
    return out;
}

static char *token_key(const char *realm, const char *service, const char *scope)
{
    return xasprintf("%s\n%s\n%s", realm, service ? service : "", scope ? scope : "");
}

/* The cached token for key, or NULL (malloc'd copy). */
static char *token_lookup(struct registry *r, const char *key)
{
    char *v = NULL;
    uint64_t now = mono_s();
    pthread_mutex_lock(&r->lock);
    for (struct token *t = r->tokens; t; t = t->next) {
        if (streq(t->key, key) && t->expires > now) {
            v = xstrdup(t->value);
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return v;
}

static void token_store(struct registry *r, const char *key, const char *value, uint64_t expires)
{
    pthread_mutex_lock(&r->lock);
    struct token *t;
    for (t = r->tokens; t; t = t->next) {
        if (streq(t->key, key)) {
            break;
        }
    }
    if (!t) {
        t = xcalloc(1, sizeof(*t));
        t->key = xstrdup(key);
        t->next = r->tokens;
        r->tokens = t;
    }
    auth_secret_free(t->value);
    t->value = value ? xstrdup(value) : NULL;
    t->expires = value ? expires : 0;
    pthread_mutex_unlock(&r->lock);
}

/* GET realm?service=&scope= (Basic credentials when we have them, else
 * anonymous) and cache the token. realm and service are the caller's own
 * copies: e->realm may be replaced (and freed) by another thread's 401 at
 * any moment. */
static int fetch_token(struct registry *r, const struct endpoint *e, const char *realm,
                       const char *service, const char *scope, char **ret_token,
                       struct berth_error **err)
{
    _cleanup_free_ char *key = token_key(realm, service, scope);
    pthread_mutex_lock(&r->token_lock);
    /* Another thread may have fetched it while we waited. */
    char *have = token_lookup(r, key);
    if (have) {
        pthread_mutex_unlock(&r->token_lock);
        *ret_token = have;
        return 0;
    }
    struct strbuf url = STRBUF_INIT;
    strbuf_adds(&url, realm);
    char sep = strchr(realm, '?') ? '&' : '?';
    if (service) {
        strbuf_addf(&url, "%cservice=", sep);
        add_query_escaped(&url, service);
        sep = '&';
    }
    if (scope) {
        _cleanup_strv_free_ char **scopes = strv_split(scope, " ");
        for (char **s = scopes; s && *s; s++) {
            if (**s) {
                strbuf_addf(&url, "%cscope=", sep);
                add_query_escaped(&url, *s);
                sep = '&';
            }
        }
    }
    char *user = NULL, *pass = NULL;
    if (!e->mirror) {
        creds_get(r, &user, &pass);
    }
    char *auth_header = user ? auth_basic_header(user, pass) : NULL;
    struct endpoint realm_ep = {0};
    _cleanup_free_ char *realm_host = url_hostport(realm);
    realm_ep.hostport = realm_host;
    /* The realm is trusted as the registry is: same CAs, and unverified
     * only for loopback/insecure registries that point at loopback/themselves. */
    realm_ep.insecure =
        registry_is_loopback(realm_host) || (e->insecure && streq(realm_host, e->hostport));
    realm_ep.tls = e->tls;
    struct req q = {
        .method = "GET", .path = strbuf_str(&url), .fd = -1, .cap = TOKEN_BODY_MAX, .follow = true};
    struct resp s = {0};
    int r_ = 0;
    CURLcode c = perform_once(r, &realm_ep, SCHEME_HTTPS, &q, auth_header, &s);
    auth_secret_free(auth_header);
    if (log_get_level() >= LOG_LEVEL_DEBUG) {
        _cleanup_free_ char *shown = url_for_log(realm);
        log_debug("registry: token request to '%s' for '%s': %ld", shown, scope ? scope : "",
                  s.status);
    }
    if (c != CURLE_OK) {
        r_ = berth_error_set(err, c == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : ECONNREFUSED,
                             "fetch token from '%s': %s", realm_host, cu.curl_easy_strerror(c));
    } else if (s.status == 401 || s.status == 403) {
        _cleanup_free_ char *why = registry_error_text(&s.body);
        r_ = berth_error_set(err, EACCES, "%s",
                             user ? "unauthorized: incorrect username or password"
                                  : (why ? why : "unauthorized: authentication required"));
    } else if (s.status != 200) {
        r_ = berth_error_set(err, EIO,
                             "fetch token from '%s': received unexpected HTTP status: %ld %s",
                             realm_host, s.status, s.reason);
    } else {
        json_error_t je;
        json_t *j = json_loadb(s.body.buf ? s.body.buf : "", s.body.len, 0, &je);
        const char *tok = j ? json_string_value(json_object_get(j, "token")) : NULL;
        if (!tok || !*tok) {
            tok = j ? json_string_value(json_object_get(j, "access_token")) : NULL;
        }
        json_int_t exp = j ? json_integer_value(json_object_get(j, "expires_in")) : 0;
        if (!tok || !*tok) {
            r_ = berth_error_set(err, EBADMSG, "fetch token from '%s': no token in the answer",
                                 realm_host);
        } else {
            if (exp < TOKEN_MIN_LIFETIME_S) {
                exp = TOKEN_MIN_LIFETIME_S;
            }
            token_store(r, key, tok, mono_s() + (uint64_t)exp);
            *ret_token = xstrdup(tok);
        }
        if (s.body.buf) {
            explicit_bzero(s.body.buf, s.body.len);
        }
        json_decref(j);
    }
    pthread_mutex_unlock(&r->token_lock);
    free(user);
    auth_secret_free(pass);
    resp_release(&s);
    strbuf_release(&url);
    return r_;
}

/* ---- policy: endpoints, schemes, auth, retries --------------------------- */

static bool transport_retryable(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static bool curl_is_tls(CURLcode c)
{
    switch (c) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

/* A TLS alert from the server about our (missing or untrusted) client
 * certificate, in OpenSSL's words as curl passes them on. */
static bool client_cert_refused(const char *detail)
{
    static const char *const alerts[] = {"alert bad certificate", "alert certificate required",
                                         "alert unknown ca", "alert certificate unknown"};
    for (size_t i = 0; i < ARRAY_SIZE(alerts); i++) {
        if (strstr(detail, alerts[i])) {
            return true;
        }
    }
    return false;
}

static int transport_error(struct registry *r, const struct endpoint *e, CURLcode c,
                           const char *detail, struct berth_error **err)
{
    const char *why = detail && *detail ? detail : cu.curl_easy_strerror(c);
    if (c == CURLE_OPERATION_TIMEDOUT) {
        return berth_error_set(err, ETIMEDOUT, "'%s': %s: timed out", e->hostport, why);
    }
    if (c == CURLE_PEER_FAILED_VERIFICATION) {
        return berth_error_set(err, EPROTO,
                               "'%s': tls: certificate not trusted (x509: certificate signed by "
                               "unknown authority, or wrong name); put the registry's CA in "
                               "<certs-dir>/%s/ca.crt",
                               e->hostport, e->hostport);
    }
    if (curl_is_tls(c)) {
        return berth_error_set(err, EPROTO, "'%s': tls: %s", e->hostport, why);
    }
    if (c == CURLE_COULDNT_CONNECT) {
        /* curl's detail names the address it tried: a proxy, maybe. */
        if (detail && *detail) {
            return berth_error_set(err, ECONNREFUSED, "'%s': connection refused (%s)", e->hostport,
                                   detail);
        }
        return berth_error_set(err, ECONNREFUSED, "'%s': connection refused", e->hostport);
    }
    if (c == CURLE_COULDNT_RESOLVE_HOST) {
        return berth_error_set(err, EHOSTUNREACH, "'%s': no such host", e->hostport);
    }
    if (c == CURLE_PARTIAL_FILE || c == CURLE_GOT_NOTHING) {
        return berth_error_set(err, EIO,
                               "'%s': connection closed before the end of the answer (%s)",
                               e->hostport, why);
    }
    (void)r;
    return berth_error_set(err, EIO, "'%s': %s", e->hostport, why);
}

static int status_error(const struct req *q, const struct resp *s, struct berth_error **err)
{
    _cleanup_free_ char *why = registry_error_text(&s->body);
    switch (s->status) {
    case 401:
        return berth_error_set(err, EACCES, "%s",
                               why ? why : "unauthorized: authentication required");
    case 403:
        return berth_error_set(err, EPERM, "%s",
                               why ? why : "denied: requested access to the resource is denied");
    case 404:
        if (why) {
            return berth_error_set(err, ENOENT, "%s", why);
        }
        return berth_error_set(err, ENOENT, "%s unknown", q->what ? q->what : "resource");
    case 429:
        return berth_error_set(err, EAGAIN, "%s", why ? why : "toomanyrequests: too many requests");
    default:
        break;
    }
    if (s->status >= 500) {
        /* Docker's words, plus the registry's own message when it sent one:
         * "boom" says more than "500 Internal Server Error". */
        if (why) {
            return berth_error_set(err, EIO, "received unexpected HTTP status: %ld %s (%s)",
                                   s->status, s->reason, why);
        }
        return berth_error_set(err, EIO, "received unexpected HTTP status: %ld %s", s->status,
                               s->reason);
    }
    if (why) {
        return berth_error_set(err, EIO, "%s", why);
    }
    return berth_error_set(err, EIO, "received unexpected HTTP status: %ld %s", s->status,
                           s->reason);
}

static uint64_t backoff_ms(unsigned attempt)
{
    return 250ULL << (attempt < 6 ? attempt : 6);
}

/* Whether the absolute URL url is on e's own origin (scheme, host, port),
 * as e is reached with scheme sc. */
static bool endpoint_owns(const struct endpoint *e, enum scheme sc, const char *url)
{
    _cleanup_free_ char *base = endpoint_url(e, sc, "");
    _cleanup_free_ char *mine = url_origin(base);
    _cleanup_free_ char *theirs = url_origin(url);
    return mine && theirs && streq(mine, theirs);
}

/* One request against one endpoint with the full policy. On return s holds
 * the final response (status >= 200). *ret_dropped is set when a sink
 * transfer broke after delivering bytes: the caller resumes. */
static int request_endpoint(struct registry *r, struct endpoint *e, const struct req *q,
                            struct resp *s, bool *ret_dropped, struct berth_error **err)
{
    unsigned retries = 0, auth_rounds = 0;
    bool sent_fresh_token = false, sent_basic = false;
    bool absolute = strstr(q->path, "://") != NULL;
    for (;;) {
        /* The realm and service as this request sees them: another
         * thread's 401 may replace e's at any time (they are only read
         * under the lock, and only these copies are used below). */
        pthread_mutex_lock(&r->lock);
        enum scheme sc = e->scheme;
        enum auth_kind ak = e->auth;
        _cleanup_free_ char *realm = e->realm ? xstrdup(e->realm) : NULL;
        _cleanup_free_ char *service = e->service ? xstrdup(e->service) : NULL;
        pthread_mutex_unlock(&r->lock);
        bool trying_https_first = sc == SCHEME_UNKNOWN && e->insecure && !e->fixed_url && !absolute;
        if (sc == SCHEME_UNKNOWN) {
            sc = SCHEME_HTTPS;
        }
        /* Credentials go only to the origin they were asked for: an upload
         * Location may name any host (review item 1, as CVE-2018-1000007
         * for curl's redirects); there nothing is sent, and its 401 does
         * not teach us anything about the registry's auth. */
        bool own = !absolute || endpoint_owns(e, sc, q->path);

        char *auth_header = NULL;
        bool token_cached = false;
        if (!own) {
            /* anonymous */
        } else if (ak == AUTH_BASIC) {
            /* Never a mirror: the credentials are Docker Hub's, a mirror
             * asking for Basic auth must not get the Hub password. */
            char *user = NULL, *pass = NULL;
            if (!e->mirror) {
                creds_get(r, &user, &pass);
            }
            if (user) {
                auth_header = auth_basic_header(user, pass);
                sent_basic = true;
            }
            free(user);
            auth_secret_free(pass);
        } else if (ak == AUTH_BEARER && realm) {
            _cleanup_free_ char *key = token_key(realm, service, q->scope);
            char *tok = token_lookup(r, key);
            if (tok) {
                token_cached = !sent_fresh_token;
            } else {
                int k = fetch_token(r, e, realm, service, q->scope, &tok, err);
                if (k < 0) {
                    return k;
                }
                sent_fresh_token = true;
            }
            auth_header = xasprintf("Authorization: Bearer %s", tok);
            auth_secret_free(tok);
        }

        uint64_t before = s->delivered;
        CURLcode c = perform_once(r, e, sc, q, auth_header, s);
        auth_secret_free(auth_header);

        if (s->sink_failed) {
            if (err && !*err) {
                *err = TAKE_PTR(s->sink_err);
            }
            return s->sink_r < 0 ? s->sink_r : -EIO;
        }
        if (s->too_big) {
            if (q->sink) {
                return berth_error_set(err, EBADMSG, "%s is larger than its declared %lld bytes",
                                       q->what ? q->what : "blob", (long long)q->expected);
            }
            return berth_error_set(err, EFBIG, "%s is larger than %zu bytes",
                                   q->what ? q->what : "response", q->cap);
        }
        if (c != CURLE_OK && client_cert_refused(s->errbuf)) {
            /* Deterministic: no retry, and no plain-HTTP fallback that would
             * only hide the cause behind a 400. */
            return berth_error_set(err, EPROTO,
                                   "'%s': tls: the registry requires a client certificate and "
                                   "%s (%s); put client.cert and client.key in <certs-dir>/%s/",
                                   e->hostport,
                                   e->tls.cert ? "refused ours" : "none was found to send",
                                   s->errbuf, e->hostport);
        }
        if (c != CURLE_OK) {
            if (trying_https_first) {
                /* Docker: an insecure registry is tried with TLS, then without. */
                log_debug("registry: '%s' over https failed (%s), trying http", e->hostport,
                          cu.curl_easy_strerror(c));
                pthread_mutex_lock(&r->lock);
                if (e->scheme == SCHEME_UNKNOWN) {
                    e->scheme = SCHEME_HTTP;
                }
                pthread_mutex_unlock(&r->lock);
                continue;
            }
            if (q->sink && s->delivered > before) {
                *ret_dropped = true;
                return transport_error(r, e, c, s->errbuf, err);
            }
            if (transport_retryable(c) && retries < r->max_retries) {
                sleep_ms(backoff_ms(retries++));
                continue;
            }
            return transport_error(r, e, c, s->errbuf, err);
        }
        if (trying_https_first) {
            pthread_mutex_lock(&r->lock);
            e->scheme = SCHEME_HTTPS;
            pthread_mutex_unlock(&r->lock);
        }

        if (s->status == 401 && own && auth_rounds++ < MAX_AUTH_ROUNDS) {
            struct challenge ch;
            parse_challenge(s->www_auth, &ch);
            bool retry = false;
            if (ch.kind == AUTH_BASIC && !sent_basic) {
                char *user = NULL, *pass = NULL;
                if (!e->mirror) {
                    creds_get(r, &user, &pass);
                }
                retry = user != NULL;
                free(user);
                auth_secret_free(pass);
                pthread_mutex_lock(&r->lock);
                e->auth = AUTH_BASIC;
                pthread_mutex_unlock(&r->lock);
            } else if (ch.kind == AUTH_BEARER && ch.realm) {
                /* Compared with what this request used, not with e's
                 * current realm, which another thread may have changed. */
                bool changed = ak != AUTH_BEARER || !realm || !streq(realm, ch.realm) ||
                               !streq(service ? service : "", ch.service ? ch.service : "");
                if (changed) {
                    pthread_mutex_lock(&r->lock);
                    free(e->realm);
                    free(e->service);
                    e->realm = xstrdup(ch.realm);
                    e->service = ch.service ? xstrdup(ch.service) : NULL;
                    e->auth = AUTH_BEARER;
                    pthread_mutex_unlock(&r->lock);
                }
                _cleanup_free_ char *key = token_key(ch.realm, ch.service, q->scope);
                if (changed || token_cached) {
                    /* First challenge, or the cached token went stale at the
                     * registry before its expires_in: get a new one. */
                    token_store(r, key, NULL, 0);
                    retry = true;
                }
            }
            challenge_release(&ch);
            if (retry) {
                continue;
            }
        }
        if ((s->status == 429 || s->status >= 500) && retries < r->max_retries) {
            uint64_t ms = backoff_ms(retries++);
            if (s->status == 429 && s->retry_after > 0) {
                long ra = s->retry_after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s->retry_after;
                ms = (uint64_t)ra * 1000;
            }
            log_debug("registry: '%s' answered %ld, retrying in %llu ms", e->hostport, s->status,
                      (unsigned long long)ms);
            sleep_ms(ms);
            continue;
        }
        return 0;
    }
}

/* Run q: on docker.io pulls the mirrors first (any failure falls through to
 * the next), then the registry. 0 with s holding the answer (any status);
 * the caller judges the status. */
static int do_request(struct registry *r, const struct req *q, struct resp *s, bool *ret_dropped,
                      struct berth_error **err)
{
    bool dropped = false;
    size_t first = q->pull ? 0 : r->n_eps - 1;
    for (size_t i = first; i < r->n_eps; i++) {
        struct endpoint *e = &r->eps[i];
        struct berth_error *e_err = NULL;
        int k = request_endpoint(r, e, q, s, &dropped, &e_err);
        bool last = i == r->n_eps - 1;
        if (!last && (k < 0 || s->status < 200 || s->status >= 300) && !dropped) {
            log_debug("registry: mirror '%s' failed, trying the next", e->hostport);
            berth_error_free(e_err);
            resp_headers_reset(s);
            continue;
        }
        if (k < 0) {
            berth_error_pass(err, e_err);
            if (ret_dropped) {
                *ret_dropped = dropped;
            }
            return k;
        }
        berth_error_free(e_err);
        return 0;
    }
    return berth_error_set(err, EINVAL, "no endpoint");
}

/* ---- API ----------------------------------------------------------------- */

static char *repo_scope(const char *repo, const char *actions)
{
    return xasprintf("repository:%s:%s", repo, actions);
}

int registry_ping(struct registry *r, struct berth_error **err)
{
    struct req q = {.method = "GET", .path = "/v2/", .fd = -1, .cap = ERROR_BODY_MAX};
    struct resp s = {0};
    int k = do_request(r, &q, &s, NULL, err);
    if (k >= 0) {
        if (s.status == 401) {
            char *user = NULL, *pass = NULL;
            creds_get(r, &user, &pass);
            k = berth_error_set(err, EACCES, "%s",
                                user ? "unauthorized: incorrect username or password"
                                     : "unauthorized: authentication required");
            free(user);
            auth_secret_free(pass);
        } else if (s.status < 200 || s.status >= 300) {
            k = status_error(&q, &s, err);
        }
    }
    resp_release(&s);
    return k;
}

/* Every manifest type manifest.c parses, indexes first. */
#define MANIFEST_ACCEPT                                                                            \
    "application/vnd.oci.image.index.v1+json, "                                                    \
    "application/vnd.docker.distribution.manifest.list.v2+json, "                                  \
    "application/vnd.oci.image.manifest.v1+json, "                                                 \
    "application/vnd.docker.distribution.manifest.v2+json"

int registry_get_manifest(struct registry *r, const char *repo, const char *reference,
                          char **ret_body, size_t *ret_len, char **ret_content_type,
                          char **ret_digest, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", repo, reference);
    _cleanup_free_ char *scope = repo_scope(repo, "pull");
    struct req q = {.method = "GET",
                    .path = path,
                    .scope = scope,
                    .accept = MANIFEST_ACCEPT,
                    .fd = -1,
                    .pull = true,
                    .cap = MANIFEST_MAX,
                    .what = "manifest"};
    struct resp s = {0};
    int k = do_request(r, &q, &s, NULL, err);
    if (k >= 0 && s.status != 200) {
        k = status_error(&q, &s, err);
    }
    _cleanup_free_ char *digest = NULL;
    if (k >= 0) {
        digest = sha256_digest(s.body.buf ? s.body.buf : "", s.body.len);
        if (strneq(reference, "sha256:", 7) && !streq(reference, digest)) {
            k = berth_error_set(err, EBADMSG, "manifest digest mismatch: want %s, got %s",
                                reference, digest);
        } else if (s.digest && strneq(s.digest, "sha256:", 7) && !streq(s.digest, digest)) {
            k = berth_error_set(err, EBADMSG,
                                "manifest digest mismatch: the registry says %.80s, the body "
                                "hashes to %s",
                                s.digest, digest);
        }
    }
    if (k >= 0) {
        const char *ct = s.content_type ? s.content_type : "";
        size_t ctl = strcspn(ct, ";");
        while (ctl > 0 && ct[ctl - 1] == ' ') {
            ctl--;
        }
        *ret_content_type = xstrndup(ct, ctl);
        *ret_len = s.body.len;
        *ret_body = strbuf_detach(&s.body, NULL);
        *ret_digest = TAKE_PTR(digest);
    }
    resp_release(&s);
    return k < 0 ? berth_error_prefix(err, "fetch manifest '%s'", reference) : 0;
}

int registry_get_blob(struct registry *r, const char *repo, const char *digest,
                      int64_t expected_size, uint64_t offset, registry_data_cb cb, void *userdata,
                      struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", repo, digest);
    _cleanup_free_ char *scope = repo_scope(repo, "pull");
    struct req q = {.method = "GET",
                    .path = path,
                    .scope = scope,
                    .fd = -1,
                    .pull = true,
                    .follow = true,
                    .range_from = offset,
                    .sink = cb,
                    .sink_data = userdata,
                    .expected = expected_size,
                    .what = "blob"};
    struct resp s = {0};
    int k;
    unsigned resumes = 0;
    for (;;) {
        bool dropped = false;
        struct berth_error *e = NULL;
        /* Range asks for what is still missing; a 200 resends the blob from
         * its start: on_body skips what was delivered. */
        k = do_request(r, &q, &s, &dropped, &e);
        if (k < 0 && dropped && resumes++ < r->max_retries + 5) {
            log_debug("registry: blob '%s' dropped after %llu bytes, resuming", digest,
                      (unsigned long long)(q.range_from + s.delivered));
            berth_error_free(e);
            continue;
        }
        if (k < 0) {
            berth_error_pass(err, e);
            /* A transfer that broke (not our sink, not a status): say how
             * much of the blob came, so "truncated" is plain to see. */
            uint64_t got = q.range_from + s.delivered;
            if (!s.sink_failed && !s.too_big && expected_size >= 0 && got > 0 &&
                got < (uint64_t)expected_size) {
                berth_error_prefix(err, "truncated, %llu of %lld bytes received",
                                   (unsigned long long)got, (long long)expected_size);
            }
            break;
        }
        berth_error_free(e);
        if (s.status != 200 && s.status != 206) {
            k = status_error(&q, &s, err);
            break;
        }
        if (expected_size >= 0 && q.range_from + s.delivered < (uint64_t)expected_size) {
            k = berth_error_set(err, EBADMSG, "blob is %llu bytes, expected %lld",
                                (unsigned long long)(q.range_from + s.delivered),
                                (long long)expected_size);
        }
        break;
    }
    resp_release(&s);
    return k < 0 ? berth_error_prefix(err, "fetch blob '%s'", digest) : 0;
}

int registry_blob_exists(struct registry *r, const char *repo, const char *digest,
                         int64_t *ret_size, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", repo, digest);
    _cleanup_free_ char *scope = repo_scope(repo, "pull,push");
    struct req q = {.method = "HEAD",
                    .path = path,
                    .scope = scope,
                    .fd = -1,
                    .follow = true,
                    .cap = ERROR_BODY_MAX,
                    .what = "blob"};
    struct resp s = {0};
    int k = do_request(r, &q, &s, NULL, err);
    if (k >= 0) {
        if (s.status == 200) {
            if (ret_size) {
                *ret_size = s.content_length;
            }
            k = 1;
        } else if (s.status == 404) {
            k = 0;
        } else {
            k = status_error(&q, &s, err);
        }
    }
    resp_release(&s);
    return k < 0 ? berth_error_prefix(err, "check blob '%s'", digest) : k;
}

/* Location of an upload, absolute (the spec allows relative ones). A
 * registry reached over HTTPS may not send the blob's bytes to plain HTTP:
 * -EPROTO. (Whether credentials go with it is request_endpoint's call.) */
static int upload_url(struct registry *r, const char *location, char **ret,
                      struct berth_error **err)
{
    struct endpoint *e = &r->eps[r->n_eps - 1];
    pthread_mutex_lock(&r->lock);
    enum scheme sc = e->scheme == SCHEME_HTTP ? SCHEME_HTTP : SCHEME_HTTPS;
    pthread_mutex_unlock(&r->lock);
    if (!strstr(location, "://")) {
        *ret = endpoint_url(e, sc, location);
        return 0;
    }
    if (strncasecmp(location, "https://", 8) != 0 && strncasecmp(location, "http://", 7) != 0) {
        return berth_error_set(err, EPROTO, "upload location is not an http(s) URL");
    }
    if (sc == SCHEME_HTTPS && strncasecmp(location, "http://", 7) == 0) {
        _cleanup_free_ char *shown = url_for_log(location);
        return berth_error_set(err, EPROTO,
                               "the registry (https) sent an upload location over plain http "
                               "'%s': refused",
                               shown);
    }
    *ret = xstrdup(location);
    return 0;
}

static void cancel_upload(struct registry *r, const char *url, const char *scope)
{
    struct req q = {
        .method = "DELETE", .path = url, .scope = scope, .fd = -1, .cap = ERROR_BODY_MAX};
    struct resp s = {0};
    (void)do_request(r, &q, &s, NULL, NULL);
    resp_release(&s);
}

int registry_blob_mount(struct registry *r, const char *repo, const char *digest,
                        const char *from_repo, struct berth_error **err)
{
    struct strbuf path = STRBUF_INIT;
    strbuf_addf(&path, "/v2/%s/blobs/uploads/?mount=", repo);
    add_query_escaped(&path, digest);
    strbuf_adds(&path, "&from=");
    add_query_escaped(&path, from_repo);
    _cleanup_free_ char *scope =
        xasprintf("repository:%s:pull,push repository:%s:pull", repo, from_repo);
    struct req q = {.method = "POST",
                    .path = strbuf_str(&path),
                    .scope = scope,
                    .fd = -1,
                    .cap = ERROR_BODY_MAX,
                    .what = "blob"};
    struct resp s = {0};
    int k = do_request(r, &q, &s, NULL, err);
    if (k >= 0) {
        if (s.status == 201) {
            k = 1;
        } else if (s.status == 202) {
            _cleanup_free_ char *url = NULL;
            if (s.location && upload_url(r, s.location, &url, NULL) >= 0) {
                cancel_upload(r, url, scope);
            }
            k = 0;
        } else {
            k = status_error(&q, &s, err);
        }
    }
    resp_release(&s);
    strbuf_release(&path);
    return k < 0 ? berth_error_prefix(err, "mount blob '%s' from '%s'", digest, from_repo) : k;
}

int registry_blob_upload(struct registry *r, const char *repo, const char *digest, int fd,
                         uint64_t size, uint64_t chunk_size, registry_progress_cb progress,
                         void *userdata, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/uploads/", repo);
    _cleanup_free_ char *scope = repo_scope(repo, "pull,push");
    if (chunk_size == 0) {
        chunk_size = DEFAULT_CHUNK;
    }
    off_t start = lseek(fd, 0, SEEK_CUR);
    if (start < 0) {
        return berth_error_sys(err, errno, "upload blob '%s': seek", digest);
    }
    struct req q = {.method = "POST",
                    .path = path,
                    .scope = scope,
                    .fd = -1,
                    .cap = ERROR_BODY_MAX,
                    .what = "blob upload"};
    struct resp s = {0};
    _cleanup_free_ char *url = NULL;
    int k = do_request(r, &q, &s, NULL, err);
    if (k >= 0 && (s.status != 202 || !s.location)) {
        k = s.status == 202 ? berth_error_set(err, EBADMSG, "no Location in the upload answer")
                            : status_error(&q, &s, err);
    }
    if (k >= 0) {
        k = upload_url(r, s.location, &url, err);
    }
    uint64_t done = 0;
    /* Chunks: PATCH with Content-Range, each answer names the next URL. */
    while (k >= 0 && size > chunk_size && done < size) {
        uint64_t n = size - done < chunk_size ? size - done : chunk_size;
        _cleanup_free_ char *cr =
            xasprintf("%llu-%llu", (unsigned long long)done, (unsigned long long)(done + n - 1));
        struct req pq = {.method = "PATCH",
                         .path = url,
                         .scope = scope,
                         .content_type = "application/octet-stream",
                         .content_range = cr,
                         .fd = fd,
                         .fd_off = (uint64_t)start + done,
                         .fd_len = n,
                         .has_body = true,
                         .cap = ERROR_BODY_MAX,
                         .what = "blob upload"};
        resp_release(&s);
        memset(&s, 0, sizeof(s));
        k = do_request(r, &pq, &s, NULL, err);
        if (k >= 0 && s.status != 202) {
            k = status_error(&pq, &s, err);
        }
        if (k >= 0) {
            done += n;
            if (progress) {
                progress(done, userdata);
            }
            if (s.location) {
                free(TAKE_PTR(url));
                k = upload_url(r, s.location, &url, err);
            }
        }
    }
    if (k >= 0) {
        /* Final PUT ?digest=, with the whole blob when it was not chunked. */
        _cleanup_free_ char *put_url =
            xasprintf("%s%sdigest=%s", url, strchr(url, '?') ? "&" : "?", digest);
        bool mono = done == 0;
        struct req uq = {.method = "PUT",
                         .path = put_url,
                         .scope = scope,
                         .content_type = "application/octet-stream",
                         .fd = mono ? fd : -1,
                         .fd_off = (uint64_t)start,
                         .fd_len = mono ? size : 0,
                         .has_body = mono,
                         .progress = mono ? progress : NULL,
                         .progress_data = userdata,
                         .cap = ERROR_BODY_MAX,
                         .what = "blob upload"};
        resp_release(&s);
        memset(&s, 0, sizeof(s));
        k = do_request(r, &uq, &s, NULL, err);
        if (k >= 0 && s.status != 201) {
            k = status_error(&uq, &s, err);
        }
    }
    if (k < 0 && url) {
        cancel_upload(r, url, scope);
    }
    resp_release(&s);
    if (k >= 0) {
        (void)lseek(fd, start + (off_t)size, SEEK_SET);
    }
    return k < 0 ? berth_error_prefix(err, "upload blob '%s'", digest) : 0;
}

int registry_put_manifest(struct registry *r, const char *repo, const char *reference,
                          const char *media_type, const char *body, size_t len, char **ret_digest,
                          struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", repo, reference);
    _cleanup_free_ char *scope = repo_scope(repo, "pull,push");
    struct req q = {.method = "PUT",
                    .path = path,
                    .scope = scope,
                    .content_type = media_type,
                    .body = body,
                    .body_len = len,
                    .fd = -1,
                    .has_body = true,
                    .cap = ERROR_BODY_MAX,
                    .what = "manifest"};
    struct resp s = {0};
    int k = do_request(r, &q, &s, NULL, err);
    if (k >= 0 && s.status != 201 && s.status != 200) {
        k = status_error(&q, &s, err);
    }
    if (k >= 0 && ret_digest) {
        *ret_digest = sha256_digest(body, len);
    }
    resp_release(&s);
    return k < 0 ? berth_error_prefix(err, "put manifest '%s'", reference) : 0;
}
