/* ops.h - the container operations beside the lifecycle (lifecycle.h):
 * pause, unpause, restart, top, update and prune, with Docker 20.10's
 * rules and messages. Rename is containers.h's container_rename; port is
 * read from container_inspect_json's NetworkSettings.Ports by the front end.
 *
 * Every function takes a name, an id or a unique id prefix (container_resolve)
 * and a store opened by the caller. Errors are the ones Docker's daemon
 * gives, so the CLI prints them after "Error: " and the API maps them:
 *   pause a stopped container   EINVAL "Container <id> is not running"
 *   pause a paused one          EBUSY  "Container <id> is already paused"
 *   unpause a non-paused one    EINVAL "Container <id> is not paused"
 *   top of a stopped one        EINVAL "Container <id> is not running"
 *   pause/top while restarting  EBUSY  "Container <id> is restarting, wait
 *                                       until the container is running"
 *
 * Pause and unpause freeze and thaw the container's cgroup through the
 * runtime (berth_runtime_pause/resume); the paused state is not written to
 * the state file: container_status reads it from the runtime, so a crash
 * between the two can never leave a lie behind.
 */
#ifndef BERTH_CONTAINER_OPS_H
#define BERTH_CONTAINER_OPS_H

#include <jansson.h>
#include <stdint.h>

#include "basic/error.h"
#include "libberth/store/store.h"

int container_pause(struct store *s, const char *name_or_id, struct berth_error **err);
int container_unpause(struct store *s, const char *name_or_id, struct berth_error **err);

/* Stop (timeout as container_stop: < 0 the container's StopTimeout, else
 * 10 s) when running or paused, then start, detached. */
int container_restart(struct store *s, const char *name_or_id, int timeout,
                      struct berth_error **err);

/* The processes of a running (or paused) container as the host's ps(1)
 * shows them: ps is run with ps_args split at spaces (NULL or "": "-ef"),
 * its header must have a PID column ("Couldn't find PID field in ps
 * output"), and only the lines whose PID is in the container's cgroup are
 * kept. A line with more fields than titles has the surplus joined into
 * its last field (a command line with spaces). "k=PID" forms in ps_args
 * other than "pid=PID" are refused, as Docker does, so the PID column stays
 * findable. */
struct container_top {
    char **titles;     /* strv */
    char ***processes; /* n_processes strvs, each as long as titles */
    size_t n_processes;
};
void container_top_free(struct container_top *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct container_top *, container_top_free)
int container_top(struct store *s, const char *name_or_id, const char *ps_args,
                  struct container_top **ret, struct berth_error **err);

/* Docker's ContainerUpdate body: the HostConfig resource fields Memory,
 * MemorySwap, MemoryReservation, NanoCpus, CpuShares, CpuPeriod, CpuQuota,
 * CpusetCpus, CpusetMems, BlkioWeight, PidsLimit, and RestartPolicy. As
 * Docker, a zero (or absent, or "") value leaves the current one; checks
 * are dockerd's (6MB minimum, swap >= memory, reservation <= memory, NanoCpus
 * vs CpuPeriod/CpuQuota conflicts, CPUs and cpusets the host has, a memory
 * limit above the current memoryswap limit needs a new memoryswap, no
 * restart policy on an AutoRemove container). A running or paused
 * container gets the new limits at once (berth_runtime_update); then the
 * container's body HostConfig records them, so inspect shows them and the
 * next start applies them. A failure leaves the record as it was (a
 * runtime that failed midway may have applied some limits, as runc). */
int container_update(struct store *s, const char *name_or_id, json_t *update,
                     struct berth_error **err);

/* Remove every container that is not running or paused (created, exited,
 * dead) and passes the filters: "until=<time>" (created before: a unix
 * time, an RFC 3339 date or a Go duration before now), "label=k[=v]",
 * "label!=k[=v]" (on the container's labels, the image's included).
 * Unknown keys: EINVAL "invalid filter 'k'". *ret_deleted (strv of full
 * ids, removal order) and *ret_reclaimed (bytes freed: the overlay upper
 * directory, or the vfs copy; directories not counted, hardlinks once)
 * are set even when a removal fails midway (err then says which). */
int container_prune(struct store *s, char **filters, char ***ret_deleted, uint64_t *ret_reclaimed,
                    struct berth_error **err);

#endif
