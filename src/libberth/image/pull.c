/* pull.c - pull an image from a registry into the store (see pull.h).
 *
 * Per missing layer two threads cooperate: a download thread receives the
 * compressed bytes (from the registry, or from a blob already stored by an
 * earlier, interrupted pull), writes them to the blob writer (which hashes
 * them) and to a decompressor whose output is hashed for the diff_id and
 * written into a pipe; an unpack thread reads the plain tar from the pipe
 * into the temp layer directory. Decompression and hashing overlap with the
 * writes to disk, and a few layers run at once. With the vfs driver each
 * layer holds the whole tree up to it, so layers are made one after another
 * and each starts by applying the stored blobs below it.
 */
#include "pull.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strv.h"
#include "libberth/common/digest.h"
#include "libberth/image/decompress.h"
#include "libberth/image/images.h"
#include "libberth/image/layer.h"
#include "libberth/image/manifest.h"
#include "libberth/image/reference.h"

#define CONFIG_MAX (8u << 20)
#define DEFAULT_PARALLEL 3
#define PIPE_SIZE (1 << 20)
#define PROGRESS_STEP (512 * 1024)

struct pull;

struct layer_job {
    struct pull *p;
    size_t index;
    const struct descriptor *desc;
    const char *diff_id;
    char chain[72];
    char short_id[13];
    int lock_fd;
    bool exists;   /* already in the store before this pull */
    bool blob_new; /* blob committed by this pull */
    bool done;     /* layer committed by this pull */
    struct layer_stats stats;
    /* streaming state */
    struct blob_writer *bw;
    struct decompressor *dec;
    struct digest *diff_hash;
    int pipe_w;
    uint64_t received, last_report;
    /* unpack thread */
    int pipe_r, diff_fd;
    enum layer_mode mode;
    int unpack_r;
    struct berth_error *unpack_err;
};

struct pull {
    struct store *s;
    struct registry *reg;
    const struct pull_options *opts;
    struct image_ref *ref;
    struct manifest *manifest;
    pthread_mutex_t lock;
    struct layer_job *jobs;
    size_t n_jobs, next_job;
    bool failed;
    struct berth_error *err; /* first failure of a worker */
    int err_r;
};

static void emit(struct pull *p, enum pull_event_kind kind, const char *id, uint64_t cur,
                 uint64_t total)
{
    if (!p->opts || !p->opts->progress) {
        return;
    }
    struct pull_event ev = {.kind = kind, .id = id, .current = cur, .total = total};
    pthread_mutex_lock(&p->lock);
    p->opts->progress(&ev, p->opts->userdata);
    pthread_mutex_unlock(&p->lock);
}

/* Decompressed bytes: hash for the diff_id, hand to the unpacker. */
static int on_plain(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    struct layer_job *j = userdata;
    digest_update(j->diff_hash, data, len);
    const char *b = data;
    while (len > 0) {
        ssize_t n = write(j->pipe_w, b, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* The unpacker stopped: its error is the one to report. */
            return berth_error_sys(err, errno, "feed the unpacker");
        }
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Compressed bytes from the registry or a stored blob. */
static int on_compressed(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    struct layer_job *j = userdata;
    int r;
    if (j->bw) {
        r = blob_writer_write(j->bw, data, len, err);
        if (r < 0) {
            return r;
        }
    }
    r = decompressor_feed(j->dec, data, len, err);
    if (r < 0) {
        return r;
    }
    j->received += len;
    if (j->bw && j->received - j->last_report >= PROGRESS_STEP) {
        j->last_report = j->received;
        emit(j->p, PULL_EV_DOWNLOADING, j->short_id, j->received,
             (uint64_t)(j->desc->size > 0 ? j->desc->size : 0));
    }
    return 0;
}

static void *unpack_thread(void *arg)
{
    struct layer_job *j = arg;
    j->unpack_r = layer_unpack(j->pipe_r, j->diff_fd, j->mode, NULL, &j->stats, &j->unpack_err);
    if (j->unpack_r >= 0) {
        /* libarchive may stop at the end-of-archive blocks; drain the rest
         * (padding) so the writer does not see a broken pipe. */
        char buf[65536];
        while (read(j->pipe_r, buf, sizeof(buf)) > 0) {
        }
    }
    close(j->pipe_r);
    j->pipe_r = -1;
    return NULL;
}

/* Run one unpack of a blob (stored, or downloaded when download is set)
 * into diff_fd; with want_diff_id the plain tar must hash to it. */
static int stream_layer(struct layer_job *j, const char *blob_digest, bool download,
                        const char *want_diff_id, int diff_fd, enum layer_mode mode,
                        struct berth_error **err)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        return berth_error_sys(err, errno, "pipe");
    }
    (void)fcntl(pfd[1], F_SETPIPE_SZ, PIPE_SIZE);
    j->pipe_r = pfd[0];
    j->pipe_w = pfd[1];
    j->diff_fd = diff_fd;
    j->mode = mode;
    j->unpack_r = 0;
    j->received = j->last_report = 0;
    j->diff_hash = digest_sha256_new();
    int r = decompressor_new(on_plain, j, 0, &j->dec, err);
    pthread_t th;
    bool started = false;
    if (r >= 0) {
        int e = pthread_create(&th, NULL, unpack_thread, j);
        if (e != 0) {
            r = berth_error_sys(err, e, "start unpack thread");
        } else {
            started = true;
        }
    }
    if (r >= 0) {
        if (download) {
            r = blob_writer_new(j->p->s->blobs, blob_digest, j->desc->size, UINT64_MAX, &j->bw,
                                err);
            if (r >= 0) {
                _cleanup_free_ char *repo = xstrdup(j->p->ref->path);
                r = registry_get_blob(j->p->reg, repo, blob_digest, j->desc->size, 0, on_compressed,
                                      j, err);
            }
        } else {
            r = blob_stream(j->p->s->blobs, blob_digest, on_compressed, j, err);
        }
        if (r >= 0) {
            r = decompressor_finish(j->dec, err);
        }
    }
    close(j->pipe_w);
    j->pipe_w = -1;
    if (started) {
        pthread_join(th, NULL);
    } else if (j->pipe_r >= 0) {
        close(j->pipe_r);
        j->pipe_r = -1;
    }
    /* A bad layer makes the unpacker stop and the feeder fail with EPIPE:
     * then the unpacker's error is the cause. A feeder that failed for
     * another reason (a full disk under the blob writer, a network error,
     * corrupt compressed data) cut the tar short: its error is the cause. */
    if (j->unpack_r < 0 && (r >= 0 || r == -EPIPE)) {
        if (err && *err && r < 0) {
            berth_error_free(*err);
            *err = NULL;
        }
        r = j->unpack_r;
        if (err) {
            *err = TAKE_PTR(j->unpack_err);
        }
    }
    berth_error_free(TAKE_PTR(j->unpack_err));
    if (r >= 0 && download) {
        emit(j->p, PULL_EV_VERIFYING, j->short_id, 0, 0);
        r = blob_writer_commit(TAKE_PTR(j->bw), NULL, err);
        if (r >= 0) {
            j->blob_new = true;
            emit(j->p, PULL_EV_DOWNLOADED, j->short_id, 0, 0);
        }
    }
    if (r >= 0 && want_diff_id) {
        char got[DIGEST_STR_SIZE];
        if (digest_final_str(j->diff_hash, got) < 0) {
            r = berth_error_set(err, EIO, "layer '%s': sha256 failed", blob_digest);
        } else if (!streq(got, want_diff_id)) {
            r = berth_error_set(err, EBADMSG,
                                "layer '%s': uncompressed digest %s does not match the config's "
                                "diff_id %s",
                                blob_digest, got, want_diff_id);
        }
    }
    blob_writer_free(TAKE_PTR(j->bw));
    decompressor_free(TAKE_PTR(j->dec));
    digest_free(TAKE_PTR(j->diff_hash));
    return r;
}

static int run_job(struct layer_job *j, struct berth_error **err)
{
    struct pull *p = j->p;
    bool vfs = streq(p->s->driver, "vfs");
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int diff_fd = -1;
    int r = layer_store_create(p->s->layers, &tmp, &diff_fd, err);
    if (r < 0) {
        return r;
    }
    if (vfs) {
        /* The tree below this layer, from the stored blobs of the layers
         * under it (all present: earlier jobs ran first). */
        for (size_t k = 0; k < j->index && r >= 0; k++) {
            r = stream_layer(j, p->jobs[k].desc->digest, false, NULL, diff_fd, LAYER_APPLY, err);
        }
    }
    if (r >= 0) {
        bool have_blob = blob_exists(p->s->blobs, j->desc->digest);
        r = stream_layer(j, j->desc->digest, !have_blob, j->diff_id, diff_fd,
                         vfs ? LAYER_APPLY : LAYER_OVERLAY, err);
    }
    if (r >= 0) {
        r = layer_store_commit(p->s->layers, tmp, j->chain, err);
    }
    if (r < 0) {
        layer_store_abort(p->s->layers, tmp);
        return berth_error_prefix(err, "layer %s", j->short_id);
    }
    j->done = true;
    emit(p, PULL_EV_COMPLETE, j->short_id, 0, 0);
    return 0;
}

static void *worker(void *arg)
{
    struct pull *p = arg;
    sigset_t set;
    /* Writes to a pipe whose reader failed must return EPIPE, not kill us. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct layer_job *j = NULL;
        while (!p->failed && p->next_job < p->n_jobs) {
            struct layer_job *c = &p->jobs[p->next_job++];
            if (!c->exists) {
                j = c;
                break;
            }
        }
        pthread_mutex_unlock(&p->lock);
        if (!j) {
            return NULL;
        }
        struct berth_error *e = NULL;
        int r = run_job(j, &e);
        if (r < 0) {
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

static int fetch_manifest(struct pull *p, const char *reference, char **ret_body, size_t *ret_len,
                          char **ret_digest, struct manifest **ret, struct berth_error **err)
{
    _cleanup_free_ char *body = NULL, *ctype = NULL, *digest = NULL;
    size_t len = 0;
    int r =
        registry_get_manifest(p->reg, p->ref->path, reference, &body, &len, &ctype, &digest, err);
    if (r < 0) {
        return r;
    }
    r = manifest_parse(body, len, ctype, ret, err);
    if (r < 0) {
        return berth_error_prefix(err, "manifest '%s'", digest);
    }
    *ret_body = TAKE_PTR(body);
    *ret_len = len;
    *ret_digest = TAKE_PTR(digest);
    return 0;
}

/* Store a small document (manifest, index, config) as a blob. */
static int store_doc(struct pull *p, const char *body, size_t len, const char *digest,
                     bool *ret_new, struct berth_error **err)
{
    *ret_new = false;
    if (blob_exists(p->s->blobs, digest)) {
        return 0;
    }
    _cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
    int r = blob_writer_new(p->s->blobs, digest, (int64_t)len, len, &w, err);
    if (r >= 0) {
        r = blob_writer_write(w, body, len, err);
    }
    if (r >= 0) {
        r = blob_writer_commit(TAKE_PTR(w), NULL, err);
    }
    if (r >= 0) {
        *ret_new = true;
    }
    return r;
}

static int to_writer(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    return blob_writer_write(userdata, data, len, err);
}

static int fetch_config(struct pull *p, const struct descriptor *d, char **ret_body,
                        size_t *ret_len, bool *ret_new, struct berth_error **err)
{
    *ret_new = false;
    if (d->size < 0 || (uint64_t)d->size > CONFIG_MAX) {
        return berth_error_set(err, EFBIG, "config '%s' is %lld bytes, more than %u", d->digest,
                               (long long)d->size, CONFIG_MAX);
    }
    if (!blob_exists(p->s->blobs, d->digest)) {
        _cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
        int r = blob_writer_new(p->s->blobs, d->digest, d->size, CONFIG_MAX, &w, err);
        if (r < 0) {
            return r;
        }
        r = registry_get_blob(p->reg, p->ref->path, d->digest, d->size, 0, to_writer, w, err);
        if (r >= 0) {
            r = blob_writer_commit(TAKE_PTR(w), NULL, err);
        }
        if (r < 0) {
            return berth_error_prefix(err, "config '%s'", d->digest);
        }
        *ret_new = true;
    }
    return blob_read(p->s->blobs, d->digest, CONFIG_MAX, ret_body, ret_len, err);
}

void pull_result_release(struct pull_result *r)
{
    if (!r) {
        return;
    }
    free(r->image_id);
    free(r->digest);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

static bool image_known(struct store *s, const char *id, const char *tag)
{
    _cleanup_free_ char *v = NULL;
    if (tag) {
        return db_get_text(s->db, &v, NULL,
                           "SELECT image_id FROM tags WHERE name = ? AND image_id = ?", "ss", tag,
                           id) == 0;
    }
    return db_get_text(s->db, &v, NULL, "SELECT id FROM images WHERE id = ?", "s", id) == 0;
}

int image_pull(struct store *s, const char *name, const struct pull_options *opts,
               struct pull_result *ret, struct berth_error **err)
{
    struct pull p = {.s = s, .opts = opts};
    pthread_mutex_init(&p.lock, NULL);
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    _cleanup_(manifest_freep) struct manifest *top = NULL, *m = NULL;
    _cleanup_(image_config_freep) struct image_config *cfg = NULL;
    _cleanup_free_ char *top_body = NULL, *top_digest = NULL, *body = NULL, *digest = NULL;
    _cleanup_free_ char *cfg_body = NULL, *full = NULL, *repo = NULL, *tag_name = NULL;
    _cleanup_free_ char **new_blobs = NULL;
    size_t n_new_blobs = 0, top_len = 0, len = 0, cfg_len = 0;
    struct image_layer_rec *recs = NULL;
    int gc_fd = -1;
    int r = image_ref_parse(name, &ref, err);
    if (r < 0) {
        goto out;
    }
    p.ref = ref;
    full = image_ref_string(ref);
    repo = image_ref_repository(ref);
    if (ref->tag) {
        tag_name = xasprintf("%s:%s", repo, ref->tag);
    }
    r = registry_new(ref->domain, opts ? opts->registry : NULL, &p.reg, err);
    if (r < 0) {
        goto out;
    }
    /* Shared until the record names what this pull stores (store.h): no GC
     * may take a blob of ours, or one we found and reuse, before then. */
    r = store_gc_lock_shared(s, &gc_fd, err);
    if (r < 0) {
        goto out;
    }
    const char *reference = ref->digest ? ref->digest : ref->tag;
    emit(&p, PULL_EV_PULLING, ref->path, 0, 0);
    r = fetch_manifest(&p, reference, &top_body, &top_len, &top_digest, &top, err);
    if (r < 0) {
        goto out;
    }
    new_blobs = xcalloc(MANIFEST_MAX_LAYERS * 2 + 8, sizeof(char *));
    bool is_new;
    r = store_doc(&p, top_body, top_len, top_digest, &is_new, err);
    if (r < 0) {
        goto out;
    }
    if (is_new) {
        new_blobs[n_new_blobs++] = top_digest;
    }
    if (top->kind == MANIFEST_INDEX) {
        const struct descriptor *d;
        r = manifest_select_platform(top, opts ? opts->platform : NULL, &d, err);
        if (r < 0) {
            goto out;
        }
        r = fetch_manifest(&p, d->digest, &body, &len, &digest, &m, err);
        if (r < 0) {
            goto out;
        }
        if (m->kind != MANIFEST_IMAGE) {
            r = berth_error_set(err, EINVAL, "manifest '%s' is an index inside an index",
                                d->digest);
            goto out;
        }
        r = store_doc(&p, body, len, digest, &is_new, err);
        if (r < 0) {
            goto out;
        }
        if (is_new) {
            new_blobs[n_new_blobs++] = digest;
        }
    } else {
        m = TAKE_PTR(top);
        digest = xstrdup(top_digest);
    }
    p.manifest = m;
    r = fetch_config(&p, &m->config, &cfg_body, &cfg_len, &is_new, err);
    if (r < 0) {
        goto out;
    }
    if (is_new) {
        new_blobs[n_new_blobs++] = m->config.digest;
    }
    r = image_config_parse(cfg_body, cfg_len, &cfg, err);
    if (r < 0) {
        r = berth_error_prefix(err, "config '%s'", m->config.digest);
        goto out;
    }
    if (cfg->n_diff_ids != m->n_layers) {
        r = berth_error_set(err, EINVAL,
                            "manifest has %zu layers but the config lists %zu diff_ids",
                            m->n_layers, cfg->n_diff_ids);
        goto out;
    }

    /* Lock every layer in order (no deadlock between pulls sharing a
     * prefix), then see what is already there. */
    p.n_jobs = m->n_layers;
    p.jobs = xcalloc(p.n_jobs ? p.n_jobs : 1, sizeof(*p.jobs));
    for (size_t i = 0; i < p.n_jobs; i++) {
        p.jobs[i].lock_fd = -1;
    }
    for (size_t i = 0; i < p.n_jobs; i++) {
        struct layer_job *j = &p.jobs[i];
        j->p = &p;
        j->index = i;
        j->desc = &m->layers[i];
        j->diff_id = cfg->diff_ids[i];
        j->pipe_r = j->pipe_w = -1;
        layer_chain_id(i ? p.jobs[i - 1].chain : NULL, j->diff_id, j->chain);
        snprintf(j->short_id, sizeof(j->short_id), "%.12s", j->desc->digest + 7);
        r = layer_store_lock(s->layers, j->chain, true, &j->lock_fd, err);
        if (r < 0) {
            goto out;
        }
        _cleanup_free_ char *known = NULL;
        bool in_db =
            db_get_text(s->db, &known, NULL, "SELECT chain_id FROM layers WHERE chain_id = ?", "s",
                        j->chain) == 0;
        if (in_db && layer_store_has(s->layers, j->chain)) {
            j->exists = true;
            emit(&p, PULL_EV_EXISTS, j->short_id, 0, 0);
        } else {
            /* A directory without a record was left by a crash: redo it. */
            r = layer_store_remove(s->layers, j->chain, err);
            if (r < 0) {
                goto out;
            }
            emit(&p, PULL_EV_WAITING, j->short_id, 0, 0);
        }
    }

    unsigned par = opts && opts->parallel ? opts->parallel : DEFAULT_PARALLEL;
    if (streq(s->driver, "vfs")) {
        par = 1;
    }
    pthread_t th[16];
    unsigned started = 0;
    par = par > 16 ? 16 : par;
    for (unsigned t = 0; t < par; t++) {
        if (pthread_create(&th[t], NULL, worker, &p) != 0) {
            break;
        }
        started++;
    }
    if (started == 0) {
        r = berth_error_sys(err, EAGAIN, "start pull threads");
        goto out;
    }
    for (unsigned t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
    }
    if (p.failed) {
        r = p.err_r;
        if (err && !*err) {
            *err = TAKE_PTR(p.err);
        }
        goto out;
    }

    recs = xcalloc(p.n_jobs ? p.n_jobs : 1, sizeof(*recs));
    for (size_t i = 0; i < p.n_jobs; i++) {
        recs[i].chain_id = p.jobs[i].chain;
        recs[i].diff_id = (char *)p.jobs[i].diff_id;
        recs[i].blob_digest = p.jobs[i].desc->digest;
        recs[i].media_type = p.jobs[i].desc->media_type;
        recs[i].blob_size = p.jobs[i].desc->size;
        recs[i].size = (int64_t)p.jobs[i].stats.bytes;
    }
    bool up_to_date = image_known(s, m->config.digest, tag_name);
    if (!tag_name) {
        _cleanup_free_ char *v = NULL;
        up_to_date = db_get_text(s->db, &v, NULL,
                                 "SELECT image_id FROM repo_digests WHERE repo = ? AND digest = ?",
                                 "ss", repo, top_digest) == 0;
    }
    struct image_add a = {
        .id = m->config.digest,
        .manifest_digest = digest,
        .manifest_media_type = m->media_type,
        .created = cfg->created,
        .layers = recs,
        .n_layers = p.n_jobs,
        .tag = tag_name,
        .repo = repo,
        .repo_digest = top_digest,
    };
    r = image_record_add(s, &a, NULL, err);
    if (r < 0) {
        goto out;
    }
    ret->image_id = xstrdup(m->config.digest);
    ret->digest = xstrdup(top_digest);
    ret->name = xstrdup(full);
    ret->up_to_date = up_to_date;
    r = 0;
out:
    if (r < 0) {
        /* Leave the store as it was: the layers this pull made go (under
         * their locks, still held); its blobs go only under the exclusive
         * GC lock, and only if nothing names them by then (a concurrent
         * pull of the same image may have found and recorded them). */
        for (size_t i = 0; i < p.n_jobs; i++) {
            struct layer_job *j = &p.jobs[i];
            if (j->done) {
                (void)layer_store_remove(s->layers, j->chain, NULL);
            }
            if (j->blob_new) {
                new_blobs[n_new_blobs++] = j->desc->digest;
            }
        }
        if (err && *err) {
            berth_error_prefix(err, "pull '%s'", name);
        }
    }
    for (size_t i = 0; i < p.n_jobs; i++) {
        if (p.jobs[i].lock_fd >= 0) {
            close(p.jobs[i].lock_fd);
        }
    }
    if (gc_fd >= 0) {
        close(gc_fd);
    }
    if (r < 0 && n_new_blobs > 0) {
        (void)image_gc_blobs(s, new_blobs, false, NULL, NULL);
    }
    free(recs);
    free(p.jobs);
    berth_error_free(p.err);
    registry_free(p.reg);
    pthread_mutex_destroy(&p.lock);
    return r;
}
