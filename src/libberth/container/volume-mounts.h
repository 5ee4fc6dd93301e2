/* volume-mounts.h - a container's volumes, binds and tmpfs mounts, from its
 * create to its removal (Docker's MountPoint model).
 *
 * Calling order: container_create -> container_mounts_create (after the
 * record exists; on failure the caller removes the record) ->
 * container_start -> container_mounts_oci (the OCI mounts for
 * oci_spec_context.extra_mounts) -> inspect: container_mounts_inspect ->
 * removal: container_mounts_anonymous before the record goes,
 * container_volumes_release after (or container_remove_with_volumes for
 * both).
 *
 * The list: <root>/containers/<id>/mounts.json, written once at create
 * (atomically; absent when the container has no mount), an array sorted by
 * destination, each entry Docker's MountPoint ({"Type": "volume"|"bind"|
 * "tmpfs", "Name", "Source", "Destination", "Driver", "Mode", "RW",
 * "Propagation"}) plus berth's own keys, which inspect drops: "CopyData"
 * (fill an empty volume from the image at start), "Anonymous",
 * "CreateSource" (a -v bind whose missing source is made at start),
 * "NonRecursive", "TmpfsSize", "TmpfsMode".
 *
 * What goes in, with Docker's precedence (daemon registerMountPoints and
 * createContainerOSSpecificSettings):
 *   1. HostConfig.VolumesFrom "C[:ro|:rw]": C's mount points (volumes,
 *      binds, tmpfs); ":ro" makes them read-only, ":rw" never makes a
 *      read-only one writable; no copy-up.
 *   2. HostConfig.Binds ("src:dst[:mode]", src a host path or a volume
 *      name) and HostConfig.Mounts (--mount): two of them on one
 *      destination (or one and a HostConfig.Tmpfs entry) is EINVAL
 *      "Duplicate mount point: /x"; they replace a volumes-from entry on the
 *      same destination. A --mount bind whose source is missing is EINVAL
 *      'invalid mount config for type "bind": bind source path does not
 *      exist: /x'; a -v one is created (mode 0755) at start.
 *   3. Config.Volumes (-v /path) and the image's VOLUMEs, for destinations
 *      nothing above covers: new anonymous volumes.
 * Destinations are cleaned lexically and made absolute ("../../etc" ->
 * "/etc", CVE-2022-23648): they are paths inside the container, resolved in
 * its rootfs by the runtime (runtime/mounts.c, RESOLVE_IN_ROOT, mounted
 * through the fd: CVE-2021-30465).
 * Missing named volumes are created (with --mount's volume-label and
 * volume-opt), anonymous ones created marked anonymous; each gets
 * volume_ref(container). On failure nothing is left: the volumes this call
 * created are removed, no ref stays.
 *
 * Mode (-v's third field): rw|ro, z|Z (accepted, ignored: no SELinux),
 * nocopy, a propagation (private rprivate shared rshared slave rslave),
 * consistency (consistent cached delegated; ignored); else EINVAL
 * "invalid mode: x". Inspect's Mode is that string, "z" for a -v volume
 * given none; binds show Propagation "rprivate" unless given.
 *
 * Copy-up (container_mounts_oci): a volume entry with CopyData whose _data
 * is empty is filled, under the volume's lock (volume_lock_take), with
 * the rootfs content at the destination (resolved from rootfd inside the
 * root; owners, modes, xattrs, hardlinks, symlinks kept, the directory's
 * own owner and mode too, as Docker's copyOwnership). A copy that fails
 * leaves the volume empty again.
 */
#ifndef BERTH_CONTAINER_VOLUME_MOUNTS_H
#define BERTH_CONTAINER_VOLUME_MOUNTS_H

#include <jansson.h>

#include "basic/error.h"
#include "libberth/store/store.h"

/* Resolve body's mounts + the image's VOLUMEs for container id (record
 * already made), create and ref volumes, write mounts.json. */
int container_mounts_create(struct store *s, const char *id, json_t *body, const char *image_id,
                            struct berth_error **err);

/* The OCI mount objects (a new array, sorted parents first; NULL when the
 * container has no mount) for the container whose rootfs is open as
 * rootfd; does the copy-up and makes missing -v bind sources. */
int container_mounts_oci(struct store *s, const char *id, int rootfd, json_t **ret,
                         struct berth_error **err);

/* Docker's inspect "Mounts" array (a new reference; [] when none). */
int container_mounts_inspect(struct store *s, const char *id, json_t **ret,
                             struct berth_error **err);

/* Names of the container's anonymous volumes (strv, maybe empty). */
int container_mounts_anonymous(struct store *s, const char *id, char ***ret,
                               struct berth_error **err);
/* Remove each volume of names that no container uses any more; the rest
 * (in use, already gone) stay as they are. Never fails (Docker logs). */
void container_volumes_release(struct store *s, char **names);

/* container_remove, then the container's anonymous volumes no other
 * container uses (--rm, rm -v). */
int container_remove_with_volumes(struct store *s, const char *id, struct berth_error **err);

#endif
