/* exec.h - `exec`: run another process in a running container.
 *
 * The process is built as Docker builds it: the container's own process
 * (its env, cwd, user, capabilities, rlimits, no-new-privileges) with the
 * command replaced, then the exec options applied: Env entries set over the
 * container's, User resolved in the container's /etc/passwd and /etc/group
 * (read through the container's root, never NSS: CVE-2019-14271),
 * WorkingDir, Tty, Privileged (every capability, no AppArmor profile; the
 * seccomp filter stays, as Docker's).
 *
 * There is no daemon to hold the process: berth_runtime_exec makes it a
 * child of the caller (CLONE_PARENT), which waits for it with waitpid() and
 * relays its stdio. So the caller must reap it. With detach it is instead
 * the child of a waiter process that container_exec forks (own session,
 * every inherited fd closed, exits when the process does; a stop or rm -f
 * of the container ends both): the caller may simply exit, and the
 * process is never left a zombie of the host's pid 1. ret->pid is then
 * the process's pid, not the caller's child.
 *
 * Stdio. The process never gets the caller's own fds: with a tty it gets a
 * new pty (the master is returned); otherwise pipes (returned), or
 * /dev/null for stdin when not interactive and for everything with detach.
 * A host terminal passed into a container could be used to inject input
 * into the host shell (TIOCSTI, CVE-2017-5226's class). For the length of
 * the call the caller's fds 0-2 are swapped for the process's ends and put
 * back: the runtime hands the new process the caller's fds 0-2, so the
 * caller must be single-threaded while it runs.
 */
#ifndef BERTH_CONTAINER_EXEC_H
#define BERTH_CONTAINER_EXEC_H

#include <stdbool.h>
#include <sys/types.h>

#include "basic/error.h"
#include "libberth/store/store.h"

struct container_exec_opts {
    char **cmd;          /* non-empty */
    char **env;          /* "KEY=VALUE" set over the container's env; may be NULL */
    const char *user;    /* "name", "uid", "name:group", "uid:gid"; NULL/"": the container's */
    const char *workdir; /* absolute; NULL/"": the container's */
    bool tty, interactive, privileged, detach;
    unsigned short rows, cols; /* with tty: the initial size (0: the kernel's default) */
};

/* What the caller holds afterwards; fds are -1 when not used. */
struct container_exec_proc {
    pid_t pid;
    int master;                         /* tty: the pty master (read output, write input) */
    int stdin_fd, stdout_fd, stderr_fd; /* no tty: pipe ends (stdin only if interactive) */
    char *id;                           /* the container's full id */
};
void container_exec_proc_release(struct container_exec_proc *p);

/* Errors: -ENOENT "No such container: x"; -EINVAL "Container <id> is not
 * running" (also for a paused container: "Container <id> is paused,
 * unpause the container before exec"); the runtime's message when the
 * command cannot be run ("executable file not found in $PATH", "permission
 * denied"): front ends map those to 127 and 126. */
int container_exec(struct store *s, const char *name_or_id, const struct container_exec_opts *o,
                   struct container_exec_proc *ret, struct berth_error **err);

#endif
