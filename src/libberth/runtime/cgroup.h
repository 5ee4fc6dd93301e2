/* cgroup.h - a container's control group on cgroup v1, hybrid and unified v2.
 *
 * The layout is detected from /proc/self/mountinfo, never assumed: v1 (one
 * mount per controller, possibly co-mounted such as "cpu,cpuacct"), hybrid
 * (v1 plus a cgroup2 mount at /sys/fs/cgroup/unified that may hold some
 * controllers, e.g. only hugetlb) and unified (one cgroup2 mount). Each
 * controller is driven where the host has it; a limit for a controller the
 * host lacks is an error naming the field, a missing controller with no limit
 * asked for is ignored.
 *
 * Calling order for a new container:
 *   cgroup_new() -> cgroup_create() -> cgroup_apply_resources() ->
 *   cgroup_add_pid() ... cgroup_destroy().
 * Later commands (kill --all, pause, update, delete, ps) rebuild the same
 * struct from the saved (path, systemd) pair with cgroup_new() and use it
 * without cgroup_create().
 *
 * Paths: cgroupsPath absolute ("/a/b") is taken from the root of every
 * hierarchy; relative ("a/b") is under the calling process's own cgroup of
 * the memory hierarchy (the cgroup2 one on unified hosts), used as the base
 * in every hierarchy so that the saved path names the same directories
 * everywhere; NULL/empty means "<id>" relative. With the
 * systemd driver flag, "slice:prefix:name" is mapped to
 * "/<expanded slice path>/<prefix>-<name>.scope" on cgroupfs (no systemd is
 * asked: the cgroupfs driver does the work). A path with ".." components is
 * refused.
 */
#ifndef BERTH_RUNTIME_CGROUP_H
#define BERTH_RUNTIME_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"

enum cgroup_mode {
    CGROUP_MODE_LEGACY,  /* v1 only */
    CGROUP_MODE_HYBRID,  /* v1 + cgroup2 at /sys/fs/cgroup/unified */
    CGROUP_MODE_UNIFIED, /* cgroup2 only */
};

struct cgroup;

int cgroup_detect_mode(enum cgroup_mode *ret, struct berth_error **err);
/* The text of /proc/self/mountinfo, read at the first call of the process
 * and kept (owned by the module): what the cgroup hierarchies are mounted
 * as, for callers that parse it themselves (the init's /sys/fs/cgroup). */
int cgroup_host_mountinfo(const char **ret, struct berth_error **err);

/* Resolve where the container's cgroup lives; creates nothing. */
int cgroup_new(const char *cgroups_path, const char *id, bool systemd, struct cgroup **ret,
               struct berth_error **err);
/* The resolved path relative to each hierarchy root (e.g. "/berth/c1"). */
const char *cgroup_path(const struct cgroup *cg);
/* mkdir the cgroup in every hierarchy (parents as needed). An existing
 * directory is reused (runc allows sharing a cgroup). On failure nothing it
 * created is left behind. */
int cgroup_create(struct cgroup *cg, struct berth_error **err);
/* Apply linux.resources (OCI JSON object, may be NULL) to the cgroup: memory
 * (limit, reservation, swap, kernel, kernelTCP, swappiness, disableOOMKiller,
 * useHierarchy, checkBeforeUpdate), cpu (shares, quota, burst, period,
 * realtimeRuntime, realtimePeriod, cpus, mems, idle), pids.limit, blockIO
 * (weight, leafWeight, weightDevice, throttle*), hugepageLimits, network
 * (classID, priorities) where the host has them, devices (v1 allow/deny
 * lists; v2 an eBPF device filter attached to the cgroup), unified (raw
 * cgroup2 key/values). Field errors name the field ("linux.resources.memory.
 * limit: ..."). Used by create and by update (partial objects change only
 * what they name). */
int cgroup_apply_resources(struct cgroup *cg, json_t *resources, struct berth_error **err);
/* Move pid into the cgroup in every hierarchy. Slow: moving another process
 * takes the kernel's global threadgroup lock for writing, which waits for an
 * RCU grace period (8-13 ms measured on this kind of host). */
int cgroup_add_pid(struct cgroup *cg, pid_t pid, struct berth_error **err);

/* The fast way in, with no global lock: a single thread that writes "0" to
 * a v1 hierarchy's "tasks" file moves only itself and skips that lock, and
 * clone3(CLONE_INTO_CGROUP) places a new process in a cgroup2 directory at
 * fork. The kernel checks the right to migrate against the credentials that
 * opened the "tasks" file, so the runtime opens the files and the new
 * process writes them, even from inside a new user namespace. */
struct cgroup_entry {
    int v2_fd; /* cgroup2 directory for CLONE_INTO_CGROUP, or -1 */
    int tasks_fds[16];
    size_t n_tasks;
};
int cgroup_entry_open(struct cgroup *cg, struct cgroup_entry *ret, struct berth_error **err);
/* In the new, single-threaded process: enter every v1 hierarchy. No
 * allocation; returns -errno. */
int cgroup_entry_enter_self(const struct cgroup_entry *e);
void cgroup_entry_close(struct cgroup_entry *e);
/* Freeze (true) or thaw (false) and wait until the kernel reports the state. */
int cgroup_freeze(struct cgroup *cg, bool frozen, struct berth_error **err);
/* Whether the cgroup is frozen now. */
int cgroup_is_frozen(struct cgroup *cg, bool *ret, struct berth_error **err);
/* All pids in the cgroup (recursively), sorted. */
int cgroup_get_pids(struct cgroup *cg, pid_t **ret, size_t *ret_n, struct berth_error **err);
/* Send sig to every process in the cgroup (freezing around it so no fork escapes). */
int cgroup_kill_all(struct cgroup *cg, int sig, struct berth_error **err);
/* Remove the cgroup directories (children first, retrying briefly while the
 * kernel still reports EBUSY for exiting tasks). Missing is success. */
int cgroup_destroy(struct cgroup *cg, struct berth_error **err);

struct cgroup_stats {
    uint64_t memory_usage, memory_limit, memory_max_usage, memory_cache;
    uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
    uint64_t pids_current, pids_limit;
    uint64_t blkio_read_bytes, blkio_write_bytes;
    uint64_t oom_kills;
};
int cgroup_get_stats(struct cgroup *cg, struct cgroup_stats *ret, struct berth_error **err);

void cgroup_free(struct cgroup *cg);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cgroup *, cgroup_free)

#endif
