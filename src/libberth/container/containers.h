/* containers.h - container records, names and root filesystems in the store.
 *
 * A record is made once, at create, in one transaction: a new id (64 random
 * hex), the name (given, or generated "adjective_surname" from berth's own
 * word lists, retried on collision), the image id and the name it was
 * asked by, the creation time, and the ContainerCreate body
 * (create-config.h) as given. Names are unique (a UNIQUE column): a taken
 * name fails with Docker's message 'Conflict. The container name "/x" is
 * already in use by container "<id>". You have to remove (or rename) that
 * container to be able to reuse that name.' (EEXIST). Names match
 * [a-zA-Z0-9][a-zA-Z0-9_.-]+ ("Invalid container name (x), only
 * [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed").
 *
 * Lookup (container_resolve) is Docker's: full id, exact name (with or
 * without the leading "/"), then a unique id prefix; else ENOENT "No such
 * container: x"; an ambiguous prefix is EINVAL "multiple containers match
 * 'x'". Image removal checks container_image_in_use().
 *
 * Files: <root>/containers/<id>/ holds what must survive a reboot (the
 * overlay upper and work dirs, or the vfs copy; hosts, hostname,
 * resolv.conf; logs); <runroot>/containers/<id>/ what must not (the
 * mounted rootfs, the OCI bundle's config.json, sockets). Runtime status
 * (running, exit code, times) is not a db column: a container's monitor
 * (which never loads SQLite) writes <root>/containers/<id>/state.json
 * atomically; container_state_read/write are the only accessors.
 *
 * The root filesystem: overlay driver - mount("overlay") with
 * lowerdir=<top diff>:...:<bottom diff>, upperdir, workdir at
 * <runroot>/containers/<id>/rootfs (a lowerdir string longer than a page
 * uses relative paths from the layers dir, as Docker does with short
 * links, or fails clearly); vfs driver - a copy of the top layer's tree
 * made once at create into <root>/containers/<id>/rootfs (copy through
 * dirfds, keeping owners, modes, xattrs, hardlinks, devices). Mount and
 * unmount are idempotent. container_remove unmounts, deletes both dirs and
 * the record; removal of a running container is the caller's business.
 *
 * /etc files: hosts ("127.0.0.1 localhost", "::1 localhost
 * ip6-localhost ip6-loopback", the usual ip6 lines, "<ip> <hostname>" when
 * the container has an address, ExtraHosts), hostname, and resolv.conf: the
 * host's /etc/resolv.conf (systemd-resolved's upstream file when the host
 * one points at 127.0.0.53) with loopback nameservers removed, as Docker
 * does; Dns/DnsSearch/DnsOptions replace the respective lines. On a user
 * network: "nameserver 127.0.0.11" (the embedded DNS, net/dns-server.h),
 * the search domains and options of the request or the host, ndots:0.
 */
#ifndef BERTH_CONTAINER_CONTAINERS_H
#define BERTH_CONTAINER_CONTAINERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "libberth/store/store.h"

struct container_record {
    char *id;
    char *name; /* without the leading "/" */
    char *image_id;
    char *image_name; /* as asked: "busybox" */
    char *created;    /* RFC 3339 with nanoseconds, UTC */
    json_t *body;     /* the ContainerCreate body */
};
void container_record_free(struct container_record *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct container_record *, container_record_free)

/* Make the record, the directories, the /etc files and (overlay) nothing
 * mounted yet; on failure nothing is left. name NULL: generated. */
int container_record_create(struct store *s, json_t *body, const char *name, const char *image_id,
                            const char *image_name, struct container_record **ret,
                            struct berth_error **err);
int container_resolve(struct store *s, const char *name_or_id, char **ret_id,
                      struct berth_error **err);
int container_record_get(struct store *s, const char *id, struct container_record **ret,
                         struct berth_error **err);
/* Every container, newest first. */
int container_record_list(struct store *s, struct container_record ***ret, size_t *ret_n,
                          struct berth_error **err);
void container_record_list_free(struct container_record **l, size_t n);
int container_rename(struct store *s, const char *name_or_id, const char *new_name,
                     struct berth_error **err);
bool container_image_in_use(struct store *s, const char *image_id);

/* Mount (overlay) or prepare (vfs) the rootfs; *ret_path (malloc'd) is it. */
int container_rootfs_mount(struct store *s, const struct container_record *c, char **ret_path,
                           struct berth_error **err);
int container_rootfs_unmount(struct store *s, const char *id, struct berth_error **err);
/* Copy the tree below directory src_fd into the existing empty directory
 * dst_fd through dirfds only (never following a symlink, not crossing into
 * what a path names): owners, modes, xattrs, times, hardlinks, symlinks,
 * devices; then the owner, mode, xattrs and times of src_fd itself onto
 * dst_fd. The vfs driver's rootfs copy and volume copy-up use it. */
int container_tree_copy(int src_fd, int dst_fd, struct berth_error **err);
/* Unmount, remove both directories and the record. */
int container_remove(struct store *s, const char *id, struct berth_error **err);

/* Runtime status, written by the monitor (and by the CLI for create):
 * Docker's State object fields. */
struct container_state_file {
    char *status; /* "created", "running", "paused", "restarting", "exited", "dead" */
    int64_t pid, monitor_pid;
    /* The monitor's start time (field 22 of /proc/<pid>/stat, clock ticks
     * since boot), "MonitorStartTime": a pid alone may name another process
     * once the monitor is gone and the kernel reused it. 0: unknown (a
     * state file written before this field existed). */
    uint64_t monitor_start;
    int exit_code;
    bool oom_killed;
    char *error;
    char *started_at, *finished_at; /* RFC 3339 nano, "0001-01-01T00:00:00Z" when never */
    int restart_count;
};
void container_state_file_release(struct container_state_file *st);
/* root is the store's root directory: no store (no SQLite) needed. */
int container_state_read(const char *root, const char *id, struct container_state_file *ret,
                         struct berth_error **err);
int container_state_write(const char *root, const char *id, const struct container_state_file *st,
                          struct berth_error **err);
/* Whether st->monitor_pid is still the monitor that wrote it: alive, not a
 * zombie, and (when st->monitor_start is known) started at that time. A
 * pid that fails this is never signalled or waited on. With an unknown
 * start time only "exists and not a zombie" can be checked. */
bool container_state_monitor_alive(const struct container_state_file *st);
/* The start time to record for a pid (0 when it is gone). */
uint64_t container_pid_start_time(int64_t pid);

/* The resolv.conf a container gets, from the host's file content (already
 * chosen: systemd-resolved's upstream file when the host one points at
 * 127.0.0.53) and the body's HostConfig Dns/DnsSearch/DnsOptions and
 * NetworkMode. container_record_create uses it; exposed for tests. */
int container_resolv_conf(const char *host_conf, json_t *body, char **ret,
                          struct berth_error **err);
/* The hosts file of a container whose addresses (strv, or NULL) on its
 * networks are known: Docker's lines, ExtraHosts, then "<ip>\t<hostname>"
 * per address; "host-gateway" in ExtraHosts is the default bridge
 * network's gateway (Docker 20.10's). network-attach.c rewrites the file
 * with it at start. */
int container_hosts_text(struct store *s, json_t *body, const char *id, char **addrs, char **ret,
                         struct berth_error **err);

#endif
