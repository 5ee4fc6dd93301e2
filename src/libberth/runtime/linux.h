/* linux.h - turning a parsed OCI config into a process in new namespaces.
 *
 * linux_create() forks the container's init and drives it through setup with
 * a SOCK_SEQPACKET sync socket, in the calling (runtime) process:
 *
 *   runtime                                init (child)
 *   clone(new namespaces)        ->
 *   cgroup_add_pid, uid/gid maps <-        asks for maps (user namespace)
 *   oom_score_adj, "cgroup done" ->        setresuid(0), cgroup namespace,
 *                                          mounts, /dev
 *   prestart+createRuntime hooks <-        asks for hooks (if any)
 *                                          createContainer hooks, pivot_root,
 *                                          sysctls, masked/readonly paths,
 *                                          console, rlimits, user, caps,
 *                                          cwd, executable lookup
 *   returns (state is saved)     <-        "ready"; blocks reading exec.fifo
 *   ... `start` writes the fifo  ->        startContainer hooks, seccomp,
 *                                          execve
 *
 * Namespaces are created with one clone() when none is joined by path (the
 * fast path). Joining by path takes a first child that setns()es, creates the
 * user namespace, and clones the init with CLONE_PARENT; the init's pid then
 * arrives as SCM_CREDENTIALS so the kernel translates it.
 *
 * linux_exec() joins a running container's namespaces the same way and runs
 * one more process in it; it returns once the process has exec'd (the sync
 * socket closes on exec) or failed before exec (the error comes back).
 */
#ifndef BERTH_RUNTIME_LINUX_H
#define BERTH_RUNTIME_LINUX_H

#include <stdbool.h>
#include <sys/types.h>

#include "basic/error.h"
#include "cgroup.h"
#include "seccomp.h"
#include "spec.h"

struct linux_spawn {
    const struct oci_spec *spec;       /* the container's config */
    const struct oci_process *process; /* what to run */
    const char *id;
    const char *bundle;
    int fifo_fd;        /* create: exec.fifo opened O_RDWR, the init blocks reading it */
    int console_socket; /* -1 if none: receives the pty master */
    int preserve_fds;   /* fds 3..3+n-1 are passed to the process */
    bool no_pivot;
    bool no_new_keyring;
    const struct seccomp_program *seccomp;
    struct cgroup *cgroup;
    pid_t join_pid;          /* exec: the container's init, whose namespaces are joined */
    const int *idmapped_fds; /* internal to linux_create */
    /* out */
    pid_t pid;
};

int linux_create(struct linux_spawn *sp, struct berth_error **err);
int linux_exec(struct linux_spawn *sp, struct berth_error **err);
/* The OCI state JSON handed to hooks (status and pid as given). */
char *linux_hook_state(const struct oci_spec *spec, const char *id, const char *bundle,
                       const char *status, pid_t pid);

/* CVE-2019-5736: a process that enters a container while container
 * processes can see it must not run from the host's berth binary, or one
 * holding CAP_SYS_PTRACE can open /proc/<pid>/exe and later rewrite it.
 * Re-execute the current command from a sealed memfd copy (argv from
 * /proc/self/cmdline) unless already doing so. Returns 0 when sealed
 * already; on success it does not return. */
int cloned_binary_ensure(struct berth_error **err);
/* At debug level: log what binary this process runs from. */
void linux_log_exe(const char *who);

#endif
