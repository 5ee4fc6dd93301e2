/* images.c - local image records, lookup, listing, tagging, removal and
 * garbage collection (see images.h). */
#include "images.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/hexid.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/image/reference.h"

/* Point a tag at an image; a tag already there is left as it is (its time
 * too). */
#define TAG_UPSERT                                                                                 \
    "INSERT INTO tags(name, image_id, added) VALUES(?, ?, ?) ON CONFLICT(name) DO UPDATE SET "     \
    "image_id = excluded.image_id, added = excluded.added WHERE image_id != excluded.image_id"

#define CONFIG_MAX (8u << 20)

int image_record_add(struct store *s, const struct image_add *a, char **ret_previous,
                     struct berth_error **err)
{
    struct berth_db *db = s->db;
    int64_t now = (int64_t)time(NULL);
    int64_t size = 0;
    for (size_t i = 0; i < a->n_layers; i++) {
        size += a->layers[i].size;
    }
    _cleanup_free_ char *previous = NULL;
    int r = db_begin(db, err);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < a->n_layers && r >= 0; i++) {
        const struct image_layer_rec *l = &a->layers[i];
        r = db_run(db, err,
                   "INSERT OR IGNORE INTO layers(chain_id, diff_id, parent, size, blob_digest,"
                   " blob_size, media_type, created) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                   "sssisisi", l->chain_id, l->diff_id, i ? a->layers[i - 1].chain_id : NULL,
                   l->size, l->blob_digest, l->blob_size, l->media_type, now);
    }
    int added = 0;
    if (r >= 0) {
        r = added = db_run(db, err,
                           "INSERT OR IGNORE INTO images(id, manifest_digest, manifest_media_type,"
                           " size, created, added) VALUES(?, ?, ?, ?, ?, ?)",
                           "sssisi", a->id, a->manifest_digest, a->manifest_media_type, size,
                           a->created, now);
    }
    if (r >= 0 && added == 0 && a->manifest_digest) {
        r = db_run(db, err,
                   "UPDATE images SET manifest_digest = ?, manifest_media_type = ? WHERE id = ?"
                   " AND manifest_digest IS NULL",
                   "sss", a->manifest_digest, a->manifest_media_type, a->id);
    }
    for (size_t i = 0; added > 0 && i < a->n_layers && r >= 0; i++) {
        r = db_run(db, err, "INSERT INTO image_layers(image_id, idx, chain_id) VALUES(?, ?, ?)",
                   "sis", a->id, (int64_t)i, a->layers[i].chain_id);
    }
    if (r >= 0 && a->tag) {
        r = db_get_text(db, &previous, err, "SELECT image_id FROM tags WHERE name = ?", "s",
                        a->tag);
        if (r == -ENOENT) {
            r = 0;
        }
        if (r >= 0) {
            /* A tag already on this image keeps its time: a pull that finds
             * the image up to date changes nothing (Docker's). */
            r = db_run(db, err, TAG_UPSERT, "ssi", a->tag, a->id, now);
        }
    }
    if (r >= 0 && a->repo && a->repo_digest) {
        r = db_run(db, err,
                   "INSERT OR REPLACE INTO repo_digests(repo, digest, image_id) VALUES(?, ?, ?)",
                   "sss", a->repo, a->repo_digest, a->id);
    }
    if (r >= 0) {
        r = db_commit(db, err);
    } else {
        db_rollback(db);
    }
    if (r < 0) {
        return berth_error_prefix(err, "record image '%s'", a->id);
    }
    if (ret_previous) {
        *ret_previous = previous && !streq(previous, a->id) ? TAKE_PTR(previous) : NULL;
    }
    return 0;
}

void image_info_free(struct image_info *i)
{
    if (!i) {
        return;
    }
    free(i->id);
    strv_free(i->tags);
    strv_free(i->digests);
    free(i->created);
    free(i->manifest_digest);
    for (size_t k = 0; k < i->n_layers; k++) {
        free(i->layers[k].chain_id);
        free(i->layers[k].diff_id);
        free(i->layers[k].blob_digest);
        free(i->layers[k].media_type);
    }
    free(i->layers);
    image_config_free(i->config);
    free(i);
}

void image_info_list_free(struct image_info **l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        image_info_free(l[i]);
    }
    free(l);
}

static int not_found(const char *name, struct berth_error **err)
{
    return berth_error_set(err, ENOENT, "No such image: %s", name);
}

/* Unique id by hex prefix; -ENOENT if none, -EINVAL if ambiguous. */
static int resolve_prefix(struct store *s, const char *hex, char **ret, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    _cleanup_free_ char *pattern = xasprintf("sha256:%s%%", hex);
    int r =
        db_query(s->db, &st, err, "SELECT id FROM images WHERE id LIKE ? LIMIT 2", "s", pattern);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *found = NULL;
    while ((r = db_step(st, err)) > 0) {
        if (found) {
            return berth_error_set(err, EINVAL, "image id '%s' is ambiguous", hex);
        }
        found = xstrdup(db_text(st, 0));
    }
    if (r < 0) {
        return r;
    }
    if (!found) {
        return -ENOENT;
    }
    *ret = TAKE_PTR(found);
    return 0;
}

int image_resolve(struct store *s, const char *name, char **ret_id, struct berth_error **err)
{
    const char *hex = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
    if (is_hex(hex, 64, 64)) {
        _cleanup_free_ char *id = NULL, *full = xasprintf("sha256:%s", hex);
        int r = db_get_text(s->db, &id, err, "SELECT id FROM images WHERE id = ?", "s", full);
        if (r == 0) {
            *ret_id = TAKE_PTR(id);
            return 0;
        }
        if (r != -ENOENT) {
            return r;
        }
        return not_found(name, err);
    }
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    if (image_ref_parse(name, &ref, NULL) >= 0) {
        _cleanup_free_ char *repo = image_ref_repository(ref);
        _cleanup_free_ char *id = NULL;
        int r;
        if (ref->digest) {
            r = db_get_text(s->db, &id, err,
                            "SELECT image_id FROM repo_digests WHERE repo = ? AND digest = ?", "ss",
                            repo, ref->digest);
        } else {
            _cleanup_free_ char *tag = xasprintf("%s:%s", repo, ref->tag);
            r = db_get_text(s->db, &id, err, "SELECT image_id FROM tags WHERE name = ?", "s", tag);
        }
        if (r == 0) {
            *ret_id = TAKE_PTR(id);
            return 0;
        }
        if (r != -ENOENT) {
            return r;
        }
    }
    if (is_hex(hex, 1, 63)) {
        int r = resolve_prefix(s, hex, ret_id, err);
        if (r != -ENOENT) {
            return r;
        }
    }
    return not_found(name, err);
}

static int load_strv(struct store *s, const char *sql, const char *id, char ***ret,
                     struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, sql, "s", id);
    if (r < 0) {
        return r;
    }
    char **l = xcalloc(1, sizeof(char *));
    while ((r = db_step(st, err)) > 0) {
        strv_push(&l, db_text(st, 0));
    }
    if (r < 0) {
        strv_free(l);
        return r;
    }
    *ret = l;
    return 0;
}

enum config_want {
    CONFIG_NONE,
    CONFIG_REQUIRED,
    CONFIG_OPTIONAL,
};

static int load_info(struct store *s, struct db_stmt *row, enum config_want with_config,
                     struct image_info **ret, struct berth_error **err)
{
    struct image_info *i = xcalloc(1, sizeof(*i));
    _cleanup_(image_info_freep) struct image_info *owned = i;
    i->id = xstrdup(db_text(row, 0));
    i->manifest_digest = db_text(row, 1) ? xstrdup(db_text(row, 1)) : NULL;
    i->size = db_int(row, 2);
    i->created = db_text(row, 3) ? xstrdup(db_text(row, 3)) : NULL;
    i->added = db_int(row, 4);
    int r = load_strv(s, "SELECT name FROM tags WHERE image_id = ? ORDER BY added, name", i->id,
                      &i->tags, err);
    if (r >= 0) {
        r = load_strv(s,
                      "SELECT repo || '@' || digest FROM repo_digests WHERE image_id = ?"
                      " ORDER BY repo, digest",
                      i->id, &i->digests, err);
    }
    if (r < 0) {
        return r;
    }
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    r = db_query(s->db, &st, err,
                 "SELECT l.chain_id, l.diff_id, l.blob_digest, l.media_type, l.size, l.blob_size"
                 " FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id"
                 " WHERE il.image_id = ? ORDER BY il.idx",
                 "s", i->id);
    if (r < 0) {
        return r;
    }
    size_t cap = 0;
    while ((r = db_step(st, err)) > 0) {
        i->layers = xgrow(i->layers, sizeof(*i->layers), i->n_layers + 1, &cap);
        struct image_layer_rec *l = &i->layers[i->n_layers++];
        memset(l, 0, sizeof(*l));
        l->chain_id = xstrdup(db_text(st, 0));
        l->diff_id = xstrdup(db_text(st, 1));
        l->blob_digest = db_text(st, 2) ? xstrdup(db_text(st, 2)) : NULL;
        l->media_type = db_text(st, 3) ? xstrdup(db_text(st, 3)) : NULL;
        l->size = db_int(st, 4);
        l->blob_size = db_int(st, 5);
    }
    if (r < 0) {
        return r;
    }
    if (with_config != CONFIG_NONE) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        struct berth_error *e = NULL;
        r = blob_read(s->blobs, i->id, CONFIG_MAX, &buf, &len, &e);
        if (r >= 0) {
            r = image_config_parse(buf, len, &i->config, &e);
        }
        if (r < 0 && with_config == CONFIG_OPTIONAL) {
            /* A record whose config blob is gone or damaged (a store hurt
             * by an older berth, a disk error) must still list and be
             * removable: it shows what the db knows. */
            log_debug("image '%s': config: %s", i->id, e ? e->msg : "");
            berth_error_free(e);
            r = 0;
        }
        if (r < 0) {
            if (err) {
                *err = e;
            } else {
                berth_error_free(e);
            }
            return berth_error_prefix(err, "image '%s': config", i->id);
        }
    }
    *ret = TAKE_PTR(owned);
    return 0;
}

#define IMAGE_COLUMNS "SELECT id, manifest_digest, size, created, added FROM images"

int image_get(struct store *s, const char *id, struct image_info **ret, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, IMAGE_COLUMNS " WHERE id = ?", "s", id);
    if (r < 0) {
        return r;
    }
    r = db_step(st, err);
    if (r < 0) {
        return r;
    }
    if (r == 0) {
        return not_found(id, err);
    }
    return load_info(s, st, CONFIG_REQUIRED, ret, err);
}

int image_config_get(struct store *s, const char *id, const struct image_config **ret,
                     struct berth_error **err)
{
    static char *cached_id;
    static struct image_config *cached;
    if (cached_id && streq(cached_id, id)) {
        *ret = cached;
        return 0;
    }
    /* The record first: a blob alone (another image's layer, a config
     * whose image was removed) is not an image. */
    _cleanup_free_ char *known = NULL;
    int r = db_get_text(s->db, &known, NULL, "SELECT id FROM images WHERE id = ?", "s", id);
    if (r == -ENOENT) {
        return not_found(id, err);
    }
    if (r < 0) {
        return db_get_text(s->db, &known, err, "SELECT id FROM images WHERE id = ?", "s", id);
    }
    _cleanup_free_ char *buf = NULL;
    size_t len;
    struct image_config *cfg = NULL;
    r = blob_read(s->blobs, id, CONFIG_MAX, &buf, &len, err);
    if (r >= 0) {
        r = image_config_parse(buf, len, &cfg, err);
    }
    if (r < 0) {
        return berth_error_prefix(err, "image '%s': config", id);
    }
    image_config_free(cached);
    free(cached_id);
    cached = cfg;
    cached_id = xstrdup(id);
    *ret = cached;
    return 0;
}

/* As image_get, without failing on a missing or damaged config blob. */
static int image_get_lenient(struct store *s, const char *id, struct image_info **ret,
                             struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, IMAGE_COLUMNS " WHERE id = ?", "s", id);
    if (r >= 0) {
        r = db_step(st, err);
    }
    if (r <= 0) {
        return r < 0 ? r : not_found(id, err);
    }
    return load_info(s, st, CONFIG_OPTIONAL, ret, err);
}

int image_list(struct store *s, struct image_info ***ret, size_t *ret_n, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, IMAGE_COLUMNS " ORDER BY created DESC, added DESC, id", "");
    if (r < 0) {
        return r;
    }
    struct image_info **l = NULL;
    size_t n = 0, cap = 0;
    while ((r = db_step(st, err)) > 0) {
        struct image_info *i = NULL;
        r = load_info(s, st, CONFIG_OPTIONAL, &i, err);
        if (r < 0) {
            break;
        }
        l = xgrow(l, sizeof(*l), n + 1, &cap);
        l[n++] = i;
    }
    if (r < 0) {
        image_info_list_free(l, n);
        return r;
    }
    *ret = l;
    *ret_n = n;
    return 0;
}

/* The normalised name a tag argument stands for ("x" -> "docker.io/library/x:latest"). */
static int tag_name(const char *tag, char **ret, struct berth_error **err)
{
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    int r = image_ref_parse(tag, &ref, err);
    if (r < 0) {
        return r;
    }
    if (ref->digest) {
        return berth_error_set(err, EINVAL, "refusing to create a tag with a digest reference");
    }
    _cleanup_free_ char *repo = image_ref_repository(ref);
    *ret = xasprintf("%s:%s", repo, ref->tag);
    return 0;
}

int image_tag(struct store *s, const char *source, const char *tag, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL, *name = NULL;
    int r = tag_name(tag, &name, err);
    if (r < 0) {
        return r;
    }
    r = image_resolve(s, source, &id, err);
    if (r < 0) {
        return r;
    }
    r = db_run(s->db, err, TAG_UPSERT, "ssi", name, id, (int64_t)time(NULL));
    return r < 0 ? r : 0;
}

static char *familiar(const char *full)
{
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    if (image_ref_parse(full, &ref, NULL) < 0) {
        return xstrdup(full);
    }
    return image_ref_familiar(ref);
}

/* Whether any record names a blob: an image's config or manifest, a layer's
 * blob, a repo digest (an index pulled by digest). */
static int blob_referenced(struct store *s, const char *digest, struct berth_error **err)
{
    _cleanup_free_ char *v = NULL;
    int r = db_get_text(s->db, &v, err,
                        "SELECT chain_id FROM layers WHERE blob_digest = ?1"
                        " UNION ALL SELECT id FROM images WHERE id = ?1 OR manifest_digest = ?1"
                        " UNION ALL SELECT image_id FROM repo_digests WHERE digest = ?1 LIMIT 1",
                        "s", digest);
    if (r == -ENOENT) {
        return 0;
    }
    return r < 0 ? r : 1;
}

int image_gc_blobs(struct store *s, char *const *candidates, bool wait, uint64_t *ret_reclaimed,
                   struct berth_error **err)
{
    _cleanup_close_ int lock = -1;
    int r = wait ? store_gc_lock_exclusive(s, &lock, err) : store_gc_lock_try(s, &lock, NULL);
    if (r == -EBUSY && !wait) {
        /* Another pull or load is between its blob writes and its record:
         * what looks unreferenced may be its; a later prune collects. */
        log_debug("gc lock busy: leaving unreferenced blobs for a later prune");
        return 0;
    }
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **all = NULL;
    if (!candidates) {
        r = blob_list(s->blobs, &all, err);
        if (r < 0) {
            return r;
        }
        candidates = all;
    }
    uint64_t reclaimed = 0;
    for (size_t k = 0; candidates[k]; k++) {
        r = blob_referenced(s, candidates[k], err);
        if (r < 0) {
            return r;
        }
        if (r > 0) {
            continue;
        }
        int64_t size = blob_size(s->blobs, candidates[k]);
        if (blob_delete(s->blobs, candidates[k], NULL) >= 0 && size > 0) {
            reclaimed += (uint64_t)size;
        }
    }
    if (ret_reclaimed) {
        *ret_reclaimed = reclaimed;
    }
    return 0;
}

/* Remove the image row and collect what nothing references any more:
 * layers (under a try-lock: a pull holding one is about to use it) and
 * blobs (config, manifests, layer blobs). Side effects on disk happen after
 * the transaction commits. */
static int delete_image(struct store *s, const char *id, image_remove_cb cb, void *userdata,
                        uint64_t *reclaimed, struct berth_error **err)
{
    _cleanup_(image_info_freep) struct image_info *info = NULL;
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, IMAGE_COLUMNS " WHERE id = ?", "s", id);
    if (r >= 0) {
        r = db_step(st, err);
    }
    if (r <= 0) {
        return r < 0 ? r : not_found(id, err);
    }
    r = load_info(s, st, CONFIG_NONE, &info, err);
    if (r < 0) {
        return r;
    }
    db_stmt_free(TAKE_PTR(st));
    size_t n = info->n_layers;
    int *locks = xcalloc(n ? n : 1, sizeof(int));
    bool *drop = xcalloc(n ? n : 1, sizeof(bool));
    _cleanup_strv_free_ char **blobs = xcalloc(1, sizeof(char *));
    r = db_begin(s->db, err);
    if (r < 0) {
        goto out;
    }
    /* Repo digests of this image whose manifests no other image uses. */
    r = db_run(s->db, err, "DELETE FROM images WHERE id = ?", "s", id);
    for (size_t k = n; r >= 0 && k-- > 0;) {
        const struct image_layer_rec *l = &info->layers[k];
        locks[k] = -1;
        _cleanup_free_ char *user = NULL;
        int u = db_get_text(s->db, &user, err,
                            "SELECT image_id FROM image_layers WHERE chain_id = ? LIMIT 1", "s",
                            l->chain_id);
        if (u == 0 || (u < 0 && u != -ENOENT)) {
            r = u < 0 ? u : 0;
            continue;
        }
        if (layer_store_lock(s->layers, l->chain_id, false, &locks[k], NULL) < 0) {
            locks[k] = -1;
            continue;
        }
        r = db_run(s->db, err, "DELETE FROM layers WHERE chain_id = ?", "s", l->chain_id);
        drop[k] = true;
        if (r >= 0 && l->blob_digest) {
            _cleanup_free_ char *other = NULL;
            if (db_get_text(s->db, &other, NULL,
                            "SELECT chain_id FROM layers WHERE blob_digest = ? LIMIT 1", "s",
                            l->blob_digest) == -ENOENT) {
                strv_consume(&blobs, xstrdup(l->blob_digest));
            }
        }
    }
    if (r >= 0) {
        /* Config and manifests, unless another image record still names them. */
        const char *docs[] = {info->id, info->manifest_digest};
        for (size_t k = 0; k < 2; k++) {
            if (!docs[k]) {
                continue;
            }
            _cleanup_free_ char *other = NULL;
            if (db_get_text(s->db, &other, NULL,
                            "SELECT id FROM images WHERE id = ? OR manifest_digest = ? LIMIT 1",
                            "ss", docs[k], docs[k]) == -ENOENT) {
                strv_consume(&blobs, xstrdup(docs[k]));
            }
        }
        for (size_t k = 0; info->digests[k]; k++) {
            const char *d = strrchr(info->digests[k], '@');
            _cleanup_free_ char *other = NULL;
            if (d &&
                db_get_text(s->db, &other, NULL,
                            "SELECT image_id FROM repo_digests WHERE digest = ? LIMIT 1", "s",
                            d + 1) == -ENOENT &&
                !strv_contains(blobs, d + 1)) {
                strv_consume(&blobs, xstrdup(d + 1));
            }
        }
    }
    if (r >= 0) {
        r = db_commit(s->db, err);
    } else {
        db_rollback(s->db);
    }
    if (r < 0) {
        goto out;
    }
    if (cb) {
        cb("Deleted", id, userdata);
    }
    for (size_t k = n; k-- > 0;) {
        if (!drop[k]) {
            continue;
        }
        (void)layer_store_remove(s->layers, info->layers[k].chain_id, NULL);
        if (reclaimed) {
            *reclaimed += (uint64_t)info->layers[k].size;
        }
        if (cb) {
            cb("Deleted", info->layers[k].chain_id, userdata);
        }
    }
out:
    for (size_t k = 0; k < n; k++) {
        if (locks[k] >= 0) {
            close(locks[k]);
        }
    }
    free(locks);
    free(drop);
    if (r >= 0) {
        /* After the layer locks are gone (store.h: the exclusive GC lock is
         * taken holding no other); errors leave garbage for a later prune. */
        (void)image_gc_blobs(s, blobs, true, NULL, NULL);
    }
    return r;
}

static size_t count_repos(char **tags, char **digests)
{
    _cleanup_strv_free_ char **repos = xcalloc(1, sizeof(char *));
    for (size_t pass = 0; pass < 2; pass++) {
        char **l = pass ? digests : tags;
        for (size_t k = 0; l && l[k]; k++) {
            _cleanup_free_ char *repo = xstrdup(l[k]);
            char *sep = strchr(repo, '@');
            if (!sep) {
                sep = strrchr(repo, ':');
                if (sep && strchr(sep, '/')) {
                    sep = NULL;
                }
            }
            if (sep) {
                *sep = '\0';
            }
            if (!strv_contains(repos, repo)) {
                strv_push(&repos, repo);
            }
        }
    }
    return strv_length(repos);
}

/* The oldest container made from an image (*ret NULL when none). A query
 * on the containers table itself: container/ sits above image/, so this
 * module cannot ask container_image_in_use(); the table exists in every
 * migrated db (schema 2). An image in use is never deleted: overlay
 * containers mount its layers, and a forced removal only untags it. */
static int image_user(struct store *s, const char *id, char **ret, struct berth_error **err)
{
    *ret = NULL;
    int r = db_get_text(s->db, ret, err,
                        "SELECT id FROM containers WHERE image_id = ? ORDER BY created LIMIT 1",
                        "s", id);
    return r == -ENOENT ? 0 : r;
}

int image_remove(struct store *s, const char *name, bool force, image_remove_cb cb, void *userdata,
                 struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    int r = image_resolve(s, name, &id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(image_info_freep) struct image_info *info = NULL;
    r = image_get_lenient(s, id, &info, err);
    if (r < 0) {
        return r;
    }
    const char *hex = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
    bool by_id = is_hex(hex, 1, 64) && strncmp(id + 7, hex, strlen(hex)) == 0;
    _cleanup_free_ char *user = NULL;
    r = image_user(s, id, &user, err);
    if (r < 0) {
        return r;
    }
    /* Docker refuses to drop an image's last name while a container uses
     * it (it would leave the container's image dangling); several names,
     * one can go. */
    if (!by_id && user && !force && strv_length(info->tags) <= 1 &&
        count_repos(info->tags, info->digests) <= 1) {
        return berth_error_set(err, EBUSY,
                               "conflict: unable to remove repository reference \"%s\" (must "
                               "force) - container %.12s is using its referenced image %.12s",
                               name, user, id + 7);
    }
    if (!by_id) {
        /* Untag the name given; a tag's removal also drops the repo's
         * digest references when no other tag of that repo is left. */
        _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
        r = image_ref_parse(name, &ref, err);
        if (r < 0) {
            return r;
        }
        _cleanup_free_ char *repo = image_ref_repository(ref);
        r = db_begin(s->db, err);
        if (r < 0) {
            return r;
        }
        _cleanup_strv_free_ char **untagged = xcalloc(1, sizeof(char *));
        if (ref->digest) {
            r = db_run(s->db, err, "DELETE FROM repo_digests WHERE repo = ? AND digest = ?", "ss",
                       repo, ref->digest);
            strv_consume(&untagged, image_ref_familiar(ref));
        } else {
            _cleanup_free_ char *tag = xasprintf("%s:%s", repo, ref->tag);
            r = db_run(s->db, err, "DELETE FROM tags WHERE name = ?", "s", tag);
            strv_consume(&untagged, familiar(tag));
            _cleanup_free_ char *other = NULL, *like = xasprintf("%s:%%", repo);
            if (r >= 0 && db_get_text(s->db, &other, NULL,
                                      "SELECT name FROM tags WHERE image_id = ? AND name LIKE ?",
                                      "ss", id, like) == -ENOENT) {
                for (size_t k = 0; info->digests[k]; k++) {
                    _cleanup_free_ char *prefix = xasprintf("%s@", repo);
                    if (strncmp(info->digests[k], prefix, strlen(prefix)) == 0) {
                        strv_consume(&untagged, familiar(info->digests[k]));
                    }
                }
                if (r >= 0) {
                    r = db_run(s->db, err,
                               "DELETE FROM repo_digests WHERE image_id = ? AND repo = ?", "ss", id,
                               repo);
                }
            }
        }
        if (r >= 0) {
            r = db_commit(s->db, err);
        } else {
            db_rollback(s->db);
        }
        if (r < 0) {
            return r;
        }
        for (size_t k = 0; cb && untagged[k]; k++) {
            cb("Untagged", untagged[k], userdata);
        }
        _cleanup_free_ char *left = NULL;
        if (db_get_text(s->db, &left, NULL,
                        "SELECT name FROM tags WHERE image_id = ? UNION ALL"
                        " SELECT repo FROM repo_digests WHERE image_id = ? LIMIT 1",
                        "ss", id, id) == 0) {
            return 0;
        }
        return user ? 0 : delete_image(s, id, cb, userdata, NULL, err);
    }
    if (count_repos(info->tags, info->digests) > 1 && !force) {
        return berth_error_set(err, EBUSY,
                               "conflict: unable to delete %.12s (must be forced) - image is "
                               "referenced in multiple repositories",
                               id + 7);
    }
    if (user && !force) {
        return berth_error_set(err, EBUSY,
                               "conflict: unable to delete %.12s (must be forced) - image is being "
                               "used by stopped container %.12s",
                               id + 7, user);
    }
    for (size_t k = 0; cb && info->tags[k]; k++) {
        _cleanup_free_ char *f = familiar(info->tags[k]);
        cb("Untagged", f, userdata);
    }
    for (size_t k = 0; cb && info->digests[k]; k++) {
        _cleanup_free_ char *f = familiar(info->digests[k]);
        cb("Untagged", f, userdata);
    }
    if (user) {
        r = db_begin(s->db, err);
        if (r >= 0) {
            r = db_run(s->db, err, "DELETE FROM tags WHERE image_id = ?", "s", id);
        }
        if (r >= 0) {
            r = db_run(s->db, err, "DELETE FROM repo_digests WHERE image_id = ?", "s", id);
        }
        if (r >= 0) {
            r = db_commit(s->db, err);
        } else {
            db_rollback(s->db);
        }
        return r < 0 ? r : 0;
    }
    return delete_image(s, id, cb, userdata, NULL, err);
}

int image_prune(struct store *s, bool all, image_remove_cb cb, void *userdata,
                uint64_t *ret_reclaimed, struct berth_error **err)
{
    struct image_info **l = NULL;
    size_t n = 0;
    uint64_t reclaimed = 0;
    int r = image_list(s, &l, &n, err);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < n && r >= 0; i++) {
        bool dangling = strv_length(l[i]->tags) == 0;
        if (!all && !dangling) {
            continue;
        }
        _cleanup_free_ char *user = NULL;
        r = image_user(s, l[i]->id, &user, err);
        if (r < 0 || user) {
            continue; /* as Docker: prune leaves images containers use */
        }
        for (size_t k = 0; cb && l[i]->tags[k]; k++) {
            _cleanup_free_ char *f = familiar(l[i]->tags[k]);
            cb("untagged", f, userdata);
        }
        for (size_t k = 0; cb && l[i]->digests[k]; k++) {
            _cleanup_free_ char *f = familiar(l[i]->digests[k]);
            cb("untagged", f, userdata);
        }
        r = db_run(s->db, err, "DELETE FROM tags WHERE image_id = ?", "s", l[i]->id);
        if (r >= 0) {
            r = db_run(s->db, err, "DELETE FROM repo_digests WHERE image_id = ?", "s", l[i]->id);
        }
        if (r >= 0) {
            r = delete_image(s, l[i]->id, NULL, NULL, &reclaimed, err);
            if (r >= 0 && cb) {
                cb("deleted", l[i]->id, userdata);
            }
        }
    }
    image_info_list_free(l, n);
    if (r < 0) {
        return r;
    }
    /* Then blobs no record names: what failed pulls and loads could not
     * remove while another one ran. */
    uint64_t garbage = 0;
    r = image_gc_blobs(s, NULL, true, &garbage, err);
    if (r < 0) {
        return r;
    }
    reclaimed += garbage;
    if (ret_reclaimed) {
        *ret_reclaimed = reclaimed;
    }
    return 0;
}

/* A JSON string from a malloc'd C string, which it frees. */
static json_t *jstr_take(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* Docker's container-config shape: every member present. */
static json_t *docker_config(const struct image_config *c)
{
    json_t *src = c && c->json ? json_object_get(c->json, "config") : NULL;
    json_t *o = json_is_object(src) ? json_deep_copy(src) : json_object();
    static const char *const strs[] = {"Hostname", "Domainname", "User", "Image", "WorkingDir"};
    static const char *const bools[] = {"AttachStdin", "AttachStdout", "AttachStderr",
                                        "Tty",         "OpenStdin",    "StdinOnce"};
    static const char *const nulls[] = {"Env", "Cmd", "Volumes", "Entrypoint", "OnBuild", "Labels"};
    for (size_t k = 0; k < sizeof(strs) / sizeof(*strs); k++) {
        if (!json_object_get(o, strs[k])) {
            json_object_set_new(o, strs[k], json_string(""));
        }
    }
    for (size_t k = 0; k < sizeof(bools) / sizeof(*bools); k++) {
        if (!json_object_get(o, bools[k])) {
            json_object_set_new(o, bools[k], json_false());
        }
    }
    for (size_t k = 0; k < sizeof(nulls) / sizeof(*nulls); k++) {
        if (!json_object_get(o, nulls[k])) {
            json_object_set_new(o, nulls[k], json_null());
        }
    }
    return o;
}

json_t *image_inspect_json(struct store *s, const struct image_info *i)
{
    const struct image_config *c = i->config;
    json_t *cj = c ? c->json : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "Id", json_string(i->id));
    json_t *tags = json_array();
    for (size_t k = 0; i->tags[k]; k++) {
        json_array_append_new(tags, jstr_take(familiar(i->tags[k])));
    }
    json_object_set_new(o, "RepoTags", tags);
    json_t *digests = json_array();
    for (size_t k = 0; i->digests[k]; k++) {
        json_array_append_new(digests, jstr_take(familiar(i->digests[k])));
    }
    json_object_set_new(o, "RepoDigests", digests);
    const char *parent = cj ? json_string_value(json_object_get(cj, "parent")) : NULL;
    json_object_set_new(o, "Parent", json_string(parent ? parent : ""));
    const char *comment = cj ? json_string_value(json_object_get(cj, "comment")) : NULL;
    json_object_set_new(o, "Comment", json_string(comment ? comment : ""));
    json_object_set_new(o, "Created", json_string(i->created ? i->created : ""));
    const char *container = cj ? json_string_value(json_object_get(cj, "container")) : NULL;
    json_object_set_new(o, "Container", json_string(container ? container : ""));
    json_t *cc = cj ? json_object_get(cj, "container_config") : NULL;
    json_object_set_new(o, "ContainerConfig",
                        json_is_object(cc) ? json_deep_copy(cc) : docker_config(NULL));
    const char *dv = cj ? json_string_value(json_object_get(cj, "docker_version")) : NULL;
    json_object_set_new(o, "DockerVersion", json_string(dv ? dv : ""));
    json_object_set_new(o, "Author", json_string(c && c->author ? c->author : ""));
    json_object_set_new(o, "Config", docker_config(c));
    json_object_set_new(o, "Architecture",
                        json_string(c && c->architecture ? c->architecture : ""));
    if (c && c->variant) {
        json_object_set_new(o, "Variant", json_string(c->variant));
    }
    json_object_set_new(o, "Os", json_string(c && c->os ? c->os : ""));
    json_object_set_new(o, "Size", json_integer(i->size));
    json_object_set_new(o, "VirtualSize", json_integer(i->size));
    json_t *gd = json_object();
    json_t *data = json_object();
    if (i->n_layers > 0) {
        char *top = layer_store_diff_path(s->layers, i->layers[i->n_layers - 1].chain_id);
        if (streq(s->driver, "overlay")) {
            struct strbuf lower = STRBUF_INIT;
            for (size_t k = i->n_layers - 1; k-- > 0;) {
                char *p = layer_store_diff_path(s->layers, i->layers[k].chain_id);
                if (lower.len) {
                    strbuf_addc(&lower, ':');
                }
                strbuf_adds(&lower, p);
                free(p);
            }
            if (lower.len) {
                json_object_set_new(data, "LowerDir", json_string(strbuf_str(&lower)));
            }
            strbuf_release(&lower);
            json_object_set_new(data, "UpperDir", json_string(top));
            json_object_set_new(data, "MergedDir", json_null());
            json_object_set_new(data, "WorkDir", json_null());
        } else {
            json_object_set_new(data, "Dir", json_string(top));
        }
        free(top);
    }
    json_object_set_new(gd, "Data", data);
    json_object_set_new(gd, "Name", json_string(streq(s->driver, "overlay") ? "overlay2" : "vfs"));
    json_object_set_new(o, "GraphDriver", gd);
    json_t *rootfs = json_object();
    json_object_set_new(rootfs, "Type", json_string("layers"));
    json_t *layers = json_array();
    for (size_t k = 0; k < i->n_layers; k++) {
        json_array_append_new(layers, json_string(i->layers[k].diff_id));
    }
    json_object_set_new(rootfs, "Layers", layers);
    json_object_set_new(o, "RootFS", rootfs);
    json_t *meta = json_object();
    char buf[64];
    time_t t = (time_t)i->added;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(meta, "LastTagTime",
                        json_string(i->tags[0] ? buf : "0001-01-01T00:00:00Z"));
    json_object_set_new(o, "Metadata", meta);
    return o;
}
