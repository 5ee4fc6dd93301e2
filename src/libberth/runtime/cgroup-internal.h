/* cgroup-internal.h - seams of cgroup.c for its unit tests; not for other modules.
 *
 * cgroup_new() reads /proc/self/mountinfo and /proc/self/cgroup and works on
 * the real cgroupfs. cgroup_new_sys() takes those texts and a root prefix
 * instead, so a test can build a fake cgroupfs tree in a temp directory and
 * check which files get which values for any layout, without root. The hooks
 * stand in for what the kernel does behind the files:
 *  - mkdir_hook runs after every mkdir of a cgroup directory, to create the
 *    knob files the kernel would show;
 *  - write_hook runs before every knob write: < 0 fails the write with that
 *    errno (as the kernel would refuse it), 1 means the hook did the write
 *    itself, 0 lets the plain write happen;
 *  - bpf_hook replaces loading and attaching the v2 device filter.
 * With plain_fs, cgroup_destroy() unlinks the knob files before rmdir (on a
 * real cgroupfs they vanish with the directory and cannot be unlinked).
 */
#ifndef BERTH_RUNTIME_CGROUP_INTERNAL_H
#define BERTH_RUNTIME_CGROUP_INTERNAL_H

#include <linux/bpf.h>
#include <stddef.h>

#include "libberth/runtime/cgroup.h"

struct cgroup_sys {
    const char *mountinfo;   /* text of /proc/self/mountinfo */
    const char *self_cgroup; /* text of /proc/self/cgroup */
    const char *root;        /* prefix for every mount point; "" or NULL for the host */
    bool plain_fs;
    void (*mkdir_hook)(void *userdata, const char *dir);
    int (*write_hook)(void *userdata, const char *path, const char *value);
    int (*bpf_hook)(void *userdata, const char *dir, const struct bpf_insn *insns, size_t n);
    void *userdata;
};

int cgroup_new_sys(const struct cgroup_sys *sys, const char *cgroups_path, const char *id,
                   bool systemd, struct cgroup **ret, struct berth_error **err);

int cgroup_mode_from_mountinfo(const char *mountinfo, enum cgroup_mode *ret,
                               struct berth_error **err);

/* The cgroup directory (root prefix included) in the hierarchy that holds
 * controller: a v1 name ("memory", "name=systemd") or "cgroup2" for the
 * unified hierarchy. NULL if there is none. */
const char *cgroup_dir_for(const struct cgroup *cg, const char *controller);

/* Compile a linux.resources.devices array (NULL: no user rules) into a
 * BPF_PROG_TYPE_CGROUP_DEVICE program; with defaults, the runtime's default
 * device rules are appended as runc does. *ret is malloc'ed. */
int cgroup_devices_compile(json_t *devices, bool defaults, struct bpf_insn **ret, size_t *ret_n,
                           struct berth_error **err);

/* Load a device filter program; returns the program fd in *ret_fd. */
int cgroup_bpf_load_devices(const struct bpf_insn *insns, size_t n, int *ret_fd,
                            struct berth_error **err);

#endif
