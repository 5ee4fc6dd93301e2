/* netns-prep.h - a container's network namespace, made ahead and in
 * parallel.
 *
 * Why: creating a network namespace is the longest single kernel step of a
 * container start (~0.45 ms of the init's clone here), and nothing before
 * the clone depends on it. So `run` starts a thread right after parsing its
 * flags: the thread unshares a network namespace of its own (namespaces are
 * per thread), brings its loopback up (Docker's containers have `lo` up,
 * --network none included), opens an fd of it and ends. Meanwhile the main
 * thread opens the store, makes the record and writes the bundle, on the
 * other CPU; netns_prep_take() joins the thread and returns the fd, and the
 * container joins the namespace by it (the runtime enters it around the
 * init's clone). A thread, not a process: a fork would make every page the
 * CLI writes afterwards a copy-on-write fault, which cost more than the
 * namespace saves.
 *
 * The thread touches nothing of the caller's but the struct; it is always
 * joined (take or release) before the caller forks.
 */
#ifndef BERTH_CONTAINER_NETNS_PREP_H
#define BERTH_CONTAINER_NETNS_PREP_H

#include <stdbool.h>
#include <pthread.h>
#include <sys/types.h>

#include "basic/error.h"

struct netns_prep {
    bool started;
    pthread_t thread;
    int fd;  /* set by the thread: the namespace, or -1 */
    int err; /* set by the thread: errno of what failed */
};
#define NETNS_PREP_NONE ((struct netns_prep){.started = false, .fd = -1})

/* Start the thread. On failure p stays NONE (the container then gets its
 * namespace from the runtime, as without it). */
void netns_prep_start(struct netns_prep *p);
/* Join the thread and return an fd (O_CLOEXEC) of its network namespace;
 * p becomes NONE. */
int netns_prep_take(struct netns_prep *p, struct berth_error **err);
/* Join the thread if it was not taken; the namespace goes with its fd. */
void netns_prep_release(struct netns_prep *p);

#endif
