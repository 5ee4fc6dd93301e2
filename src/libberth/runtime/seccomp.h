/* seccomp.h - OCI linux.seccomp profiles compiled to a BPF filter.
 *
 * The profile is compiled in the runtime process before the container's
 * process is forked (so errors surface at create time and the child does no
 * allocation-heavy work), then loaded by the child as its last step before
 * execve. libseccomp does the compilation: defaultAction, defaultErrnoRet,
 * architectures (SCMP_ARCH_* names), flags (SECCOMP_FILTER_FLAG_*), syscalls
 * with names, action, errnoRet and args conditions (index, value, valueTwo,
 * op SCMP_CMP_*). Unknown syscall names are skipped (they may not exist on
 * this kernel/arch, as runc does); unknown actions, ops, arches or flags are
 * errors naming the field ("linux.seccomp.syscalls[3].action: ...").
 * SCMP_ACT_NOTIFY needs listenerPath; the notify fd is then sent to that
 * unix socket with the container state, as the spec describes.
 */
#ifndef BERTH_RUNTIME_SECCOMP_H
#define BERTH_RUNTIME_SECCOMP_H

#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>

#include "basic/error.h"

struct seccomp_program;

/* Compile linux.seccomp (a JSON object). */
int seccomp_program_compile(json_t *profile, struct seccomp_program **ret,
                            struct berth_error **err);
/* The program is libseccomp's, rewritten by seccomp-bpf.h into a smaller
 * one with the same verdicts. For tests: libseccomp's program as exported,
 * without that rewrite. */
int seccomp_program_compile_unrewritten(json_t *profile, struct seccomp_program **ret,
                                        struct berth_error **err);
/* The same, through a cache of compiled programs in cache_dir (created
 * 0700; NULL: no cache) keyed by the profile, libseccomp's version, the
 * rewrite's version (SECCOMP_BPF_REWRITE_VERSION) and the machine. */
int seccomp_program_compile_cached(json_t *profile, const char *cache_dir,
                                   struct seccomp_program **ret, struct berth_error **err);
/* Install the filter on the calling thread. If the profile used
 * SCMP_ACT_NOTIFY, *ret_notify_fd receives the listener fd (else -1).
 * Async-signal-safe enough to run in a forked child: no allocation. */
int seccomp_program_load(const struct seccomp_program *prog, int *ret_notify_fd,
                         struct berth_error **err);
/* The compiled filter and its seccomp(2) flags, for a loader that runs in
 * another process image (the exec stub loads it right before execve). */
const struct sock_fprog *seccomp_program_fprog(const struct seccomp_program *prog,
                                               unsigned long *ret_flags);
/* listenerPath and listenerMetadata of the profile, or NULL. */
const char *seccomp_program_listener_path(const struct seccomp_program *prog);
const char *seccomp_program_listener_metadata(const struct seccomp_program *prog);
void seccomp_program_free(struct seccomp_program *prog);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct seccomp_program *, seccomp_program_free)

/* For `features`: the action, operator, arch and flag names this build knows. */
json_t *seccomp_features_json(void);

#endif
