/* hooks.h - running OCI lifecycle hooks.
 *
 * A hook is executed with its args and env (nothing inherited), the
 * container's state JSON on stdin, stdout and stderr captured. A hook that
 * exits non-zero, is killed, or outlives its timeout (it is then SIGKILLed)
 * fails with its own stderr in the message:
 *   "hooks.prestart[0] '/usr/bin/x': exit status 1: <stderr>"
 */
#ifndef BERTH_RUNTIME_HOOKS_H
#define BERTH_RUNTIME_HOOKS_H

#include "basic/error.h"
#include "spec.h"

/* Run every hook of one kind in order; stops at the first failure. */
int hooks_run(const struct oci_hook_list *list, enum oci_hook_kind kind, const char *state_json,
              struct berth_error **err);

#endif
