/* layers.h - unpacked layers: <root>/layers/<chain-hex>/diff.
 *
 * A layer is unpacked once per chain id (OCI image spec: ChainID(L1) =
 * DiffID(L1), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))) and
 * shared by every image that has it. Creation happens in a private temp
 * directory (<root>/layers/tmp/<random>/diff) that is renamed into place
 * only once complete, so a crash or kill never leaves a partial layer under a
 * chain id. The diff fd that layer_store_create hands out holds an flock on
 * the temp layer: keep it open until commit or abort. Temp layers nobody
 * holds (their writer died) are removed by the next layer_store_open.
 *
 * Exclusion: layer_store_lock() takes an flock on <root>/layers/locks/<hex>.
 * A puller holds the locks of its layers from before it looks for them until
 * its image record is committed, so two pulls of one layer store it once, and
 * garbage collection (which only try-locks) never removes a layer that a
 * concurrent pull is about to reference. Blobs have their own store-wide
 * GC lock (store.h), taken before any layer lock; one operation locks one
 * image's chains at a time, bottom to top (two loads of [X, Y] and [Y, X]
 * must not wait for each other).
 *
 * Drivers: "overlay" keeps each layer's own files (whiteouts as overlayfs
 * markers; containers mount lowerdir=top:..:bottom); "vfs", the copy-based
 * fallback for hosts without overlayfs (or forced), keeps in each layer the
 * complete tree up to it (the caller applies every layer in order). The
 * driver is fixed when a store is created (meta table) and reported by
 * store.h.
 */
#ifndef BERTH_STORE_LAYERS_H
#define BERTH_STORE_LAYERS_H

#include <stdbool.h>

#include "basic/error.h"

struct layer_store;

int layer_store_open(const char *root, struct layer_store **ret, struct berth_error **err);
void layer_store_free(struct layer_store *ls);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct layer_store *, layer_store_free)

/* Lock a chain id; wait=false returns -EBUSY when someone holds it. *ret_fd
 * is the lock (close it to release). */
int layer_store_lock(struct layer_store *ls, const char *chain_id, bool wait, int *ret_fd,
                     struct berth_error **err);
bool layer_store_has(struct layer_store *ls, const char *chain_id);
/* A new temp layer: *ret_tmp names it for commit/abort; *ret_diff_fd is an
 * O_PATH-free directory fd of its (empty) diff directory. */
int layer_store_create(struct layer_store *ls, char **ret_tmp, int *ret_diff_fd,
                       struct berth_error **err);
/* Rename the temp layer into place as chain_id (call with the lock held). */
int layer_store_commit(struct layer_store *ls, const char *tmp, const char *chain_id,
                       struct berth_error **err);
void layer_store_abort(struct layer_store *ls, const char *tmp);
/* Remove a layer directory (missing is success). */
int layer_store_remove(struct layer_store *ls, const char *chain_id, struct berth_error **err);
/* "<root>/layers/<hex>/diff" (malloc'd), whether or not it exists. */
char *layer_store_diff_path(struct layer_store *ls, const char *chain_id);
/* sha256 chain id of parent (NULL for the first layer) and diff_id. */
void layer_chain_id(const char *parent_chain, const char *diff_id, char out[72]);

#endif
