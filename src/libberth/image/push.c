/* push.c - push a local image to a registry (see push.h).
 *
 * Everything that reads the metadata db happens on the calling thread
 * before the upload threads start (the db handle is not shared between
 * threads): the image record, the stored manifest, and the repositories
 * each layer blob could be mounted from. The threads then only talk to the
 * registry and read blob files.
 */
#include "push.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "basic/alloc.h"
#include "basic/log.h"
#include "basic/strv.h"
#include "libberth/common/dl.h"
#include "libberth/image/images.h"
#include "libberth/image/manifest.h"
#include "libberth/image/reference.h"

#define DEFAULT_PARALLEL 3
#define MAX_PARALLEL 16
#define DEFAULT_CHUNK (16u << 20)
#define MAX_MOUNT_TRIES 3
#define GZIP_BUF (1u << 20)

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_DOCKER_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"

struct push;

struct push_job {
    struct push *p;
    const struct image_layer_rec *layer;
    char short_id[13];
    char **mount_from; /* repository paths of the same registry */
    uint64_t size;
};

struct push {
    struct store *s;
    struct registry *reg;
    const struct push_options *opts;
    const char *path; /* target repository path ("library/x") */
    pthread_mutex_t lock;
    struct push_job *jobs;
    size_t n_jobs, next_job;
    bool failed;
    struct berth_error *err; /* first failure of a worker */
    int err_r;
    bool not_local; /* the error is Docker's "does not exist locally": no prefix */
};

static void emit(struct push *p, const struct push_event *ev)
{
    if (!p->opts || !p->opts->progress) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->opts->progress(ev, p->opts->userdata);
    pthread_mutex_unlock(&p->lock);
}

static void emit_layer(struct push *p, enum push_event_kind kind, const char *id,
                       const char *detail, uint64_t cur, uint64_t total)
{
    struct push_event ev = {
        .kind = kind, .id = id, .detail = detail, .current = cur, .total = total};
    emit(p, &ev);
}

void push_result_release(struct push_result *r)
{
    if (!r) {
        return;
    }
    free(r->digest);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

static void on_upload_progress(uint64_t done, void *userdata)
{
    struct push_job *j = userdata;
    emit_layer(j->p, PUSH_EV_PUSHING, j->short_id, NULL, done, j->size);
}

/* One layer: HEAD, else a mount from a sibling repository, else upload. */
static int run_job(struct push_job *j, struct berth_error **err)
{
    struct push *p = j->p;
    const char *digest = j->layer->blob_digest;
    int r = registry_blob_exists(p->reg, p->path, digest, NULL, err);
    if (r < 0) {
        return r;
    }
    if (r > 0) {
        emit_layer(p, PUSH_EV_EXISTS, j->short_id, NULL, 0, 0);
        return 0;
    }
    for (size_t k = 0; j->mount_from && j->mount_from[k]; k++) {
        struct berth_error *merr = NULL;
        r = registry_blob_mount(p->reg, p->path, digest, j->mount_from[k], &merr);
        if (r > 0) {
            emit_layer(p, PUSH_EV_MOUNTED, j->short_id, j->mount_from[k], 0, 0);
            return 0;
        }
        /* A refused mount (no pull access to the source, say) is not fatal:
         * the upload below still can succeed. */
        if (r < 0) {
            log_debug("mount '%s' from '%s': %s", digest, j->mount_from[k],
                      merr && merr->msg ? merr->msg : "failed");
        }
        berth_error_free(merr);
    }
    _cleanup_close_ int fd = -1;
    r = blob_open(p->s->blobs, digest, &fd, err);
    if (r < 0) {
        return r;
    }
    int64_t have = blob_size(p->s->blobs, digest);
    if (have < 0) {
        return berth_error_set(err, (int)-have, "blob '%s' not in the store", digest);
    }
    j->size = (uint64_t)have;
    emit_layer(p, PUSH_EV_PUSHING, j->short_id, NULL, 0, j->size);
    uint64_t chunk = p->opts && p->opts->chunk_size ? p->opts->chunk_size : DEFAULT_CHUNK;
    r = registry_blob_upload(p->reg, p->path, digest, fd, j->size, chunk, on_upload_progress, j,
                             err);
    if (r < 0) {
        return r;
    }
    emit_layer(p, PUSH_EV_PUSHED, j->short_id, NULL, j->size, j->size);
    return 0;
}

static void *worker(void *arg)
{
    struct push *p = arg;
    sigset_t set;
    /* A connection the registry closes must fail the write, not kill us. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct push_job *j = NULL;
        if (!p->failed && p->next_job < p->n_jobs) {
            j = &p->jobs[p->next_job++];
        }
        pthread_mutex_unlock(&p->lock);
        if (!j) {
            return NULL;
        }
        struct berth_error *e = NULL;
        int r = run_job(j, &e);
        if (r < 0) {
            berth_error_prefix(&e, "layer %s", j->short_id);
            pthread_mutex_lock(&p->lock);
            if (!p->failed) {
                p->failed = true;
                p->err = TAKE_PTR(e);
                p->err_r = r;
            }
            pthread_mutex_unlock(&p->lock);
            berth_error_free(e);
            return NULL;
        }
    }
}

/* Repository paths of the same registry, other than the target, that the
 * blob was pulled from or pushed to (repo digests of the images holding
 * it). */
static char **mount_sources(struct store *s, const char *domain, const char *path,
                            const char *blob_digest)
{
    char **l = xcalloc(1, sizeof(char *));
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    if (db_query(s->db, &st, NULL,
                 "SELECT DISTINCT rd.repo FROM repo_digests rd"
                 " JOIN image_layers il ON il.image_id = rd.image_id"
                 " JOIN layers l ON l.chain_id = il.chain_id"
                 " WHERE l.blob_digest = ? ORDER BY rd.repo",
                 "s", blob_digest) < 0) {
        return l;
    }
    size_t dlen = strlen(domain);
    while (db_step(st, NULL) > 0 && strv_length(l) < MAX_MOUNT_TRIES) {
        const char *repo = db_text(st, 0);
        if (repo && strncmp(repo, domain, dlen) == 0 && repo[dlen] == '/' &&
            !streq(repo + dlen + 1, path)) {
            strv_push(&l, repo + dlen + 1);
        }
    }
    return l;
}

/* The stored manifest, if it still describes exactly this image: its
 * config and its layer blobs in order. */
static int stored_manifest(struct store *s, const struct image_info *info, char **ret_body,
                           size_t *ret_len, char **ret_media_type)
{
    if (!info->manifest_digest || !blob_exists(s->blobs, info->manifest_digest)) {
        return 0;
    }
    _cleanup_free_ char *body = NULL;
    size_t len = 0;
    if (blob_read(s->blobs, info->manifest_digest, MANIFEST_MAX, &body, &len, NULL) < 0) {
        return 0;
    }
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    if (manifest_parse(body, len, NULL, &m, NULL) < 0 || m->kind != MANIFEST_IMAGE) {
        return 0;
    }
    if (!streq(m->config.digest, info->id) || m->n_layers != info->n_layers) {
        return 0;
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        const char *b = info->layers[i].blob_digest;
        if (!b || !streq(b, m->layers[i].digest)) {
            return 0;
        }
    }
    *ret_media_type = xstrdup(m->media_type);
    *ret_body = TAKE_PTR(body);
    *ret_len = len;
    return 1;
}

static bool is_oci_type(const char *t)
{
    return t && strncmp(t, "application/vnd.oci.", 20) == 0;
}

/* A layer media type in the manifest's flavour: gzip layers have a name in
 * both; others (zstd, plain tar) exist only in OCI, so a Docker manifest
 * keeps them as recorded. */
static const char *layer_media_type(const char *recorded, bool oci)
{
    bool gzip = !recorded || streq(recorded, MT_OCI_LAYER_GZIP) ||
                streq(recorded, MT_DOCKER_LAYER_GZIP) ||
                streq(recorded, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");
    if (gzip) {
        return oci ? MT_OCI_LAYER_GZIP : MT_DOCKER_LAYER_GZIP;
    }
    return recorded;
}

static json_t *descriptor_json(const char *media_type, const char *digest, int64_t size)
{
    json_t *o = json_object();
    json_object_set_new(o, "mediaType", json_string(media_type));
    json_object_set_new(o, "size", json_integer(size));
    json_object_set_new(o, "digest", json_string(digest));
    return o;
}

/* A new manifest from the records, OCI when the image was pulled as OCI,
 * else Docker schema 2 (what `docker push` writes). */
static int build_manifest(struct store *s, const struct image_info *info, const char *pulled_as,
                          char **ret_body, size_t *ret_len, char **ret_media_type,
                          struct berth_error **err)
{
    bool oci = is_oci_type(pulled_as);
    for (size_t i = 0; i < info->n_layers; i++) {
        if (!oci && is_oci_type(info->layers[i].media_type) &&
            !streq(info->layers[i].media_type, MT_OCI_LAYER_GZIP)) {
            oci = true; /* zstd or plain layers: only OCI can name them */
        }
    }
    int64_t cfg_size = blob_size(s->blobs, info->id);
    if (cfg_size < 0) {
        return berth_error_set(err, (int)-cfg_size, "config blob '%s' not in the store", info->id);
    }
    json_t *m = json_object();
    json_object_set_new(m, "schemaVersion", json_integer(2));
    json_object_set_new(m, "mediaType", json_string(oci ? MT_OCI_MANIFEST : MT_DOCKER_MANIFEST));
    json_object_set_new(
        m, "config", descriptor_json(oci ? MT_OCI_CONFIG : MT_DOCKER_CONFIG, info->id, cfg_size));
    json_t *layers = json_array();
    for (size_t i = 0; i < info->n_layers; i++) {
        const struct image_layer_rec *l = &info->layers[i];
        json_array_append_new(layers, descriptor_json(layer_media_type(l->media_type, oci),
                                                      l->blob_digest, l->blob_size));
    }
    json_object_set_new(m, "layers", layers);
    char *body = json_dumps(m, JSON_PRESERVE_ORDER | JSON_INDENT(3));
    json_decref(m);
    if (!body) {
        return berth_error_set(err, ENOMEM, "serialise manifest");
    }
    *ret_len = strlen(body);
    *ret_body = body;
    *ret_media_type = xstrdup(oci ? MT_OCI_MANIFEST : MT_DOCKER_MANIFEST);
    return 0;
}

/* zlib's deflate, dlopen()ed on first use as decompress.c does for inflate:
 * only a push of a loaded image needs it. */
#define ZD_SYMBOLS(X) X(deflateInit2_) X(deflate) X(deflateEnd)
DEFINE_DL_LIB(zd, ZD_SYMBOLS, "libz.so.1", "zlib1g")

/* Whether a layer's stored blob is the plain diff tar (load keeps layers
 * as the archive carried them: docker-archive layers are uncompressed). */
static bool blob_is_plain_tar(const struct image_layer_rec *l)
{
    return streq(l->blob_digest, l->diff_id) ||
           (l->media_type &&
            (streq(l->media_type, MT_OCI_LAYER_TAR) || streq(l->media_type, MT_DOCKER_LAYER_TAR)));
}

/* gzip the stored blob `digest` into a new blob; its digest and size. */
static int gzip_blob(struct store *s, const char *digest, char **ret_digest, int64_t *ret_size,
                     struct berth_error **err)
{
    int r = zd_load(err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int fd = -1;
    r = blob_open(s->blobs, digest, &fd, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
    r = blob_writer_new(s->blobs, NULL, -1, UINT64_MAX, &w, err);
    if (r < 0) {
        return r;
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* 16 + MAX_WBITS: a gzip wrapper; no name or time in it, so the same
     * tar always makes the same blob (as `gzip -n`). */
    if (zd.deflateInit2_(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY, ZLIB_VERSION, (int)sizeof(z)) != Z_OK) {
        return berth_error_set(err, ENOMEM, "zlib: deflateInit2 failed");
    }
    _cleanup_free_ unsigned char *in = xmalloc(GZIP_BUF), *out = xmalloc(GZIP_BUF);
    bool eof = false;
    while (r >= 0) {
        if (!eof && z.avail_in == 0) {
            ssize_t n = read(fd, in, GZIP_BUF);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                r = berth_error_sys(err, errno, "read blob '%s'", digest);
                break;
            }
            eof = n == 0;
            z.next_in = in;
            z.avail_in = (uInt)n;
        }
        z.next_out = out;
        z.avail_out = GZIP_BUF;
        int zr = zd.deflate(&z, eof ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR) {
            r = berth_error_set(err, EIO, "zlib: deflate failed");
            break;
        }
        size_t have = GZIP_BUF - z.avail_out;
        if (have > 0) {
            r = blob_writer_write(w, out, have, err);
        }
        if (zr == Z_STREAM_END) {
            break;
        }
    }
    zd.deflateEnd(&z);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *d = NULL;
    r = blob_writer_commit(TAKE_PTR(w), &d, err);
    if (r < 0) {
        return r;
    }
    int64_t size = blob_size(s->blobs, d);
    if (size < 0) {
        return berth_error_set(err, (int)-size, "blob '%s' vanished", d);
    }
    *ret_digest = TAKE_PTR(d);
    *ret_size = size;
    return 0;
}

/* A layer stored as a plain tar gets a gzip blob before the push, as
 * `docker push` compresses a loaded image's layers. The layer record then
 * names the gzip blob (the diff_id does not change: same tar), so the
 * next push reuses it. The plain blob stays: a concurrent save or push may
 * be reading it; once nothing names it, `image prune` collects it under the
 * GC lock (store.h), as it does a gzip blob whose record update failed. */
static int compress_layer(struct store *s, struct image_layer_rec *l, struct berth_error **err)
{
    _cleanup_free_ char *gz = NULL;
    int64_t size = 0;
    int r = gzip_blob(s, l->blob_digest, &gz, &size, err);
    if (r < 0) {
        return r;
    }
    r = db_run(s->db, err,
               "UPDATE layers SET blob_digest = ?, blob_size = ?, media_type = ?"
               " WHERE blob_digest = ?",
               "siss", gz, size, MT_DOCKER_LAYER_GZIP, l->blob_digest);
    if (r < 0) {
        return r;
    }
    free(l->blob_digest);
    free(l->media_type);
    l->blob_digest = TAKE_PTR(gz);
    l->blob_size = size;
    l->media_type = xstrdup(MT_DOCKER_LAYER_GZIP);
    return 0;
}

/* Every layer has a stored blob to push, gzip-compressed (see
 * compress_layer); done on this thread, before the uploads, as it writes
 * the db. */
static int prepare_layers(struct store *s, struct image_info *info, struct berth_error **err)
{
    for (size_t i = 0; i < info->n_layers; i++) {
        struct image_layer_rec *l = &info->layers[i];
        char short_id[13];
        snprintf(short_id, sizeof(short_id), "%.12s", l->diff_id + 7);
        if (!l->blob_digest || !blob_exists(s->blobs, l->blob_digest)) {
            /* A tar remade from the layer directory would not hash to the
             * config's diff_id (see archive.h): nothing valid to push. */
            return berth_error_set(err, ENOTSUP, "layer %s has no stored blob to push", short_id);
        }
        if (!blob_is_plain_tar(l)) {
            continue;
        }
        _cleanup_free_ char *old = xstrdup(l->blob_digest);
        int r = compress_layer(s, l, err);
        if (r < 0) {
            return berth_error_prefix(err, "layer %s: compress", short_id);
        }
        /* The same diff higher up (compress_layer updated its record too). */
        for (size_t k = i + 1; k < info->n_layers; k++) {
            struct image_layer_rec *o = &info->layers[k];
            if (o->blob_digest && streq(o->blob_digest, old)) {
                free(o->blob_digest);
                free(o->media_type);
                o->blob_digest = xstrdup(l->blob_digest);
                o->media_type = xstrdup(l->media_type);
                o->blob_size = l->blob_size;
            }
        }
    }
    return 0;
}

static int upload_layers(struct push *p, const struct image_ref *ref, const struct image_info *info,
                         struct berth_error **err)
{
    struct store *s = p->s;
    p->jobs = xcalloc(info->n_layers ? info->n_layers : 1, sizeof(*p->jobs));
    p->n_jobs = p->next_job = 0;
    p->failed = false;
    for (size_t i = 0; i < info->n_layers; i++) {
        const struct image_layer_rec *l = &info->layers[i];
        char short_id[13];
        snprintf(short_id, sizeof(short_id), "%.12s", l->diff_id + 7);
        bool dup = false;
        for (size_t k = 0; k < p->n_jobs; k++) {
            dup |= streq(p->jobs[k].layer->blob_digest, l->blob_digest);
        }
        if (dup) {
            continue;
        }
        struct push_job *j = &p->jobs[p->n_jobs++];
        j->p = p;
        j->layer = l;
        memcpy(j->short_id, short_id, sizeof(short_id));
        j->mount_from = mount_sources(s, ref->domain, ref->path, l->blob_digest);
        j->size = l->blob_size > 0 ? (uint64_t)l->blob_size : 0;
    }
    unsigned par = p->opts && p->opts->parallel ? p->opts->parallel : DEFAULT_PARALLEL;
    par = par > MAX_PARALLEL ? MAX_PARALLEL : par;
    /* Docker lists the layers top first. */
    for (size_t k = p->n_jobs; k-- > 0;) {
        emit_layer(p, PUSH_EV_PREPARING, p->jobs[k].short_id, NULL, 0, 0);
    }
    for (size_t k = p->n_jobs; k-- > par;) {
        emit_layer(p, PUSH_EV_WAITING, p->jobs[k].short_id, NULL, 0, 0);
    }
    if (par > p->n_jobs) {
        par = (unsigned)p->n_jobs;
    }
    pthread_t th[MAX_PARALLEL];
    unsigned started = 0;
    for (unsigned t = 0; t < par; t++) {
        if (pthread_create(&th[t], NULL, worker, p) != 0) {
            break;
        }
        started++;
    }
    if (started == 0 && p->n_jobs > 0) {
        return berth_error_sys(err, EAGAIN, "start push threads");
    }
    for (unsigned t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
    }
    if (p->failed) {
        if (err && !*err) {
            *err = TAKE_PTR(p->err);
        }
        return p->err_r;
    }
    return 0;
}

static void release_jobs(struct push *p)
{
    for (size_t k = 0; k < p->n_jobs; k++) {
        strv_free(p->jobs[k].mount_from);
    }
    free(p->jobs);
    p->jobs = NULL;
    p->n_jobs = p->next_job = 0;
    berth_error_free(TAKE_PTR(p->err));
}

/* The config, like a layer: HEAD, mount from a repository of the same
 * registry the image was pulled from or pushed to, else upload. */
static int upload_config(struct push *p, const struct image_ref *ref, const struct image_info *info,
                         struct berth_error **err)
{
    int r = registry_blob_exists(p->reg, p->path, info->id, NULL, err);
    if (r != 0) {
        return r < 0 ? r : 0;
    }
    size_t dlen = strlen(ref->domain);
    for (size_t k = 0; info->digests[k]; k++) {
        _cleanup_free_ char *from = xstrdup(info->digests[k]);
        char *at = strrchr(from, '@');
        if (!at || strncmp(from, ref->domain, dlen) != 0 || from[dlen] != '/') {
            continue;
        }
        *at = '\0';
        if (streq(from + dlen + 1, ref->path)) {
            continue;
        }
        if (registry_blob_mount(p->reg, p->path, info->id, from + dlen + 1, NULL) > 0) {
            return 0;
        }
    }
    _cleanup_close_ int fd = -1;
    r = blob_open(p->s->blobs, info->id, &fd, err);
    if (r < 0) {
        return r;
    }
    int64_t size = blob_size(p->s->blobs, info->id);
    if (size < 0) {
        return berth_error_set(err, (int)-size, "config blob '%s' not in the store", info->id);
    }
    uint64_t chunk = p->opts && p->opts->chunk_size ? p->opts->chunk_size : DEFAULT_CHUNK;
    return registry_blob_upload(p->reg, p->path, info->id, fd, (uint64_t)size, chunk, NULL, NULL,
                                err);
}

/* Push one local tag (full normalised "domain/path:tag") to ref's repository. */
static int push_one(struct push *p, const struct image_ref *ref, const char *image_id,
                    char **ret_digest, struct berth_error **err)
{
    struct store *s = p->s;
    /* Shared for the whole push (store.h): the blobs it reads, and the gzip
     * blob it may write before its record names it, stay while it runs. */
    _cleanup_close_ int gc_fd = -1;
    int r = store_gc_lock_shared(s, &gc_fd, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(image_info_freep) struct image_info *info = NULL;
    r = image_get(s, image_id, &info, err);
    if (r < 0) {
        return r;
    }
    r = prepare_layers(s, info, err);
    if (r < 0) {
        return r;
    }
    /* After prepare_layers: a stored manifest naming a plain layer that was
     * just compressed no longer describes what goes out. */
    _cleanup_free_ char *body = NULL, *media_type = NULL, *pulled_as = NULL;
    size_t len = 0;
    if (stored_manifest(s, info, &body, &len, &media_type) == 0) {
        (void)db_get_text(s->db, &pulled_as, NULL,
                          "SELECT manifest_media_type FROM images WHERE id = ?", "s", info->id);
        r = build_manifest(s, info, pulled_as, &body, &len, &media_type, err);
        if (r < 0) {
            return r;
        }
    }
    r = upload_layers(p, ref, info, err);
    release_jobs(p);
    if (r < 0) {
        return r;
    }
    r = upload_config(p, ref, info, err);
    if (r < 0) {
        return berth_error_prefix(err, "config");
    }
    _cleanup_free_ char *digest = NULL;
    r = registry_put_manifest(p->reg, ref->path, ref->tag, media_type, body, len, &digest, err);
    if (r < 0) {
        return berth_error_prefix(err, "manifest");
    }
    if (!digest) {
        char d[72];
        digest_of(body, len, d);
        digest = xstrdup(d);
    }
    struct push_event ev = {
        .kind = PUSH_EV_DIGEST, .detail = ref->tag, .digest = digest, .total = len};
    emit(p, &ev);
    /* As Docker records RepoDigests after a push; later pushes can mount
     * from this repository. Not fatal: the push itself succeeded. */
    _cleanup_free_ char *repo = image_ref_repository(ref);
    struct berth_error *e = NULL;
    if (db_run(s->db, &e,
               "INSERT OR REPLACE INTO repo_digests(repo, digest, image_id) VALUES(?, ?, ?)", "sss",
               repo, digest, info->id) < 0) {
        log_debug("record repo digest '%s@%s': %s", repo, digest, e ? e->msg : "");
    }
    berth_error_free(e);
    *ret_digest = TAKE_PTR(digest);
    return 0;
}

/* Every local tag of repo ("domain/path"), sorted. */
static int repo_tags(struct store *s, const char *repo, char ***ret_tags, char ***ret_ids,
                     struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    _cleanup_free_ char *prefix = xasprintf("%s:", repo);
    int r = db_query(s->db, &st, err,
                     "SELECT name, image_id FROM tags WHERE substr(name, 1, ?) = ? ORDER BY name",
                     "is", (int64_t)strlen(prefix), prefix);
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **tags = xcalloc(1, sizeof(char *));
    _cleanup_strv_free_ char **ids = xcalloc(1, sizeof(char *));
    while ((r = db_step(st, err)) > 0) {
        const char *tag = db_text(st, 0) + strlen(prefix);
        /* "host:5000/a" and "host:5000/a/b" share no prefix with ':' after
         * the repository, but a tag never contains '/': be sure. */
        if (strchr(tag, '/')) {
            continue;
        }
        strv_push(&tags, tag);
        strv_push(&ids, db_text(st, 1));
    }
    if (r < 0) {
        return r;
    }
    *ret_tags = TAKE_PTR(tags);
    *ret_ids = TAKE_PTR(ids);
    return 0;
}

static int do_push(struct push *p, const char *name, struct push_result *ret,
                   struct berth_error **err)
{
    struct store *s = p->s;
    bool all = p->opts && p->opts->all_tags;
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    int r = image_ref_parse(name, &ref, err);
    if (r < 0) {
        return r;
    }
    if (ref->digest) {
        return berth_error_set(err, EINVAL, "cannot push a digest reference");
    }
    _cleanup_free_ char *repo = image_ref_repository(ref);
    _cleanup_free_ char *familiar_repo = image_ref_familiar_repository(ref);
    /* image_ref_parse defaults the tag: with --all-tags a tag given by the
     * user shows as a ':' after the last '/'. */
    const char *slash = strrchr(name, '/');
    bool explicit_tag = strchr(slash ? slash : name, ':') != NULL;
    if (all && explicit_tag) {
        return berth_error_set(err, EINVAL, "tag can't be used with --all-tags/-a");
    }
    _cleanup_strv_free_ char **tags = NULL, **ids = NULL;
    if (all) {
        r = repo_tags(s, repo, &tags, &ids, err);
        if (r < 0) {
            return r;
        }
    } else {
        _cleanup_free_ char *full = xasprintf("%s:%s", repo, ref->tag);
        _cleanup_free_ char *id = NULL;
        r = db_get_text(s->db, &id, err, "SELECT image_id FROM tags WHERE name = ?", "s", full);
        if (r < 0 && r != -ENOENT) {
            return r;
        }
        tags = xcalloc(1, sizeof(char *));
        ids = xcalloc(1, sizeof(char *));
        if (r == 0) {
            strv_push(&tags, ref->tag);
            strv_push(&ids, id);
        }
    }
    if (!tags[0]) {
        if (err && *err) {
            berth_error_free(TAKE_PTR(*err));
        }
        p->not_local = true;
        return berth_error_set(err, ENOENT, "An image does not exist locally with the tag: %s",
                               familiar_repo);
    }
    r = registry_new(ref->domain, p->opts ? p->opts->registry : NULL, &p->reg, err);
    if (r < 0) {
        return r;
    }
    p->path = ref->path;
    struct push_event ev = {.kind = PUSH_EV_REPOSITORY, .detail = repo};
    emit(p, &ev);
    _cleanup_free_ char *digest = NULL;
    for (size_t k = 0; tags[k]; k++) {
        free(ref->tag);
        ref->tag = xstrdup(tags[k]);
        free(TAKE_PTR(digest));
        r = push_one(p, ref, ids[k], &digest, err);
        if (r < 0) {
            if (all) {
                berth_error_prefix(err, "tag '%s'", tags[k]);
            }
            return r;
        }
    }
    ret->digest = TAKE_PTR(digest);
    ret->name = all ? xstrdup(repo) : image_ref_string(ref);
    return 0;
}

int image_push(struct store *s, const char *name, const struct push_options *opts,
               struct push_result *ret, struct berth_error **err)
{
    struct push p = {.s = s, .opts = opts};
    pthread_mutex_init(&p.lock, NULL);
    int r = do_push(&p, name, ret, err);
    if (r < 0 && !p.not_local) {
        berth_error_prefix(err, "push '%s'", name);
    }
    release_jobs(&p);
    registry_free(p.reg);
    pthread_mutex_destroy(&p.lock);
    return r;
}
