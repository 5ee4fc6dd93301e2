/* netns-prep.h - a container's network namespace, made ahead and in
 * parallel.
 *
 * Why: creating a network namespace is the longest single kernel step of a
 * container start (~0.45 ms of the init's clone here), and nothing before
 * the clone depends on it. So `run` forks a small helper right after
 * parsing its flags: the helper unshares a network namespace, brings its
 * loopback up (Docker's containers have `lo` up, --network none included)
 * and waits. Meanwhile the CLI opens the store, makes the record and
 * writes the bundle, on the other CPU; then netns_prep_take() opens the
 * helper's namespace and lets it exit, and the container joins the
 * namespace by that fd (the runtime enters it around the init's clone).
 *
 * The helper holds nothing of the caller's: it keeps only its two pipe
 * ends, and it exits when the caller releases it, takes the namespace, or
 * dies (EOF on its pipe), so a namespace nobody took goes with it.
 */
#ifndef BERTH_CONTAINER_NETNS_PREP_H
#define BERTH_CONTAINER_NETNS_PREP_H

#include <stdbool.h>
#include <sys/types.h>

#include "basic/error.h"

struct netns_prep {
    pid_t pid;     /* the helper, 0 when none */
    int ready_r;   /* reads "1" once the namespace exists and lo is up */
    int release_w; /* closing it ends the helper */
};
#define NETNS_PREP_NONE ((struct netns_prep){.pid = 0, .ready_r = -1, .release_w = -1})

/* Fork the helper. On failure p stays NONE (the container then gets its
 * namespace from the runtime, as without a helper). */
void netns_prep_start(struct netns_prep *p);
/* Wait for the helper, return an fd (O_CLOEXEC) of its network namespace
 * and let it exit; p becomes NONE. */
int netns_prep_take(struct netns_prep *p, struct berth_error **err);
/* End the helper if it was not taken (the namespace goes with it). */
void netns_prep_release(struct netns_prep *p);

#endif
