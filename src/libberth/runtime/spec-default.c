#include "spec-default.h"

#include "caps.h"
#include "seccomp.h"

#define OCI_VERSION "1.2.0"

json_t *spec_default(bool rootless, uid_t uid, gid_t gid)
{
    json_t *caps = json_pack("[s,s,s]", "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE");
    json_t *j = json_pack(
        "{s:s, s:{s:b, s:{s:i, s:i}, s:[s], s:[s,s], s:s, s:{s:O, s:O, s:O, s:O}, "
        "s:[{s:s, s:i, s:i}], s:b}, s:{s:s, s:b}, s:s, s:[{s:s, s:s, s:s}, "
        "{s:s, s:s, s:s, s:[s,s,s,s]}, {s:s, s:s, s:s, s:[s,s,s,s,s,s]}, "
        "{s:s, s:s, s:s, s:[s,s,s,s,s]}, {s:s, s:s, s:s, s:[s,s,s]}, "
        "{s:s, s:s, s:s, s:[s,s,s,s]}, {s:s, s:s, s:s, s:[s,s,s,s,s]}], "
        "s:{s:{s:[{s:b, s:s}]}, s:[{s:s},{s:s},{s:s},{s:s},{s:s},{s:s}], "
        "s:[s,s,s,s,s,s,s,s,s,s], s:[s,s,s,s,s]}}",
        "ociVersion", OCI_VERSION, "process", "terminal", 1, "user", "uid", 0, "gid", 0, "args",
        "sh", "env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm", "cwd", "/", "capabilities", "bounding", caps, "effective", caps, "permitted",
        caps, "ambient", caps, "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024,
        "noNewPrivileges", 1, "root", "path", "rootfs", "readonly", 1, "hostname", "berth",
        "mounts", "destination", "/proc", "type", "proc", "source", "proc", "destination", "/dev",
        "type", "tmpfs", "source", "tmpfs", "options", "nosuid", "strictatime", "mode=755",
        "size=65536k", "destination", "/dev/pts", "type", "devpts", "source", "devpts", "options",
        "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", "destination",
        "/dev/shm", "type", "tmpfs", "source", "shm", "options", "nosuid", "noexec", "nodev",
        "mode=1777", "size=65536k", "destination", "/dev/mqueue", "type", "mqueue", "source",
        "mqueue", "options", "nosuid", "noexec", "nodev", "destination", "/sys", "type", "sysfs",
        "source", "sysfs", "options", "nosuid", "noexec", "nodev", "ro", "destination",
        "/sys/fs/cgroup", "type", "cgroup", "source", "cgroup", "options", "nosuid", "noexec",
        "nodev", "relatime", "ro", "linux", "resources", "devices", "allow", 0, "access", "rwm",
        "namespaces", "type", "pid", "type", "network", "type", "ipc", "type", "uts", "type",
        "mount", "type", "cgroup", "maskedPaths", "/proc/acpi", "/proc/asound", "/proc/kcore",
        "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
        "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "readonlyPaths", "/proc/bus",
        "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
    json_decref(caps);
    if (rootless) {
        json_t *lin = json_object_get(j, "linux");
        json_t *ns = json_object_get(lin, "namespaces");
        /* Unprivileged: own user namespace, no network namespace to configure. */
        json_array_remove(ns, 1);
        json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
        json_object_set_new(
            lin, "uidMappings",
            json_pack("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", (json_int_t)uid, "size", 1));
        json_object_set_new(
            lin, "gidMappings",
            json_pack("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", (json_int_t)gid, "size", 1));
        json_object_del(lin, "resources");
        json_t *mounts = json_object_get(j, "mounts");
        /* devpts gid=5 does not exist in a one-id mapping; sysfs is bound. */
        json_t *pts = json_object_get(json_array_get(mounts, 2), "options");
        json_array_remove(pts, 5);
        json_array_set_new(mounts, 5,
                           json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s]}", "destination", "/sys",
                                     "type", "none", "source", "/sys", "options", "rbind", "nosuid",
                                     "noexec", "nodev", "ro"));
        json_array_remove(mounts, 6);
    }
    return j;
}

json_t *spec_default_device_rules(void)
{
    return json_pack("[{s:b,s:s,s:i,s:i,s:s}, {s:b,s:s,s:i,s:i,s:s}, {s:b,s:s,s:i,s:i,s:s}, "
                     "{s:b,s:s,s:i,s:i,s:s}, {s:b,s:s,s:i,s:i,s:s}, {s:b,s:s,s:i,s:i,s:s}, "
                     "{s:b,s:s,s:i,s:i,s:s}, {s:b,s:s,s:i,s:i,s:s}, {s:b,s:s,s:i,s:s}]",
                     "allow", 1, "type", "c", "major", 1, "minor", 3, "access", "rwm", /* null */
                     "allow", 1, "type", "c", "major", 1, "minor", 5, "access", "rwm", /* zero */
                     "allow", 1, "type", "c", "major", 1, "minor", 7, "access", "rwm", /* full */
                     "allow", 1, "type", "c", "major", 1, "minor", 8, "access", "rwm", "allow", 1,
                     "type", "c", "major", 1, "minor", 9, "access", "rwm", "allow", 1, "type", "c",
                     "major", 5, "minor", 0, "access", "rwm", /* tty */
                     "allow", 1, "type", "c", "major", 5, "minor", 1, "access", "rwm", "allow", 1,
                     "type", "c", "major", 5, "minor", 2, "access", "rwm",    /* ptmx */
                     "allow", 1, "type", "c", "major", 136, "access", "rwm"); /* pts */
}

json_t *spec_features(void)
{
    json_t *caps = json_array();
    for (int c = 0; c < berth_cap_count(); c++) {
        json_array_append_new(caps, json_string(berth_cap_to_name(c)));
    }
    json_t *opts = json_array();
    static const char *const mount_opts[] = {"acl",
                                             "async",
                                             "atime",
                                             "bind",
                                             "defaults",
                                             "dev",
                                             "diratime",
                                             "dirsync",
                                             "exec",
                                             "idmap",
                                             "iversion",
                                             "lazytime",
                                             "loud",
                                             "mand",
                                             "noacl",
                                             "noatime",
                                             "nodev",
                                             "nodiratime",
                                             "noexec",
                                             "noiversion",
                                             "nolazytime",
                                             "nomand",
                                             "norelatime",
                                             "nostrictatime",
                                             "nosuid",
                                             "nosymfollow",
                                             "private",
                                             "ratime",
                                             "rbind",
                                             "rdev",
                                             "rdiratime",
                                             "relatime",
                                             "remount",
                                             "rexec",
                                             "ridmap",
                                             "rnoatime",
                                             "rnodev",
                                             "rnodiratime",
                                             "rnoexec",
                                             "rnorelatime",
                                             "rnostrictatime",
                                             "rnosuid",
                                             "rnosymfollow",
                                             "ro",
                                             "rprivate",
                                             "rrelatime",
                                             "rro",
                                             "rrw",
                                             "rshared",
                                             "rslave",
                                             "rstrictatime",
                                             "rsuid",
                                             "rsymfollow",
                                             "runbindable",
                                             "rw",
                                             "shared",
                                             "silent",
                                             "slave",
                                             "strictatime",
                                             "suid",
                                             "symfollow",
                                             "sync",
                                             "tmpcopyup",
                                             "unbindable"};
    for (size_t i = 0; i < sizeof(mount_opts) / sizeof(mount_opts[0]); i++) {
        json_array_append_new(opts, json_string(mount_opts[i]));
    }
    json_t *j = json_pack(
        "{s:s, s:s, s:[s,s,s,s,s,s], s:o, s:{s:[s,s,s,s,s,s,s,s], s:o, "
        "s:{s:b, s:b, s:b, s:b, s:b}, s:o, s:{s:b}, s:{s:b}, s:{s:b}, s:{s:{s:b}}}, s:{}}",
        "ociVersionMin", "1.0.0", "ociVersionMax", OCI_VERSION, "hooks", "prestart",
        "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
        "mountOptions", opts, "linux", "namespaces", "cgroup", "ipc", "mount", "network", "pid",
        "user", "uts", "time", "capabilities", caps, "cgroup", "v1", 1, "v2", 1, "systemd", 1,
        "systemdUser", 0, "rdma", 0, "seccomp", seccomp_features_json(), "apparmor", "enabled", 0,
        "selinux", "enabled", 0, "intelRdt", "enabled", 0, "mountExtensions", "idmap", "enabled", 1,
        "annotations");
    return j;
}
