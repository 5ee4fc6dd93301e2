/* mounts.h - the container's root filesystem, built inside its mount namespace.
 *
 * Called by the container's init process, in order:
 *   rootfs_prepare()   propagation of "/", rootfs bind-mounted onto itself,
 *                      every config mount, /dev and its devices;
 *   (createContainer hooks run here, paths still resolving on the host)
 *   rootfs_pivot()     pivot_root (or MS_MOVE+chroot with no_pivot);
 *   rootfs_finalize()  masked and read-only paths, read-only root.
 * Every destination is resolved from the rootfs dirfd (chase_open), and every
 * mount targets the resolved fd through /proc/self/fd, so a symlink swapped
 * in by a shared volume cannot redirect it (CVE-2021-30465). Mounts of proc
 * and sysfs refuse symlinks anywhere on the way (CVE-2019-16884,
 * CVE-2019-19921). All of /dev is set up relative to the rootfs dirfd
 * (CVE-2026-41579).
 */
#ifndef BERTH_RUNTIME_MOUNTS_H
#define BERTH_RUNTIME_MOUNTS_H

#include <stdbool.h>

#include "basic/error.h"
#include "spec.h"

struct rootfs_opts {
    bool in_userns;         /* mknod and some mounts are refused in a user namespace */
    bool new_cgroupns;      /* cgroup mounts show the container's cgroup as root */
    bool joined_mntns;      /* an existing mount namespace (not a copy of the runtime's) */
    unsigned host_root_uid; /* the host uid of the container's root, for messages */
    /* Per config mount: a detached, already idmapped mount made by the
     * runtime (see linux.c), or -1. NULL when there is none. */
    const int *idmapped_fds;
};

/* Create the missing destination of a file bind mount in a rootfs exactly
 * as the init would (open_destination: parents and file made inside the
 * root, never following a symlink out), ahead of the init. Racing the
 * init is harmless: both create with O_EXCL. */
int rootfs_precreate_file(int rootfd, const char *dest, struct berth_error **err);

/* Returns an O_PATH fd of the rootfs mount in *ret_rootfd. */
int rootfs_prepare(const struct oci_spec *spec, const struct rootfs_opts *o, int *ret_rootfd,
                   struct berth_error **err);
int rootfs_pivot(const struct oci_spec *spec, int rootfd, bool no_pivot, struct berth_error **err);
int rootfs_finalize(const struct oci_spec *spec, const struct rootfs_opts *o,
                    struct berth_error **err);
/* Allocate the container's terminal from its own devpts (after pivot): the
 * master is sent to console_socket, the peer (from TIOCGPTPEER, never opened
 * by path: CVE-2025-52565) is returned and, for the init, bind-mounted on
 * /dev/console. */
int rootfs_setup_console(int console_socket, const struct oci_process *p, int *ret_peer,
                         bool bind_console, struct berth_error **err);
/* Write "value" to /proc/sys/<key with dots as slashes> through a private
 * procfs instance, refusing symlinks and non-procfs targets (CVE-2025-52881). */
int proc_write_sysctl(int procfd, const char *key, const char *value, struct berth_error **err);
/* Make the detached idmapped mount for m (bind with idmap/ridmap): the
 * source cloned with open_tree, its ids mapped through a user namespace
 * built from m's uidMappings/gidMappings. Runs in the runtime, which has
 * the privilege over the source filesystem that the kernel asks for. */
int mount_make_idmapped(const struct oci_mount *m, int *ret_fd, struct berth_error **err);
/* A detached, private procfs mount for safe writes (fsopen/fsmount). */
int proc_open_private(struct berth_error **err);

#endif
