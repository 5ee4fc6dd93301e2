/* state.h - a container's state directory under the runtime root.
 *
 * <root>/<id>/ holds:
 *   state.json   written atomically once the container is created: pid, the
 *                pid's start time (guards against pid reuse), bundle, rootfs,
 *                creation time, cgroup path, and the config it was made from;
 *   config.json  the bundle's config as it was at create (hooks for delete,
 *                defaults for exec);
 *   exec.fifo    present from create until start: its existence is what
 *                makes a live container "created" rather than "running".
 * A directory without state.json is a create in progress, or the remains of a
 * crashed one; delete removes it either way.
 *
 * Status is computed, never stored: the init pid alive (same start time, not
 * a zombie) + fifo => created; + frozen cgroup => paused; alive => running;
 * else stopped.
 */
#ifndef BERTH_RUNTIME_STATE_H
#define BERTH_RUNTIME_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"
#include "basic/units.h" /* rfc3339_now */

enum container_status {
    STATUS_CREATING,
    STATUS_CREATED,
    STATUS_RUNNING,
    STATUS_PAUSED,
    STATUS_STOPPED,
};

struct container_state {
    char *id;
    char *dir; /* <root>/<id> */
    int dir_fd;
    pid_t pid;
    uint64_t pid_start; /* field 22 of /proc/<pid>/stat */
    char *bundle;
    char *rootfs;
    char *created; /* RFC 3339 */
    char *cgroup_path;
    bool systemd_cgroup;
    bool use_terminal;
    uid_t owner;
    json_t *config; /* config.json at create: container_state_config() */
    bool config_tried;
    /* Which kinds of hooks config.json has: bit (1 << enum oci_hook_kind),
     * or -1 when the state does not say (an older berth's). start and
     * delete read the config only for a kind that is there (or unknown). */
    int hook_kinds;
    json_t *annotations;
    enum container_status status;
};

/* The id rule of runc: [A-Za-z0-9_+.-], not "." or "..", at most 1024 bytes. */
int container_id_validate(const char *id, struct berth_error **err);
/* Load <root>/<id>. -ENOENT with "container 'x' does not exist" when absent.
 * The status is computed as described above. */
int container_state_load(const char *root, const char *id, struct container_state **ret,
                         struct berth_error **err);
/* config.json as saved at create, read on first use (most operations -
 * state, kill, delete without hooks - never need the 10 kB document); NULL
 * when unreadable. Owned by s. */
json_t *container_state_config(struct container_state *s);
/* Recompute s->status now. */
enum container_status container_state_refresh(struct container_state *s);
int container_state_save(const struct container_state *s, struct berth_error **err);
/* The OCI state JSON: ociVersion, id, status, pid, bundle, annotations
 * (+ rootfs, created, owner as runc prints them). */
json_t *container_state_to_oci_json(const struct container_state *s, bool runc_fields);
const char *container_status_name(enum container_status st);
/* Start time of a pid (field 22 of /proc/<pid>/stat); 0 and -errno if gone.
 * *ret_zombie tells whether it has exited but not been reaped. */
int proc_pid_start_time(pid_t pid, uint64_t *ret, bool *ret_zombie);
/* Take an exclusive lock on the state dir (blocks). */
int container_state_lock(struct container_state *s, struct berth_error **err);
void container_state_free(struct container_state *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct container_state *, container_state_free)

#endif
