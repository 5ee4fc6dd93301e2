/* oci-spec.h - a container's OCI runtime config (config.json) from the
 * ContainerCreate body (create-config.h) and the image's config, with
 * Docker 20.10's defaults. Pure: no I/O besides what the context names.
 *
 * What Docker does, and so berth:
 *  - process: args = Entrypoint + Cmd (the body's override the image's; a
 *    body Entrypoint resets the image Cmd; neither: an error "No command
 *    specified"); env = image Env, then the body's (same key replaces),
 *    PATH defaulted to Docker's if absent, HOSTNAME set, TERM=xterm with a
 *    tty; cwd = WorkingDir or "/"; user: "uid[:gid]" numeric, or names
 *    resolved by the caller from the container's /etc/passwd and
 *    /etc/group through a dirfd (SECURITY.md: no NSS inside the root) and
 *    passed in ctx->user (+ additional gids from GroupAdd and the user's
 *    groups); terminal = Tty; rlimits from Ulimits (Docker's default
 *    RLIMIT_NOFILE is the daemon's, berth keeps the caller's);
 *    noNewPrivileges from SecurityOpt no-new-privileges; oomScoreAdj.
 *  - capabilities: Docker's default set (CHOWN DAC_OVERRIDE FSETID FOWNER
 *    MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT
 *    KILL AUDIT_WRITE) + CapAdd - CapDrop ("ALL" allowed, names with or
 *    without "CAP_", case-insensitive); bounding = effective = permitted;
 *    inheritable and ambient empty (CVE-2022-29162); Privileged: all.
 *  - namespaces: pid, ipc, uts, mount, network (NetworkMode "none" or
 *    default: new; "host": none; a ctx->netns_path: join it), cgroup (new on
 *    cgroup v2 hosts, host's on v1, as Docker's default cgroupns mode).
 *  - mounts: /proc, /dev (tmpfs), /dev/pts, /dev/shm (ShmSize, default
 *    64 MiB), /dev/mqueue, /sys (ro; rw when privileged), /sys/fs/cgroup
 *    (ro), the per-container /etc/hosts, /etc/hostname, /etc/resolv.conf
 *    files given in ctx, Tmpfs entries, and ctx->extra_mounts (volumes and
 *    binds, made by the caller) in order.
 *  - masked paths and read-only paths: Docker's lists (none when
 *    privileged); ReadonlyRootfs -> root.readonly.
 *  - seccomp: berth's default profile (Docker's semantics: an allow list,
 *    syscalls added for capabilities the container holds, arch-specific
 *    entries) unless SecurityOpt seccomp=unconfined or seccomp=<file JSON
 *    given in ctx>; none when privileged.
 *  - linux.resources: Memory, MemorySwap, MemoryReservation, NanoCpus
 *    (quota/period 100000), CpuShares, CpusetCpus, PidsLimit,
 *    OomKillDisable, Devices (+ Docker's default device cgroup rules);
 *    linux.devices from Devices ("/dev/x[:/dev/y][:rwm]", host node
 *    numbers given by the caller in ctx since stat is I/O).
 *  - hostname = Hostname or the first 12 hex of the id; annotations
 *    "org.berth.container.id".
 *  - cgroupsPath from ctx.
 * Errors name the field: "HostConfig.CapAdd: unknown capability 'CAP_X'".
 */
#ifndef BERTH_CONTAINER_OCI_SPEC_H
#define BERTH_CONTAINER_OCI_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"
#include "libberth/image/manifest.h"

struct oci_spec_user {
    uid_t uid;
    gid_t gid;
    gid_t *additional_gids;
    size_t n_additional_gids;
};

struct oci_spec_device {
    const char *path_in_container;
    char type; /* 'c' or 'b' */
    int64_t major, minor;
    uint32_t file_mode;
    uid_t uid;
    gid_t gid;
    const char *permissions; /* "rwm" */
};

struct oci_spec_context {
    const char *id;         /* 64 hex */
    const char *rootfs;     /* absolute path of the mounted rootfs */
    const char *hosts_path; /* files to bind in, or NULL */
    const char *hostname_path;
    const char *resolv_conf_path;
    const char *netns_path;    /* join this network namespace, or NULL */
    const char *cgroups_path;  /* e.g. "/berth/<id>" */
    struct oci_spec_user user; /* resolved from the body's User by the caller */
    json_t *seccomp_profile;   /* a profile given with seccomp=<file>, or NULL */
    const struct oci_spec_device *devices;
    size_t n_devices;
    json_t *extra_mounts; /* array of OCI mount objects, or NULL */
    /* Host path of berth-init (init-stub.c), or NULL. With HostConfig.Init it
     * is bound read-only at /sbin/berth-init (after extra_mounts) and
     * process.args become "/sbin/berth-init", "--", args...; Init without it
     * is an error. */
    const char *init_path;
    bool cgroup2; /* unified host: private cgroup ns by default */
};

/* The OCI config.json document for body + image. */
int container_oci_spec(json_t *body, const struct image_config *image,
                       const struct oci_spec_context *ctx, json_t **ret, struct berth_error **err);

/* berth's default seccomp profile (a new reference), in Docker's profile
 * format: "archMap" and per-syscall "includes"/"excludes" ({"caps": [...],
 * "arches": [GOARCH...]}). container_oci_spec() resolves it (and a Docker
 * profile given with seccomp=<file>) against the container's capabilities
 * and the host's architecture into plain OCI linux.seccomp. */
json_t *container_default_seccomp(void);

#endif
