/* volumes.h - named and anonymous volumes of the "local" driver.
 *
 * A volume is a row in the metadata db (table volumes: name, driver,
 * created, labels and driver options as JSON, anonymous) and a directory
 * <root>/volumes/<name>/ whose _data subdirectory is what containers mount
 * (mode 0755 root:root, the parent 0700 so only root can reach it; Docker's
 * layout). Names are Docker's: [a-zA-Z0-9][a-zA-Z0-9_.-]+ ("x" includes
 * invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]"
 * are allowed. If you intended to pass a host directory, use absolute
 * path); a nameless create makes a 64-hex name.
 *
 * Anonymous volumes (from `-v /path`, `--mount type=volume` without a
 * source, or an image VOLUME) are marked anonymous (and carry Docker 23's
 * label com.docker.volume.anonymous=""); `volume prune` removes only those
 * unless asked for all, and `rm -v` / `--rm` remove a container's
 * anonymous volumes, never named ones.
 *
 * Driver options (Docker's local driver): "type", "o", "device" only
 * (another key: 'invalid option key: "x"'). With none, _data is a plain
 * directory. With type/device, _data is a mount point: mount(device, _data,
 * type, flags and data parsed from o) - type=tmpfs device=tmpfs o=size=64m,
 * or o=bind device=/host/dir (an absolute existing directory) - made when a
 * container first needs it (volume_path) and unmounted by volume_remove.
 * A tmpfs-backed volume so keeps its data until it is removed or the host
 * reboots (Docker unmounts it when its last container stops; berth has no
 * daemon to count them - docs/compatibility.md).
 *
 * In use: a volume is in use while any container record refers to it
 * (table volume_refs, container_id ON DELETE CASCADE): from the container's
 * create to its removal, running or not, as Docker counts. volume_remove of
 * a volume in use fails with EBUSY 'remove x: volume is in use - [<ids>]'
 * (Docker's words), with or without force; force only makes a missing
 * volume a success.
 *
 * Export / import: a tar stream of _data's contents (entries relative,
 * "./" first; owners, modes, mtimes, xattrs, hardlinks, symlinks, devices,
 * sparse files) - Docker has no such command; berth's backup and restore.
 * Import reads a tar (plain, gzip or zstd) with image/layer.h's unpacker in
 * apply mode, so entries that escape (.., absolute, through symlinks) are
 * refused and nothing outside _data is touched; it extracts into a staging
 * directory next to _data and swaps it in only when the whole archive was
 * good, so a bad archive leaves the volume exactly as it was. Import
 * creates a missing volume; into an existing non-empty one it needs force
 * (else EEXIST "volume x is not empty: use --force to replace its
 * contents"), and replaces the contents. A volume in use is refused
 * (EBUSY, as rm) unless force.
 *
 * Locking: every change of one volume (create, remove, import, mount,
 * copy-up) is under an flock on <root>/volumes/.<name>.lock (a name no
 * volume can have: a volume "x.lock" must not be x's lock), and the db row
 * changes in one transaction, so concurrent creates of one name give one
 * volume and a remove never races a container's volume_ref.
 */
#ifndef BERTH_VOLUME_VOLUMES_H
#define BERTH_VOLUME_VOLUMES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "libberth/store/store.h"

#define VOLUME_ANONYMOUS_LABEL "com.docker.volume.anonymous"

struct volume {
    char *name;
    char *driver;     /* "local" */
    char *created;    /* RFC 3339, seconds, UTC ("2026-11-30T05:00:00Z") */
    char *mountpoint; /* <root>/volumes/<name>/_data */
    json_t *labels;   /* object, never NULL */
    json_t *options;  /* object of driver options, never NULL */
    bool anonymous;
};
void volume_free(struct volume *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct volume *, volume_free)
void volume_list_free(struct volume **l, size_t n);

struct volume_create_opts {
    const char *name;   /* NULL: a new 64-hex name */
    const char *driver; /* NULL or "local"; anything else: ENOTSUP
                           'plugin "x" not found' */
    json_t *labels;     /* object or NULL */
    json_t *options;    /* object or NULL: driver options */
    bool anonymous;     /* also implied by name NULL (Docker's volume service) */
};
/* Create, or return the existing volume of that name (Docker's create is
 * idempotent; an existing one with another driver is EEXIST "create x:
 * volume name is already used with driver local"). *ret_created tells
 * which (may be NULL). On failure nothing is left. */
int volume_create(struct store *s, const struct volume_create_opts *o, struct volume **ret,
                  bool *ret_created, struct berth_error **err);
/* (volume_create, volume_remove, volume_prune and volume_import run their
 * own db transaction: never call them inside one. volume_ref is a single
 * statement and may be.) */
/* -ENOENT "No such volume: x" when missing. */
int volume_get(struct store *s, const char *name, struct volume **ret, struct berth_error **err);
/* Every volume, sorted by name. */
int volume_list(struct store *s, struct volume ***ret, size_t *ret_n, struct berth_error **err);
/* Ids of the containers that use it (volume_refs), NULL-terminated strv. */
int volume_users(struct store *s, const char *name, char ***ret, struct berth_error **err);

/* Record that container id uses the volume (idempotent). container_create calls volume_ref for each
 * volume it mounts; the rows go with the container's record (ON DELETE CASCADE). */
int volume_ref(struct store *s, const char *name, const char *container_id,
               struct berth_error **err);

/* The host path to mount for the volume: its _data, mounted first when it
 * has driver options and is not mounted yet. */
int volume_path(struct store *s, const char *name, char **ret, struct berth_error **err);

/* Remove (see "In use" above). force: a missing volume is not an error. */
int volume_remove(struct store *s, const char *name, bool force, struct berth_error **err);

struct volume_prune_opts {
    bool all;      /* named volumes too, not only anonymous ones */
    char **labels; /* strv of Docker --filter label=k[=v] / label!=k[=v]
                      terms ("label=a=b", "label!=c"); NULL: none */
};
/* Remove every volume no container uses that matches; *ret_removed the
 * names (strv), *ret_reclaimed the bytes their _data held. */
int volume_prune(struct store *s, const struct volume_prune_opts *o, char ***ret_removed,
                 uint64_t *ret_reclaimed, struct berth_error **err);

/* Bytes used by _data (st_blocks, hardlinks once); for `system df`/-v. */
int volume_size(struct store *s, const char *name, uint64_t *ret, struct berth_error **err);

/* Take the lock of the volume name (see Locking; the volume need not
 * exist): the fd, close it to release. For the container's copy-up. */
int volume_lock_take(struct store *s, const char *name, struct berth_error **err);

/* Docker's volume inspect object (api/types/volume.Volume: empty maps as
 * null). */
json_t *volume_inspect_json(const struct volume *v);

int volume_export(struct store *s, const char *name, int fd, struct berth_error **err);
int volume_import(struct store *s, const char *name, int fd, bool force, struct berth_error **err);

/* ---- helpers, exported for the CLI, container mounts and unit tests ---- */

/* 0, or -EINVAL with Docker's message for a name a local volume cannot
 * have (see above); names are also capped at VOLUME_NAME_MAX bytes, since
 * each is a directory and a lock file name. */
#define VOLUME_NAME_MAX 200
int volume_name_check(const char *name, struct berth_error **err);

/* The mount a volume's driver options describe (type/o/device): flags
 * from o's mount flags (ro, nosuid, nodev, noexec, bind, rbind, ...),
 * propagation from its propagation words (shared, rprivate, ...), data
 * the rest of o joined by ','. */
struct volume_mount_spec {
    char *type, *device, *data;
    unsigned long flags, propagation;
};
void volume_mount_spec_release(struct volume_mount_spec *m);
/* Check an options object (keys, required companions, values are strings,
 * a bind device is an absolute existing directory) and parse it; ret may be
 * NULL (check only). Returns 1 when the options ask for a mount, 0 when
 * _data is a plain directory. */
int volume_options_parse(json_t *options, struct volume_mount_spec *ret, struct berth_error **err);

/* Docker's label filter terms: "label=k", "label=k=v", "label!=k",
 * "label!=k=v" (anything else: -EINVAL). volume_labels_match: every term
 * holds for the labels object. */
int volume_label_terms_check(char *const *terms, struct berth_error **err);
bool volume_labels_match(json_t *labels, char *const *terms);

#endif
