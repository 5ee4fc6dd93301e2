/* spec.h - the OCI runtime configuration (config.json), parsed and validated.
 *
 * oci_spec_load() reads a bundle's config.json, checks it against the schema
 * of the runtime spec (types, required fields, enum values, known capability
 * and namespace names) and turns it into plain C data that the container
 * setup code can use after fork without touching JSON. Subtrees owned by other
 * modules (linux.resources for cgroups, linux.seccomp) stay as json_t and are
 * parsed by those modules. Every error names the field: "process.args: ...".
 */
#ifndef BERTH_RUNTIME_SPEC_H
#define BERTH_RUNTIME_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"

#define OCI_CONFIG_MAX (16u << 20)

struct oci_rlimit {
    int resource;
    uint64_t soft, hard;
    const char *name;
};

/* Capability sets as bit masks (bit N = capability N). */
struct oci_caps {
    uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct oci_user {
    uid_t uid;
    gid_t gid;
    bool has_umask;
    mode_t umask;
    gid_t *additional_gids;
    size_t n_additional_gids;
    char *username; /* only for Windows in the spec; kept for errors */
};

struct oci_io_priority {
    bool set;
    int class_; /* IOPRIO_CLASS_* */
    int priority;
};

struct oci_scheduler {
    bool set;
    int policy;
    int nice;
    int priority;
    uint64_t flags;
    uint64_t runtime, deadline, period;
};

struct oci_process {
    bool terminal;
    unsigned console_height, console_width;
    char **args;
    char **env;
    char *cwd;
    struct oci_user user;
    bool has_caps;
    struct oci_caps caps;
    struct oci_rlimit *rlimits;
    size_t n_rlimits;
    bool no_new_privileges;
    char *apparmor_profile;
    char *selinux_label;
    bool has_oom_score_adj;
    int oom_score_adj;
    struct oci_io_priority io_priority;
    struct oci_scheduler scheduler;
};

struct oci_idmap {
    uint32_t container_id, host_id, size;
};

enum oci_mount_attr_flags {
    OCI_MOUNT_BIND = 1 << 0,
    OCI_MOUNT_RBIND = 1 << 1,
    OCI_MOUNT_TMPCOPYUP = 1 << 2,
    OCI_MOUNT_IDMAP = 1 << 3,
    OCI_MOUNT_RIDMAP = 1 << 4,
};

struct oci_mount {
    char *destination;
    char *type; /* may be NULL for bind mounts */
    char *source;
    unsigned long flags;       /* MS_* to set */
    unsigned long clear_flags; /* MS_* explicitly cleared (rw, suid, ...) */
    unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) */
    uint64_t rec_attr_set;     /* MOUNT_ATTR_* applied recursively (rro, rnosuid ...) */
    uint64_t rec_attr_clr;
    unsigned attrs; /* enum oci_mount_attr_flags */
    char *data;     /* filesystem-specific options, comma-joined */
    struct oci_idmap *uid_mappings, *gid_mappings;
    size_t n_uid_mappings, n_gid_mappings;
};

struct oci_hook {
    char *path;
    char **args;
    char **env;
    int timeout; /* seconds; 0 = none */
};

enum oci_hook_kind {
    OCI_HOOK_PRESTART,
    OCI_HOOK_CREATE_RUNTIME,
    OCI_HOOK_CREATE_CONTAINER,
    OCI_HOOK_START_CONTAINER,
    OCI_HOOK_POSTSTART,
    OCI_HOOK_POSTSTOP,
    OCI_HOOK_KIND_MAX,
};

struct oci_hook_list {
    struct oci_hook *hooks;
    size_t n;
};

struct oci_namespace {
    int type;   /* CLONE_NEW* */
    char *path; /* join this one instead of creating */
};

struct oci_device {
    char type; /* 'c', 'b', 'u', 'p' */
    char *path;
    int64_t major, minor;
    bool has_mode;
    mode_t file_mode;
    uid_t uid;
    gid_t gid;
    bool has_uid, has_gid;
};

struct oci_sysctl {
    char *key, *value;
};

struct oci_linux {
    struct oci_namespace *namespaces;
    size_t n_namespaces;
    struct oci_idmap *uid_mappings, *gid_mappings;
    size_t n_uid_mappings, n_gid_mappings;
    bool has_time_offsets;
    int64_t monotonic_secs, boottime_secs;
    uint32_t monotonic_nsecs, boottime_nsecs;
    struct oci_device *devices;
    size_t n_devices;
    char *cgroups_path;
    json_t *resources;                /* linux.resources, parsed by cgroup.c */
    unsigned long rootfs_propagation; /* 0 = default (rslave) */
    json_t *seccomp;                  /* linux.seccomp, compiled by seccomp.c */
    struct oci_sysctl *sysctls;
    size_t n_sysctls;
    char **masked_paths;
    char **readonly_paths;
    char *mount_label;
    bool has_personality;
    unsigned long personality;
};

struct oci_spec {
    json_t *json; /* the whole document; annotations and subtrees point into it */
    char *oci_version;
    char *root_path; /* absolute after load (bundle-relative resolved) */
    bool root_readonly;
    char *hostname;
    char *domainname;
    struct oci_process *process;
    struct oci_mount *mounts;
    size_t n_mounts;
    struct oci_hook_list hooks[OCI_HOOK_KIND_MAX];
    json_t *annotations;
    struct oci_linux linux_;
};

/* Load <bundle>/config.json. The rootfs path is made absolute against the
 * bundle; whether it exists is checked by the caller that needs it. */
int oci_spec_load(const char *bundle, struct oci_spec **ret, struct berth_error **err);
int oci_spec_parse(json_t *doc, const char *bundle, struct oci_spec **ret,
                   struct berth_error **err);
/* Parse a process object (config "process", or exec's --process file). */
int oci_process_parse(json_t *j, const char *where, struct oci_process **ret,
                      struct berth_error **err);
void oci_process_free(struct oci_process *p);
void oci_spec_free(struct oci_spec *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct oci_spec *, oci_spec_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct oci_process *, oci_process_free)

/* The namespace entry of this CLONE_NEW* type, or NULL. */
const struct oci_namespace *oci_spec_namespace(const struct oci_spec *s, int type);
const char *oci_hook_kind_name(enum oci_hook_kind k);

/* Namespace type names ("network", "pid" ...) to CLONE_NEW* and back. */
int ns_type_from_name(const char *name);
const char *ns_type_to_name(int type);
/* The /proc/<pid>/ns/<file> name for a CLONE_NEW* type ("net", "mnt" ...). */
const char *ns_type_proc_name(int type);

#endif
