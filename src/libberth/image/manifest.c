/* manifest.c - OCI and Docker manifests, indexes and image configs.
 *
 * Everything here arrives from a registry or a tarball and is untrusted: the
 * document is size- and depth-capped before jansson sees it, every digest is
 * checked against the digest grammar before anyone uses it as a path or a
 * blob name, and every rejection names the field so a user can tell a broken
 * registry from a broken image.
 */
#include "manifest.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <sys/utsname.h>

#include "basic/alloc.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/image/reference.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

/* Image configs carry the build history and labels; they are larger than
 * manifests in practice, but still bounded. */
#define IMAGE_CONFIG_MAX (8u << 20)

/* Untrusted strings are echoed into messages cut to this many bytes. */
#define QUOTE_MAX 128

static const char *const layer_types[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (streq(s, list[i])) {
            return true;
        }
    }
    return false;
}

static bool is_index_type(const char *mt)
{
    return streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST);
}

static bool is_image_type(const char *mt)
{
    return streq(mt, MT_OCI_MANIFEST) || streq(mt, MT_DOCKER_MANIFEST);
}

/* Schema 1 was removed from Docker (27.x refuses to pull it); say so rather
 * than reporting an unknown type. "application/json" is deliberately not
 * here: registries also serve other documents with it. */
static bool is_schema1_type(const char *mt)
{
    return streq(mt, "application/vnd.docker.distribution.manifest.v1+json") ||
           streq(mt, "application/vnd.docker.distribution.manifest.v1+prettyjws");
}

/* RFC 6838 restricted names: type "/" subtype, each at most 127 characters of
 * letters, digits and !#$&-^_.+ ; enough to keep junk out of messages and
 * stored descriptors. */
static bool media_type_valid(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || slash - s > 127 || strlen(slash + 1) > 127) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (p == slash) {
            continue;
        }
        if (!isalnum((unsigned char)*p) && !strchr("!#$&-^_.+", *p)) {
            return false;
        }
    }
    return true;
}

static void descriptor_release(struct descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    free(d->os);
    free(d->architecture);
    free(d->variant);
    *d = (struct descriptor){0};
}

void manifest_free(struct manifest *m)
{
    if (!m) {
        return;
    }
    free(m->media_type);
    for (size_t i = 0; i < m->n_manifests; i++) {
        descriptor_release(&m->manifests[i]);
    }
    free(m->manifests);
    descriptor_release(&m->config);
    for (size_t i = 0; i < m->n_layers; i++) {
        descriptor_release(&m->layers[i]);
    }
    free(m->layers);
    json_decref(m->annotations);
    free(m);
}

/* An object whose values must all be strings (annotations, labels). */
static int check_string_map(json_t *o, const char *where, struct berth_error **err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!json_is_string(v)) {
            return berth_error_set(err, EINVAL, "%s.%.*s: expected a string", where, QUOTE_MAX, k);
        }
    }
    return 0;
}

/* One descriptor (OCI descriptor.md): mediaType, digest and size are
 * required; the optional platform is read for index entries. `where` names
 * it in messages ("layers[2]"). On failure *d holds whatever was read so far
 * and the caller releases it. */
static int descriptor_parse(json_t *j, const char *where, bool with_platform, struct descriptor *d,
                            struct berth_error **err)
{
    const char *mt = NULL, *digest = NULL;
    int64_t size = 0;
    int r;

    if (!json_is_object(j)) {
        return berth_error_set(err, EINVAL, "%s: expected an object", where);
    }
    r = jget_str(j, where, "mediaType", true, &mt, err);
    if (r < 0) {
        return r;
    }
    if (!media_type_valid(mt)) {
        return berth_error_set(err, EINVAL, "%s.mediaType: invalid media type '%.*s'", where,
                               QUOTE_MAX, mt);
    }
    r = jget_str(j, where, "digest", true, &digest, err);
    if (r < 0) {
        return r;
    }
    if (!digest_is_valid(digest)) {
        return berth_error_set(err, EINVAL, "%s.digest: invalid digest '%.*s'", where, QUOTE_MAX,
                               digest);
    }
    r = jget_i64(j, where, "size", true, &size, err);
    if (r < 0) {
        return r;
    }
    if (size < 0) {
        return berth_error_set(err, EINVAL, "%s.size: negative size %" PRId64, where, size);
    }
    d->media_type = xstrdup(mt);
    d->digest = xstrdup(digest);
    d->size = size;

    if (!with_platform) {
        return 0;
    }
    json_t *p = NULL;
    _cleanup_free_ char *pwhere = xasprintf("%s.platform", where);
    r = jget_obj(j, where, "platform", false, &p, err);
    if (r < 0 || !p) {
        return r;
    }
    const char *os = NULL, *arch = NULL, *variant = NULL;
    if ((r = jget_str(p, pwhere, "os", true, &os, err)) < 0 ||
        (r = jget_str(p, pwhere, "architecture", true, &arch, err)) < 0 ||
        (r = jget_str(p, pwhere, "variant", false, &variant, err)) < 0) {
        return r;
    }
    d->os = xstrdup(os);
    d->architecture = xstrdup(arch);
    d->variant = variant && *variant ? xstrdup(variant) : NULL;
    return 0;
}

static int descriptors_parse(json_t *doc, const char *key, bool with_platform, size_t max,
                             struct descriptor **ret, size_t *ret_n, struct berth_error **err)
{
    json_t *a = NULL;
    int r = jget_arr(doc, "", key, true, &a, err);
    if (r < 0) {
        return r;
    }
    size_t n = json_array_size(a);
    if (n > max) {
        return berth_error_set(err, EINVAL, "too many %s (%zu, the limit is %zu)", key, n, max);
    }
    struct descriptor *v = xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        char where[64];
        snprintf(where, sizeof(where), "%s[%zu]", key, i);
        r = descriptor_parse(json_array_get(a, i), where, with_platform, &v[i], err);
        if (r < 0) {
            for (size_t k = 0; k <= i; k++) {
                descriptor_release(&v[k]);
            }
            free(v);
            return r;
        }
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* The served Content-Type without parameters or surrounding space, lowercased
 * (media types are case-insensitive); NULL when it says nothing useful. */
static char *served_type(const char *content_type)
{
    if (!content_type) {
        return NULL;
    }
    while (*content_type == ' ' || *content_type == '\t') {
        content_type++;
    }
    size_t n = strcspn(content_type, ";");
    while (n > 0 && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return NULL;
    }
    char *s = xstrndup(content_type, n);
    for (char *p = s; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    /* Generic types some registries and static file servers use: the
     * document then speaks for itself, as with no header at all. */
    if (streq(s, "application/json") || streq(s, "application/octet-stream") ||
        streq(s, "text/plain")) {
        free(s);
        return NULL;
    }
    return s;
}

static int manifest_parse_json(json_t *doc, const char *served, struct manifest *m,
                               struct berth_error **err)
{
    const char *doc_mt = NULL;
    int64_t schema = 0;
    int r;

    if (!json_is_object(doc)) {
        return berth_error_set(err, EINVAL, "expected a JSON object");
    }
    r = jget_i64(doc, "", "schemaVersion", true, &schema, err);
    if (r < 0) {
        return r;
    }
    if (schema != 2) {
        return berth_error_set(err, EINVAL, "schemaVersion: unsupported version %" PRId64, schema);
    }
    r = jget_str(doc, "", "mediaType", false, &doc_mt, err);
    if (r < 0) {
        return r;
    }
    if (doc_mt && is_schema1_type(doc_mt)) {
        return berth_error_set(err, EINVAL,
                               "manifest schema 1 is not supported (deprecated by Docker)");
    }
    if (doc_mt && !is_index_type(doc_mt) && !is_image_type(doc_mt)) {
        return berth_error_set(err, EINVAL, "unsupported media type '%.*s'", QUOTE_MAX, doc_mt);
    }
    /* A document that claims to be something other than what the registry
     * served is refused (containerd does the same): otherwise a digest
     * pinned as an image could be reinterpreted as an index or vice versa. */
    if (served && doc_mt && !streq(served, doc_mt)) {
        return berth_error_set(err, EINVAL, "mediaType '%.*s' does not match the served type '%s'",
                               QUOTE_MAX, doc_mt, served);
    }

    bool has_manifests = json_object_get(doc, "manifests") != NULL;
    bool has_config = json_object_get(doc, "config") != NULL;
    bool has_layers = json_object_get(doc, "layers") != NULL;
    const char *mt = served ? served : doc_mt;
    if (!mt) {
        /* Inference, as Docker does when neither header nor field tells. */
        if (has_manifests && (has_config || has_layers)) {
            return berth_error_set(err, EINVAL,
                                   "ambiguous document without mediaType: has both manifests "
                                   "and config or layers");
        }
        if (has_manifests) {
            mt = MT_OCI_INDEX;
        } else if (has_config && has_layers) {
            json_t *c = json_object_get(doc, "config");
            json_t *cmt = json_is_object(c) ? json_object_get(c, "mediaType") : NULL;
            mt = json_is_string(cmt) && streq(json_string_value(cmt), MT_DOCKER_CONFIG)
                     ? MT_DOCKER_MANIFEST
                     : MT_OCI_MANIFEST;
        } else {
            return berth_error_set(err, EINVAL,
                                   "cannot determine the media type: no mediaType, and neither "
                                   "manifests nor config and layers");
        }
    }
    m->media_type = xstrdup(mt);

    json_t *ann = NULL;
    r = jget_obj(doc, "", "annotations", false, &ann, err);
    if (r < 0) {
        return r;
    }
    if (ann) {
        r = check_string_map(ann, "annotations", err);
        if (r < 0) {
            return r;
        }
        m->annotations = json_incref(ann);
    }

    if (is_index_type(mt)) {
        if (has_config || has_layers) {
            return berth_error_set(err, EINVAL, "an index must not have config or layers");
        }
        m->kind = MANIFEST_INDEX;
        /* 4 MiB holds at most some 20000 entries; the document cap bounds it. */
        return descriptors_parse(doc, "manifests", true, SIZE_MAX, &m->manifests, &m->n_manifests,
                                 err);
    }

    if (has_manifests) {
        return berth_error_set(err, EINVAL, "an image manifest must not have manifests");
    }
    m->kind = MANIFEST_IMAGE;
    json_t *c = NULL;
    r = jget_obj(doc, "", "config", true, &c, err);
    if (r < 0) {
        return r;
    }
    r = descriptor_parse(c, "config", false, &m->config, err);
    if (r < 0) {
        return r;
    }
    if (!streq(m->config.media_type, MT_OCI_CONFIG) &&
        !streq(m->config.media_type, MT_DOCKER_CONFIG)) {
        return berth_error_set(err, EINVAL,
                               "config.mediaType: unsupported config media type '%s' (not a "
                               "container image)",
                               m->config.media_type);
    }
    r = descriptors_parse(doc, "layers", false, MANIFEST_MAX_LAYERS, &m->layers, &m->n_layers, err);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        if (!in_list(m->layers[i].media_type, layer_types, ARRAY_SIZE(layer_types))) {
            return berth_error_set(err, EINVAL,
                                   "layers[%zu].mediaType: unsupported layer type '%s'", i,
                                   m->layers[i].media_type);
        }
    }
    return 0;
}

int manifest_parse(const char *buf, size_t len, const char *content_type, struct manifest **ret,
                   struct berth_error **err)
{
    if (len > MANIFEST_MAX) {
        return berth_error_set(err, EFBIG, "manifest larger than %u bytes", MANIFEST_MAX);
    }
    _cleanup_free_ char *served = served_type(content_type);
    int r;
    if (served && is_schema1_type(served)) {
        return berth_error_set(err, EINVAL,
                               "manifest schema 1 is not supported (deprecated by Docker)");
    }
    if (served && !is_index_type(served) && !is_image_type(served)) {
        return berth_error_set(err, EINVAL, "manifest: unsupported media type '%.*s'", QUOTE_MAX,
                               served);
    }
    _cleanup_json_ json_t *doc = NULL;
    r = json_parse_buf(buf, len, MANIFEST_MAX, &doc, err);
    if (r < 0) {
        berth_error_prefix(err, "manifest");
        return r;
    }
    /* Schema 1 gets its own message, not "unsupported version". */
    json_t *sv = json_is_object(doc) ? json_object_get(doc, "schemaVersion") : NULL;
    if (json_is_integer(sv) && json_integer_value(sv) == 1) {
        return berth_error_set(err, EINVAL,
                               "manifest schema 1 is not supported (deprecated by Docker)");
    }
    _cleanup_(manifest_freep) struct manifest *m = xcalloc(1, sizeof(*m));
    r = manifest_parse_json(doc, served, m, err);
    if (r < 0) {
        berth_error_prefix(err, "manifest");
        return r;
    }
    *ret = TAKE_PTR(m);
    return 0;
}

/* Platforms, normalised as containerd's platforms package does, so that
 * "aarch64", "arm64/v8" and "arm64" compare equal and "arm" means arm/v7. */
struct platform {
    char os[32], arch[32], variant[32];
};

static void normalize_arch(struct platform *p)
{
    static const struct {
        const char *from, *to, *variant;
    } aliases[] = {
        {"x86_64", "amd64", NULL}, {"x86-64", "amd64", NULL},  {"i386", "386", NULL},
        {"i686", "386", NULL},     {"aarch64", "arm64", NULL}, {"armhf", "arm", "v7"},
        {"armel", "arm", "v6"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(aliases); i++) {
        if (streq(p->arch, aliases[i].from)) {
            snprintf(p->arch, sizeof(p->arch), "%s", aliases[i].to);
            if (aliases[i].variant && !p->variant[0]) {
                snprintf(p->variant, sizeof(p->variant), "%s", aliases[i].variant);
            }
        }
    }
    /* Bare numbers ("8", "7") are how some tools write variants. */
    if (p->variant[0] >= '0' && p->variant[0] <= '9' &&
        strlen(p->variant) < sizeof(p->variant) - 1) {
        memmove(p->variant + 1, p->variant, strlen(p->variant) + 1);
        p->variant[0] = 'v';
    }
    if (streq(p->arch, "arm64") && !p->variant[0]) {
        snprintf(p->variant, sizeof(p->variant), "v8");
    } else if (streq(p->arch, "arm") && !p->variant[0]) {
        snprintf(p->variant, sizeof(p->variant), "v7");
    } else if (streq(p->arch, "amd64") && streq(p->variant, "v1")) {
        p->variant[0] = '\0';
    }
}

static bool component_valid(const char *s, size_t n)
{
    if (n == 0 || n >= 32) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') {
            return false;
        }
    }
    return true;
}

static void copy_lower(char *dst, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = (char)tolower((unsigned char)s[i]);
    }
    dst[n] = '\0';
}

static const char *const known_os[] = {
    "aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios",
    "js",  "linux",   "netbsd", "openbsd",   "plan9",   "solaris", "windows",
};

/* "os/arch[/variant]", or one component: an OS ("linux", the host's
 * architecture) or an architecture ("arm64", on linux), as containerd's
 * platforms.Parse reads it. */
static int platform_parse(const char *s, struct platform *p, struct berth_error **err)
{
    const char *parts[3];
    size_t lens[3];
    size_t n = 0;
    const char *q = s;

    *p = (struct platform){0};
    for (;;) {
        size_t l = strcspn(q, "/");
        if (n == 3 || !component_valid(q, l)) {
            return berth_error_set(
                err, EINVAL, "invalid platform '%.*s': expected os/arch[/variant]", QUOTE_MAX, s);
        }
        parts[n] = q;
        lens[n++] = l;
        if (!q[l]) {
            break;
        }
        q += l + 1;
    }
    if (n == 1) {
        char one[32];
        copy_lower(one, parts[0], lens[0]);
        if (in_list(one, known_os, ARRAY_SIZE(known_os))) {
            int r = platform_parse(platform_host(), p, err);
            if (r < 0) {
                return r;
            }
            snprintf(p->os, sizeof(p->os), "%s", one);
            return 0;
        }
        snprintf(p->os, sizeof(p->os), "linux");
        snprintf(p->arch, sizeof(p->arch), "%s", one);
    } else {
        copy_lower(p->os, parts[0], lens[0]);
        copy_lower(p->arch, parts[1], lens[1]);
        if (n == 3) {
            copy_lower(p->variant, parts[2], lens[2]);
        }
    }
    normalize_arch(p);
    return 0;
}

/* Variants a platform can run, best first: arm/v7 also runs v6 and v5
 * binaries, arm64/v8.x runs v8 (containerd's matcher orders them so). */
static size_t compatible_variants(const struct platform *want, const char **out, size_t max)
{
    static const char *const arm[] = {"v8", "v7", "v6", "v5"};
    size_t n = 0;
    out[n++] = want->variant;
    if (streq(want->arch, "arm")) {
        bool below = false;
        for (size_t i = 0; i < ARRAY_SIZE(arm) && n < max; i++) {
            if (below) {
                out[n++] = arm[i];
            }
            below = below || streq(arm[i], want->variant);
        }
    } else if (streq(want->arch, "arm64") && n < max &&
               (strneq(want->variant, "v8.", 3) || strneq(want->variant, "v9", 2))) {
        /* v8.x and v9.x run v8 binaries. */
        out[n++] = "v8";
    } else if (streq(want->arch, "amd64") && want->variant[0]) {
        /* amd64/v3 runs v2 and baseline binaries. */
        static const char *const amd64[] = {"v4", "v3", "v2", ""};
        bool below = false;
        for (size_t i = 0; i < ARRAY_SIZE(amd64) && n < max; i++) {
            if (below) {
                out[n++] = amd64[i];
            }
            below = below || streq(amd64[i], want->variant);
        }
    }
    return n;
}

int manifest_select_platform(const struct manifest *index, const char *platform,
                             const struct descriptor **ret, struct berth_error **err)
{
    struct platform want;
    int r;

    if (index->kind != MANIFEST_INDEX) {
        return berth_error_set(err, EINVAL, "not a manifest index");
    }
    r = platform_parse(platform ? platform : platform_host(), &want, err);
    if (r < 0) {
        return r;
    }
    const char *variants[8];
    size_t nv = compatible_variants(&want, variants, ARRAY_SIZE(variants));
    for (size_t v = 0; v < nv; v++) {
        for (size_t i = 0; i < index->n_manifests; i++) {
            const struct descriptor *d = &index->manifests[i];
            struct platform have = {0};
            /* Entries without a platform, of another kind (artifacts), or
             * "unknown/unknown" (BuildKit's attestation manifests) are not
             * runnable images. */
            if (!d->os || !d->architecture || streq(d->os, "unknown") ||
                (!is_image_type(d->media_type) && !is_index_type(d->media_type))) {
                continue;
            }
            if (strlen(d->os) >= sizeof(have.os) || strlen(d->architecture) >= sizeof(have.arch) ||
                (d->variant && strlen(d->variant) >= sizeof(have.variant))) {
                continue;
            }
            copy_lower(have.os, d->os, strlen(d->os));
            copy_lower(have.arch, d->architecture, strlen(d->architecture));
            if (d->variant) {
                copy_lower(have.variant, d->variant, strlen(d->variant));
            }
            normalize_arch(&have);
            if (streq(have.os, want.os) && streq(have.arch, want.arch) &&
                streq(have.variant, variants[v])) {
                *ret = d;
                return 0;
            }
        }
    }
    return berth_error_set(err, ENOENT,
                           "no matching manifest for %s/%s%s%s in the manifest list entries",
                           want.os, want.arch, want.variant[0] ? "/" : "", want.variant);
}

const char *platform_host(void)
{
    static const struct {
        const char *machine, *platform;
    } table[] = {
        {"x86_64", "linux/amd64"},   {"aarch64", "linux/arm64/v8"},
        {"arm64", "linux/arm64/v8"}, {"armv7l", "linux/arm/v7"},
        {"armv6l", "linux/arm/v6"},  {"armv8l", "linux/arm/v7"},
        {"i686", "linux/386"},       {"i586", "linux/386"},
        {"i386", "linux/386"},       {"ppc64le", "linux/ppc64le"},
        {"s390x", "linux/s390x"},    {"riscv64", "linux/riscv64"},
        {"mips64", "linux/mips64"},  {"loongarch64", "linux/loong64"},
    };
    static char other[80];
    struct utsname u;

    if (uname(&u) < 0) {
        return "linux/amd64";
    }
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        if (streq(u.machine, table[i].machine)) {
            return table[i].platform;
        }
    }
    snprintf(other, sizeof(other), "linux/%.60s", u.machine);
    return other;
}

void image_config_free(struct image_config *c)
{
    if (!c) {
        return;
    }
    free(c->architecture);
    free(c->os);
    free(c->variant);
    free(c->created);
    free(c->author);
    free(c->user);
    strv_free(c->env);
    strv_free(c->entrypoint);
    strv_free(c->cmd);
    free(c->working_dir);
    strv_free(c->exposed_ports);
    strv_free(c->volumes);
    json_decref(c->labels);
    free(c->stop_signal);
    json_decref(c->healthcheck);
    strv_free(c->diff_ids);
    json_decref(c->history);
    json_decref(c->json);
    free(c);
}

static int opt_str(json_t *o, const char *where, const char *key, char **ret,
                   struct berth_error **err)
{
    const char *s = NULL;
    int r = jget_str(o, where, key, false, &s, err);
    if (r < 0) {
        return r;
    }
    if (s) {
        *ret = xstrdup(s);
    }
    return 0;
}

/* Docker's strslice: an array of strings, or a lone string meaning a
 * one-element array. null stays NULL; [] becomes an empty vector, which is
 * different ("Entrypoint": [] clears an inherited entrypoint). */
static int str_slice(json_t *o, const char *where, const char *key, char ***ret,
                     struct berth_error **err)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v)) {
        char **s = NULL;
        strv_push(&s, json_string_value(v));
        *ret = s;
        return 0;
    }
    return jget_strv(o, where, key, false, ret, err);
}

static int object_keys(json_t *o, const char *where, const char *key, char ***ret,
                       struct berth_error **err)
{
    json_t *obj = NULL;
    int r = jget_obj(o, where, key, false, &obj, err);
    if (r < 0 || !obj) {
        return r;
    }
    char **v = xcalloc(json_object_size(obj) + 1, sizeof(char *));
    size_t n = 0;
    const char *k;
    json_t *val;
    json_object_foreach(obj, k, val)
    {
        v[n++] = xstrdup(k);
    }
    *ret = v;
    return 0;
}

static int container_config_parse(json_t *cc, struct image_config *c, struct berth_error **err)
{
    const char *w = "config";
    int r;

    if ((r = opt_str(cc, w, "User", &c->user, err)) < 0 ||
        (r = jget_strv(cc, w, "Env", false, &c->env, err)) < 0 ||
        (r = str_slice(cc, w, "Entrypoint", &c->entrypoint, err)) < 0 ||
        (r = str_slice(cc, w, "Cmd", &c->cmd, err)) < 0 ||
        (r = opt_str(cc, w, "WorkingDir", &c->working_dir, err)) < 0 ||
        (r = object_keys(cc, w, "ExposedPorts", &c->exposed_ports, err)) < 0 ||
        (r = object_keys(cc, w, "Volumes", &c->volumes, err)) < 0 ||
        (r = opt_str(cc, w, "StopSignal", &c->stop_signal, err)) < 0) {
        return r;
    }
    for (size_t i = 0; c->env && c->env[i]; i++) {
        const char *eq = strchr(c->env[i], '=');
        if (!eq || eq == c->env[i]) {
            return berth_error_set(err, EINVAL, "config.Env[%zu]: expected KEY=value, got '%.*s'",
                                   i, QUOTE_MAX, c->env[i]);
        }
    }
    json_t *labels = NULL, *hc = NULL;
    if ((r = jget_obj(cc, w, "Labels", false, &labels, err)) < 0 ||
        (r = jget_obj(cc, w, "Healthcheck", false, &hc, err)) < 0) {
        return r;
    }
    if (labels) {
        r = check_string_map(labels, "config.Labels", err);
        if (r < 0) {
            return r;
        }
        c->labels = json_incref(labels);
    }
    if (hc) {
        c->healthcheck = json_incref(hc);
    }
    return 0;
}

static int image_config_parse_json(json_t *doc, struct image_config *c, struct berth_error **err)
{
    int r;
    if (!json_is_object(doc)) {
        return berth_error_set(err, EINVAL, "expected a JSON object");
    }
    if ((r = opt_str(doc, "", "architecture", &c->architecture, err)) < 0 ||
        (r = opt_str(doc, "", "os", &c->os, err)) < 0 ||
        (r = opt_str(doc, "", "variant", &c->variant, err)) < 0 ||
        (r = opt_str(doc, "", "created", &c->created, err)) < 0 ||
        (r = opt_str(doc, "", "author", &c->author, err)) < 0) {
        return r;
    }

    json_t *cc = NULL;
    r = jget_obj(doc, "", "config", false, &cc, err);
    if (r < 0) {
        return r;
    }
    if (cc) {
        r = container_config_parse(cc, c, err);
        if (r < 0) {
            return r;
        }
    }

    /* Docker refuses a config without rootfs ("invalid image JSON, no RootFS
     * key"): the diff_ids are what the layers are verified against. */
    json_t *rootfs = NULL;
    const char *type = NULL;
    if ((r = jget_obj(doc, "", "rootfs", true, &rootfs, err)) < 0 ||
        (r = jget_str(rootfs, "rootfs", "type", true, &type, err)) < 0) {
        return r;
    }
    if (!streq(type, "layers")) {
        return berth_error_set(err, EINVAL, "rootfs.type: unsupported type '%.*s'", QUOTE_MAX,
                               type);
    }
    json_t *ids = NULL;
    r = jget_arr(rootfs, "rootfs", "diff_ids", false, &ids, err);
    if (r < 0) {
        return r;
    }
    size_t n = json_array_size(ids);
    if (n > MANIFEST_MAX_LAYERS) {
        return berth_error_set(err, EINVAL,
                               "rootfs.diff_ids: too many layers (%zu, the limit is %d)", n,
                               MANIFEST_MAX_LAYERS);
    }
    c->diff_ids = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(ids, i);
        if (!json_is_string(e)) {
            return berth_error_set(err, EINVAL, "rootfs.diff_ids[%zu]: expected a string", i);
        }
        if (!digest_is_valid(json_string_value(e))) {
            return berth_error_set(err, EINVAL, "rootfs.diff_ids[%zu]: invalid digest '%.*s'", i,
                                   QUOTE_MAX, json_string_value(e));
        }
        c->diff_ids[i] = xstrdup(json_string_value(e));
        c->n_diff_ids = i + 1;
    }

    json_t *history = NULL;
    r = jget_arr(doc, "", "history", false, &history, err);
    if (r < 0) {
        return r;
    }
    if (history) {
        c->history = json_incref(history);
    }
    c->json = json_incref(doc);
    return 0;
}

int image_config_parse(const char *buf, size_t len, struct image_config **ret,
                       struct berth_error **err)
{
    if (len > IMAGE_CONFIG_MAX) {
        return berth_error_set(err, EFBIG, "image config larger than %u bytes", IMAGE_CONFIG_MAX);
    }
    _cleanup_json_ json_t *doc = NULL;
    int r = json_parse_buf(buf, len, IMAGE_CONFIG_MAX, &doc, err);
    if (r < 0) {
        berth_error_prefix(err, "image config");
        return r;
    }
    _cleanup_(image_config_freep) struct image_config *c = xcalloc(1, sizeof(*c));
    r = image_config_parse_json(doc, c, err);
    if (r < 0) {
        berth_error_prefix(err, "image config");
        return r;
    }
    *ret = TAKE_PTR(c);
    return 0;
}
