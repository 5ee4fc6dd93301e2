/* spec-default.h - the configs berth writes rather than reads: the template of
 * `berth-runtime spec` and the `features` document (runtime-spec features.md). */
#ifndef BERTH_RUNTIME_SPEC_DEFAULT_H
#define BERTH_RUNTIME_SPEC_DEFAULT_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* A runnable config for a rootfs in ./rootfs; rootless adds a user namespace
 * mapping uid/gid to root and drops what an unprivileged user cannot do. */
json_t *spec_default(bool rootless, uid_t uid, gid_t gid);
json_t *spec_features(void);
/* The device cgroup rules every container gets so its default /dev nodes
 * work (null, zero, full, random, urandom, tty, console, ptmx, pts/N). */
json_t *spec_default_device_rules(void);

#endif
