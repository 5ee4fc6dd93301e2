/* images.h - the local images: records, names, lookup, listing, removal.
 *
 * An image is its config blob: its id is the config's digest (as Docker's
 * image ID). A record holds the manifest it came with (if any), its layers
 * by chain id, its size and creation time; names are tags
 * ("docker.io/library/busybox:latest", stored normalised, shown familiar)
 * and repo digests ("docker.io/library/busybox@sha256:..", the digest it was
 * pulled by). A tag names one image; giving it to another leaves the old one
 * untagged ("<none>:<none>", dangling), as in Docker.
 *
 * Lookup (image_resolve) follows Docker: a full or "sha256:"-prefixed id, a
 * reference (normalised; tag or digest), then a unique id prefix; else
 * -ENOENT "No such image: <name>".
 *
 * Removal (image_remove) has Docker's untag semantics: by name, remove that
 * name; the image itself goes when no name is left (or when removed by id
 * with a single name, or with force). Removing by id an image with several
 * tags needs force ("conflict: unable to delete <short> (must be forced) -
 * image is referenced in multiple repositories"). Layers and blobs that no
 * remaining image references are removed in the same step (garbage
 * collection under the layer locks, and for blobs under the store's GC lock,
 * so a concurrent pull is never robbed). Listing and removal work on a
 * record whose config blob is missing (config NULL); image_get does not.
 * Prune also removes every blob no record names (failed pulls' garbage).
 */
#ifndef BERTH_IMAGE_IMAGES_H
#define BERTH_IMAGE_IMAGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "libberth/image/manifest.h"
#include "libberth/store/store.h"

struct image_layer_rec {
    char *chain_id, *diff_id;
    char *blob_digest; /* compressed blob as stored; NULL when none */
    char *media_type;
    int64_t size, blob_size;
};

/* What an image add (pull, load, import) records, in one transaction. */
struct image_add {
    const char *id;                  /* config digest */
    const char *manifest_digest;     /* may be NULL (import, docker-archive load) */
    const char *manifest_media_type; /* may be NULL */
    const char *created;             /* from the config, may be NULL */
    const struct image_layer_rec *layers;
    size_t n_layers;
    const char *tag;         /* full normalised name to point at id, or NULL */
    const char *repo;        /* with repo_digest: "docker.io/library/busybox" */
    const char *repo_digest; /* "sha256:.." the image was pulled by, or NULL */
};
/* ret_previous (may be NULL): the id the tag named before (malloc'd, NULL if
 * none). */
int image_record_add(struct store *s, const struct image_add *a, char **ret_previous,
                     struct berth_error **err);

struct image_info {
    char *id;
    char **tags;    /* normalised names */
    char **digests; /* "repo@sha256:.." */
    int64_t size;
    char *created;
    int64_t added; /* unix seconds */
    char *manifest_digest;
    struct image_layer_rec *layers;
    size_t n_layers;
    struct image_config *config;
};
void image_info_free(struct image_info *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct image_info *, image_info_free)

int image_resolve(struct store *s, const char *name, char **ret_id, struct berth_error **err);
/* Load one image with its config. */
int image_get(struct store *s, const char *id, struct image_info **ret, struct berth_error **err);
/* Only the image's parsed config, owned by the module: an image id is the
 * digest of its config, so what it parses to never changes; the last one
 * asked for is kept for the life of the process (a `run` needs it three
 * times, and image_get's four queries showed in every start). *ret is
 * valid until the next call with another id. ENOENT for an id the store
 * does not have. */
int image_config_get(struct store *s, const char *id, const struct image_config **ret,
                     struct berth_error **err);
/* Every image, newest first. */
int image_list(struct store *s, struct image_info ***ret, size_t *ret_n, struct berth_error **err);
void image_info_list_free(struct image_info **l, size_t n);

/* Point tag (any reference form; normalised, default :latest) at the image
 * that source names. */
int image_tag(struct store *s, const char *source, const char *tag, struct berth_error **err);

/* One line of what a removal did, as Docker prints it: "Untagged: x:y" or
 * "Deleted: sha256:..". */
typedef void (*image_remove_cb)(const char *what, const char *value, void *userdata);
int image_remove(struct store *s, const char *name, bool force, image_remove_cb cb, void *userdata,
                 struct berth_error **err);
/* Remove dangling images (all unused with all=true); reports as above and
 * the bytes reclaimed. */
int image_prune(struct store *s, bool all, image_remove_cb cb, void *userdata,
                uint64_t *ret_reclaimed, struct berth_error **err);

/* Remove the blobs among candidates (NULL-terminated; NULL: every stored
 * blob) that no record names, under the store's exclusive GC lock
 * (store.h): waiting for it when wait, else doing nothing (0) when a pull,
 * load or push holds it, so the blobs stay for a later prune. Call holding
 * no other store lock. ret_reclaimed (may be NULL): bytes removed. */
int image_gc_blobs(struct store *s, char *const *candidates, bool wait, uint64_t *ret_reclaimed,
                   struct berth_error **err);

/* Docker's `image inspect` object for one image. */
json_t *image_inspect_json(struct store *s, const struct image_info *i);

#endif
