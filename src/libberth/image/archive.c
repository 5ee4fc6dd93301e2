/* archive.c - save, load and import image archives (see archive.h).
 *
 * Reading an archive uses libarchive (dlopen()ed on first use, as layer.c
 * does, for the same start-time reason); writing one is a small ustar
 * writer of our own: the entries are few and known (directories, regular
 * files of known size, symlinks), so no library is needed.
 */
#include "archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "libberth/common/digest.h"
#include "libberth/common/dl.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/image/decompress.h"
#include "libberth/image/images.h"
#include "libberth/image/layer.h"
#include "libberth/image/manifest.h"
#include "libberth/image/reference.h"

#define LIBARCHIVE_SONAME "libarchive.so.13"
#define META_MAX (8u << 20)     /* manifest.json, index.json, configs, manifests */
#define MAX_ENTRIES 100000      /* files in one archive */
#define MAX_IMAGES 1000         /* images in one archive */
#define MAX_LINK_HOPS 16        /* symlinks followed inside the archive */
#define LAYER_MAX (64ULL << 30) /* one layer blob */
#define COPY_BUF (1 << 20)

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define ANN_REF_NAME "org.opencontainers.image.ref.name"
#define ANN_IMAGE_NAME "io.containerd.image.name"

/* ---- libarchive, read side only ---------------------------------------- */

#define LA_SYMBOLS(X)                                                                              \
    X(archive_read_new)                                                                            \
    X(archive_read_support_filter_gzip)                                                            \
    X(archive_read_support_filter_zstd)                                                            \
    X(archive_read_support_format_tar)                                                             \
    X(archive_read_support_format_empty)                                                           \
    X(archive_read_open_fd)                                                                        \
    X(archive_read_next_header)                                                                    \
    X(archive_read_data_block)                                                                     \
    X(archive_read_free)                                                                           \
    X(archive_error_string)                                                                        \
    X(archive_errno)                                                                               \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_size)                                                                          \
    X(archive_entry_symlink)                                                                       \
    X(archive_entry_hardlink)

DEFINE_DL_LIB(la, LA_SYMBOLS, LIBARCHIVE_SONAME, "libarchive13")

static int la_error(struct archive *a, struct berth_error **err, const char *what)
{
    int e = la.archive_errno(a);
    const char *msg = la.archive_error_string(a);
    return berth_error_set(err, e > 0 ? e : EIO, "%s: %s", what, msg ? msg : "archive error");
}

/* ---- small helpers ------------------------------------------------------- */

static const char *layer_media_type(enum compression c)
{
    switch (c) {
    case COMPRESSION_GZIP:
        return MT_OCI_LAYER_GZIP;
    case COMPRESSION_ZSTD:
        return MT_OCI_LAYER_ZSTD;
    default:
        return MT_OCI_LAYER;
    }
}

/* A path inside the archive, made canonical: no "", "." or ".." components,
 * no leading "/". base (a directory, may be NULL) anchors a relative path.
 * A path that climbs above the archive root is an error. */
static int path_clean(const char *base, const char *p, char **ret, struct berth_error **err)
{
    _cleanup_strv_free_ char **parts = xcalloc(1, sizeof(char *));
    _cleanup_free_ char *joined = NULL;
    if (base && *base && p[0] != '/') {
        joined = xasprintf("%s/%s", base, p);
    } else {
        joined = xstrdup(p);
    }
    _cleanup_strv_free_ char **comps = strv_split(joined, "/");
    size_t n = 0;
    STRV_FOREACH(c, comps)
    {
        if (**c == '\0' || streq(*c, ".")) {
            continue;
        }
        if (streq(*c, "..")) {
            if (n == 0) {
                return berth_error_set(err, EINVAL, "archive path '%s' leads outside the archive",
                                       p);
            }
            free(parts[--n]);
            parts[n] = NULL;
            continue;
        }
        strv_push(&parts, *c);
        n++;
    }
    *ret = strv_join(parts, "/");
    return 0;
}

static bool layer_referenced(struct store *s, const char *chain)
{
    _cleanup_free_ char *v = NULL;
    return db_get_text(s->db, &v, NULL,
                       "SELECT image_id FROM image_layers WHERE chain_id = ? LIMIT 1", "s",
                       chain) != -ENOENT;
}

/* ---- ingest: a stream into the blob store, with its digests -------------- */

struct ingested {
    char digest[72];  /* of the bytes as given */
    char diff_id[72]; /* of the uncompressed bytes */
    enum compression compression;
    int64_t size;
    bool blob_new; /* this call stored it */
};

struct ingest {
    struct store *s;
    struct blob_writer *bw;
    struct decompressor *dec;
    struct digest *raw, *plain;
    uint64_t size;
};

static int ingest_plain(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    struct ingest *g = userdata;
    (void)err;
    /* Plain input: the diff_id is the raw digest, no second hash needed. */
    if (decompressor_format(g->dec) != COMPRESSION_NONE) {
        digest_update(g->plain, data, len);
    }
    return 0;
}

static void ingest_release(struct ingest *g)
{
    blob_writer_free(TAKE_PTR(g->bw));
    decompressor_free(TAKE_PTR(g->dec));
    digest_free(TAKE_PTR(g->raw));
    digest_free(TAKE_PTR(g->plain));
}

static int ingest_begin(struct store *s, int64_t expected_size, struct ingest *g,
                        struct berth_error **err)
{
    *g = (struct ingest){.s = s};
    int r = blob_writer_new(s->blobs, NULL, expected_size, LAYER_MAX, &g->bw, err);
    if (r >= 0) {
        r = decompressor_new(ingest_plain, g, 0, &g->dec, err);
    }
    if (r < 0) {
        ingest_release(g);
        return r;
    }
    g->raw = digest_sha256_new();
    g->plain = digest_sha256_new();
    return 0;
}

static int ingest_feed(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    struct ingest *g = userdata;
    digest_update(g->raw, data, len);
    int r = blob_writer_write(g->bw, data, len, err);
    if (r >= 0) {
        r = decompressor_feed(g->dec, data, len, err);
    }
    g->size += len;
    return r;
}

/* Finish: verify the compressed stream is complete, store the blob (or
 * drop the copy when it is already stored). Releases g either way. */
static int ingest_end(struct ingest *g, struct ingested *ret, struct berth_error **err)
{
    struct ingested out = {.size = (int64_t)g->size};
    int r = decompressor_finish(g->dec, err);
    if (r >= 0) {
        out.compression = decompressor_format(g->dec);
        r = digest_final_str(g->raw, out.digest);
        if (r < 0) {
            r = berth_error_set(err, EIO, "sha256 failed");
        } else if (out.compression == COMPRESSION_GZIP || out.compression == COMPRESSION_ZSTD) {
            r = digest_final_str(g->plain, out.diff_id);
            if (r < 0) {
                r = berth_error_set(err, EIO, "sha256 failed");
            }
        } else {
            out.compression = COMPRESSION_NONE;
            memcpy(out.diff_id, out.digest, sizeof(out.digest));
        }
        if (r >= 0 && !blob_exists(g->s->blobs, out.digest)) {
            r = blob_writer_commit(TAKE_PTR(g->bw), NULL, err);
            out.blob_new = r >= 0;
        }
    }
    ingest_release(g);
    if (r >= 0) {
        *ret = out;
    }
    return r;
}

/* ---- layers: lock, unpack once, remember ---------------------------------- */

struct held_layer {
    char chain[72];
    int lock_fd;
    bool created; /* unpacked by this operation */
    int64_t size;
};

struct layer_set {
    struct held_layer *l;
    size_t n, cap;
};

static struct held_layer *layer_set_find(struct layer_set *ls, const char *chain)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (streq(ls->l[i].chain, chain)) {
            return &ls->l[i];
        }
    }
    return NULL;
}

/* Release the locks; on failure (or when nothing references them) remove
 * the layers this operation created. */
static void layer_set_release(struct store *s, struct layer_set *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        struct held_layer *h = &ls->l[i];
        if (h->created && !layer_referenced(s, h->chain)) {
            (void)layer_store_remove(s->layers, h->chain, NULL);
        }
        safe_close(h->lock_fd);
    }
    free(ls->l);
    *ls = (struct layer_set){0};
}

static int unpack_blob(struct store *s, const char *digest, int diff_fd, enum layer_mode mode,
                       struct layer_stats *stats, struct berth_error **err)
{
    _cleanup_close_ int fd = -1;
    int r = blob_open(s->blobs, digest, &fd, err);
    if (r < 0) {
        return r;
    }
    return layer_unpack(fd, diff_fd, mode, NULL, stats, err);
}

/* Make sure layer k of a chain (blobs[0..k], verified against the diff_ids
 * that gave the chain ids) is in the store, holding its lock until
 * layer_set_release. With the vfs driver a layer holds the whole tree up to
 * it, so the blobs below are applied first. */
static int layer_ensure(struct store *s, struct layer_set *ls, const char *chain,
                        const char *const *blobs, size_t k, struct berth_error **err)
{
    if (layer_set_find(ls, chain)) {
        return 0;
    }
    ls->l = xgrow(ls->l, sizeof(*ls->l), ls->n + 1, &ls->cap);
    struct held_layer *h = &ls->l[ls->n];
    *h = (struct held_layer){.lock_fd = -1};
    snprintf(h->chain, sizeof(h->chain), "%s", chain);
    int r = layer_store_lock(s->layers, chain, true, &h->lock_fd, err);
    if (r < 0) {
        return r;
    }
    ls->n++;
    _cleanup_free_ char *size = NULL;
    if (db_get_text(s->db, &size, NULL, "SELECT size FROM layers WHERE chain_id = ?", "s", chain) ==
            0 &&
        layer_store_has(s->layers, chain)) {
        h->size = strtoll(size, NULL, 10);
        return 0;
    }
    /* A directory without a record was left by a crash: redo it. */
    r = layer_store_remove(s->layers, chain, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int diff_fd = -1;
    r = layer_store_create(s->layers, &tmp, &diff_fd, err);
    if (r < 0) {
        return r;
    }
    bool vfs = streq(s->driver, "vfs");
    struct layer_stats stats = {0};
    for (size_t j = 0; vfs && j < k && r >= 0; j++) {
        r = unpack_blob(s, blobs[j], diff_fd, LAYER_APPLY, NULL, err);
    }
    if (r >= 0) {
        r = unpack_blob(s, blobs[k], diff_fd, vfs ? LAYER_APPLY : LAYER_OVERLAY, &stats, err);
    }
    if (r >= 0) {
        r = layer_store_commit(s->layers, tmp, chain, err);
    }
    if (r < 0) {
        layer_store_abort(s->layers, tmp);
        return berth_error_prefix(err, "layer '%s'", blobs[k]);
    }
    h->created = true;
    h->size = (int64_t)stats.bytes;
    return 0;
}

/* ---- load --------------------------------------------------------------- */

struct aentry {
    char *name;
    char *link; /* symlink or hardlink target (canonical archive path) */
    char *data; /* archive metadata, in memory */
    size_t len;
    bool has_blob;
    struct ingested blob;
};

struct load_layer {
    const struct ingested *blob;
    const char *media_type;
    char chain[72];
};

struct load_image {
    char *id;
    char *manifest_digest, *manifest_media_type;
    char **tags; /* normalised names */
    struct image_config *cfg;
    struct load_layer *layers;
    size_t n_layers;
};

struct load {
    struct store *s;
    struct aentry *e;
    size_t n_e, cap_e;
    /* Open-addressed index of e by name (slot: index + 1, 0 empty): an
     * archive may hold MAX_ENTRIES files, a linear search each is quadratic. */
    size_t *slots;
    size_t n_slots;
    size_t n_headers; /* every entry read, kept or not */
    char **new_blobs;
    struct load_image *img;
    size_t n_img, cap_img;
    struct layer_set layers;
};

static void load_release(struct load *l)
{
    for (size_t i = 0; i < l->n_e; i++) {
        free(l->e[i].name);
        free(l->e[i].link);
        free(l->e[i].data);
    }
    free(l->e);
    free(l->slots);
    for (size_t i = 0; i < l->n_img; i++) {
        free(l->img[i].id);
        free(l->img[i].manifest_digest);
        free(l->img[i].manifest_media_type);
        strv_free(l->img[i].tags);
        image_config_free(l->img[i].cfg);
        free(l->img[i].layers);
    }
    free(l->img);
    strv_free(l->new_blobs);
}

/* The two files load parses, kept in memory. */
static bool is_index_file(const char *name)
{
    return streq(name, "manifest.json") || streq(name, "index.json");
}

/* Files of the archive formats that load does not use: Docker's legacy
 * per-layer <id>/json and <id>/VERSION, repositories, oci-layout. Skipped
 * unread: an archive of many large ones must not fill memory or the store. */
static bool is_unused_metadata(const char *name)
{
    if (streq(name, "repositories") || streq(name, "oci-layout")) {
        return true;
    }
    const char *slash = strrchr(name, '/');
    return slash && (streq(slash + 1, "json") || streq(slash + 1, "VERSION"));
}

static size_t name_hash(const char *name)
{
    size_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        h = (h ^ *c) * 1099511628211ull;
    }
    return h;
}

/* The slot of name: where it is, or the empty slot where it would go. */
static size_t *load_slot(struct load *l, const char *name)
{
    size_t mask = l->n_slots - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        if (l->slots[i] == 0 || streq(l->e[l->slots[i] - 1].name, name)) {
            return &l->slots[i];
        }
    }
}

static struct aentry *load_find(struct load *l, const char *name)
{
    if (l->n_slots == 0) {
        return NULL;
    }
    size_t *slot = load_slot(l, name);
    return *slot ? &l->e[*slot - 1] : NULL;
}

static struct aentry *load_add_entry(struct load *l, char *name)
{
    struct aentry *e = load_find(l, name);
    if (e) {
        /* A later entry of the same name replaces the earlier, as tar does. */
        free(e->link);
        free(e->data);
        free(name);
        char *keep = e->name;
        *e = (struct aentry){.name = keep};
        return e;
    }
    /* Keep the table at most half full. */
    if (2 * (l->n_e + 1) > l->n_slots) {
        free(l->slots);
        l->n_slots = l->n_slots ? 2 * l->n_slots : 64;
        l->slots = xcalloc(l->n_slots, sizeof(*l->slots));
        for (size_t i = 0; i < l->n_e; i++) {
            *load_slot(l, l->e[i].name) = i + 1;
        }
    }
    l->e = xgrow(l->e, sizeof(*l->e), l->n_e + 1, &l->cap_e);
    e = &l->e[l->n_e++];
    *e = (struct aentry){.name = name};
    *load_slot(l, name) = l->n_e;
    return e;
}

/* The regular file an archive path names, following links inside the archive. */
static int load_lookup(struct load *l, const char *path, struct aentry **ret,
                       struct berth_error **err)
{
    _cleanup_free_ char *p = NULL;
    int r = path_clean(NULL, path, &p, err);
    if (r < 0) {
        return r;
    }
    for (int hops = 0; hops <= MAX_LINK_HOPS; hops++) {
        struct aentry *e = load_find(l, p);
        if (!e) {
            return berth_error_set(err, ENOENT, "file '%s' is missing from the archive", path);
        }
        if (!e->link) {
            *ret = e;
            return 0;
        }
        free(p);
        p = xstrdup(e->link);
    }
    return berth_error_set(err, ELOOP, "archive path '%s': too many levels of links", path);
}

static int load_blob_entry(struct load *l, const char *path, struct aentry **ret,
                           struct berth_error **err)
{
    struct aentry *e = NULL;
    int r = load_lookup(l, path, &e, err);
    if (r < 0) {
        return r;
    }
    if (!e->has_blob) {
        return berth_error_set(err, EINVAL, "archive file '%s' is not an image file", path);
    }
    *ret = e;
    return 0;
}

static int load_read_data(struct archive *a, struct aentry *e, struct berth_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    for (;;) {
        const void *buf;
        size_t len;
        int64_t off;
        int r = la.archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF) {
            break;
        }
        if (r < ARCHIVE_WARN) {
            strbuf_release(&sb);
            return la_error(a, err, "read archive");
        }
        if (sb.len + len > META_MAX) {
            strbuf_release(&sb);
            return berth_error_set(err, EFBIG, "archive file '%s' exceeds %u bytes", e->name,
                                   META_MAX);
        }
        strbuf_add(&sb, buf, len);
    }
    e->data = strbuf_detach(&sb, &e->len);
    return 0;
}

static int load_read_blob(struct load *l, struct archive *a, struct archive_entry *ae,
                          struct aentry *e, struct berth_error **err)
{
    struct ingest g;
    int64_t size = la.archive_entry_size(ae);
    int r = ingest_begin(l->s, size >= 0 ? size : -1, &g, err);
    if (r < 0) {
        return r;
    }
    for (;;) {
        const void *buf;
        size_t len;
        int64_t off;
        int ar = la.archive_read_data_block(a, &buf, &len, &off);
        if (ar == ARCHIVE_EOF) {
            break;
        }
        if (ar < ARCHIVE_WARN) {
            ingest_release(&g);
            return la_error(a, err, "read archive");
        }
        r = ingest_feed(buf, len, &g, err);
        if (r < 0) {
            ingest_release(&g);
            return r;
        }
    }
    r = ingest_end(&g, &e->blob, err);
    if (r < 0) {
        return berth_error_prefix(err, "archive file '%s'", e->name);
    }
    e->has_blob = true;
    if (e->blob.blob_new) {
        strv_push(&l->new_blobs, e->blob.digest);
    }
    return 0;
}

/* Pass one: every file of the archive, manifest.json and index.json into
 * memory (at most META_MAX each: a later copy replaces an earlier), unused
 * metadata skipped, the rest into the blob store. */
static int load_read_archive(struct load *l, int fd, struct berth_error **err)
{
    int r = la_load(err);
    if (r < 0) {
        return r;
    }
    struct archive *a = la.archive_read_new();
    if (!a) {
        return berth_error_set(err, ENOMEM, "libarchive: cannot allocate a reader");
    }
    /* Only gzip and zstd: filter_all would hand attacker-chosen data to
     * external programs (lrzip, lzop, ...). */
    if (la.archive_read_support_filter_gzip(a) < ARCHIVE_WARN ||
        la.archive_read_support_filter_zstd(a) < ARCHIVE_WARN ||
        la.archive_read_support_format_tar(a) != ARCHIVE_OK ||
        la.archive_read_support_format_empty(a) != ARCHIVE_OK) {
        r = la_error(a, err, "libarchive setup");
        goto out;
    }
    if (la.archive_read_open_fd(a, fd, COPY_BUF) != ARCHIVE_OK) {
        r = la_error(a, err, "read archive");
        goto out;
    }
    for (;;) {
        struct archive_entry *ae;
        int ar = la.archive_read_next_header(a, &ae);
        if (ar == ARCHIVE_EOF) {
            r = 0;
            break;
        }
        if (ar < ARCHIVE_WARN) {
            r = la_error(a, err, "read archive");
            goto out;
        }
        if (++l->n_headers > MAX_ENTRIES) {
            r = berth_error_set(err, EFBIG, "archive has more than %d files", MAX_ENTRIES);
            goto out;
        }
        const char *raw = la.archive_entry_pathname(ae);
        if (!raw) {
            r = berth_error_set(err, EINVAL, "archive entry without a name");
            goto out;
        }
        char *name = NULL;
        r = path_clean(NULL, raw, &name, err);
        if (r < 0) {
            goto out;
        }
        const char *hard = la.archive_entry_hardlink(ae);
        unsigned type = la.archive_entry_filetype(ae);
        if ((!hard && type != AE_IFREG && type != AE_IFLNK) ||
            (type == AE_IFREG && !hard && is_unused_metadata(name))) {
            free(name); /* directories, unused metadata: nothing we read */
            continue;
        }
        struct aentry *e = load_add_entry(l, name);
        if (hard) {
            r = path_clean(NULL, hard, &e->link, err);
        } else if (type == AE_IFLNK) {
            /* Relative to the link's own directory. */
            const char *target = la.archive_entry_symlink(ae);
            const char *slash = strrchr(e->name, '/');
            char *dir = xstrndup(e->name, slash ? (size_t)(slash - e->name) : 0);
            r = path_clean(dir, target ? target : "", &e->link, err);
            free(dir);
        } else if (is_index_file(e->name)) {
            r = load_read_data(a, e, err);
        } else {
            r = load_read_blob(l, a, ae, e, err);
        }
        if (r < 0) {
            goto out;
        }
    }
out:
    la.archive_read_free(a);
    return r;
}

static struct load_image *load_new_image(struct load *l, const char *id, bool *ret_existing)
{
    for (size_t i = 0; i < l->n_img; i++) {
        if (streq(l->img[i].id, id)) {
            *ret_existing = true;
            return &l->img[i];
        }
    }
    *ret_existing = false;
    l->img = xgrow(l->img, sizeof(*l->img), l->n_img + 1, &l->cap_img);
    struct load_image *im = &l->img[l->n_img++];
    *im = (struct load_image){.id = xstrdup(id), .tags = xcalloc(1, sizeof(char *))};
    return im;
}

/* A tag from an archive, normalised ("busybox:latest" ->
 * "docker.io/library/busybox:latest"). */
static int norm_tag(const char *s, char **ret, struct berth_error **err)
{
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    int r = image_ref_parse(s, &ref, err);
    if (r < 0) {
        return berth_error_prefix(err, "image name '%s'", s);
    }
    if (ref->digest || !ref->tag) {
        return berth_error_set(err, EINVAL, "image name '%s': a tag is expected, not a digest", s);
    }
    _cleanup_free_ char *repo = image_ref_repository(ref);
    *ret = xasprintf("%s:%s", repo, ref->tag);
    return 0;
}

/* Config and layers of one image: every layer's uncompressed digest must be
 * the config's diff_id at its position. */
static int load_check_layers(struct load_image *im, struct berth_error **err)
{
    if (im->n_layers != im->cfg->n_diff_ids) {
        return berth_error_set(err, EINVAL,
                               "image '%s' has %zu layers but its config lists %zu diff_ids",
                               im->id, im->n_layers, im->cfg->n_diff_ids);
    }
    for (size_t k = 0; k < im->n_layers; k++) {
        struct load_layer *ll = &im->layers[k];
        if (!streq(ll->blob->diff_id, im->cfg->diff_ids[k])) {
            return berth_error_set(err, EBADMSG,
                                   "image '%s': layer %zu has digest %s, the config's diff_id is "
                                   "%s",
                                   im->id, k, ll->blob->diff_id, im->cfg->diff_ids[k]);
        }
        layer_chain_id(k ? im->layers[k - 1].chain : NULL, ll->blob->diff_id, ll->chain);
    }
    return 0;
}

static int load_config(struct load *l, struct load_image *im, struct berth_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = blob_read(l->s->blobs, im->id, META_MAX, &buf, &len, err);
    if (r >= 0) {
        r = image_config_parse(buf, len, &im->cfg, err);
    }
    if (r < 0) {
        return berth_error_prefix(err, "config '%s'", im->id);
    }
    return 0;
}

/* Docker's manifest.json: [{"Config": path, "RepoTags": [..] | null, "Layers": [paths]}]. */
static int load_docker(struct load *l, struct aentry *mf, struct berth_error **err)
{
    _cleanup_json_ json_t *doc = NULL;
    int r = json_parse_buf(mf->data, mf->len, META_MAX, &doc, err);
    if (r < 0) {
        return berth_error_prefix(err, "manifest.json");
    }
    if (!json_is_array(doc) || json_array_size(doc) == 0) {
        return berth_error_set(err, EINVAL, "manifest.json: expected a non-empty array");
    }
    if (json_array_size(doc) > MAX_IMAGES) {
        return berth_error_set(err, EFBIG, "manifest.json: more than %d images", MAX_IMAGES);
    }
    size_t i;
    json_t *item;
    json_array_foreach(doc, i, item)
    {
        _cleanup_free_ char *where = xasprintf("manifest.json[%zu]", i);
        const char *config = NULL;
        json_t *layers = NULL, *tags = NULL;
        r = jget_str(item, where, "Config", true, &config, err);
        if (r >= 0) {
            r = jget_arr(item, where, "Layers", true, &layers, err);
        }
        if (r >= 0 && jhas(item, "RepoTags") && !json_is_null(json_object_get(item, "RepoTags"))) {
            r = jget_arr(item, where, "RepoTags", true, &tags, err);
        }
        if (r < 0) {
            return r;
        }
        struct aentry *ce = NULL;
        r = load_blob_entry(l, config, &ce, err);
        if (r < 0) {
            return berth_error_prefix(err, "%s.Config", where);
        }
        bool existing;
        struct load_image *im = load_new_image(l, ce->blob.digest, &existing);
        if (!existing) {
            r = load_config(l, im, err);
            if (r < 0) {
                return r;
            }
            if (json_array_size(layers) > MANIFEST_MAX_LAYERS) {
                return berth_error_set(err, EFBIG, "%s: more than %d layers", where,
                                       MANIFEST_MAX_LAYERS);
            }
            im->n_layers = json_array_size(layers);
            im->layers = xcalloc(im->n_layers ? im->n_layers : 1, sizeof(*im->layers));
            for (size_t k = 0; k < im->n_layers; k++) {
                const char *p = json_string_value(json_array_get(layers, k));
                if (!p) {
                    return berth_error_set(err, EINVAL, "%s.Layers[%zu]: expected a string", where,
                                           k);
                }
                struct aentry *le = NULL;
                r = load_blob_entry(l, p, &le, err);
                if (r < 0) {
                    return berth_error_prefix(err, "%s.Layers[%zu]", where, k);
                }
                im->layers[k].blob = &le->blob;
                im->layers[k].media_type = layer_media_type(le->blob.compression);
            }
            r = load_check_layers(im, err);
            if (r < 0) {
                return r;
            }
        }
        for (size_t k = 0; tags && k < json_array_size(tags); k++) {
            const char *t = json_string_value(json_array_get(tags, k));
            char *full = NULL;
            if (!t) {
                return berth_error_set(err, EINVAL, "%s.RepoTags[%zu]: expected a string", where,
                                       k);
            }
            r = norm_tag(t, &full, err);
            if (r < 0) {
                return r;
            }
            if (strv_contains(im->tags, full)) {
                free(full);
            } else {
                strv_consume(&im->tags, full);
            }
        }
    }
    return 0;
}

/* An OCI descriptor's blob: present, with the digest and size it claims. */
static int load_descriptor(struct load *l, const struct descriptor *d, struct aentry **ret,
                           struct berth_error **err)
{
    if (strncmp(d->digest, "sha256:", 7) != 0) {
        return berth_error_set(err, ENOTSUP, "blob '%s': only sha256 digests are supported",
                               d->digest);
    }
    _cleanup_free_ char *path = xasprintf("blobs/sha256/%s", d->digest + 7);
    struct aentry *e = NULL;
    int r = load_blob_entry(l, path, &e, err);
    if (r < 0) {
        return r;
    }
    if (!streq(e->blob.digest, d->digest)) {
        return berth_error_set(err, EBADMSG, "blob '%s' has digest %s", d->digest, e->blob.digest);
    }
    if (d->size >= 0 && d->size != e->blob.size) {
        return berth_error_set(err, EBADMSG, "blob '%s' is %" PRId64 " bytes, expected %" PRId64,
                               d->digest, e->blob.size, d->size);
    }
    *ret = e;
    return 0;
}

static int load_oci_manifest(struct load *l, const struct descriptor *d, char **tags,
                             struct berth_error **err)
{
    struct aentry *me = NULL;
    int r = load_descriptor(l, d, &me, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *buf = NULL, *digest = xstrdup(d->digest);
    size_t len = 0;
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    r = blob_read(l->s->blobs, d->digest, META_MAX, &buf, &len, err);
    if (r >= 0) {
        r = manifest_parse(buf, len, d->media_type, &m, err);
    }
    if (r < 0) {
        return berth_error_prefix(err, "manifest '%s'", d->digest);
    }
    if (m->kind == MANIFEST_INDEX) {
        /* A multi-platform image: the host's entry, as Docker loads it. */
        const struct descriptor *pick;
        r = manifest_select_platform(m, NULL, &pick, err);
        if (r < 0) {
            return berth_error_prefix(err, "index '%s'", d->digest);
        }
        _cleanup_(manifest_freep) struct manifest *inner = NULL;
        _cleanup_free_ char *ibuf = NULL;
        r = load_descriptor(l, pick, &me, err);
        if (r >= 0) {
            r = blob_read(l->s->blobs, pick->digest, META_MAX, &ibuf, &len, err);
        }
        if (r >= 0) {
            r = manifest_parse(ibuf, len, pick->media_type, &inner, err);
        }
        if (r >= 0 && inner->kind != MANIFEST_IMAGE) {
            r = berth_error_set(err, EINVAL, "an index inside an index");
        }
        if (r < 0) {
            return berth_error_prefix(err, "manifest '%s'", pick->digest);
        }
        free(digest);
        digest = xstrdup(pick->digest);
        manifest_free(m);
        m = TAKE_PTR(inner);
    }
    struct aentry *ce = NULL;
    r = load_descriptor(l, &m->config, &ce, err);
    if (r < 0) {
        return berth_error_prefix(err, "manifest '%s': config", digest);
    }
    bool existing;
    struct load_image *im = load_new_image(l, m->config.digest, &existing);
    if (!existing) {
        im->manifest_digest = xstrdup(digest);
        im->manifest_media_type = xstrdup(m->media_type);
        r = load_config(l, im, err);
        if (r < 0) {
            return r;
        }
        im->n_layers = m->n_layers;
        im->layers = xcalloc(im->n_layers ? im->n_layers : 1, sizeof(*im->layers));
        for (size_t k = 0; k < m->n_layers; k++) {
            struct aentry *le = NULL;
            r = load_descriptor(l, &m->layers[k], &le, err);
            if (r < 0) {
                return berth_error_prefix(err, "manifest '%s': layer %zu", digest, k);
            }
            im->layers[k].blob = &le->blob;
            /* The media type recorded is what the bytes are. */
            im->layers[k].media_type = layer_media_type(le->blob.compression);
        }
        r = load_check_layers(im, err);
        if (r < 0) {
            return r;
        }
    }
    STRV_FOREACH(t, tags)
    {
        if (!strv_contains(im->tags, *t)) {
            strv_push(&im->tags, *t);
        }
    }
    return 0;
}

/* The name an OCI index entry carries: containerd's full name, else the
 * OCI ref.name when it is a name (not a bare tag such as "latest"). */
static int oci_entry_tags(json_t *entry, char ***ret, struct berth_error **err)
{
    char **tags = xcalloc(1, sizeof(char *));
    json_t *ann = json_object_get(entry, "annotations");
    const char *name = json_string_value(json_object_get(ann, ANN_IMAGE_NAME));
    const char *ref = json_string_value(json_object_get(ann, ANN_REF_NAME));
    if (!name && ref && (strchr(ref, ':') || strchr(ref, '/'))) {
        name = ref;
    }
    if (name) {
        char *full = NULL;
        int r = norm_tag(name, &full, err);
        if (r < 0) {
            strv_free(tags);
            return r;
        }
        strv_consume(&tags, full);
    }
    *ret = tags;
    return 0;
}

static int load_oci(struct load *l, struct aentry *ix, struct berth_error **err)
{
    _cleanup_(manifest_freep) struct manifest *index = NULL;
    int r = manifest_parse(ix->data, ix->len, MT_OCI_INDEX, &index, err);
    if (r >= 0 && index->kind != MANIFEST_INDEX) {
        r = berth_error_set(err, EINVAL, "not an image index");
    }
    _cleanup_json_ json_t *doc = NULL;
    if (r >= 0) {
        r = json_parse_buf(ix->data, ix->len, META_MAX, &doc, err);
    }
    if (r < 0) {
        return berth_error_prefix(err, "index.json");
    }
    json_t *entries = json_object_get(doc, "manifests");
    if (index->n_manifests == 0) {
        return berth_error_set(err, EINVAL, "index.json lists no images");
    }
    if (index->n_manifests > MAX_IMAGES || json_array_size(entries) != index->n_manifests) {
        return berth_error_set(err, EINVAL, "index.json: bad or too many manifests");
    }
    for (size_t i = 0; i < index->n_manifests; i++) {
        _cleanup_strv_free_ char **tags = NULL;
        r = oci_entry_tags(json_array_get(entries, i), &tags, err);
        if (r >= 0) {
            r = load_oci_manifest(l, &index->manifests[i], tags, err);
        }
        if (r < 0) {
            return berth_error_prefix(err, "index.json manifests[%zu]", i);
        }
    }
    return 0;
}

/* One image at a time: lock and unpack its layers bottom to top, record
 * it, release its locks, as a pull does. Holding every image's locks to the
 * end let two loads of [X, Y] and [Y, X] wait for each other forever. */
static int load_commit_image(struct load *l, struct load_image *im, image_load_cb cb,
                             void *userdata, struct berth_error **err)
{
    struct store *s = l->s;
    int r = 0;
    {
        _cleanup_free_ const char **blobs = xcalloc(im->n_layers + 1, sizeof(char *));
        for (size_t k = 0; k < im->n_layers && r >= 0; k++) {
            blobs[k] = im->layers[k].blob->digest;
            r = layer_ensure(s, &l->layers, im->layers[k].chain, blobs, k, err);
        }
    }
    if (r < 0) {
        return r;
    }
    {
        _cleanup_free_ struct image_layer_rec *recs =
            xcalloc(im->n_layers ? im->n_layers : 1, sizeof(*recs));
        for (size_t k = 0; k < im->n_layers; k++) {
            struct load_layer *ll = &im->layers[k];
            recs[k] = (struct image_layer_rec){
                .chain_id = ll->chain,
                .diff_id = (char *)ll->blob->diff_id,
                .blob_digest = (char *)ll->blob->digest,
                .media_type = (char *)ll->media_type,
                .size = layer_set_find(&l->layers, ll->chain)->size,
                .blob_size = ll->blob->size,
            };
        }
        struct image_add a = {
            .id = im->id,
            .manifest_digest = im->manifest_digest,
            .manifest_media_type = im->manifest_media_type,
            .created = im->cfg->created,
            .layers = recs,
            .n_layers = im->n_layers,
        };
        size_t n_tags = strv_length(im->tags);
        for (size_t t = 0; t < (n_tags ? n_tags : 1); t++) {
            _cleanup_free_ char *previous = NULL;
            a.tag = n_tags ? im->tags[t] : NULL;
            r = image_record_add(s, &a, &previous, err);
            if (r < 0) {
                return r;
            }
            if (!cb) {
                continue;
            }
            _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
            _cleanup_free_ char *fam = NULL;
            if (a.tag && image_ref_parse(a.tag, &ref, NULL) >= 0) {
                fam = image_ref_familiar(ref);
            }
            if (previous && fam) {
                cb("renamed", previous, fam, userdata);
            }
            if (fam) {
                cb("Loaded image", fam, NULL, userdata);
            } else {
                cb("Loaded image ID", im->id, NULL, userdata);
            }
        }
    }
    return 0;
}

static int load_commit(struct load *l, image_load_cb cb, void *userdata, struct berth_error **err)
{
    int r = 0;
    for (size_t i = 0; i < l->n_img && r >= 0; i++) {
        r = load_commit_image(l, &l->img[i], cb, userdata, err);
        layer_set_release(l->s, &l->layers);
    }
    return r;
}

int image_load(struct store *s, int fd, image_load_cb cb, void *userdata, struct berth_error **err)
{
    struct load l = {.s = s, .new_blobs = xcalloc(1, sizeof(char *))};
    /* Shared from the first blob write to the last record (store.h). */
    _cleanup_close_ int gc_fd = -1;
    int r = store_gc_lock_shared(s, &gc_fd, err);
    if (r < 0) {
        return berth_error_prefix(err, "load");
    }
    r = load_read_archive(&l, fd, err);
    if (r >= 0) {
        struct aentry *mf = NULL, *ix = NULL;
        for (size_t i = 0; i < l.n_e; i++) {
            if (l.e[i].data && streq(l.e[i].name, "manifest.json")) {
                mf = &l.e[i];
            } else if (l.e[i].data && streq(l.e[i].name, "index.json")) {
                ix = &l.e[i];
            }
        }
        /* Docker 25 writes both; its manifest.json is the simpler truth. */
        if (mf) {
            r = load_docker(&l, mf, err);
        } else if (ix) {
            r = load_oci(&l, ix, err);
        } else {
            r = berth_error_set(err, EINVAL,
                                "no manifest.json or index.json: not a docker or OCI image "
                                "archive");
        }
    }
    if (r >= 0) {
        r = load_commit(&l, cb, userdata, err);
    }
    /* What this load added and nothing uses goes: everything on failure,
     * leftovers (legacy metadata, other platforms) on success. */
    layer_set_release(s, &l.layers);
    gc_fd = safe_close(gc_fd);
    (void)image_gc_blobs(s, l.new_blobs, false, NULL, NULL);
    load_release(&l);
    if (r < 0) {
        return berth_error_prefix(err, "load");
    }
    return 0;
}

/* ---- tar writer ---------------------------------------------------------- */

static void tar_octal(char *field, size_t width, uint64_t v)
{
    /* width-1 octal digits and a NUL; callers keep v in range. */
    snprintf(field, width, "%0*" PRIo64, (int)width - 1, v);
}

static int tar_header(int fd, const char *name, char type, unsigned mode, uint64_t size,
                      const char *linkname, struct berth_error **err)
{
    char h[512];
    memset(h, 0, sizeof(h));
    if (strlen(name) >= 100 || (linkname && strlen(linkname) >= 100)) {
        return berth_error_set(err, ENAMETOOLONG, "archive name '%s' too long", name);
    }
    memcpy(h, name, strlen(name));
    tar_octal(h + 100, 8, mode);
    tar_octal(h + 108, 8, 0);
    tar_octal(h + 116, 8, 0);
    if (size > 077777777777ULL) {
        /* GNU base-256 for sizes of 8 GiB and more (libarchive, Go and GNU
         * tar read it). */
        h[124] = (char)0x80;
        for (int i = 11; i >= 1; i--) {
            h[124 + i] = (char)(size & 0xff);
            size >>= 8;
        }
    } else {
        tar_octal(h + 124, 12, size);
    }
    tar_octal(h + 136, 12, 0);
    h[156] = type;
    if (linkname) {
        memcpy(h + 157, linkname, strlen(linkname));
    }
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(h); i++) {
        sum += (unsigned char)h[i];
    }
    snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
    if (write_all(fd, h, sizeof(h)) < 0) {
        return berth_error_sys(err, errno, "write archive");
    }
    return 0;
}

static int tar_pad(int fd, uint64_t size, struct berth_error **err)
{
    static const char zero[512];
    size_t pad = (size_t)((512 - size % 512) % 512);
    if (pad && write_all(fd, zero, pad) < 0) {
        return berth_error_sys(err, errno, "write archive");
    }
    return 0;
}

static int tar_file(int fd, const char *name, const void *data, size_t len,
                    struct berth_error **err)
{
    int r = tar_header(fd, name, '0', 0644, len, NULL, err);
    if (r < 0) {
        return r;
    }
    if (len && write_all(fd, data, len) < 0) {
        return berth_error_sys(err, errno, "write archive");
    }
    return tar_pad(fd, len, err);
}

static int tar_json(int fd, const char *name, json_t *j, struct berth_error **err)
{
    _cleanup_free_ char *s = json_dumps(j, JSON_COMPACT);
    if (!s) {
        return berth_error_set(err, ENOMEM, "serialise '%s'", name);
    }
    return tar_file(fd, name, s, strlen(s), err);
}

static int tar_end(int fd, struct berth_error **err)
{
    static const char zero[1024];
    if (write_all(fd, zero, sizeof(zero)) < 0) {
        return berth_error_sys(err, errno, "write archive");
    }
    return 0;
}

/* ---- save ---------------------------------------------------------------- */

struct save_image {
    char *id;
    char **tags; /* normalised */
    struct image_info *info;
};

struct save {
    struct store *s;
    int fd;
    struct save_image *img;
    size_t n, cap;
    char **written; /* archive paths (or blob digests) already written */
};

static void save_add(struct save *sv, const char *id, const char *tag)
{
    struct save_image *im = NULL;
    for (size_t i = 0; i < sv->n; i++) {
        if (streq(sv->img[i].id, id)) {
            im = &sv->img[i];
        }
    }
    if (!im) {
        sv->img = xgrow(sv->img, sizeof(*sv->img), sv->n + 1, &sv->cap);
        im = &sv->img[sv->n++];
        *im = (struct save_image){.id = xstrdup(id), .tags = xcalloc(1, sizeof(char *))};
    }
    if (tag && !strv_contains(im->tags, tag)) {
        strv_push(&im->tags, tag);
    }
}

/* Docker's rules for what a name saves: a repository without tag saves all
 * its tags, a tag that tag, an id or digest the image without tags. */
static int save_collect(struct save *sv, const char *name, struct berth_error **err)
{
    const char *last = strrchr(name, '/');
    last = last ? last + 1 : name;
    bool tagged = strchr(last, ':') || strchr(name, '@');
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    bool is_ref = image_ref_parse(name, &ref, NULL) >= 0;
    if (is_ref && !tagged) {
        _cleanup_free_ char *repo = image_ref_repository(ref);
        _cleanup_free_ char *prefix = xasprintf("%s:", repo);
        _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
        int r = db_query(sv->s->db, &st, err,
                         "SELECT name, image_id FROM tags WHERE substr(name, 1, ?) = ?"
                         " ORDER BY name",
                         "is", (int64_t)strlen(prefix), prefix);
        if (r < 0) {
            return r;
        }
        bool found = false;
        while ((r = db_step(st, err)) > 0) {
            /* "repo:tag" only, not "repo:tag/.." (which cannot be a tag anyway). */
            save_add(sv, db_text(st, 1), db_text(st, 0));
            found = true;
        }
        if (r < 0) {
            return r;
        }
        if (found) {
            return 0;
        }
    }
    _cleanup_free_ char *id = NULL;
    int r = image_resolve(sv->s, name, &id, err);
    if (r < 0) {
        return r;
    }
    /* An id (or "sha256:" id, or id prefix) is not a name: no tag. */
    const char *hex = strneq(name, "sha256:", 7) ? name + 7 : name;
    bool by_id = strneq(id + 7, hex, strlen(hex)) && strspn(hex, "0123456789abcdef") == strlen(hex);
    _cleanup_free_ char *tag = NULL;
    if (is_ref && tagged && !by_id && ref->tag && !ref->digest) {
        _cleanup_free_ char *repo = image_ref_repository(ref);
        tag = xasprintf("%s:%s", repo, ref->tag);
    }
    save_add(sv, id, tag);
    return 0;
}

static void save_release(struct save *sv)
{
    for (size_t i = 0; i < sv->n; i++) {
        free(sv->img[i].id);
        strv_free(sv->img[i].tags);
        image_info_free(sv->img[i].info);
    }
    free(sv->img);
    strv_free(sv->written);
}

struct copy_out {
    int fd;
    uint64_t n, limit;
    struct digest *md;
};

static int copy_out(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    struct copy_out *c = userdata;
    if (c->md) {
        digest_update(c->md, data, len);
    }
    if (c->fd >= 0) {
        if (c->n + len > c->limit) {
            return berth_error_set(err, EIO, "stored blob changed while saving");
        }
        if (write_all(c->fd, data, len) < 0) {
            return berth_error_sys(err, errno, "write archive");
        }
    }
    c->n += len;
    return 0;
}

static int feed_decompressor(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    return decompressor_feed(userdata, data, len, err);
}

static int decompress_blob(struct store *s, const char *digest, struct copy_out *c,
                           struct berth_error **err)
{
    _cleanup_(decompressor_freep) struct decompressor *d = NULL;
    int r = decompressor_new(copy_out, c, 0, &d, err);
    if (r >= 0) {
        r = blob_stream(s->blobs, digest, feed_decompressor, d, err);
    }
    if (r >= 0) {
        r = decompressor_finish(d, err);
    }
    return r;
}

/* A stored blob, as is, as one archive file. */
static int save_blob_as_is(struct save *sv, const char *digest, const char *name,
                           struct berth_error **err)
{
    int64_t size = blob_size(sv->s->blobs, digest);
    if (size < 0) {
        return berth_error_set(err, (int)-size, "blob '%s' not found", digest);
    }
    int r = tar_header(sv->fd, name, '0', 0644, (uint64_t)size, NULL, err);
    if (r < 0) {
        return r;
    }
    struct copy_out c = {.fd = sv->fd, .limit = (uint64_t)size};
    r = blob_stream(sv->s->blobs, digest, copy_out, &c, err);
    if (r >= 0 && c.n != (uint64_t)size) {
        r = berth_error_set(err, EIO, "blob '%s' changed while saving", digest);
    }
    if (r < 0) {
        return r;
    }
    return tar_pad(sv->fd, c.n, err);
}

/* A layer's uncompressed tar as one archive file. The tar header needs its
 * size first: a compressed blob is decompressed twice, first to measure
 * (and to check it still gives the diff_id), then to write. */
static int save_layer_tar(struct save *sv, const struct image_layer_rec *l, const char *name,
                          struct berth_error **err)
{
    if (!l->blob_digest || !blob_exists(sv->s->blobs, l->blob_digest)) {
        return berth_error_set(err, ENOTSUP,
                               "layer '%s' has no stored blob: saving layers rebuilt from "
                               "their directory is not supported",
                               l->diff_id);
    }
    if (streq(l->blob_digest, l->diff_id)) {
        return save_blob_as_is(sv, l->blob_digest, name, err);
    }
    struct copy_out measure = {.fd = -1, .md = digest_sha256_new()};
    int r = decompress_blob(sv->s, l->blob_digest, &measure, err);
    char got[DIGEST_STR_SIZE];
    if (digest_final_str(measure.md, got) < 0 && r >= 0) {
        r = berth_error_set(err, EIO, "layer '%s': sha256 failed", l->diff_id);
    }
    digest_free(measure.md);
    if (r >= 0 && !streq(got, l->diff_id)) {
        r = berth_error_set(err, EBADMSG, "stored blob '%s' decompresses to %s, not diff_id %s",
                            l->blob_digest, got, l->diff_id);
    }
    if (r >= 0) {
        r = tar_header(sv->fd, name, '0', 0644, measure.n, NULL, err);
    }
    struct copy_out c = {.fd = sv->fd, .limit = measure.n};
    if (r >= 0) {
        r = decompress_blob(sv->s, l->blob_digest, &c, err);
    }
    if (r >= 0 && c.n != measure.n) {
        r = berth_error_set(err, EIO, "blob '%s' changed while saving", l->blob_digest);
    }
    if (r < 0) {
        return r;
    }
    return tar_pad(sv->fd, c.n, err);
}

static char *familiar_of(const char *full, bool repo_only)
{
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    if (image_ref_parse(full, &ref, NULL) < 0) {
        return xstrdup(full);
    }
    return repo_only ? image_ref_familiar_repository(ref) : image_ref_familiar(ref);
}

/* Docker's legacy per-layer "json": the v1 image of that layer. */
static json_t *legacy_json(const struct save_image *im, const char *id, const char *parent,
                           bool top)
{
    json_t *j;
    if (top && im->info->config && im->info->config->json) {
        j = json_deep_copy(im->info->config->json);
        json_object_del(j, "rootfs");
        json_object_del(j, "history");
    } else {
        j = json_object();
        json_object_set_new(j, "created", json_string("1970-01-01T00:00:00Z"));
        json_object_set_new(j, "container_config", json_pack("{s:n}", "Cmd"));
    }
    json_object_set_new(j, "id", json_string(id));
    if (parent) {
        json_object_set_new(j, "parent", json_string(parent));
    } else {
        json_object_del(j, "parent");
    }
    return j;
}

static int save_docker(struct save *sv, struct berth_error **err)
{
    _cleanup_json_ json_t *manifest = json_array();
    _cleanup_json_ json_t *repos = json_object();
    int r;
    for (size_t i = 0; i < sv->n; i++) {
        struct save_image *im = &sv->img[i];
        const struct image_info *info = im->info;
        json_t *layers = json_array();
        json_t *entry = json_pack("{s:s+,s:n,s:o}", "Config", im->id + 7, ".json", "RepoTags",
                                  "Layers", layers);
        json_array_append_new(manifest, entry);
        char parent[65] = "";
        for (size_t k = 0; k < info->n_layers; k++) {
            const struct image_layer_rec *l = &info->layers[k];
            bool top = k + 1 == info->n_layers;
            char v1[72];
            if (top) {
                /* The top layer's json carries this image's config, so its id
                 * depends on it too: images sharing the layer do not collide. */
                _cleanup_free_ char *seed = xasprintf("%s %s", l->chain_id, im->id);
                digest_of(seed, strlen(seed), v1);
            } else {
                snprintf(v1, sizeof(v1), "%s", l->chain_id);
            }
            const char *id = v1 + 7;
            _cleanup_free_ char *dir = xasprintf("%s/", id);
            _cleanup_free_ char *path = xasprintf("%s/layer.tar", id);
            json_array_append_new(layers, json_string(path));
            if (!strv_contains(sv->written, dir)) {
                strv_push(&sv->written, dir);
                _cleanup_json_ json_t *lj = legacy_json(im, id, k ? parent : NULL, top);
                _cleanup_free_ char *jpath = xasprintf("%s/json", id);
                _cleanup_free_ char *vpath = xasprintf("%s/VERSION", id);
                r = tar_header(sv->fd, dir, '5', 0755, 0, NULL, err);
                if (r >= 0) {
                    r = tar_file(sv->fd, vpath, "1.0", 3, err);
                }
                if (r >= 0) {
                    r = tar_json(sv->fd, jpath, lj, err);
                }
                if (r < 0) {
                    return r;
                }
                /* The same diff written before: a link to it, as Docker does. */
                _cleanup_free_ char *key = xasprintf("diff %s", l->diff_id);
                const char *first = NULL;
                for (size_t w = 0; sv->written[w]; w++) {
                    if (strneq(sv->written[w], key, strlen(key)) &&
                        sv->written[w][strlen(key)] == '=') {
                        first = sv->written[w] + strlen(key) + 1;
                    }
                }
                if (first) {
                    _cleanup_free_ char *target = xasprintf("../%s", first);
                    r = tar_header(sv->fd, path, '2', 0777, 0, target, err);
                } else {
                    r = save_layer_tar(sv, l, path, err);
                    strv_consume(&sv->written, xasprintf("%s=%s", key, path));
                }
                if (r < 0) {
                    return berth_error_prefix(err, "image '%s'", im->id);
                }
            }
            snprintf(parent, sizeof(parent), "%s", id);
        }
        _cleanup_free_ char *cfg_name = xasprintf("%s.json", im->id + 7);
        if (!strv_contains(sv->written, cfg_name)) {
            r = save_blob_as_is(sv, im->id, cfg_name, err);
            if (r < 0) {
                return r;
            }
            strv_push(&sv->written, cfg_name);
        }
        if (strv_length(im->tags) > 0) {
            json_t *tags = json_array();
            STRV_FOREACH(t, im->tags)
            {
                _cleanup_free_ char *fam = familiar_of(*t, false);
                _cleanup_free_ char *repo = familiar_of(*t, true);
                json_array_append_new(tags, json_string(fam));
                json_t *rj = json_object_get(repos, repo);
                if (!rj) {
                    rj = json_object();
                    json_object_set_new(repos, repo, rj);
                }
                const char *colon = strrchr(*t, ':');
                if (parent[0]) {
                    json_object_set_new(rj, colon + 1, json_string(parent));
                }
            }
            json_object_set_new(entry, "RepoTags", tags);
        }
    }
    r = tar_json(sv->fd, "manifest.json", manifest, err);
    if (r >= 0 && json_object_size(repos) > 0) {
        r = tar_json(sv->fd, "repositories", repos, err);
    }
    return r;
}

/* The OCI media type of a stored layer blob: from its record, else from its
 * first bytes. */
static const char *oci_layer_type(struct store *s, const struct image_layer_rec *l)
{
    const char *mt = l->media_type;
    if (mt && strstr(mt, "zstd")) {
        return MT_OCI_LAYER_ZSTD;
    }
    if (mt && strstr(mt, "gzip")) {
        return MT_OCI_LAYER_GZIP;
    }
    if (mt && (streq(mt, MT_OCI_LAYER) || strstr(mt, "diff.tar"))) {
        return MT_OCI_LAYER;
    }
    unsigned char head[4] = {0};
    _cleanup_close_ int fd = -1;
    if (blob_open(s->blobs, l->blob_digest, &fd, NULL) >= 0 && read_all(fd, head, 4) == 4) {
        if (head[0] == 0x1f && head[1] == 0x8b) {
            return MT_OCI_LAYER_GZIP;
        }
        if (head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) {
            return MT_OCI_LAYER_ZSTD;
        }
    }
    return MT_OCI_LAYER;
}

static int save_oci_blob(struct save *sv, const char *digest, struct berth_error **err)
{
    if (strv_contains(sv->written, digest)) {
        return 0;
    }
    _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest + 7);
    int r = save_blob_as_is(sv, digest, name, err);
    if (r >= 0) {
        strv_push(&sv->written, digest);
    }
    return r;
}

static int save_oci(struct save *sv, struct berth_error **err)
{
    _cleanup_json_ json_t *layout = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
    _cleanup_json_ json_t *index =
        json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests");
    int r = tar_json(sv->fd, "oci-layout", layout, err);
    if (r >= 0) {
        r = tar_header(sv->fd, "blobs/", '5', 0755, 0, NULL, err);
    }
    if (r >= 0) {
        r = tar_header(sv->fd, "blobs/sha256/", '5', 0755, 0, NULL, err);
    }
    for (size_t i = 0; i < sv->n && r >= 0; i++) {
        struct save_image *im = &sv->img[i];
        const struct image_info *info = im->info;
        json_t *layers = json_array();
        int64_t cfg_size = blob_size(sv->s->blobs, im->id);
        _cleanup_json_ json_t *m =
            json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
                      MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", im->id,
                      "size", (json_int_t)cfg_size, "layers", layers);
        r = save_oci_blob(sv, im->id, err);
        for (size_t k = 0; k < info->n_layers && r >= 0; k++) {
            const struct image_layer_rec *l = &info->layers[k];
            if (!l->blob_digest || !blob_exists(sv->s->blobs, l->blob_digest)) {
                r = berth_error_set(err, ENOTSUP, "layer '%s' has no stored blob", l->diff_id);
                break;
            }
            json_array_append_new(layers,
                                  json_pack("{s:s,s:s,s:I}", "mediaType", oci_layer_type(sv->s, l),
                                            "digest", l->blob_digest, "size",
                                            (json_int_t)blob_size(sv->s->blobs, l->blob_digest)));
            r = save_oci_blob(sv, l->blob_digest, err);
        }
        if (r < 0) {
            return berth_error_prefix(err, "image '%s'", im->id);
        }
        _cleanup_free_ char *body = json_dumps(m, JSON_COMPACT);
        char digest[72];
        digest_of(body, strlen(body), digest);
        if (!strv_contains(sv->written, digest)) {
            _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest + 7);
            r = tar_file(sv->fd, name, body, strlen(body), err);
            strv_push(&sv->written, digest);
        }
        size_t n_tags = strv_length(im->tags);
        for (size_t t = 0; t < (n_tags ? n_tags : 1); t++) {
            json_t *d = json_pack("{s:s,s:s,s:I}", "mediaType", MT_OCI_MANIFEST, "digest", digest,
                                  "size", (json_int_t)strlen(body));
            if (n_tags) {
                const char *colon = strrchr(im->tags[t], ':');
                json_object_set_new(
                    d, "annotations",
                    json_pack("{s:s,s:s}", ANN_IMAGE_NAME, im->tags[t], ANN_REF_NAME, colon + 1));
            }
            json_array_append_new(json_object_get(index, "manifests"), d);
        }
    }
    if (r >= 0) {
        r = tar_json(sv->fd, "index.json", index, err);
    }
    return r;
}

int image_archive_format_parse(const char *s, enum image_archive_format *ret,
                               struct berth_error **err)
{
    if (streq(s, "docker-archive") || streq(s, "docker")) {
        *ret = IMAGE_ARCHIVE_DOCKER;
    } else if (streq(s, "oci-archive") || streq(s, "oci")) {
        *ret = IMAGE_ARCHIVE_OCI;
    } else {
        return berth_error_set(err, EINVAL,
                               "invalid format '%s': expected docker-archive or oci-archive", s);
    }
    return 0;
}

int image_save(struct store *s, char *const *names, size_t n, enum image_archive_format format,
               int fd, struct berth_error **err)
{
    /* Shared while reading blobs (store.h): no GC removes one under us. */
    _cleanup_close_ int gc_fd = -1;
    int r = store_gc_lock_shared(s, &gc_fd, err);
    if (r < 0) {
        return r;
    }
    struct save sv = {.s = s, .fd = fd, .written = xcalloc(1, sizeof(char *))};
    if (n == 0) {
        r = berth_error_set(err, EINVAL, "no image to save");
    }
    for (size_t i = 0; i < n && r >= 0; i++) {
        r = save_collect(&sv, names[i], err);
    }
    for (size_t i = 0; i < sv.n && r >= 0; i++) {
        r = image_get(s, sv.img[i].id, &sv.img[i].info, err);
    }
    if (r >= 0) {
        r = format == IMAGE_ARCHIVE_OCI ? save_oci(&sv, err) : save_docker(&sv, err);
    }
    if (r >= 0) {
        r = tar_end(fd, err);
    }
    save_release(&sv);
    return r < 0 ? r : 0;
}

int image_save_file(struct store *s, char *const *names, size_t n, enum image_archive_format format,
                    const char *path, struct berth_error **err)
{
    _cleanup_free_ char *tmp = NULL;
    const char *slash = strrchr(path, '/');
    if (slash) {
        tmp = xasprintf("%.*s/.%s.tmpXXXXXX", (int)(slash - path), path, slash + 1);
    } else {
        tmp = xasprintf(".%s.tmpXXXXXX", path);
    }
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "create '%s'", path);
    }
    mode_t um = umask(0);
    umask(um);
    int r = 0;
    if (fchmod(fd, 0666 & ~um) < 0) {
        r = berth_error_sys(err, errno, "chmod '%s'", tmp);
    }
    if (r >= 0) {
        r = image_save(s, names, n, format, fd, err);
    }
    if (r >= 0 && fsync(fd) < 0) {
        r = berth_error_sys(err, errno, "fsync '%s'", tmp);
    }
    if (r >= 0 && rename(tmp, path) < 0) {
        r = berth_error_sys(err, errno, "rename to '%s'", path);
    }
    if (r < 0) {
        unlink(tmp);
    }
    return r;
}

/* ---- import -------------------------------------------------------------- */

/* Words of a Dockerfile instruction's arguments: whitespace separated,
 * "double" and 'single' quotes group, backslash escapes in and out of
 * double quotes. */
static int split_words(const char *s, char ***ret, struct berth_error **err)
{
    char **words = xcalloc(1, sizeof(char *));
    struct strbuf w = STRBUF_INIT;
    bool in_word = false;
    char quote = 0;
    for (const char *p = s;; p++) {
        char c = *p;
        if (c == '\0') {
            if (quote) {
                strv_free(words);
                strbuf_release(&w);
                return berth_error_set(err, EINVAL, "unterminated quote in '%s'", s);
            }
            break;
        }
        if (quote) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && p[1]) {
                strbuf_addc(&w, *++p);
            } else {
                strbuf_addc(&w, c);
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) {
                strv_push(&words, strbuf_str(&w));
                strbuf_reset(&w);
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '\\' && p[1]) {
            strbuf_addc(&w, *++p);
        } else {
            strbuf_addc(&w, c);
        }
    }
    if (in_word) {
        strv_push(&words, strbuf_str(&w));
    }
    strbuf_release(&w);
    *ret = words;
    return 0;
}

/* JSON (exec) form if the argument is a JSON array of strings, else the
 * shell form ["/bin/sh", "-c", arg] (shell=true) or the words. */
static json_t *cmd_form(const char *arg, bool shell, struct berth_error **err)
{
    json_error_t je;
    json_t *j = json_loads(arg, JSON_REJECT_DUPLICATES, &je);
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        bool ok = true;
        json_array_foreach(j, i, v)
        {
            ok = ok && json_is_string(v);
        }
        if (ok) {
            return j;
        }
    }
    json_decref(j);
    if (shell) {
        return json_pack("[s,s,s]", "/bin/sh", "-c", arg);
    }
    char **words = NULL;
    if (split_words(arg, &words, err) < 0) {
        return NULL;
    }
    json_t *a = json_array();
    STRV_FOREACH(w, words)
    {
        json_array_append_new(a, json_string(*w));
    }
    strv_free(words);
    return a;
}

/* KEY=VALUE pairs, or (legacy) "KEY VALUE with spaces". */
static int key_values(const char *arg, json_t *out, struct berth_error **err)
{
    _cleanup_strv_free_ char **words = NULL;
    int r = split_words(arg, &words, err);
    if (r < 0) {
        return r;
    }
    if (!words[0]) {
        return berth_error_set(err, EINVAL, "missing arguments");
    }
    if (!strchr(words[0], '=')) {
        const char *sp = arg + strspn(arg, " \t");
        sp += strcspn(sp, " \t");
        sp += strspn(sp, " \t");
        if (!*sp) {
            return berth_error_set(err, EINVAL, "'%s' needs a value", words[0]);
        }
        json_object_set_new(out, words[0], json_string(sp));
        return 0;
    }
    STRV_FOREACH(w, words)
    {
        char *eq = strchr(*w, '=');
        if (!eq || eq == *w) {
            return berth_error_set(err, EINVAL, "'%s': expected KEY=VALUE", *w);
        }
        *eq = '\0';
        json_object_set_new(out, *w, json_string(eq + 1));
    }
    return 0;
}

static json_t *cfg_obj(json_t *cfg, const char *key)
{
    json_t *o = json_object_get(cfg, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(cfg, key, o);
    }
    return o;
}

/* One --change instruction applied to the config's "config" object. */
static int apply_change(json_t *cfg, const char *change, struct berth_error **err)
{
    const char *p = change + strspn(change, " \t");
    size_t kl = strcspn(p, " \t");
    _cleanup_free_ char *kw = xstrndup(p, kl);
    for (char *c = kw; *c; c++) {
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    }
    const char *arg = p + kl;
    arg += strspn(arg, " \t");
    _cleanup_free_ char *trimmed = xstrdup(arg);
    for (size_t n = strlen(trimmed); n > 0 && strchr(" \t\n", trimmed[n - 1]); n--) {
        trimmed[n - 1] = '\0';
    }
    if (!streq(kw, "STOPSIGNAL") && !streq(kw, "CMD") && !streq(kw, "ENTRYPOINT") && !*trimmed) {
        return berth_error_set(err, EINVAL, "%s requires at least one argument", kw);
    }
    if (streq(kw, "CMD") || streq(kw, "ENTRYPOINT")) {
        json_t *v = cmd_form(trimmed, true, err);
        if (!v) {
            return -EINVAL;
        }
        json_object_set_new(cfg, streq(kw, "CMD") ? "Cmd" : "Entrypoint", v);
    } else if (streq(kw, "ENV")) {
        _cleanup_json_ json_t *kv = json_object();
        int r = key_values(trimmed, kv, err);
        if (r < 0) {
            return berth_error_prefix(err, "ENV");
        }
        json_t *env = json_object_get(cfg, "Env");
        if (!json_is_array(env)) {
            env = json_array();
            json_object_set_new(cfg, "Env", env);
        }
        const char *k;
        json_t *v;
        json_object_foreach(kv, k, v)
        {
            _cleanup_free_ char *assign = xasprintf("%s=%s", k, json_string_value(v));
            size_t i, klen = strlen(k);
            json_t *old;
            bool replaced = false;
            json_array_foreach(env, i, old)
            {
                const char *o = json_string_value(old);
                if (o && strneq(o, k, klen) && o[klen] == '=') {
                    json_array_set_new(env, i, json_string(assign));
                    replaced = true;
                    break;
                }
            }
            if (!replaced) {
                json_array_append_new(env, json_string(assign));
            }
        }
    } else if (streq(kw, "LABEL")) {
        int r = key_values(trimmed, cfg_obj(cfg, "Labels"), err);
        if (r < 0) {
            return berth_error_prefix(err, "LABEL");
        }
    } else if (streq(kw, "EXPOSE")) {
        _cleanup_strv_free_ char **words = NULL;
        int r = split_words(trimmed, &words, err);
        if (r < 0) {
            return r;
        }
        json_t *ports = cfg_obj(cfg, "ExposedPorts");
        STRV_FOREACH(w, words)
        {
            char *slash = strchr(*w, '/');
            const char *num = *w;
            size_t nl = slash ? (size_t)(slash - *w) : strlen(*w);
            bool ok =
                nl > 0 && nl <= 5 && strspn(num, "0123456789") == nl &&
                (!slash || streq(slash, "/tcp") || streq(slash, "/udp") || streq(slash, "/sctp"));
            if (!ok || strtol(num, NULL, 10) > 65535) {
                return berth_error_set(err, EINVAL, "EXPOSE: invalid port '%s'", *w);
            }
            _cleanup_free_ char *key = slash ? xstrdup(*w) : xasprintf("%s/tcp", *w);
            json_object_set_new(ports, key, json_object());
        }
    } else if (streq(kw, "VOLUME")) {
        _cleanup_json_ json_t *list = cmd_form(trimmed, false, err);
        if (!list) {
            return -EINVAL;
        }
        json_t *vols = cfg_obj(cfg, "Volumes");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            if (!*json_string_value(v)) {
                return berth_error_set(err, EINVAL, "VOLUME specified can not be an empty string");
            }
            json_object_set_new(vols, json_string_value(v), json_object());
        }
    } else if (streq(kw, "WORKDIR")) {
        const char *old = json_string_value(json_object_get(cfg, "WorkingDir"));
        _cleanup_free_ char *dir = NULL;
        if (trimmed[0] == '/') {
            dir = xstrdup(trimmed);
        } else {
            dir = xasprintf("%s/%s", old && *old ? old : "", trimmed);
        }
        json_object_set_new(cfg, "WorkingDir", json_string(dir));
    } else if (streq(kw, "USER")) {
        json_object_set_new(cfg, "User", json_string(trimmed));
    } else if (streq(kw, "STOPSIGNAL")) {
        if (!*trimmed) {
            return berth_error_set(err, EINVAL, "STOPSIGNAL requires exactly one argument");
        }
        json_object_set_new(cfg, "StopSignal", json_string(trimmed));
    } else {
        return berth_error_set(err, EINVAL, "%s is not a valid change command", kw);
    }
    return 0;
}

/* RFC 3339 with nanoseconds, as Go writes times into image configs. */
static char *now_rfc3339(void)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

/* commit: the parent's document, its "config" replaced by o->config,
 * extended by the new layer's diff_id and one history entry. */
static int commit_config(const struct image_import_options *o, const struct image_info *parent,
                         const char *diff_id, char **ret, struct berth_error **err)
{
    if (!parent->config || !json_is_object(parent->config->json)) {
        return berth_error_set(err, EINVAL, "image '%s' has no config", parent->id);
    }
    _cleanup_json_ json_t *doc = json_deep_copy(parent->config->json);
    _cleanup_free_ char *created = now_rfc3339();
    json_t *config = o->config ? json_deep_copy(o->config) : NULL;
    if (!config) {
        config = json_deep_copy(json_object_get(doc, "config"));
    }
    if (!json_is_object(config)) {
        json_decref(config);
        config = json_object();
    }
    json_object_set_new(doc, "config", config);
    json_object_del(doc, "container_config");
    json_object_set_new(doc, "created", json_string(created));
    if (o->author && *o->author) {
        json_object_set_new(doc, "author", json_string(o->author));
    } else {
        json_object_del(doc, "author");
    }
    if (o->message && *o->message) {
        json_object_set_new(doc, "comment", json_string(o->message));
    } else {
        json_object_del(doc, "comment");
    }
    json_t *rootfs = json_object_get(doc, "rootfs");
    if (!json_is_object(rootfs)) {
        rootfs = json_pack("{s:s,s:[]}", "type", "layers", "diff_ids");
        json_object_set_new(doc, "rootfs", rootfs);
    }
    json_t *ids = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(ids)) {
        ids = json_array();
        json_object_set_new(rootfs, "diff_ids", ids);
    }
    json_array_append_new(ids, json_string(diff_id));
    json_t *history = json_object_get(doc, "history");
    if (!json_is_array(history)) {
        history = json_array();
        json_object_set_new(doc, "history", history);
    }
    json_t *h = json_pack("{s:s}", "created", created);
    if (o->created_by && *o->created_by) {
        json_object_set_new(h, "created_by", json_string(o->created_by));
    }
    if (o->author && *o->author) {
        json_object_set_new(h, "author", json_string(o->author));
    }
    if (o->message && *o->message) {
        json_object_set_new(h, "comment", json_string(o->message));
    }
    json_array_append_new(history, h);
    STRV_FOREACH(c, (char **)o->changes)
    {
        int r = apply_change(config, *c, err);
        if (r < 0) {
            return berth_error_prefix(err, "--change '%s'", *c);
        }
    }
    *ret = json_dumps(doc, JSON_COMPACT);
    return 0;
}

static int import_config(const struct image_import_options *o, const struct image_info *parent,
                         const char *diff_id, char **ret, struct berth_error **err)
{
    if (parent) {
        return commit_config(o, parent, diff_id, ret, err);
    }
    const char *platform = o->platform && *o->platform ? o->platform : platform_host();
    _cleanup_strv_free_ char **pp = strv_split(platform, "/");
    size_t np = strv_length(pp);
    if (np < 2 || np > 3 || !*pp[0] || !*pp[1] || (np == 3 && !*pp[2])) {
        return berth_error_set(err, EINVAL, "invalid platform '%s': expected os/arch[/variant]",
                               platform);
    }
    _cleanup_free_ char *created = now_rfc3339();
    _cleanup_free_ char *msg =
        o->message && *o->message
            ? xstrdup(o->message)
            : xasprintf("Imported from %s", o->source && *o->source ? o->source : "-");
    json_t *config = json_object();
    _cleanup_json_ json_t *doc =
        json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:[s]},s:[{s:s,s:s}]}", "architecture", pp[1], "os",
                  pp[0], "created", created, "comment", msg, "config", config, "rootfs", "type",
                  "layers", "diff_ids", diff_id, "history", "created", created, "comment", msg);
    if (np == 3) {
        json_object_set_new(doc, "variant", json_string(pp[2]));
    }
    STRV_FOREACH(c, (char **)o->changes)
    {
        int r = apply_change(config, *c, err);
        if (r < 0) {
            return berth_error_prefix(err, "--change '%s'", *c);
        }
    }
    *ret = json_dumps(doc, JSON_COMPACT);
    return 0;
}

int image_import(struct store *s, int fd, const struct image_import_options *o, char **ret_id,
                 struct berth_error **err)
{
    _cleanup_free_ char *tag = NULL, *body = NULL;
    char cfg_digest[72] = "";
    bool cfg_new = false;
    struct ingested in = {0};
    struct layer_set ls = {0};
    /* Flags first: a bad --change must not cost a read of the whole input. */
    int r = 0;
    _cleanup_(image_info_freep) struct image_info *parent = NULL;
    if (o->repository) {
        r = norm_tag(o->repository, &tag, err);
    }
    if (r >= 0 && o->parent) {
        r = image_get(s, o->parent, &parent, err);
    }
    if (r >= 0) {
        r = import_config(o, parent, "sha256:0", &body, err);
        free(TAKE_PTR(body));
    }
    if (r < 0) {
        return r;
    }
    /* Shared from the first blob write to the record (store.h). */
    _cleanup_close_ int gc_fd = -1;
    r = store_gc_lock_shared(s, &gc_fd, err);
    if (r < 0) {
        return r;
    }
    struct ingest g;
    r = ingest_begin(s, -1, &g, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *buf = xmalloc(COPY_BUF);
    for (;;) {
        ssize_t n = read(fd, buf, COPY_BUF);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r = berth_error_sys(err, errno, "read input");
            break;
        }
        if (n == 0) {
            break;
        }
        r = ingest_feed(buf, (size_t)n, &g, err);
        if (r < 0) {
            break;
        }
    }
    if (r < 0) {
        ingest_release(&g);
        return berth_error_prefix(err, "import");
    }
    r = ingest_end(&g, &in, err);
    if (r < 0) {
        return berth_error_prefix(err, "import");
    }
    /* The layer's chain: alone, or (commit) on the parent's. */
    size_t k = parent ? parent->n_layers : 0;
    _cleanup_free_ const char **blobs = xcalloc(k + 1, sizeof(char *));
    _cleanup_free_ struct image_layer_rec *recs = xcalloc(k + 1, sizeof(*recs));
    char chain[72];
    snprintf(chain, sizeof(chain), "%s", in.diff_id);
    for (size_t i = 0; i < k; i++) {
        recs[i] = parent->layers[i];
        blobs[i] = parent->layers[i].blob_digest;
        if (!blobs[i] && streq(s->driver, "vfs")) {
            r = berth_error_set(err, ENOTSUP, "layer '%s' of image '%s' has no stored blob",
                                parent->layers[i].chain_id, parent->id);
        }
    }
    if (k > 0) {
        layer_chain_id(parent->layers[k - 1].chain_id, in.diff_id, chain);
    }
    blobs[k] = in.digest;
    if (r >= 0) {
        r = layer_ensure(s, &ls, chain, blobs, k, err);
    }
    if (r >= 0) {
        r = import_config(o, parent, in.diff_id, &body, err);
    }
    if (r >= 0) {
        digest_of(body, strlen(body), cfg_digest);
        cfg_new = !blob_exists(s->blobs, cfg_digest);
        r = blob_put(s->blobs, body, strlen(body), NULL, err);
    }
    if (r >= 0) {
        _cleanup_(image_config_freep) struct image_config *cfg = NULL;
        r = image_config_parse(body, strlen(body), &cfg, err);
        recs[k] = (struct image_layer_rec){
            .chain_id = chain,
            .diff_id = in.diff_id,
            .blob_digest = in.digest,
            .media_type = (char *)layer_media_type(in.compression),
            .size = ls.n ? ls.l[0].size : 0,
            .blob_size = in.size,
        };
        struct image_add a = {
            .id = cfg_digest,
            .created = cfg ? cfg->created : NULL,
            .layers = recs,
            .n_layers = k + 1,
            .tag = tag,
        };
        if (r >= 0) {
            r = image_record_add(s, &a, NULL, err);
        }
    }
    layer_set_release(s, &ls);
    gc_fd = safe_close(gc_fd);
    /* Ours and unreferenced (a failure): removed now unless another
     * operation holds the GC lock, else by a later prune. */
    char *garbage[3] = {NULL};
    size_t n_garbage = 0;
    if (r < 0 && in.blob_new) {
        garbage[n_garbage++] = in.digest;
    }
    if (r < 0 && cfg_new) {
        garbage[n_garbage++] = cfg_digest;
    }
    if (n_garbage > 0) {
        (void)image_gc_blobs(s, garbage, false, NULL, NULL);
    }
    if (r < 0) {
        return berth_error_prefix(err, "import");
    }
    *ret_id = xstrdup(cfg_digest);
    return 0;
}
