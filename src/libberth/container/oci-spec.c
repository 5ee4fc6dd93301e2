/* oci-spec.c - ContainerCreate body + image config -> OCI config.json.
 *
 * Every default below is Docker 20.10's, so a container behaves the same
 * under berth as under dockerd + runc; where berth differs the comment says
 * why. The document produced must pass the runtime's own parser
 * (runtime/spec.h), which the unit tests check for every case.
 */
#include "oci-spec.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/runtime/caps.h"
#include "libberth/runtime/spec-default.h"

#define OCI_VERSION "1.0.2"
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SHM_DEFAULT_BYTES (64LL << 20)
/* Docker refuses smaller limits: the runtime itself would be OOM-killed. */
#define MEMORY_MIN_BYTES (6LL << 20)
#define CPU_PERIOD_US 100000LL
#define HC "HostConfig"
/* Where HostConfig.Init binds berth-init (Docker: /sbin/docker-init). */
#define INIT_PATH "/sbin/berth-init"

static const char *const docker_default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

/* Files in /proc and /sys that leak host information or let a container
 * poke the host kernel (e.g. /proc/sysrq-trigger, /proc/kcore): Docker masks
 * or remounts them read-only, and so does berth. */
static const char *const docker_masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    /* RAPL energy counters: a power side channel (CVE-2020-8694). */
    "/sys/devices/virtual/powercap",
};
static const char *const docker_readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* ------------------------------------------------------------------------ */
/* Small JSON helpers                                                          */

static json_t *strs_to_json(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

static json_t *strv_to_json(char *const *v)
{
    return strs_to_json((const char *const *)v, strv_length(v));
}

/* Docker's StrSlice: null, a string (one element) or an array of strings.
 * *ret_set tells null/absent (false) from given (true, possibly empty). */
static int get_strslice(json_t *o, const char *where, const char *key, char ***ret, bool *ret_set,
                        struct berth_error **err)
{
    json_t *v = json_object_get(o, key);
    *ret_set = false;
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        char **s = NULL;
        strv_push(&s, json_string_value(v));
        *ret = s;
        *ret_set = true;
        return 0;
    }
    int r = jget_strv(o, where, key, false, ret, err);
    if (r < 0) {
        return r;
    }
    if (!*ret) {
        *ret = xcalloc(1, sizeof(char *));
    }
    *ret_set = true;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Capabilities                                                                */

/* "net_admin", "CAP_NET_ADMIN", "Net_Admin" -> the number; "ALL" -> -2. */
static int cap_parse(const char *where, const char *name, struct berth_error **err)
{
    char buf[64];
    size_t n = strlen(name);
    bool prefixed = n >= 4 && strncasecmp(name, "CAP_", 4) == 0;
    if (n == 0 || n + 4 >= sizeof(buf)) {
        return berth_error_set(err, EINVAL, "%s: unknown capability '%s'", where, name);
    }
    if (strcasecmp(name, "ALL") == 0) {
        return -2;
    }
    snprintf(buf, sizeof(buf), "%s%s", prefixed ? "" : "CAP_", name);
    for (char *p = buf; *p; p++) {
        *p = (char)toupper((unsigned char)*p);
    }
    int c = berth_cap_from_name(buf);
    if (c < 0 || c >= 64) {
        return berth_error_set(err, EINVAL, "%s: unknown capability '%s'", where, buf);
    }
    return c;
}

/* Every capability berth and the running kernel know: what "ALL" and
 * --privileged grant. */
/* "All" capabilities, for --privileged and --cap-add ALL: every one the
 * kernel has that berth itself may still grant (its bounding set), as
 * runc does; asking for one berth lacks would fail the start (capset). */
static uint64_t caps_all(void)
{
    int last = berth_cap_last();
    int n = berth_cap_count();
    uint64_t m = 0;
    for (int c = 0; c < n && c <= last && c < 64; c++) {
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 0) {
            m |= UINT64_C(1) << c;
        }
    }
    return m;
}

static int parse_cap_list(json_t *hc, const char *key, uint64_t *ret, bool *ret_all,
                          struct berth_error **err)
{
    char where[32];
    snprintf(where, sizeof(where), HC ".%s", key);
    _cleanup_strv_free_ char **names = NULL;
    bool set;
    int r = get_strslice(hc, HC, key, &names, &set, err);
    if (r < 0) {
        return r;
    }
    *ret = 0;
    *ret_all = false;
    for (size_t i = 0; names && names[i]; i++) {
        int c = cap_parse(where, names[i], err);
        if (c == -2) {
            *ret_all = true;
        } else if (c < 0) {
            return c;
        } else {
            *ret |= UINT64_C(1) << c;
        }
    }
    return 0;
}

/* Docker 20.10's TweakCapabilities: "ALL" in CapAdd starts from every
 * capability, "ALL" in CapDrop from none; then drops, then adds. */
static int compute_caps(json_t *hc, bool privileged, uint64_t *ret, struct berth_error **err)
{
    uint64_t add, drop;
    bool add_all, drop_all;
    int r;
    if ((r = parse_cap_list(hc, "CapAdd", &add, &add_all, err)) < 0 ||
        (r = parse_cap_list(hc, "CapDrop", &drop, &drop_all, err)) < 0) {
        return r;
    }
    if (privileged) {
        *ret = caps_all();
        return 0;
    }
    uint64_t base = 0;
    if (add_all) {
        base = caps_all();
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(docker_default_caps); i++) {
            int c = berth_cap_from_name(docker_default_caps[i]);
            if (c >= 0 && c < 64) {
                base |= UINT64_C(1) << c;
            }
        }
    }
    uint64_t caps = drop_all ? 0 : (base & ~drop);
    *ret = caps | add;
    return 0;
}

static json_t *caps_to_json(uint64_t m)
{
    json_t *a = json_array();
    for (int c = 0; c < 64; c++) {
        if (m & (UINT64_C(1) << c)) {
            const char *n = berth_cap_to_name(c);
            if (n) {
                json_array_append_new(a, json_string(n));
            }
        }
    }
    return a;
}

/* ------------------------------------------------------------------------ */
/* Default seccomp profile                                                     */

/* berth's own profile, in Docker's profile format (archMap; includes and
 * excludes by capability and architecture) so a user's Docker profile given
 * with seccomp=<file> goes through the same resolution. The default action
 * denies with EPERM; what is allowed is what ordinary programs use. Left out
 * on purpose, as the kernel's history taught: keyctl/add_key/request_key
 * (the keyring is not namespaced: CVE-2016-0728), userfaultfd (a race
 * amplifier in many kernel exploits), io_uring (CVE-2022-29582 and kin),
 * mount/unshare/setns and namespace flags of clone (CAP_SYS_ADMIN only),
 * kernel modules, kexec, reboot, swap, clock setting, ptrace of foreign
 * memory (kcmp, process_vm_*) without CAP_SYS_PTRACE, perf_event_open and
 * bpf without their capabilities, open_by_handle_at (the "shocker" escape,
 * CAP_DAC_READ_SEARCH only). */
static const char *const sc_allow[] = {
    /* files and directories */
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "close",
    "close_range",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futimesat",
    "getcwd",
    "getdents",
    "getdents64",
    "getxattr",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "sendfile",
    "sendfile64",
    "setxattr",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "tee",
    "truncate",
    "truncate64",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vmsplice",
    "write",
    "writev",
    "fanotify_mark",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "ioctl",
    "memfd_create",
    "memfd_secret",
    /* memory */
    "brk",
    "cachestat",
    "madvise",
    "membarrier",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
    /* processes, threads, signals; clone is below (argument rule) */
    "capget",
    "capset",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "vfork",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "get_thread_area",
    "gettid",
    "ioprio_get",
    "ioprio_set",
    "kill",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "prctl",
    "prlimit64",
    "process_mrelease",
    /* Before Linux 4.8 ptrace could bypass seccomp; berth needs a newer
     * kernel anyway (openat2, clone3), so ptrace of one's own processes is
     * fine, as in Docker on such kernels. */
    "ptrace",
    "restart_syscall",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "setpgid",
    "setpriority",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "set_thread_area",
    "set_tid_address",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "sigsuspend",
    "tgkill",
    "tkill",
    "ugetrlimit",
    "wait4",
    "waitid",
    "waitpid",
    /* credentials (gated by capabilities in the kernel itself) */
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getuid",
    "getuid32",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setuid",
    "setuid32",
    /* time (reading it; setting it needs CAP_SYS_TIME) */
    "adjtimex",
    "alarm",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "getitimer",
    "gettimeofday",
    "nanosleep",
    "setitimer",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    /* polling and events */
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "futex",
    "futex_time64",
    "futex_waitv",
    "_newselect",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
    /* sockets */
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "socket",
    "socketcall",
    "socketpair",
    /* System V and POSIX IPC (namespaced by the ipc namespace) */
    "ipc",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    /* misc */
    "getcpu",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "sysinfo",
    "uname",
};

/* Denied with ENOSYS rather than EPERM: programs probe these and fall back
 * when the kernel "lacks" them (glibc >= 2.34 tries clone3 for every thread
 * and retries with clone only on ENOSYS; liburing users fall back to epoll). */
static const char *const sc_enosys[] = {"io_uring_enter", "io_uring_register", "io_uring_setup"};

struct sc_gate {
    const char *cap; /* allowed when the container holds this capability */
    const char *const names[24];
};

static const struct sc_gate sc_gates[] = {
    {"CAP_SYS_ADMIN",
     {"bpf",
      "clone",
      "clone3",
      "fanotify_init",
      "fsconfig",
      "fsmount",
      "fsopen",
      "fspick",
      "lookup_dcookie",
      "mount",
      "mount_setattr",
      "move_mount",
      "name_to_handle_at",
      "open_tree",
      "perf_event_open",
      "quotactl",
      "quotactl_fd",
      "setdomainname",
      "sethostname",
      "setns",
      "syslog",
      "umount",
      "umount2",
      "unshare"}},
    {"CAP_SYS_BOOT", {"reboot"}},
    {"CAP_SYS_CHROOT", {"chroot"}},
    {"CAP_SYS_MODULE", {"delete_module", "finit_module", "init_module"}},
    {"CAP_SYS_PACCT", {"acct"}},
    {"CAP_SYS_PTRACE",
     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev"}},
    {"CAP_SYS_RAWIO", {"ioperm", "iopl"}},
    {"CAP_SYS_TIME", {"clock_settime", "clock_settime64", "settimeofday", "stime"}},
    {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
    {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
    {"CAP_SYSLOG", {"syslog"}},
    {"CAP_BPF", {"bpf"}},
    {"CAP_PERFMON", {"perf_event_open"}},
    {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
};

/* clone(2)'s namespace flags: NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|
 * NEWNET. A new user namespace is the door to most unprivileged kernel
 * exploits (CVE-2022-0185 and kin), so without CAP_SYS_ADMIN clone may only
 * make processes and threads. On x86 and arm the flags are argument 0. */
#define CLONE_NS_FLAGS 0x7E020000LL

/* personality(2) values programs use: PER_LINUX, PER_LINUX32, UNAME26,
 * PER_LINUX32|UNAME26 and the query 0xffffffff; others (e.g. READ_IMPLIES_EXEC
 * or ADDR_NO_RANDOMIZE) weaken the address space and are refused. */
static const json_int_t sc_personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

static json_t *sc_names(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && v[i]; i++) {
        json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

json_t *container_default_seccomp(void)
{
    json_t *calls = json_array();
    json_array_append_new(calls,
                          json_pack("{s:o, s:s}", "names", sc_names(sc_allow, ARRAY_SIZE(sc_allow)),
                                    "action", "SCMP_ACT_ALLOW"));
    for (size_t i = 0; i < ARRAY_SIZE(sc_personalities); i++) {
        json_array_append_new(calls,
                              json_pack("{s:[s], s:s, s:[{s:i, s:I, s:s}]}", "names", "personality",
                                        "action", "SCMP_ACT_ALLOW", "args", "index", 0, "value",
                                        sc_personalities[i], "op", "SCMP_CMP_EQ"));
    }
    json_array_append_new(calls,
                          json_pack("{s:[s], s:s, s:[{s:i, s:I, s:I, s:s}], s:{s:[s]}}", "names",
                                    "clone", "action", "SCMP_ACT_ALLOW", "args", "index", 0,
                                    "value", CLONE_NS_FLAGS, "valueTwo", (json_int_t)0, "op",
                                    "SCMP_CMP_MASKED_EQ", "excludes", "caps", "CAP_SYS_ADMIN"));
    json_array_append_new(calls, json_pack("{s:[s], s:s, s:i, s:{s:[s]}}", "names", "clone3",
                                           "action", "SCMP_ACT_ERRNO", "errnoRet", ENOSYS,
                                           "excludes", "caps", "CAP_SYS_ADMIN"));
    json_array_append_new(calls, json_pack("{s:o, s:s, s:i}", "names",
                                           sc_names(sc_enosys, ARRAY_SIZE(sc_enosys)), "action",
                                           "SCMP_ACT_ERRNO", "errnoRet", ENOSYS));
    for (size_t i = 0; i < ARRAY_SIZE(sc_gates); i++) {
        json_array_append_new(
            calls, json_pack("{s:o, s:s, s:{s:[s]}}", "names",
                             sc_names(sc_gates[i].names, ARRAY_SIZE(sc_gates[i].names)), "action",
                             "SCMP_ACT_ALLOW", "includes", "caps", sc_gates[i].cap));
    }
    /* Architecture-specific calls (unknown names are skipped by the
     * compiler anyway; the gate keeps the resolved profile small). */
    json_array_append_new(calls, json_pack("{s:[s,s], s:s, s:{s:[s,s,s]}}", "names", "arch_prctl",
                                           "modify_ldt", "action", "SCMP_ACT_ALLOW", "includes",
                                           "arches", "amd64", "x32", "386"));
    json_array_append_new(calls, json_pack("{s:[s,s,s,s,s,s], s:s, s:{s:[s,s]}}", "names",
                                           "arm_fadvise64_64", "arm_sync_file_range", "breakpoint",
                                           "cacheflush", "set_tls", "sync_file_range2", "action",
                                           "SCMP_ACT_ALLOW", "includes", "arches", "arm", "arm64"));
    return json_pack("{s:s, s:i, s:[{s:s, s:[s,s]}, {s:s, s:[s]}], s:o}", "defaultAction",
                     "SCMP_ACT_ERRNO", "defaultErrnoRet", EPERM, "archMap", "architecture",
                     "SCMP_ARCH_X86_64", "subArchitectures", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                     "architecture", "SCMP_ARCH_AARCH64", "subArchitectures", "SCMP_ARCH_ARM",
                     "syscalls", calls);
}

/* The host as Docker's profiles name it: Go's GOARCH in includes.arches,
 * libseccomp's name in archMap. */
#if defined(__x86_64__)
#define HOST_GOARCH "amd64"
#define HOST_SCMP_ARCH "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define HOST_GOARCH "arm64"
#define HOST_SCMP_ARCH "SCMP_ARCH_AARCH64"
#elif defined(__i386__)
#define HOST_GOARCH "386"
#define HOST_SCMP_ARCH "SCMP_ARCH_X86"
#elif defined(__arm__)
#define HOST_GOARCH "arm"
#define HOST_SCMP_ARCH "SCMP_ARCH_ARM"
#else
#define HOST_GOARCH "unknown"
#define HOST_SCMP_ARCH "SCMP_ARCH_NATIVE"
#endif

static bool json_list_has(json_t *a, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (json_is_string(e) && streq(json_string_value(e), s)) {
            return true;
        }
    }
    return false;
}

/* Whether a filter's caps condition holds: all (includes) or any (excludes)
 * of the listed capabilities are held. */
static int caps_match(json_t *list, const char *where, uint64_t caps, bool all, bool *ret,
                      struct berth_error **err)
{
    if (!json_is_array(list)) {
        return berth_error_set(err, EINVAL, "%s: expected an array of capability names", where);
    }
    bool any = false, every = true;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!json_is_string(e)) {
            return berth_error_set(err, EINVAL, "%s[%zu]: expected a capability name", where, i);
        }
        int c = cap_parse(where, json_string_value(e), err);
        if (c < 0 && c != -2) {
            return c;
        }
        bool held = c == -2 ? caps == caps_all() : (caps & (UINT64_C(1) << c)) != 0;
        any |= held;
        every &= held;
    }
    *ret = all ? every : any;
    return 0;
}

/* Resolve a Docker-format profile for a container holding `caps` on this
 * host: entries whose includes/excludes do not match are dropped, archMap
 * becomes the host's architectures, and only OCI keys remain. A profile
 * already in OCI form passes through unchanged. */
static int seccomp_resolve(json_t *profile, uint64_t caps, json_t **ret, struct berth_error **err)
{
    static const char W[] = "HostConfig.SecurityOpt.seccomp";
    if (!json_is_object(profile)) {
        return berth_error_set(err, EINVAL, "%s: expected a JSON object", W);
    }
    json_t *out = json_object();
    static const char *const keep[] = {"defaultAction", "defaultErrnoRet", "architectures",
                                       "flags",         "listenerPath",    "listenerMetadata"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
        json_t *v = json_object_get(profile, keep[i]);
        if (v) {
            json_object_set(out, keep[i], v);
        }
    }
    json_t *arch_map = json_object_get(profile, "archMap");
    if (!json_object_get(out, "architectures") && json_is_array(arch_map)) {
        json_t *arches = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(arch_map, i, m)
        {
            const char *a = json_string_value(json_object_get(m, "architecture"));
            if (!a || !streq(a, HOST_SCMP_ARCH)) {
                continue;
            }
            json_array_append_new(arches, json_string(a));
            json_t *subs = json_object_get(m, "subArchitectures");
            if (json_is_array(subs)) {
                json_array_extend(arches, subs);
            }
        }
        json_object_set_new(out, "architectures", arches);
    }
    json_t *calls = json_object_get(profile, "syscalls");
    json_t *ocalls = json_array();
    json_object_set_new(out, "syscalls", ocalls);
    size_t i;
    json_t *call;
    json_array_foreach(calls, i, call)
    {
        char where[96];
        if (!json_is_object(call)) {
            json_decref(out);
            return berth_error_set(err, EINVAL, "%s.syscalls[%zu]: expected an object", W, i);
        }
        bool ok = true;
        for (int pass = 0; pass < 2 && ok; pass++) {
            const char *which = pass == 0 ? "includes" : "excludes";
            json_t *f = json_object_get(call, which);
            if (!f) {
                continue;
            }
            json_t *cl = json_object_get(f, "caps");
            if (cl) {
                bool m = false;
                snprintf(where, sizeof(where), "%s.syscalls[%zu].%s.caps", W, i, which);
                int r = caps_match(cl, where, caps, pass == 0, &m, err);
                if (r < 0) {
                    json_decref(out);
                    return r;
                }
                ok = pass == 0 ? m : !m;
            }
            json_t *al = json_object_get(f, "arches");
            if (ok && al) {
                bool m = json_list_has(al, HOST_GOARCH);
                ok = pass == 0 ? m : !m;
            }
        }
        if (!ok) {
            continue;
        }
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(call, k, v)
        {
            if (streq(k, "names") || streq(k, "action") || streq(k, "errnoRet") ||
                streq(k, "args")) {
                json_object_set(o, k, v);
            } else if (streq(k, "name")) { /* Docker's older one-name form */
                json_object_set_new(o, "names", json_pack("[O]", v));
            }
        }
        json_array_append_new(ocalls, o);
    }
    *ret = out;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Process                                                                     */

/* Docker's merge of the body's and the image's Entrypoint and Cmd. */
static int build_args(json_t *body, const struct image_config *image, json_t **ret,
                      struct berth_error **err)
{
    _cleanup_strv_free_ char **ep = NULL, **cmd = NULL;
    bool ep_set, cmd_set;
    int r;
    if ((r = get_strslice(body, "", "Entrypoint", &ep, &ep_set, err)) < 0 ||
        (r = get_strslice(body, "", "Cmd", &cmd, &cmd_set, err)) < 0) {
        return r;
    }
    /* A body Entrypoint of [] counts as not given for Cmd, as in dockerd's
     * merge; a non-empty one (including [""], `--entrypoint ""`) replaces
     * the image's Entrypoint and its Cmd. */
    if (strv_length(ep) == 0) {
        if (strv_length(cmd) == 0 && image) {
            strv_free(cmd);
            cmd = strv_copy(image->cmd);
        }
        if (!ep_set && image) {
            strv_free(ep);
            ep = strv_copy(image->entrypoint);
        }
    }
    json_t *args = json_array();
    bool reset = strv_length(ep) == 1 && ep[0][0] == '\0';
    for (size_t i = 0; !reset && ep && ep[i]; i++) {
        json_array_append_new(args, json_string(ep[i]));
    }
    for (size_t i = 0; cmd && cmd[i]; i++) {
        json_array_append_new(args, json_string(cmd[i]));
    }
    if (json_array_size(args) == 0) {
        json_decref(args);
        return berth_error_set(err, EINVAL, "No command specified");
    }
    *ret = args;
    return 0;
}

static int build_env(json_t *body, const struct image_config *image, const char *hostname, bool tty,
                     json_t **ret, struct berth_error **err)
{
    _cleanup_strv_free_ char **body_env = NULL, **env = NULL;
    int r = jget_strv(body, "", "Env", false, &body_env, err);
    if (r < 0) {
        return r;
    }
    /* dockerd: PATH, HOSTNAME, TERM first, then image Env and body Env
     * each replacing an earlier entry with the same name. */
    strv_push(&env, DEFAULT_PATH);
    strv_consume(&env, xasprintf("HOSTNAME=%s", hostname));
    if (tty) {
        strv_push(&env, "TERM=xterm");
    }
    for (size_t i = 0; image && image->env && image->env[i]; i++) {
        strv_env_set(&env, image->env[i]);
    }
    for (size_t i = 0; body_env && body_env[i]; i++) {
        if (body_env[i][0] == '=' || body_env[i][0] == '\0') {
            return berth_error_set(err, EINVAL, "Env[%zu]: invalid environment variable '%s'", i,
                                   body_env[i]);
        }
        strv_env_set(&env, body_env[i]);
    }
    *ret = strv_to_json(env);
    return 0;
}

static const char *const ulimit_names[] = {
    "as",   "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue",
    "nice", "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack",
};

static json_t *rlimit_value(int64_t v)
{
    /* -1 is "unlimited" (RLIM_INFINITY, beyond jansson's int64). */
    return v < 0 ? json_real(18446744073709551615.0) : json_integer(v);
}

static int build_rlimits(json_t *hc, json_t **ret, struct berth_error **err)
{
    json_t *list = NULL;
    int r = jget_arr(hc, HC, "Ulimits", false, &list, err);
    if (r < 0) {
        return r;
    }
    json_t *out = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(list, i, u)
    {
        char where[48];
        snprintf(where, sizeof(where), HC ".Ulimits[%zu]", i);
        const char *name = NULL;
        int64_t soft = 0, hard = 0;
        if (!json_is_object(u)) {
            r = berth_error_set(err, EINVAL, "%s: expected an object", where);
        } else if ((r = jget_str(u, where, "Name", true, &name, err)) >= 0 &&
                   (r = jget_i64(u, where, "Soft", true, &soft, err)) >= 0) {
            r = jget_i64(u, where, "Hard", true, &hard, err);
        }
        if (r < 0) {
            json_decref(out);
            return r;
        }
        bool known = false;
        for (size_t k = 0; k < ARRAY_SIZE(ulimit_names); k++) {
            known |= strcasecmp(name, ulimit_names[k]) == 0;
        }
        if (!known) {
            json_decref(out);
            return berth_error_set(err, EINVAL, "%s.Name: invalid ulimit type '%s'", where, name);
        }
        uint64_t us = soft < 0 ? UINT64_MAX : (uint64_t)soft;
        uint64_t uh = hard < 0 ? UINT64_MAX : (uint64_t)hard;
        if (soft < -1 || hard < -1 || us > uh) {
            json_decref(out);
            return berth_error_set(err, EINVAL,
                                   "%s: ulimit soft limit must be less than or equal to hard "
                                   "limit: %" PRId64 " > %" PRId64,
                                   where, soft, hard);
        }
        char type[32];
        snprintf(type, sizeof(type), "RLIMIT_%s", name);
        for (char *p = type; *p; p++) {
            *p = (char)toupper((unsigned char)*p);
        }
        size_t k;
        json_t *prev;
        json_array_foreach(out, k, prev)
        {
            if (streq(json_string_value(json_object_get(prev, "type")), type)) {
                json_decref(out);
                return berth_error_set(err, EINVAL, "%s.Name: ulimit '%s' given twice", where,
                                       name);
            }
        }
        json_array_append_new(out, json_pack("{s:s, s:o, s:o}", "type", type, "soft",
                                             rlimit_value(soft), "hard", rlimit_value(hard)));
    }
    *ret = out;
    return 0;
}

/* SecurityOpt: what Docker 20.10 accepts with '=' (or the old ':'). */
struct security_opts {
    bool no_new_privileges;
    bool seccomp_unconfined;
    const char *seccomp_json; /* points into the body */
};

static int parse_security_opts(json_t *hc, struct security_opts *ret, struct berth_error **err)
{
    json_t *list = NULL;
    int r = jget_arr(hc, HC, "SecurityOpt", false, &list, err);
    if (r < 0) {
        return r;
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *opt = json_string_value(e);
        if (!opt) {
            return berth_error_set(err, EINVAL, HC ".SecurityOpt[%zu]: expected a string", i);
        }
        size_t kl = strcspn(opt, "=:");
        const char *val = opt[kl] ? opt + kl + 1 : NULL;
        if (kl == strlen("no-new-privileges") && strncmp(opt, "no-new-privileges", kl) == 0) {
            if (!val || streq(val, "true")) {
                ret->no_new_privileges = true;
            } else if (streq(val, "false")) {
                ret->no_new_privileges = false;
            } else {
                return berth_error_set(
                    err, EINVAL, HC ".SecurityOpt[%zu]: invalid --security-opt 2: '%s'", i, opt);
            }
        } else if (val && kl == 7 && strncmp(opt, "seccomp", kl) == 0) {
            if (streq(val, "unconfined")) {
                ret->seccomp_unconfined = true;
                ret->seccomp_json = NULL;
            } else {
                /* The docker CLI sends the profile file's contents here. */
                ret->seccomp_unconfined = false;
                ret->seccomp_json = val;
            }
        } else if (val && ((kl == 5 && strncmp(opt, "label", kl) == 0) ||
                           (kl == 8 && strncmp(opt, "apparmor", kl) == 0))) {
            /* No SELinux/AppArmor support: accepted and ignored, as on a
             * dockerd host without them. */
        } else {
            return berth_error_set(err, EINVAL,
                                   HC ".SecurityOpt[%zu]: invalid --security-opt 1: '%s'", i, opt);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Mounts                                                                      */

static void mount_add(json_t *mounts, const char *dest, const char *type, const char *src,
                      json_t *opts)
{
    json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type",
                                            type, "source", src, "options", opts));
}

/* A user mount replaces a default one at the same place, as in dockerd
 * (--tmpfs /dev/shm, -v x:/etc/hosts). */
static void mount_drop_dest(json_t *mounts, const char *dest)
{
    for (size_t i = json_array_size(mounts); i-- > 0;) {
        const char *d =
            json_string_value(json_object_get(json_array_get(mounts, i), "destination"));
        if (d && streq(d, dest)) {
            json_array_remove(mounts, i);
        }
    }
}

static json_t *opts_v(const char *first, ...)
{
    json_t *a = json_array();
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        json_array_append_new(a, json_string(s));
    }
    va_end(ap);
    return a;
}

static int add_tmpfs(json_t *hc, json_t *mounts, struct berth_error **err)
{
    json_t *t = NULL;
    int r = jget_obj(hc, HC, "Tmpfs", false, &t, err);
    if (r < 0) {
        return r;
    }
    const char *dest;
    json_t *v;
    json_object_foreach(t, dest, v)
    {
        if (!json_is_string(v)) {
            return berth_error_set(err, EINVAL, HC ".Tmpfs.%s: expected a string", dest);
        }
        if (dest[0] != '/' || strstr(dest, "/../") || strcmp(dest + strlen(dest) - 3, "/..") == 0) {
            return berth_error_set(err, EINVAL,
                                   HC ".Tmpfs: invalid mount path '%s': must be absolute", dest);
        }
        /* Docker's defaults for --tmpfs, each overridable by its opposite. */
        const char *defs[3][2] = {{"noexec", "exec"}, {"nosuid", "suid"}, {"nodev", "dev"}};
        bool overridden[3] = {false, false, false};
        _cleanup_strv_free_ char **user = strv_split(json_string_value(v), ",");
        json_t *opts = json_array();
        for (size_t i = 0; user && user[i]; i++) {
            for (size_t k = 0; k < 3; k++) {
                overridden[k] |= streq(user[i], defs[k][0]) || streq(user[i], defs[k][1]);
            }
        }
        for (size_t k = 0; k < 3; k++) {
            if (!overridden[k]) {
                json_array_append_new(opts, json_string(defs[k][0]));
            }
        }
        for (size_t i = 0; user && user[i]; i++) {
            if (user[i][0]) {
                json_array_append_new(opts, json_string(user[i]));
            }
        }
        mount_drop_dest(mounts, dest);
        mount_add(mounts, dest, "tmpfs", "tmpfs", opts);
    }
    return 0;
}

static void add_etc_file(json_t *mounts, const char *dest, const char *src, bool ro)
{
    if (!src) {
        return;
    }
    mount_drop_dest(mounts, dest);
    mount_add(mounts, dest, "bind", src,
              ro ? opts_v("rbind", "rprivate", "ro", NULL) : opts_v("rbind", "rprivate", NULL));
}

/* ------------------------------------------------------------------------ */
/* Resources                                                                   */

static int get_i64_opt(json_t *o, const char *key, int64_t *ret, struct berth_error **err)
{
    *ret = 0;
    if (!jhas(o, key)) {
        return 0;
    }
    return jget_i64(o, HC, key, false, ret, err);
}

static int build_resources(json_t *hc, bool privileged, const struct oci_spec_context *ctx,
                           json_t **ret, struct berth_error **err)
{
    int64_t memory, swap, reservation, nano, shares, quota, period, pids;
    bool oom_disable = false;
    const char *cpuset = NULL;
    int r;
    if ((r = get_i64_opt(hc, "Memory", &memory, err)) < 0 ||
        (r = get_i64_opt(hc, "MemorySwap", &swap, err)) < 0 ||
        (r = get_i64_opt(hc, "MemoryReservation", &reservation, err)) < 0 ||
        (r = get_i64_opt(hc, "NanoCpus", &nano, err)) < 0 ||
        (r = get_i64_opt(hc, "CpuShares", &shares, err)) < 0 ||
        (r = get_i64_opt(hc, "CpuQuota", &quota, err)) < 0 ||
        (r = get_i64_opt(hc, "CpuPeriod", &period, err)) < 0 ||
        (r = get_i64_opt(hc, "PidsLimit", &pids, err)) < 0 ||
        (r = jget_str(hc, HC, "CpusetCpus", false, &cpuset, err)) < 0) {
        return r;
    }
    if (jhas(hc, "OomKillDisable") &&
        (r = jget_bool(hc, HC, "OomKillDisable", &oom_disable, err)) < 0) {
        return r;
    }
    /* Docker's checks and messages (daemon/daemon_unix.go). */
    if (memory < 0) {
        return berth_error_set(err, EINVAL, HC ".Memory: must not be negative");
    }
    if (memory > 0 && memory < MEMORY_MIN_BYTES) {
        return berth_error_set(err, EINVAL, HC ".Memory: Minimum memory limit allowed is 6MB");
    }
    if (swap < -1) {
        return berth_error_set(err, EINVAL, HC ".MemorySwap: must be -1 (unlimited) or positive");
    }
    if (swap > 0 && memory == 0) {
        return berth_error_set(err, EINVAL,
                               HC ".MemorySwap: You should always set the Memory limit when "
                                  "using Memoryswap limit, see usage");
    }
    if (swap > 0 && swap < memory) {
        return berth_error_set(err, EINVAL,
                               HC ".MemorySwap: Minimum memoryswap limit should be larger than "
                                  "memory limit, see usage");
    }
    if (reservation < 0) {
        return berth_error_set(err, EINVAL, HC ".MemoryReservation: must not be negative");
    }
    if (memory > 0 && reservation > memory) {
        return berth_error_set(err, EINVAL,
                               HC ".MemoryReservation: Minimum memory limit can not be less than "
                                  "memory reservation limit, see usage");
    }
    if (nano < 0 || (nano > 0 && nano < 10000000)) {
        return berth_error_set(err, EINVAL, HC ".NanoCpus: CPUs must be at least 0.01");
    }
    if (nano > 0 && (quota != 0 || period != 0)) {
        return berth_error_set(err, EINVAL,
                               HC ".NanoCpus: Conflicting options: Nano CPUs and CPU Period/Quota "
                                  "cannot both be set");
    }
    if (shares < 0 || quota < -1 || period < 0) {
        return berth_error_set(err, EINVAL, HC ".%s: must not be negative",
                               shares < 0   ? "CpuShares"
                               : quota < -1 ? "CpuQuota"
                                            : "CpuPeriod");
    }
    if (cpuset && cpuset[strspn(cpuset, "0123456789,-")] != '\0') {
        return berth_error_set(err, EINVAL, HC ".CpusetCpus: invalid value '%s'", cpuset);
    }

    json_t *res = json_object();
    json_t *mem = json_object();
    if (memory > 0) {
        json_object_set_new(mem, "limit", json_integer(memory));
        /* Unset MemorySwap: as much swap as memory (dockerd's default). */
        int64_t total = swap != 0 ? swap : memory * 2;
        json_object_set_new(mem, "swap", json_integer(total));
    } else if (swap == -1) {
        json_object_set_new(mem, "swap", json_integer(-1));
    }
    if (reservation > 0) {
        json_object_set_new(mem, "reservation", json_integer(reservation));
    }
    if (oom_disable) {
        json_object_set_new(mem, "disableOOMKiller", json_true());
    }
    if (json_object_size(mem)) {
        json_object_set(res, "memory", mem);
    }
    json_decref(mem);

    json_t *cpu = json_object();
    if (shares > 0) {
        json_object_set_new(cpu, "shares", json_integer(shares));
    }
    if (nano > 0) {
        json_object_set_new(cpu, "quota", json_integer(nano * CPU_PERIOD_US / 1000000000LL));
        json_object_set_new(cpu, "period", json_integer(CPU_PERIOD_US));
    } else {
        if (quota != 0) {
            json_object_set_new(cpu, "quota", json_integer(quota));
        }
        if (period > 0) {
            json_object_set_new(cpu, "period", json_integer(period));
        }
    }
    if (cpuset && *cpuset) {
        json_object_set_new(cpu, "cpus", json_string(cpuset));
    }
    if (json_object_size(cpu)) {
        json_object_set(res, "cpu", cpu);
    }
    json_decref(cpu);

    /* PidsLimit 0 or -1: unlimited (Docker API >= 1.41). */
    if (pids > 0) {
        json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)pids));
    }

    /* Device cgroup: deny everything, then Docker's defaults (the basic
     * character devices, ptys, tun; mknod of any node, so images can
     * create nodes they cannot open), then each --device. Privileged:
     * everything. */
    json_t *devs = json_array();
    if (privileged) {
        json_array_append_new(devs, json_pack("{s:b, s:s}", "allow", 1, "access", "rwm"));
    } else {
        json_array_append_new(devs, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
        json_array_append_new(devs,
                              json_pack("{s:b, s:s, s:s}", "allow", 1, "type", "c", "access", "m"));
        json_array_append_new(devs,
                              json_pack("{s:b, s:s, s:s}", "allow", 1, "type", "b", "access", "m"));
        json_t *defs = spec_default_device_rules();
        json_array_extend(devs, defs);
        json_decref(defs);
        json_array_append_new(devs, json_pack("{s:b, s:s, s:i, s:i, s:s}", "allow", 1, "type", "c",
                                              "major", 10, "minor", 200, "access", "rwm"));
        for (size_t i = 0; i < ctx->n_devices; i++) {
            const struct oci_spec_device *d = &ctx->devices[i];
            char type[2] = {d->type, 0};
            json_array_append_new(devs, json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type",
                                                  type, "major", (json_int_t)d->major, "minor",
                                                  (json_int_t)d->minor, "access",
                                                  d->permissions ? d->permissions : "rwm"));
        }
    }
    json_object_set_new(res, "devices", devs);
    *ret = res;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The document                                                                */

static int get_bool_opt(json_t *o, const char *where, const char *key, bool *ret,
                        struct berth_error **err)
{
    *ret = false;
    return jhas(o, key) ? jget_bool(o, where, key, ret, err) : 0;
}

static int build_namespaces(json_t *hc, const struct oci_spec_context *ctx, bool host_net,
                            json_t **ret, struct berth_error **err)
{
    const char *pid_mode = NULL, *ipc_mode = NULL, *uts_mode = NULL, *cgns_mode = NULL;
    int r;
    if ((r = jget_str(hc, HC, "PidMode", false, &pid_mode, err)) < 0 ||
        (r = jget_str(hc, HC, "IpcMode", false, &ipc_mode, err)) < 0 ||
        (r = jget_str(hc, HC, "UTSMode", false, &uts_mode, err)) < 0 ||
        (r = jget_str(hc, HC, "CgroupnsMode", false, &cgns_mode, err)) < 0) {
        return r;
    }
    /* Docker's default cgroupns mode: private on a unified (v2) host, the
     * host's on v1, where a private one would hide the container's own
     * cgroup paths from tools that expect the host layout. */
    bool cgns;
    if (!cgns_mode || !*cgns_mode) {
        cgns = ctx->cgroup2;
    } else if (streq(cgns_mode, "private") || streq(cgns_mode, "host")) {
        cgns = streq(cgns_mode, "private");
    } else {
        return berth_error_set(err, EINVAL, HC ".CgroupnsMode: invalid value '%s'", cgns_mode);
    }
    struct {
        const char *mode, *field, *type;
    } opt[] = {
        {pid_mode, "PidMode", "pid"}, {ipc_mode, "IpcMode", "ipc"}, {uts_mode, "UTSMode", "uts"}};
    json_t *ns = json_array();
    for (size_t i = 0; i < ARRAY_SIZE(opt); i++) {
        const char *m = opt[i].mode;
        if (m && *m && !streq(m, "host") && !streq(m, "private") && !streq(m, "shareable")) {
            json_decref(ns);
            return berth_error_set(err, EINVAL, HC ".%s: unsupported mode '%s'", opt[i].field, m);
        }
        if (!m || !streq(m, "host")) {
            json_array_append_new(ns, json_pack("{s:s}", "type", opt[i].type));
        }
    }
    json_array_append_new(ns, json_pack("{s:s}", "type", "mount"));
    if (ctx->netns_path) {
        json_array_append_new(ns,
                              json_pack("{s:s, s:s}", "type", "network", "path", ctx->netns_path));
    } else if (!host_net) {
        json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
    }
    if (cgns) {
        json_array_append_new(ns, json_pack("{s:s}", "type", "cgroup"));
    }
    *ret = ns;
    return 0;
}

static int build_devices(const struct oci_spec_context *ctx, json_t **ret, struct berth_error **err)
{
    json_t *out = json_array();
    for (size_t i = 0; i < ctx->n_devices; i++) {
        const struct oci_spec_device *d = &ctx->devices[i];
        const char *perm = d->permissions ? d->permissions : "rwm";
        const char *why = NULL;
        if (!d->path_in_container || d->path_in_container[0] != '/') {
            why = "the path in the container must be absolute";
        } else if (d->type != 'c' && d->type != 'b') {
            why = "not a character or block device";
        } else if (!*perm || perm[strspn(perm, "rwm")] != '\0' || strlen(perm) > 3) {
            why = "invalid permissions (want a combination of r, w and m)";
        }
        if (why) {
            json_decref(out);
            return berth_error_set(err, EINVAL, HC ".Devices[%zu]: '%s': %s", i,
                                   d->path_in_container ? d->path_in_container : "", why);
        }
        char type[2] = {d->type, 0};
        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path",
                                             d->path_in_container, "type", type, "major",
                                             (json_int_t)d->major, "minor", (json_int_t)d->minor,
                                             "fileMode", (json_int_t)(d->file_mode & 07777), "uid",
                                             (json_int_t)d->uid, "gid", (json_int_t)d->gid));
    }
    *ret = out;
    return 0;
}

static int build_sysctls(json_t *hc, bool host_net, json_t **ret, struct berth_error **err)
{
    json_t *s = NULL;
    int r = jget_obj(hc, HC, "Sysctls", false, &s, err);
    if (r < 0) {
        return r;
    }
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v)
    {
        if (!json_is_string(v)) {
            json_decref(out);
            return berth_error_set(err, EINVAL, HC ".Sysctls.%s: expected a string", k);
        }
        if (host_net && strncmp(k, "net.", 4) == 0) {
            json_decref(out);
            return berth_error_set(err, EINVAL,
                                   HC ".Sysctls: sysctl '%s' is not allowed in the host's network "
                                      "namespace",
                                   k);
        }
        json_object_set(out, k, v);
    }
    *ret = out;
    return 0;
}

static int build_seccomp(const struct security_opts *so, const struct oci_spec_context *ctx,
                         uint64_t caps, json_t **ret, struct berth_error **err)
{
    _cleanup_json_ json_t *given = NULL;
    json_t *profile = ctx->seccomp_profile;
    if (!profile && so->seccomp_json) {
        int r = json_parse_buf(so->seccomp_json, strlen(so->seccomp_json), 1u << 20, &given, err);
        if (r < 0) {
            return berth_error_prefix(err, HC ".SecurityOpt: seccomp profile");
        }
        profile = given;
    }
    if (!profile) {
        given = container_default_seccomp();
        profile = given;
    }
    return seccomp_resolve(profile, caps, ret, err);
}

int container_oci_spec(json_t *body, const struct image_config *image,
                       const struct oci_spec_context *ctx, json_t **ret, struct berth_error **err)
{
    if (!json_is_object(body)) {
        return berth_error_set(err, EINVAL, "container config: expected a JSON object");
    }
    if (!ctx || !ctx->id || !*ctx->id || !ctx->rootfs || ctx->rootfs[0] != '/') {
        return berth_error_set(err, EINVAL, "container config: id and absolute rootfs required");
    }
    _cleanup_json_ json_t *empty = json_object();
    json_t *hc = NULL;
    int r = jget_obj(body, "", "HostConfig", false, &hc, err);
    if (r < 0) {
        return r;
    }
    if (!hc) {
        hc = empty;
    }

    bool privileged, readonly, tty, init;
    const char *hostname = NULL, *domainname = NULL, *net_mode = NULL, *cwd = NULL;
    int64_t shm = SHM_DEFAULT_BYTES, oom_adj = 0;
    if ((r = get_bool_opt(hc, HC, "Privileged", &privileged, err)) < 0 ||
        (r = get_bool_opt(hc, HC, "ReadonlyRootfs", &readonly, err)) < 0 ||
        (r = get_bool_opt(body, "", "Tty", &tty, err)) < 0 ||
        (r = get_bool_opt(hc, HC, "Init", &init, err)) < 0 ||
        (r = jget_str(body, "", "Hostname", false, &hostname, err)) < 0 ||
        (r = jget_str(body, "", "Domainname", false, &domainname, err)) < 0 ||
        (r = jget_str(body, "", "WorkingDir", false, &cwd, err)) < 0 ||
        (r = jget_str(hc, HC, "NetworkMode", false, &net_mode, err)) < 0 ||
        (r = jget_i64(hc, HC, "OomScoreAdj", false, &oom_adj, err)) < 0) {
        return r;
    }
    if (jhas(hc, "ShmSize") && (r = jget_i64(hc, HC, "ShmSize", false, &shm, err)) < 0) {
        return r;
    }
    if (shm < 0) {
        return berth_error_set(err, EINVAL, HC ".ShmSize: SHM size can not be less than 0");
    }
    if (shm == 0) {
        shm = SHM_DEFAULT_BYTES;
    }
    if (oom_adj < -1000 || oom_adj > 1000) {
        return berth_error_set(err, EINVAL,
                               HC ".OomScoreAdj: Invalid value %" PRId64
                                  ", range for oom score adj is [-1000, 1000]",
                               oom_adj);
    }
    bool host_net = net_mode && streq(net_mode, "host");
    if (net_mode && strncmp(net_mode, "container:", 10) == 0 && !ctx->netns_path) {
        return berth_error_set(err, EINVAL,
                               HC ".NetworkMode: '%s': the container's network namespace is not "
                                  "known",
                               net_mode);
    }

    char host_name[256] = "";
    if (hostname && *hostname) {
        if (strlen(hostname) > 63) {
            return berth_error_set(err, EINVAL, "Hostname: '%s' is longer than 63 characters",
                                   hostname);
        }
        snprintf(host_name, sizeof(host_name), "%s", hostname);
    } else if (host_net && gethostname(host_name, sizeof(host_name) - 1) == 0) {
        /* --network host (without its own UTS setting) sees the host's
         * name, as in Docker. */
    } else {
        snprintf(host_name, sizeof(host_name), "%.12s", ctx->id);
    }

    if (!cwd || !*cwd) {
        cwd = image && image->working_dir && *image->working_dir ? image->working_dir : "/";
    }
    if (cwd[0] != '/') {
        return berth_error_set(err, EINVAL,
                               "WorkingDir: the working directory '%s' is invalid, it needs to be "
                               "an absolute path",
                               cwd);
    }

    _cleanup_json_ json_t *args = NULL, *env = NULL, *rlimits = NULL, *seccomp = NULL,
                          *resources = NULL, *namespaces = NULL, *devices = NULL, *sysctls = NULL;
    uint64_t caps = 0;
    struct security_opts so = {0};
    if ((r = build_args(body, image, &args, err)) < 0 ||
        (r = build_env(body, image, host_name, tty, &env, err)) < 0 ||
        (r = compute_caps(hc, privileged, &caps, err)) < 0 ||
        (r = parse_security_opts(hc, &so, err)) < 0 || (r = build_rlimits(hc, &rlimits, err)) < 0 ||
        (r = build_resources(hc, privileged, ctx, &resources, err)) < 0 ||
        (r = build_namespaces(hc, ctx, host_net, &namespaces, err)) < 0 ||
        (r = build_devices(ctx, &devices, err)) < 0 ||
        (r = build_sysctls(hc, host_net, &sysctls, err)) < 0) {
        return r;
    }
    if (init) {
        if (!ctx->init_path) {
            return berth_error_set(err, EINVAL, HC ".Init: no init binary available");
        }
        json_array_insert_new(args, 0, json_string("--"));
        json_array_insert_new(args, 0, json_string(INIT_PATH));
    }
    /* Seccomp is resolved against the final capability set; privileged
     * containers run unfiltered, as in Docker. */
    if (!privileged && !so.seccomp_unconfined &&
        (r = build_seccomp(&so, ctx, caps, &seccomp, err)) < 0) {
        return r;
    }

    /* process */
    json_t *gids = json_array();
    for (size_t i = 0; i < ctx->user.n_additional_gids; i++) {
        json_array_append_new(gids, json_integer(ctx->user.additional_gids[i]));
    }
    json_t *capset = caps_to_json(caps);
    /* Inheritable and ambient stay empty: a file capability must not
     * regain what was dropped (CVE-2022-29162). */
    json_t *process = json_pack(
        "{s:b, s:O, s:O, s:s, s:{s:I, s:I, s:o}, s:{s:O, s:O, s:O, s:[], s:[]}, s:O, s:b}",
        "terminal", tty, "args", args, "env", env, "cwd", cwd, "user", "uid",
        (json_int_t)ctx->user.uid, "gid", (json_int_t)ctx->user.gid, "additionalGids", gids,
        "capabilities", "bounding", capset, "effective", capset, "permitted", capset, "inheritable",
        "ambient", "rlimits", rlimits, "noNewPrivileges", so.no_new_privileges);
    json_decref(capset);
    if (jhas(hc, "OomScoreAdj")) {
        json_object_set_new(process, "oomScoreAdj", json_integer(oom_adj));
    }

    /* mounts: Docker's defaults */
    char shm_size[48];
    snprintf(shm_size, sizeof(shm_size), "size=%" PRId64, shm);
    json_t *mounts = json_array();
    mount_add(mounts, "/proc", "proc", "proc", opts_v("nosuid", "noexec", "nodev", NULL));
    mount_add(mounts, "/dev", "tmpfs", "tmpfs",
              opts_v("nosuid", "strictatime", "mode=755", "size=65536k", NULL));
    mount_add(
        mounts, "/dev/pts", "devpts", "devpts",
        opts_v("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL));
    mount_add(mounts, "/sys", "sysfs", "sysfs",
              opts_v("nosuid", "noexec", "nodev", privileged ? "rw" : "ro", NULL));
    mount_add(mounts, "/sys/fs/cgroup", "cgroup", "cgroup",
              opts_v("nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro", NULL));
    mount_add(mounts, "/dev/mqueue", "mqueue", "mqueue", opts_v("nosuid", "noexec", "nodev", NULL));
    mount_add(mounts, "/dev/shm", "tmpfs", "shm",
              opts_v("nosuid", "noexec", "nodev", "mode=1777", shm_size, NULL));
    add_etc_file(mounts, "/etc/hosts", ctx->hosts_path, readonly);
    add_etc_file(mounts, "/etc/hostname", ctx->hostname_path, readonly);
    add_etc_file(mounts, "/etc/resolv.conf", ctx->resolv_conf_path, readonly);
    if ((r = add_tmpfs(hc, mounts, err)) < 0) {
        json_decref(process);
        json_decref(mounts);
        return r;
    }
    size_t i;
    json_t *m;
    json_array_foreach(ctx->extra_mounts, i, m)
    {
        const char *dest = json_string_value(json_object_get(m, "destination"));
        if (dest) {
            mount_drop_dest(mounts, dest);
        }
        json_array_append(mounts, m);
    }
    /* Last, so that no volume or bind shadows the init (Docker's
     * docker-init mount is one of the daemon's, not the user's). */
    if (init) {
        mount_drop_dest(mounts, INIT_PATH);
        mount_add(mounts, INIT_PATH, "bind", ctx->init_path,
                  opts_v("rbind", "rprivate", "ro", "nosuid", "nodev", NULL));
    }

    json_t *lin = json_pack("{s:O, s:O, s:O}", "namespaces", namespaces, "resources", resources,
                            "devices", devices);
    if (ctx->cgroups_path) {
        json_object_set_new(lin, "cgroupsPath", json_string(ctx->cgroups_path));
    }
    if (!privileged) {
        json_object_set_new(lin, "maskedPaths",
                            strs_to_json(docker_masked_paths, ARRAY_SIZE(docker_masked_paths)));
        json_object_set_new(lin, "readonlyPaths",
                            strs_to_json(docker_readonly_paths, ARRAY_SIZE(docker_readonly_paths)));
    }
    if (seccomp) {
        json_object_set(lin, "seccomp", seccomp);
    }
    if (json_object_size(sysctls)) {
        json_object_set(lin, "sysctl", sysctls);
    }

    json_t *doc = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o, s:{s:s}}", "ociVersion",
                            OCI_VERSION, "process", process, "root", "path", ctx->rootfs,
                            "readonly", readonly, "hostname", host_name, "mounts", mounts, "linux",
                            lin, "annotations", "org.berth.container.id", ctx->id);
    if (domainname && *domainname) {
        json_object_set_new(doc, "domainname", json_string(domainname));
    }
    *ret = doc;
    return 0;
}
