/* auth.c - registry credentials in Docker's config.json format (see auth.h).
 *
 * The file holds secrets: it is created 0600 in a 0700 directory and
 * replaced atomically (temp file + rename), so a reader never sees half a
 * file and the secret is never world-readable, not even for a moment.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/base64.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "libberth/common/json-util.h"

#define CONFIG_MAX (4u << 20)
#define HUB_KEY "https://index.docker.io/v1/"

char *auth_file_path(void)
{
    const char *dir = getenv("BERTH_CONFIG");
    if (dir && *dir) {
        return xasprintf("%s/config.json", dir);
    }
    const char *home = getenv("HOME");
    return xasprintf("%s/.config/berth/config.json", home && *home ? home : "/root");
}

static char *docker_file_path(void)
{
    const char *dir = getenv("DOCKER_CONFIG");
    if (dir && *dir) {
        return xasprintf("%s/config.json", dir);
    }
    const char *home = getenv("HOME");
    return xasprintf("%s/.docker/config.json", home && *home ? home : "/root");
}

void auth_secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* base64("user:secret"), as Docker's "auth" member and the Basic header
 * both want it; the plain pair is wiped before it is freed. */
static char *encode_pair(const char *user, const char *secret)
{
    char *up = xasprintf("%s:%s", user, secret ? secret : "");
    size_t n = strlen(up);
    char *b64 = xmalloc(base64_encoded_len(n) + 1);
    base64_encode(up, n, b64);
    auth_secret_free(up);
    return b64;
}

char *auth_basic_header(const char *user, const char *secret)
{
    char *b64 = encode_pair(user, secret);
    char *h = xasprintf("Authorization: Basic %s", b64);
    auth_secret_free(b64);
    return h;
}

static bool is_hub(const char *domain)
{
    return streq(domain, "docker.io") || streq(domain, "index.docker.io") ||
           streq(domain, "registry-1.docker.io") || streq(domain, HUB_KEY);
}

/* The key berth writes for domain (Docker's). */
static char *server_key(const char *domain)
{
    return xstrdup(is_hub(domain) ? HUB_KEY : domain);
}

/* "https://host:port/v2/" -> "host:port": how Docker matches a key written
 * as a URL (registry.ConvertToHostname). */
static char *key_hostname(const char *key)
{
    const char *p = key;
    if (strncasecmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strncasecmp(p, "http://", 7) == 0) {
        p += 7;
    }
    return xstrndup(p, strcspn(p, "/"));
}

static bool key_matches(const char *key, const char *domain)
{
    _cleanup_free_ char *h = key_hostname(key);
    if (is_hub(domain)) {
        return is_hub(h) || streq(key, HUB_KEY);
    }
    return streq(h, domain);
}

/* Load a config file; *ret = NULL (and 0) when it does not exist. */
static int load(const char *path, json_t **ret, struct berth_error **err)
{
    json_t *j = NULL;
    int r = json_load_file_at(AT_FDCWD, path, CONFIG_MAX, &j, err);
    if (r == -ENOENT) {
        if (err && *err) {
            berth_error_free(*err);
            *err = NULL;
        }
        *ret = NULL;
        return 0;
    }
    if (r < 0) {
        return r;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return berth_error_set(err, EINVAL, "'%s': not a JSON object", path);
    }
    *ret = j;
    return 0;
}

/* user:secret from an entry: "auth" (base64) or "username"/"password". */
static int entry_creds(json_t *e, char **ret_user, char **ret_secret)
{
    const char *a = json_string_value(json_object_get(e, "auth"));
    if (a && *a) {
        size_t n = strlen(a);
        if (n > 65536) {
            return -EINVAL;
        }
        uint8_t *buf = xmalloc(n + 4);
        size_t k = 0;
        if (base64_decode(a, n, buf, &k) < 0) {
            explicit_bzero(buf, n + 4);
            free(buf);
            return -EINVAL;
        }
        buf[k] = '\0';
        char *colon = memchr(buf, ':', k);
        if (!colon || colon == (char *)buf) {
            explicit_bzero(buf, k);
            free(buf);
            return -EINVAL;
        }
        *colon = '\0';
        *ret_user = xstrdup((char *)buf);
        *ret_secret = xstrdup(colon + 1);
        explicit_bzero(buf, k);
        free(buf);
        return 0;
    }
    const char *u = json_string_value(json_object_get(e, "username"));
    const char *p = json_string_value(json_object_get(e, "password"));
    if (u && *u && p) {
        *ret_user = xstrdup(u);
        *ret_secret = xstrdup(p);
        return 0;
    }
    return -ENOENT;
}

static int lookup_in(const char *path, const char *domain, char **ret_user, char **ret_secret)
{
    json_t *j = NULL;
    if (load(path, &j, NULL) < 0 || !j) {
        return -ENOENT;
    }
    json_t *auths = json_object_get(j, "auths");
    int r = -ENOENT;
    if (json_is_object(auths)) {
        /* The exact key first, then any key naming the same host. */
        _cleanup_free_ char *key = server_key(domain);
        json_t *e = json_object_get(auths, key);
        if (json_is_object(e)) {
            r = entry_creds(e, ret_user, ret_secret);
        }
        const char *k;
        json_t *v;
        json_object_foreach(auths, k, v)
        {
            if (r == 0) {
                break;
            }
            if (json_is_object(v) && key_matches(k, domain)) {
                r = entry_creds(v, ret_user, ret_secret);
            }
        }
    }
    json_decref(j);
    return r;
}

int auth_get(const char *domain, char **ret_user, char **ret_secret, struct berth_error **err)
{
    _cleanup_free_ char *mine = auth_file_path();
    if (lookup_in(mine, domain, ret_user, ret_secret) == 0) {
        log_debug("auth: credentials for '%s' from '%s'", domain, mine);
        return 0;
    }
    _cleanup_free_ char *docker = docker_file_path();
    if (lookup_in(docker, domain, ret_user, ret_secret) == 0) {
        log_debug("auth: credentials for '%s' from '%s'", domain, docker);
        return 0;
    }
    return berth_error_set(err, ENOENT, "no credentials for '%s'", domain);
}

static int save(const char *path, json_t *j, struct berth_error **err)
{
    _cleanup_free_ char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int r = mkdir_p(dir, 0700, err);
        if (r < 0) {
            return berth_error_prefix(err, "create '%s'", dir);
        }
    }
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (!s) {
        return berth_error_set(err, ENOMEM, "serialise '%s'", path);
    }
    size_t len = strlen(s);
    int r = write_file_atomic_at(AT_FDCWD, path, s, len, 0600, err);
    explicit_bzero(s, len);
    free(s);
    return r < 0 ? berth_error_prefix(err, "write '%s'", path) : 0;
}

int auth_set(const char *domain, const char *user, const char *secret, struct berth_error **err)
{
    _cleanup_free_ char *path = auth_file_path();
    json_t *j = NULL;
    int r = load(path, &j, err);
    if (r < 0) {
        return r;
    }
    if (!j) {
        j = json_object();
    }
    json_t *auths = json_object_get(j, "auths");
    if (!json_is_object(auths)) {
        auths = json_object();
        json_object_set_new(j, "auths", auths);
    }
    char *b64 = encode_pair(user, secret);
    /* Drop other spellings of the same server so the new entry wins. */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(auths, tmp, k, v)
    {
        if (key_matches(k, domain)) {
            json_object_del(auths, k);
        }
    }
    _cleanup_free_ char *key = server_key(domain);
    json_object_set_new(auths, key, json_pack("{s:s}", "auth", b64));
    auth_secret_free(b64);
    r = save(path, j, err);
    json_decref(j);
    return r;
}

int auth_remove(const char *domain, struct berth_error **err)
{
    _cleanup_free_ char *path = auth_file_path();
    json_t *j = NULL;
    int r = load(path, &j, err);
    if (r < 0) {
        return r;
    }
    json_t *auths = j ? json_object_get(j, "auths") : NULL;
    bool found = false;
    if (json_is_object(auths)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(auths, tmp, k, v)
        {
            if (key_matches(k, domain)) {
                json_object_del(auths, k);
                found = true;
            }
        }
    }
    if (!found) {
        json_decref(j);
        return berth_error_set(err, ENOENT, "not logged in to %s", domain);
    }
    r = save(path, j, err);
    json_decref(j);
    return r;
}
