/* tree-tar.h - a directory tree, walked through dirfds, written as a tar;
 * and a check that a tar's entries stay inside the directory they unpack
 * into.
 *
 * Writer: tree_tar_open on an output fd, then tree_tar_add for each object
 * to write (an O_PATH fd opened without following it, its stat, and the
 * name it gets in the archive), then tree_tar_finish, then tree_tar_free
 * (always). Below a directory every child is opened O_PATH|O_NOFOLLOW from
 * its parent's fd, so a symlink swapped in mid-walk (a running container,
 * a volume in use) is written as a symlink and never followed
 * (CVE-2018-15664); a regular file is read by reopening its O_PATH fd,
 * which pins the inode that was checked. Owner names are never looked up
 * (CVE-2019-14271). Kept: ids, modes incl. setuid/setgid/sticky, mtimes,
 * xattrs user.* and security.capability, hardlinks (within the archive),
 * symlinks, device nodes and fifos; sockets are skipped (Docker's).
 *
 * Names: an object added as "" is a directory whose contents only are
 * written, as "x", "x/y"; added as "." its own entry comes first as "./"
 * and the contents follow as "./x"; any other name is the name of the
 * object itself, its contents below it ("name/x").
 *
 * libarchive is dlopen()ed on first use (common/dl.h).
 */
#ifndef BERTH_IMAGE_TREE_TAR_H
#define BERTH_IMAGE_TREE_TAR_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "basic/error.h"

struct tree_tar_opts {
    bool gzip;      /* compress the stream */
    bool set_owner; /* every entry owned by uid:gid (docker cp without -a) */
    uid_t uid;
    gid_t gid;
    /* An image layer from an overlay upper dir: 0:0 char devices become
     * ".wh.<name>" entries, trusted.overlay.opaque=y directories get a
     * ".wh..wh..opq" entry. */
    bool layer;
    /* Leave out the empty etc/hosts, etc/hostname, etc/resolv.conf that
     * berth makes as mount points in every container. */
    bool skip_berth_files;
};

struct tree_tar;

int tree_tar_open(int fd, const struct tree_tar_opts *opts, struct tree_tar **ret,
                  struct berth_error **err);
int tree_tar_add(struct tree_tar *t, int pathfd, const struct stat *st, const char *name,
                 struct berth_error **err);
/* Write the end of the archive; the output fd stays open (the caller's). */
int tree_tar_finish(struct tree_tar *t, struct berth_error **err);
void tree_tar_free(struct tree_tar *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tree_tar *, tree_tar_free)

/* Read the tar (plain, gzip or zstd) on fd to its end and refuse (EPERM,
 * naming the entry) any entry that could land outside the directory it is
 * unpacked into: a ".." component, an absolute name, a name below an
 * earlier symlink entry of the archive, or a hardlink whose target is any
 * of those. layer_unpack confines such entries anyway (it resolves inside
 * the root); this is for callers that must refuse the archive as a whole
 * (volume import: nothing changes). The fd is left at its end. */
int tree_tar_check_confined(int fd, struct berth_error **err);

/* The names in a directory (without . and ..), sorted (strv). */
int tree_list_dir(int dfd, char ***ret, struct berth_error **err);
/* Whether name (relative to a container's root) with that stat is one of
 * the empty mount points berth makes in every container for the files it
 * binds in (etc/hosts, etc/hostname, etc/resolv.conf): not the
 * container's changes. */
bool tree_is_berth_file(const char *name, const struct stat *st);

#endif
