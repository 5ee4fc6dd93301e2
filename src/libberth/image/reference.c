/* reference.c - image references, as distribution/reference parses them.
 *
 * The grammar (distribution/reference's regexp.go, written out by hand so
 * every rejection can say why):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path
 *   domain     := host [ ":" port ]
 *   host       := domain-component ( "." domain-component )* | "[" [0-9a-fA-F:]+ "]"
 *   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 *   port       := [0-9]+
 *   path       := component ( "/" component )*
 *   component  := [a-z0-9]+ ( separator [a-z0-9]+ )*
 *   separator  := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" [0-9a-fA-F]{32,}
 *   algorithm  := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*
 *
 * Normalisation is ParseNormalizedNamed's: split the domain off the first
 * component, default it to docker.io, prefix "library/" to single-component
 * Docker Hub names, and default the tag to "latest" (TagNameOnly).
 */
#include "reference.h"

#include <string.h>

#include "basic/alloc.h"

#define LEGACY_DOCKER_DOMAIN "index.docker.io"
#define OFFICIAL_REPO_PREFIX "library/"
#define DEFAULT_TAG "latest"

/* Longer than any valid reference (255 name + 128 tag + a sha512 digest):
 * refusing early bounds every copy below. */
#define REFERENCE_MAX 4096
#define NAME_TOTAL_MAX 255
#define TAG_MAX 128

#define ERR_FORMAT "invalid reference format"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_xdigit(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_lower_xdigit(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}

/* One path component: [a-z0-9]+ joined by '.', '_', '__' or runs of '-'. */
static bool path_component_valid(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_lower_alnum(s[0])) {
        return false;
    }
    while (i < n) {
        while (i < n && is_lower_alnum(s[i])) {
            i++;
        }
        if (i == n) {
            return true;
        }
        /* A separator, which must be followed by more alphanumerics. */
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < n && s[i] == '_') {
                i++;
            }
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-') {
                i++;
            }
        } else {
            return false;
        }
        if (i == n || !is_lower_alnum(s[i])) {
            return false;
        }
    }
    return true;
}

static bool path_valid(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            if (!path_component_valid(s + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

static bool domain_component_valid(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        if (!is_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return true;
}

/* host[:port], host a dotted name or a bracketed IPv6 address. Uppercase is
 * allowed here: hostnames are case-insensitive, only repositories are not. */
static bool domain_valid(const char *s)
{
    size_t n = strlen(s), host_end;

    if (n == 0) {
        return false;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close == s + 1) {
            return false;
        }
        for (const char *p = s + 1; p < close; p++) {
            if (!is_xdigit(*p) && *p != ':') {
                return false;
            }
        }
        host_end = (size_t)(close - s) + 1;
    } else {
        const char *colon = strchr(s, ':');
        host_end = colon ? (size_t)(colon - s) : n;
        size_t start = 0;
        for (size_t i = 0; i <= host_end; i++) {
            if (i == host_end || s[i] == '.') {
                if (!domain_component_valid(s + start, i - start)) {
                    return false;
                }
                start = i + 1;
            }
        }
    }
    if (host_end == n) {
        return true;
    }
    if (s[host_end] != ':' || host_end + 1 == n) {
        return false;
    }
    for (size_t i = host_end + 1; i < n; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

static bool tag_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TAG_MAX || !is_word(s[0])) {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        if (!is_word(s[i]) && s[i] != '.' && s[i] != '-') {
            return false;
        }
    }
    return true;
}

/* The digest shape the reference grammar accepts; the algorithm and exact
 * length are checked afterwards, as go-digest does, with its messages. */
static bool digest_grammar_valid(const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon) {
        return false;
    }
    size_t i = 0, alg_len = (size_t)(colon - s);
    for (;;) {
        if (i >= alg_len || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
            return false;
        }
        while (i < alg_len && is_alnum(s[i])) {
            i++;
        }
        if (i == alg_len) {
            break;
        }
        if (s[i] != '-' && s[i] != '_' && s[i] != '+' && s[i] != '.') {
            return false;
        }
        i++;
    }
    const char *hex = colon + 1;
    size_t hex_len = strlen(hex);
    if (hex_len < 32) {
        return false;
    }
    for (size_t j = 0; j < hex_len; j++) {
        if (!is_xdigit(hex[j])) {
            return false;
        }
    }
    return true;
}

/* Hex length of a supported algorithm's digest, 0 when unsupported. go-digest
 * registers sha256, sha384 and sha512. */
static size_t digest_algorithm_hex_len(const char *alg, size_t n)
{
    if (n == 6 && strneq(alg, "sha256", 6)) {
        return 64;
    }
    if (n == 6 && strneq(alg, "sha384", 6)) {
        return 96;
    }
    if (n == 6 && strneq(alg, "sha512", 6)) {
        return 128;
    }
    return 0;
}

/* go-digest's Digest.Validate on a string that already matched the
 * reference grammar; the messages are go-digest's. */
static int digest_validate(const char *d, struct berth_error **err)
{
    const char *colon = strchr(d, ':');
    size_t alg_len = (size_t)(colon - d);
    size_t want = digest_algorithm_hex_len(d, alg_len);
    const char *hex = colon + 1;

    if (want == 0) {
        /* The grammar let [A-Z] through; go-digest's own algorithm rule
         * is lowercase only, and refuses such a digest as malformed. */
        for (size_t i = 0; i < alg_len; i++) {
            if (d[i] >= 'A' && d[i] <= 'Z') {
                return berth_error_set(err, EINVAL, "invalid checksum digest format");
            }
        }
        return berth_error_set(err, EINVAL, "unsupported digest algorithm");
    }
    if (strlen(hex) != want) {
        return berth_error_set(err, EINVAL, "invalid checksum digest length");
    }
    for (const char *p = hex; *p; p++) {
        if (!is_lower_xdigit(*p)) {
            return berth_error_set(err, EINVAL, "invalid checksum digest format");
        }
    }
    return 0;
}

bool digest_is_valid(const char *digest)
{
    if (!digest || strnlen(digest, REFERENCE_MAX + 1) > REFERENCE_MAX ||
        !digest_grammar_valid(digest)) {
        return false;
    }
    return digest_validate(digest, NULL) == 0;
}

/* A full 64-hex string reads as an image id: Docker refuses it as a name so
 * that "docker run <id>" can never silently pull a repository by that name. */
static bool is_image_id(const char *s)
{
    size_t n = strlen(s);
    if (n != 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_xdigit(s[i])) {
            return false;
        }
    }
    return true;
}

static bool has_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z') {
            return true;
        }
    }
    return false;
}

/* distribution/reference's splitDockerDomain: the first component is a
 * domain when it is "localhost", contains '.' or ':', or has uppercase
 * letters (which Docker Hub namespaces never have). */
static void split_domain(const char *s, char **ret_domain, const char **ret_remainder)
{
    const char *slash = strchr(s, '/');
    if (slash) {
        size_t n = (size_t)(slash - s);
        if ((n == strlen("localhost") && strneq(s, "localhost", n)) || memchr(s, '.', n) ||
            memchr(s, ':', n) || has_upper(s, n)) {
            *ret_domain = xstrndup(s, n);
            *ret_remainder = slash + 1;
            if (streq(*ret_domain, LEGACY_DOCKER_DOMAIN)) {
                free(*ret_domain);
                *ret_domain = xstrdup(DOCKER_DOMAIN);
            }
            return;
        }
    }
    *ret_domain = xstrdup(DOCKER_DOMAIN);
    *ret_remainder = s;
}

int image_ref_parse(const char *s, struct image_ref **ret, struct berth_error **err)
{
    _cleanup_free_ char *domain = NULL, *path = NULL, *tag = NULL, *digest = NULL;
    const char *remainder;

    if (!s || strnlen(s, REFERENCE_MAX + 1) > REFERENCE_MAX) {
        return berth_error_set(err, EINVAL, ERR_FORMAT);
    }
    if (is_image_id(s)) {
        return berth_error_set(
            err, EINVAL, "invalid repository name (%s), cannot specify 64-byte hexadecimal strings",
            s);
    }

    split_domain(s, &domain, &remainder);

    /* ParseNormalizedNamed checks case before the grammar, on everything up
     * to the first ':', so "Busybox" gets the helpful message. */
    size_t name_len = strcspn(remainder, ":");
    if (has_upper(remainder, name_len)) {
        return berth_error_set(err, EINVAL, ERR_FORMAT ": repository name must be lowercase");
    }

    /* Neither name nor tag may contain '@', so the first one starts the
     * digest; the path has no ':', so the first one starts the tag. */
    const char *at = strchr(remainder, '@');
    size_t name_tag_len = at ? (size_t)(at - remainder) : strlen(remainder);
    const char *colon = memchr(remainder, ':', name_tag_len);
    size_t path_len = colon ? (size_t)(colon - remainder) : name_tag_len;

    if (at) {
        digest = xstrdup(at + 1);
        if (!digest_grammar_valid(digest)) {
            return berth_error_set(err, EINVAL, ERR_FORMAT);
        }
    }
    if (colon) {
        tag = xstrndup(colon + 1, name_tag_len - path_len - 1);
        if (!tag_valid(tag)) {
            return berth_error_set(err, EINVAL, ERR_FORMAT);
        }
    }

    if (streq(domain, DOCKER_DOMAIN) && !memchr(remainder, '/', path_len)) {
        path = xasprintf(OFFICIAL_REPO_PREFIX "%.*s", (int)path_len, remainder);
    } else {
        path = xstrndup(remainder, path_len);
    }

    /* distribution would fall back to reading a domain-looking component
     * with '_' in it as part of the path, leaving no domain at all; such a
     * name cannot be pulled from anywhere, so it is refused instead. */
    if (!domain_valid(domain) || !path_valid(path, strlen(path))) {
        return berth_error_set(err, EINVAL, ERR_FORMAT);
    }
    if (strlen(domain) + 1 + strlen(path) > NAME_TOTAL_MAX) {
        return berth_error_set(err, EINVAL, "repository name must not be more than %d characters",
                               NAME_TOTAL_MAX);
    }
    if (digest) {
        int r = digest_validate(digest, err);
        if (r < 0) {
            return r;
        }
    }
    if (!tag && !digest) {
        tag = xstrdup(DEFAULT_TAG);
    }

    struct image_ref *ref = xmalloc(sizeof(*ref));
    ref->domain = TAKE_PTR(domain);
    ref->path = TAKE_PTR(path);
    ref->tag = TAKE_PTR(tag);
    ref->digest = TAKE_PTR(digest);
    *ret = ref;
    return 0;
}

static char *ref_format(const char *repository, const struct image_ref *r)
{
    return xasprintf("%s%s%s%s%s", repository, r->tag ? ":" : "", r->tag ? r->tag : "",
                     r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *image_ref_repository(const struct image_ref *r)
{
    return xasprintf("%s/%s", r->domain, r->path);
}

/* distribution's familiarizeName: drop the Docker Hub domain, and
 * "library/" only when nothing is nested below it. */
char *image_ref_familiar_repository(const struct image_ref *r)
{
    if (!streq(r->domain, DOCKER_DOMAIN)) {
        return image_ref_repository(r);
    }
    size_t prefix = strlen(OFFICIAL_REPO_PREFIX);
    if (strneq(r->path, OFFICIAL_REPO_PREFIX, prefix) && !strchr(r->path + prefix, '/')) {
        return xstrdup(r->path + prefix);
    }
    return xstrdup(r->path);
}

char *image_ref_string(const struct image_ref *r)
{
    _cleanup_free_ char *repo = image_ref_repository(r);
    return ref_format(repo, r);
}

char *image_ref_familiar(const struct image_ref *r)
{
    _cleanup_free_ char *repo = image_ref_familiar_repository(r);
    return ref_format(repo, r);
}

void image_ref_free(struct image_ref *r)
{
    if (!r) {
        return;
    }
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    free(r);
}
