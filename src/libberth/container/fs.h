/* fs.h - a container's files from the outside: cp, diff, export, commit.
 *
 * The rootfs of a container is attacker-controlled: any path component may
 * be a symlink to "/" or "../../..", and a process in the container may
 * swap one in between our check and our use (CVE-2018-15664, `docker cp`).
 * So no path inside a container is ever joined to the host path of its
 * rootfs: the rootfs directory is opened once and every path below it is
 * resolved from that fd with chase.h (openat2 RESOLVE_IN_ROOT), every file
 * of a tree walk is opened from its parent's fd with O_NOFOLLOW, and writes
 * into the container go through layer_unpack (layer.h), which resolves
 * each entry the same way. A stopped container's rootfs is mounted for the
 * operation and unmounted after; a running one's stays as it is.
 *
 * cp follows Docker's archive semantics (`docker cp`):
 *   - SRC a file: DEST an existing directory -> DEST/basename(SRC); else
 *     DEST is the file (created or replaced; its parent must exist; a DEST
 *     ending in "/" must be an existing directory).
 *   - SRC a directory: DEST missing -> created as a copy of SRC; DEST an
 *     existing directory -> DEST/basename(SRC), or with SRC ending in "/."
 *     SRC's contents into DEST; DEST an existing file -> error.
 *   - a missing SRC in a container: "Could not find the file /x in
 *     container c" (ENOENT).
 *   - "-" as DEST writes a tar of SRC to the given fd (entries named from
 *     basename(SRC)); "-" as SRC reads a tar (plain, gzip or zstd) and
 *     extracts it into DEST, which must be a directory; entries keep the
 *     ownership the tar gives them.
 *   - Ownership: without CP_ARCHIVE files land owned by the destination's
 *     "user": root (0:0) in a container, the calling user on the host; with
 *     it, the source's uid/gid. CP_FOLLOW follows a symlink that SRC itself
 *     names (never ones below it).
 * Entries named ".wh.*" are whiteouts to layer_unpack's apply mode and are
 * not copied as files.
 *
 * diff: the overlay driver's upper dir against the image's layers: a
 * whiteout is "D", an entry no lower layer has (or under an opaque
 * directory) "A", anything else "C"; sorted by path. The files berth
 * itself bind-mounts (/etc/hosts, /etc/hostname, /etc/resolv.conf) and
 * the mount points the runtime makes for them are left out when empty, as
 * Docker's init layer hides them. vfs: -ENOTSUP.
 *
 * export: the merged root as a tar stream on fd (ownership, modes, mtimes,
 * symlinks, hardlinks, devices).
 *
 * commit: the upper dir as a gzip tar layer (overlay whiteouts turned back
 * into ".wh.<name>" files, opaque directories into ".wh..wh..opq"), then
 * image_import with the image as parent (archive.h): config = the
 * container's merged Config with the changes applied. A running container
 * is paused meanwhile when pause is set. vfs: -ENOTSUP.
 *
 * Temporary tars (cp between host and container, commit's layer) are
 * unlinked O_TMPFILE files in <root> (never in memory: they can be large).
 */
#ifndef BERTH_CONTAINER_FS_H
#define BERTH_CONTAINER_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "basic/error.h"
#include "libberth/store/store.h"

enum container_cp_flags {
    CONTAINER_CP_ARCHIVE = 1 << 0, /* -a: keep the source's uid/gid */
    CONTAINER_CP_FOLLOW = 1 << 1,  /* -L: follow a symlink named by SRC */
};

/* Container path to host path, or (host_dest NULL) to a tar stream on fd. */
int container_cp_from(struct store *s, const char *name_or_id, const char *src,
                      const char *host_dest, int fd, unsigned flags, struct berth_error **err);
/* Host path to container path, or (host_src NULL) a tar stream read from fd
 * extracted into the directory dest. */
int container_cp_to(struct store *s, const char *host_src, int fd, const char *name_or_id,
                    const char *dest, unsigned flags, struct berth_error **err);

struct container_change {
    char kind; /* 'A', 'C' or 'D' */
    char *path;
};
void container_changes_free(struct container_change *c, size_t n);
int container_diff(struct store *s, const char *name_or_id, struct container_change **ret,
                   size_t *ret_n, struct berth_error **err);

int container_export(struct store *s, const char *name_or_id, int fd, struct berth_error **err);

struct container_commit_options {
    char *const *changes;   /* Dockerfile instructions, may be NULL */
    const char *message;    /* -m */
    const char *author;     /* -a */
    const char *repository; /* REPOSITORY[:TAG], or NULL */
    bool pause;             /* pause a running container meanwhile */
};
/* *ret_id: "sha256:<hex>". */
int container_commit(struct store *s, const char *name_or_id,
                     const struct container_commit_options *o, char **ret_id,
                     struct berth_error **err);

#endif
