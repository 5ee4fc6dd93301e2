/* store.h - berth's persistent and runtime state, opened as one.
 *
 * root (default /var/lib/berth): berth.db, blobs/, layers/ (and later
 * containers/, volumes/); runroot (default /run/berth): state that must
 * vanish on reboot. The storage driver ("overlay" or "vfs") is chosen when
 * the store is first used (overlay when the kernel has it, unless the
 * caller forces one) and recorded in the db: a store never changes driver,
 * and asking for the other one is an error naming both.
 *
 * The GC lock (an flock on <root>/gc.lock) keeps blob deletion away from
 * blobs nobody references yet. A pull, load, import or push holds it shared
 * from before its first blob write until the image record that names its
 * blobs has committed (push and save: while they read blobs). Only a holder
 * of the exclusive lock deletes blobs (rmi, prune, a failed pull or load
 * cleaning up), and only blobs that no record names at that moment: with no
 * shared holder, an unreferenced blob is garbage. A failed operation does
 * not wait for it (store_gc_lock_try): its blobs stay as garbage that the
 * next `image prune` collects. Ordering: take the GC lock before any layer
 * lock (layers.h), and the exclusive one with no other store lock held, so
 * a shared holder waiting for a layer lock never waits on an exclusive
 * waiter that holds it.
 */
#ifndef BERTH_STORE_STORE_H
#define BERTH_STORE_STORE_H

#include "basic/error.h"
#include "libberth/store/blob.h"
#include "libberth/store/db.h"
#include "libberth/store/layers.h"

#define STORE_DEFAULT_ROOT "/var/lib/berth"
#define STORE_DEFAULT_RUNROOT "/run/berth"

struct store_options {
    const char *root;    /* NULL: STORE_DEFAULT_ROOT */
    const char *runroot; /* NULL: STORE_DEFAULT_RUNROOT */
    const char *driver;  /* NULL: as recorded, else detected */
};

struct store {
    char *root, *runroot;
    char *driver; /* "overlay" or "vfs" */
    /* <runroot>/seccomp-cache: compiled seccomp programs of the containers'
     * profiles (runtime/seccomp.h), gone at reboot with the runroot. */
    char *seccomp_cache;
    /* <runroot>/runtime: the OCI runtime's state of berth's containers. */
    char *runtime_root;
    struct berth_db *db;
    struct blob_store *blobs;
    struct layer_store *layers;
};

int store_open(const struct store_options *opts, struct store **ret, struct berth_error **err);
void store_free(struct store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct store *, store_free)

/* The GC lock (see above); *ret_fd is the lock, close it to release. A
 * shared or exclusive request waits; store_gc_lock_try takes it exclusive
 * or returns -EBUSY without waiting. */
int store_gc_lock_shared(struct store *s, int *ret_fd, struct berth_error **err);
int store_gc_lock_exclusive(struct store *s, int *ret_fd, struct berth_error **err);
int store_gc_lock_try(struct store *s, int *ret_fd, struct berth_error **err);

/* Whether the running kernel offers overlayfs. */
bool store_overlay_supported(void);

#endif
