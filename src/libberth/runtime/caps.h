/* caps.h - capability names and the five capability sets of a process.
 *
 * Names follow the OCI spec and runc ("CAP_SYS_ADMIN"). A name berth does not
 * know is an error; a known capability newer than the running kernel is
 * silently dropped (runc does the same), so one config works across kernels.
 */
#ifndef BERTH_RUNTIME_CAPS_H
#define BERTH_RUNTIME_CAPS_H

#include <stdint.h>

#include "basic/error.h"

struct oci_caps;

/* Number for "CAP_X", or -1. */
int berth_cap_from_name(const char *name);
const char *berth_cap_to_name(int cap);
/* The highest capability number known to the running kernel. */
int berth_cap_last(void);
/* Number of capability names berth knows (numbered 0..n-1). */
int berth_cap_count(void);

/* Drop every capability not in caps->bounding from the bounding set. Needs
 * CAP_SETPCAP, so it runs before the switch to the container's user. */
int caps_drop_bounding(const struct oci_caps *caps, struct berth_error **err);
/* Set effective/permitted/inheritable with capset(2), then the ambient set.
 * Runs after setuid (with PR_SET_KEEPCAPS held across it). Allocation-free
 * unless it fails. */
int caps_set(const struct oci_caps *caps, struct berth_error **err);

/* The calling process's permitted set as bounding, effective and permitted
 * (inheritable and ambient empty). */
void caps_get_permitted(struct oci_caps *ret);
/* Keep permitted capabilities across the setuid() that switches to the
 * container's user (PR_SET_KEEPCAPS). Returns -errno. */
int caps_keep_on_setuid(int on);

#endif
