/* container.h - the OCI runtime operations (create, start, state, kill,
 * delete, exec, pause, resume, update, list, ps, run) on a state root.
 *
 * These are what `berth-runtime` (and later berth's container monitor) call;
 * front ends only parse flags, call one of these, and print. Each operation
 * either completes or leaves nothing behind: a failed create removes its
 * state directory, cgroup and processes.
 */
#ifndef BERTH_RUNTIME_CONTAINER_H
#define BERTH_RUNTIME_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "basic/error.h"
#include "spec.h"
#include "state.h"

struct berth_runtime {
    const char *root;    /* state root, e.g. /run/berth-runtime */
    bool systemd_cgroup; /* cgroupsPath is "slice:prefix:name" */
    /* Where compiled seccomp programs are cached (seccomp.h), or NULL for
     * none: berth's containers use <runroot>/seccomp-cache; berth-runtime
     * driven by other engines keeps nothing beyond their containers. */
    const char *seccomp_cache;
};

struct berth_create_opts {
    const char *id;
    const char *bundle; /* absolute */
    const char *pid_file;
    const char *console_socket;
    bool no_pivot;
    bool no_new_keyring;
    int preserve_fds;
    /* Internal: a connected socket to receive the pty master (run -t). */
    int console_fd;
    /* Internal: the bundle's config.json as the caller just wrote it, so
     * it is not read and parsed again (and the state's copy is a hard link
     * of the bundle's file); NULL: read it from the bundle. */
    json_t *config;
    /* Internal: berth_runtime_cgroup_prepare() made the config's cgroup;
     * create takes it as it is (and removes it if it fails). */
    bool cgroup_prepared;
};

int berth_runtime_create(const struct berth_runtime *rt, const struct berth_create_opts *o,
                         pid_t *ret_pid, struct berth_error **err);
/* The cgroup a container with this cgroupsPath and id will have, made
 * ahead of berth_runtime_create (the directories in every hierarchy, as
 * create makes them): its ten mkdirs on a v1 host are the longest step of
 * a create, and a caller that knows the path early can have them made in
 * parallel with its other work. berth_runtime_cgroup_discard() removes it
 * again when the create does not happen. */
int berth_runtime_cgroup_prepare(const struct berth_runtime *rt, const char *cgroups_path,
                                 const char *id, struct berth_error **err);
void berth_runtime_cgroup_discard(const struct berth_runtime *rt, const char *cgroups_path,
                                  const char *id);
/* The destinations of the config's file bind mounts (/etc/hosts and the
 * like) made in the rootfs ahead of the init, as it would make them: in an
 * overlay each creation copies its directory up (~0.15 ms for the three
 * of /etc on the store's disk), which a caller can have done beside other
 * work. Best effort: what fails here the init does (and reports). */
void berth_runtime_precreate_binds(const char *rootfs, const char *const *dests);
int berth_runtime_start(const struct berth_runtime *rt, const char *id, struct berth_error **err);
/* The start of a container the caller has just created, whose config has
 * no hooks, under the caller's own lock: the exec fifo written without
 * loading, locking and re-checking the runtime state. A fifo with a reader
 * is a created container waiting for its start; without a reader (the
 * init died) the open fails with ENXIO and nothing starts. */
int berth_runtime_start_created(const struct berth_runtime *rt, const char *id,
                                struct berth_error **err);
int berth_runtime_state(const struct berth_runtime *rt, const char *id,
                        struct container_state **ret, struct berth_error **err);
int berth_runtime_kill(const struct berth_runtime *rt, const char *id, int sig, bool all,
                       struct berth_error **err);
int berth_runtime_delete(const struct berth_runtime *rt, const char *id, bool force,
                         struct berth_error **err);
int berth_runtime_pause(const struct berth_runtime *rt, const char *id, struct berth_error **err);
int berth_runtime_resume(const struct berth_runtime *rt, const char *id, struct berth_error **err);
/* resources: an OCI linux.resources object (partial: only what it names changes). */
int berth_runtime_update(const struct berth_runtime *rt, const char *id, json_t *resources,
                         struct berth_error **err);
int berth_runtime_pids(const struct berth_runtime *rt, const char *id, pid_t **ret, size_t *ret_n,
                       struct berth_error **err);
struct cgroup_stats;
/* Resource usage of the container's cgroup now. */
int berth_runtime_stats(const struct berth_runtime *rt, const char *id, struct cgroup_stats *ret,
                        struct berth_error **err);
/* All containers under the root, sorted by id. */
int berth_runtime_list(const struct berth_runtime *rt, struct container_state ***ret, size_t *ret_n,
                       struct berth_error **err);

struct berth_exec_opts {
    const char *id;
    struct oci_process *process; /* complete process to run */
    const char *console_socket;
    const char *pid_file;
    int preserve_fds;
    int console_fd; /* internal, as in create */
};
int berth_runtime_exec(const struct berth_runtime *rt, const struct berth_exec_opts *o,
                       pid_t *ret_pid, struct berth_error **err);
/* A process for exec: the container's process as defaults, args replaced. */
int berth_runtime_exec_process(const struct berth_runtime *rt, const char *id, char **args,
                               struct oci_process **ret, struct berth_error **err);

/* Parse "KILL", "SIGKILL", "9", "SIGRTMIN+3". */
int signal_from_string(const char *s);

#endif
