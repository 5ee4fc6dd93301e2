/* layer.h - unpacking an image layer (a tar, plain or compressed) into a
 * directory, safely.
 *
 * The tar is read with libarchive (gzip, zstd and plain detected by
 * content); writing is ours, through dirfds: every entry is created relative
 * to the layer root's fd, resolving parents with chase (RESOLVE_IN_ROOT), so
 * no name, symlink or hardlink can lead outside the root (CVE-2014-6407,
 * CVE-2014-9356); metadata is applied with fchownat/fchmodat/utimensat with
 * AT_SYMLINK_NOFOLLOW or on fds (CVE-2021-32760). Kept: ownership, modes
 * incl. setuid/setgid/sticky, mtimes, xattrs (user., trusted., security.
 * incl. security.capability), hardlinks (target resolved inside the root),
 * symlinks (stored verbatim), device nodes and fifos (skipped with a count
 * when mknod is not permitted), sparse files.
 *
 * Whiteouts (OCI image spec "layer.md"): ".wh.<name>" deletes <name> of a
 * lower layer; ".wh..wh..opq" marks its directory opaque. In overlay mode
 * (the default) they become what overlayfs understands: a 0:0 char device
 * for a whiteout, the xattr "trusted.overlay.opaque"="y" for an opaque
 * directory. In apply mode (the copy-based fallback) the layer is applied
 * onto the existing tree: whiteouts delete through dirfds, opaque clears the
 * directory's lower contents before the layer's own entries land. Invalid
 * whiteout names (".wh." alone, ".wh..wh.x" other than .opq, names with
 * '/') are errors.
 *
 * Caps: entry name length, total entries, total uncompressed bytes
 * (decompression bombs), xattr sizes. On any error the caller removes the
 * target directory (unpack into a temp dir, rename when done).
 */
#ifndef BERTH_IMAGE_LAYER_H
#define BERTH_IMAGE_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"

enum layer_mode {
    LAYER_OVERLAY, /* one directory per layer, whiteouts as overlayfs markers */
    LAYER_APPLY,   /* apply onto an existing tree (copy-based fallback) */
};

struct layer_limits {
    uint64_t max_bytes;   /* total uncompressed file bytes (default 64 GiB) */
    uint64_t max_entries; /* default 10 million */
};

struct layer_stats {
    uint64_t entries, bytes;
    uint64_t skipped_devices; /* device nodes we were not allowed to create */
};

/* Unpack the tar read from fd into the directory rootfd. */
int layer_unpack(int fd, int rootfd, enum layer_mode mode, const struct layer_limits *limits,
                 struct layer_stats *ret_stats, struct berth_error **err);

#endif
