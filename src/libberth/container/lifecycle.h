/* lifecycle.h - the container operations the CLI and the API server call:
 * create, start (with the monitor), stop, kill, wait, remove, the exit
 * handler, and the status every listing shows.
 *
 * Calling order: container_create (record + state "created") ->
 * container_start (mount the rootfs, write the OCI bundle, fork the monitor,
 * which creates the container with the in-process runtime and execs the
 * stub; optionally connect to its attach socket; then start) -> the
 * container runs under its monitor -> at exit the stub execs
 * `berth container-exited`, which calls container_exited() (records the
 * exit, deletes the runtime state, unmounts, and removes an AutoRemove
 * container) -> container_remove.
 *
 * Paths: the runtime state root is <runroot>/runtime, the OCI bundle
 * <runroot>/containers/<id>/ (config.json, attach.sock, ctl.sock: the
 * monitor's control socket, monitor.h).
 *
 * Status (container_status): the state file says what the monitor last
 * wrote; it is checked against reality: a "running" container whose init
 * is gone and whose monitor is gone (killed) reads as "exited" with the
 * exit code unknown (-1) and Error "monitor gone", never as running.
 */
#ifndef BERTH_CONTAINER_LIFECYCLE_H
#define BERTH_CONTAINER_LIFECYCLE_H

#include <jansson.h>
#include <stdbool.h>

#include "basic/error.h"
#include "libberth/container/containers.h"
#include "libberth/container/netns-prep.h"
#include "libberth/image/manifest.h"
#include "libberth/runtime/container.h"
#include "libberth/store/store.h"

/* The runtime handle for berth's containers in this store. */
static inline struct berth_runtime container_runtime(const struct store *s)
{
    return (struct berth_runtime){.root = s->runtime_root, .seccomp_cache = s->seccomp_cache};
}

/* Make a container from a ContainerCreate body; the image must be in the
 * store (the front end pulls first, as its --pull says). */
int container_create(struct store *s, json_t *body, const char *name, char **ret_id,
                     struct berth_error **err);

struct container_start_opts {
    bool attach; /* connect to the monitor before the container starts */
    /* With a tty: the pty's size before the container's process runs (so
     * its first `stty size` is right); 0 leaves the kernel's default. */
    unsigned short rows, cols;
    /* With attach: take over the exit handling (monitor.h
     * MONITOR_CTL_HANDOFF). *handoff_fd becomes the pipe's write end (or
     * -1 when it could not be set up: the monitor's exit handler runs as
     * usual); once the exit frame says the handoff holds, the caller must
     * call container_exit_handled(). */
    int *handoff_fd;
    /* A network namespace being made for this container (netns-prep.h),
     * started by the caller as early as it could; taken (or released when
     * the container does not need one). NULL: container_start prepares one
     * itself for a container that needs a new network namespace. */
    struct netns_prep *netns;
    /* Work begun for this start as soon as the container existed
     * (container_start_prep_new); taken over (freed) in every case. */
    struct container_start_prep *prep;
};
struct container_start_prep;
/* For a container_start() that is sure to follow (run), right after
 * create: the container's cgroup is made by a helper thread from now on,
 * beside the caller's own work, instead of from the start's beginning. */
struct container_start_prep *container_start_prep_new(struct store *s, const char *id);
/* What it made is removed (when no start took it over). */
void container_start_prep_free(struct container_start_prep *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct container_start_prep *, container_start_prep_free)
/* The container's lock (an flock on its directory; returns the fd to close
 * to release it): container_start holds it while it starts the container
 * (two starts at once: the loser would roll back, and remove, what the
 * winner made; the monitor's inherited copy closes at its exec), and
 * cp/export/commit while they use a rootfs they may have mounted
 * themselves, so a start never finds it unmounted under it. */
int container_lock(struct store *s, const char *id, struct berth_error **err);
/* What every operation that changes one container starts with: resolve
 * name_or_id, take its lock, read its record. *ret_lock is the lock (close
 * it to release); on failure nothing is held. */
int container_get_locked(struct store *s, const char *name_or_id, char **ret_id, int *ret_lock,
                         struct container_record **ret, struct berth_error **err);

/* Start a created or exited container. With attach, *ret_attach_fd is a
 * connected attach socket (monitor.h protocol) on which nothing of the
 * container's output has been missed. Starting a running container is a
 * no-op (Docker's), a paused one an error. */
int container_start(struct store *s, const char *name_or_id, const struct container_start_opts *o,
                    int *ret_attach_fd, struct berth_error **err);

/* StopSignal (default SIGTERM), then SIGKILL after timeout seconds
 * (timeout < 0: the container's StopTimeout, else 10). Waits until it has
 * exited. Stopping a stopped container succeeds. */
int container_stop(struct store *s, const char *name_or_id, int timeout, struct berth_error **err);
/* Send a signal; -EINVAL "Container <id> is not running" when it is not. */
int container_kill(struct store *s, const char *name_or_id, int sig, struct berth_error **err);
/* Block until the container is not running; its exit code. */
int container_wait(struct store *s, const char *name_or_id, int *ret_code,
                   struct berth_error **err);
/* Remove; a running container needs force (then killed first): else
 * -EBUSY "You cannot remove a running container <id>. Stop the container
 * before attempting removal or force remove". */
int container_rm(struct store *s, const char *name_or_id, bool force, struct berth_error **err);

/* Connect to a running container's monitor (monitor.h attach protocol):
 * output from now on, input to its stdin. -EINVAL "Container <id> is not
 * running" (Docker's message) when it is not; the full id in *ret_id. */
int container_attach(struct store *s, const char *name_or_id, int *ret_fd, char **ret_id,
                     struct berth_error **err);
/* Set the window size of a running container's pty (monitor.h control
 * message); a container without a tty ignores it. */
int container_resize(struct store *s, const char *id, unsigned short rows, unsigned short cols,
                     struct berth_error **err);

/* The exit handler (run by `berth container-exited`, never by users). */
int container_exited(struct store *s, const char *id, int wait_status, struct berth_error **err);

/* For a caller that took the exit handling over (handoff_fd above) and
 * got the exit frame with the handoff flag: container_exited(), then tells
 * the monitor it is done and closes handoff_fd. */
int container_exit_handled(struct store *s, const char *id, int wait_status, int handoff_fd,
                           struct berth_error **err);

/* After a reboot (`berth system boot`): start the container when its
 * restart policy says so: "always" unless it runs, "unless-stopped" unless
 * it runs or a user stopped or killed it. *ret_started tells whether it
 * was started. */
int container_boot(struct store *s, const char *id, bool *ret_started, struct berth_error **err);

/* The state file, corrected by what the system says now (see above). */
int container_status(struct store *s, const char *id, struct container_state_file *ret,
                     struct berth_error **err);

/* The id of a name or id prefix and its corrected state (container_status);
 * release *ret with container_state_file_release. */
int container_resolve_state(struct store *s, const char *name_or_id, char **ret_id,
                            struct container_state_file *ret, struct berth_error **err);
/* The id of a name or id prefix and its corrected status ("running",
 * "paused", "exited", ...; malloc'd). */
int container_resolve_status(struct store *s, const char *name_or_id, char **ret_id,
                             char **ret_status, struct berth_error **err);

/* Docker's `docker ps` status text: "Created", "Up 3 minutes",
 * "Up 3 minutes (Paused)", "Exited (0) 2 seconds ago". */
char *container_status_text(const struct container_state_file *st);

/* The command the container runs: Entrypoint + Cmd with Docker's rules (a
 * body Entrypoint drops the image's Cmd). img may be NULL. */
char **container_command(json_t *body, const struct image_config *img);

/* Docker's container inspect object. */
int container_inspect_json(struct store *s, const char *name_or_id, json_t **ret,
                           struct berth_error **err);

#endif
