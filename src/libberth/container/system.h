/* system.h - operations on a whole store.
 *
 * system_reset (`berth system reset`, podman's command of that name):
 * everything the store made goes, on the host too - containers (stopped
 * and removed, with their mounts, cgroups, veths, port rules and DNS
 * records), volumes (tmpfs- and bind-backed ones unmounted), networks (user
 * networks, and the default network's bridge device and firewall elements,
 * which otherwise outlive every container), images, and then the store's
 * own files under root and runroot. Only names berth itself creates are
 * deleted there, never anything else a user put in those directories. The
 * caller must not use the store afterwards (its db is gone): system_reset
 * frees it. A store in use by another berth process at the same time gets
 * what that process does, as with `rm -rf`; reset is for tests and for
 * starting over, not for a running system.
 */
#ifndef BERTH_CONTAINER_SYSTEM_H
#define BERTH_CONTAINER_SYSTEM_H

#include "basic/error.h"
#include "libberth/store/store.h"

/* Always frees s. Failures of single objects are skipped (the rest still
 * goes); the first is returned. */
int system_reset(struct store *s, struct berth_error **err);

#endif
