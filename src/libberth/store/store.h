/* store.h - berth's persistent and runtime state, opened as one.
 *
 * root (default /var/lib/berth): berth.db, blobs/, layers/ (and later
 * containers/, volumes/); runroot (default /run/berth): state that must
 * vanish on reboot. The storage driver ("overlay" or "vfs") is chosen when
 * the store is first used (overlay when the kernel has it, unless the
 * caller forces one) and recorded in the db: a store never changes driver,
 * and asking for the other one is an error naming both.
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
    struct berth_db *db;
    struct blob_store *blobs;
    struct layer_store *layers;
};

int store_open(const struct store_options *opts, struct store **ret, struct berth_error **err);
void store_free(struct store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct store *, store_free)

/* Whether the running kernel offers overlayfs. */
bool store_overlay_supported(void);

#endif
