#include "linux.h"

#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "caps.h"
#include "clone-vm.h"
#include "common/json-util.h"
#include "hooks.h"
#include "mounts.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum sync_type {
    SYNC_USERMAP_REQ = 1,
    SYNC_USERMAP_DONE,
    SYNC_PID,
    SYNC_CGROUP_DONE,
    SYNC_HOOKS_REQ,
    SYNC_HOOKS_DONE,
    SYNC_NOTIFY_FD,
    SYNC_READY,
    SYNC_ERROR,
};

struct sync_msg {
    int32_t type;
    int32_t code;
    int32_t pid;
    char text[4000];
};

static int sync_send(int fd, int type, int code, int pid, const char *text)
{
    struct sync_msg m = {.type = type, .code = code, .pid = pid};
    size_t len = offsetof(struct sync_msg, text);
    if (text) {
        snprintf(m.text, sizeof(m.text), "%s", text);
        len += strlen(m.text) + 1;
    }
    if (RETRY_EINTR(send(fd, &m, len, MSG_NOSIGNAL)) < 0) {
        return -errno;
    }
    return 0;
}

/* Receive one message; returns 0 at EOF (peer gone), 1 with a message. */
static int sync_recv(int fd, struct sync_msg *m, int *ret_fd, struct ucred *ret_cred)
{
    memset(m, 0, sizeof(*m));
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m) - 1};
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n = RETRY_EINTR(recvmsg(fd, &msg, MSG_CMSG_CLOEXEC));
    if (n < 0) {
        return -errno;
    }
    if (ret_fd) {
        *ret_fd = -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET) {
            continue;
        }
        if (c->cmsg_type == SCM_CREDENTIALS && ret_cred) {
            memcpy(ret_cred, CMSG_DATA(c), sizeof(*ret_cred));
        } else if (c->cmsg_type == SCM_RIGHTS) {
            int rfd;
            memcpy(&rfd, CMSG_DATA(c), sizeof(int));
            if (ret_fd) {
                *ret_fd = rfd;
            } else {
                close(rfd);
            }
        }
    }
    return n == 0 ? 0 : 1;
}

/* Send our pid with SCM_CREDENTIALS: the kernel rewrites it into the
 * receiver's pid namespace, which is the only way the runtime can learn the
 * host pid of a process living in another pid namespace. */
static int sync_send_pid(int fd, bool cgroup_entered)
{
    struct sync_msg m = {.type = SYNC_PID, .code = cgroup_entered ? 1 : 0};
    struct iovec iov = {.iov_base = &m, .iov_len = offsetof(struct sync_msg, text)};
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred cred = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    memcpy(CMSG_DATA(c), &cred, sizeof(cred));
    return RETRY_EINTR(sendmsg(fd, &msg, MSG_NOSIGNAL)) < 0 ? -errno : 0;
}

/* Fork with new namespaces; where there is a cgroup2 hierarchy, the child is
 * born in the container's cgroup there (clone3 CLONE_INTO_CGROUP), which
 * avoids the kernel's global lock a later migration would take. If the
 * kernel refuses (too old, or no right to it from inside a user namespace),
 * fall back to a plain clone and *ret_entered tells the caller to move it. */
static pid_t clone_into(int flags, const struct cgroup_entry *e, bool *ret_entered)
{
    if (e && e->v2_fd >= 0) {
        struct clone_args a = {.flags = (uint64_t)flags | CLONE_INTO_CGROUP,
                               .exit_signal = SIGCHLD,
                               .cgroup = (uint64_t)e->v2_fd};
        pid_t p = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
        if (p >= 0) {
            *ret_entered = true;
            return p;
        }
    }
    *ret_entered = !e || e->v2_fd < 0;
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* Child side: report the error to the runtime and die. */
static _noreturn_ void child_fail(int sync, struct berth_error *e)
{
    const char *msg = e ? e->msg : "container setup failed";
    if (sync < 0 || sync_send(sync, SYNC_ERROR, e ? e->code : EIO, 0, msg) < 0) {
        dprintf(STDERR_FILENO, "%s\n", msg);
    }
    _exit(1);
}

/* Wait for one message of the expected type; anything else is fatal. */
static int child_expect(int sync, int type)
{
    struct sync_msg m;
    int r = sync_recv(sync, &m, NULL, NULL);
    if (r <= 0 || m.type != type) {
        return -EPIPE;
    }
    return 0;
}

char *linux_hook_state(const struct oci_spec *spec, const char *id, const char *bundle,
                       const char *status, pid_t pid)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s}", "ociVersion", spec->oci_version, "id", id,
                          "status", status, "pid", (json_int_t)pid, "bundle", bundle);
    if (spec->annotations) {
        json_object_set(j, "annotations", spec->annotations);
    }
    char *s = json_dump_compact(j);
    json_decref(j);
    return s;
}

/* ---- process setup shared by init and exec ---------------------------- */

static int apply_rlimits(const struct oci_process *p, struct berth_error **err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
        if (setrlimit(p->rlimits[i].resource, &rl) < 0) {
            int e = errno;
            struct rlimit cur;
            getrlimit(p->rlimits[i].resource, &cur);
            if (e == EPERM && rl.rlim_max > cur.rlim_max) {
                /* Raising a hard limit needs CAP_SYS_RESOURCE. */
                return berth_error_set(
                    err, EPERM,
                    "rlimit %s: cannot raise the hard limit to %llu above the current %llu "
                    "without CAP_SYS_RESOURCE",
                    p->rlimits[i].name, (unsigned long long)rl.rlim_max,
                    (unsigned long long)cur.rlim_max);
            }
            return berth_error_sys(err, e, "rlimit %s", p->rlimits[i].name);
        }
    }
    return 0;
}

static int apply_sched(const struct oci_process *p, struct berth_error **err)
{
    if (p->io_priority.set) {
        int v = (p->io_priority.class_ << 13) | p->io_priority.priority;
        if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, v) < 0) {
            return berth_error_sys(err, errno, "process.ioPriority");
        }
    }
    if (p->scheduler.set) {
        struct {
            uint32_t size;
            uint32_t policy;
            uint64_t flags;
            int32_t nice;
            uint32_t priority;
            uint64_t runtime, deadline, period;
        } attr = {.size = 48,
                  .policy = (uint32_t)p->scheduler.policy,
                  .flags = p->scheduler.flags,
                  .nice = p->scheduler.nice,
                  .priority = (uint32_t)p->scheduler.priority,
                  .runtime = p->scheduler.runtime,
                  .deadline = p->scheduler.deadline,
                  .period = p->scheduler.period};
        if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0) {
            return berth_error_sys(err, errno, "process.scheduler");
        }
    }
    return 0;
}

static bool setgroups_allowed(void)
{
    char buf[16] = "";
    _cleanup_close_ int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return true;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    return !(n > 0 && strneq(buf, "deny", 4));
}

static int switch_user(const struct oci_process *p, struct berth_error **err)
{
    const struct oci_user *u = &p->user;
    /* In a user namespace whose setgroups is "deny" the call fails with
     * EPERM and is skipped: the file is read only then, not on every start
     * (an open in the container's procfs, whose dentries also cost at
     * teardown). */
    if (setgroups(u->n_additional_gids, u->n_additional_gids ? u->additional_gids : NULL) < 0) {
        int e = errno;
        if (e != EPERM || setgroups_allowed()) {
            return berth_error_sys(err, e, "setgroups");
        }
    }
    if (setresgid(u->gid, u->gid, u->gid) < 0) {
        return berth_error_sys(err, errno, "setgid %u", (unsigned)u->gid);
    }
    if (setresuid(u->uid, u->uid, u->uid) < 0) {
        return berth_error_sys(err, errno, "setuid %u", (unsigned)u->uid);
    }
    return 0;
}

/* HOME from the container's /etc/passwd, read as a plain file: no NSS module
 * of the container is ever loaded into a privileged process (CVE-2019-14271). */
static char *home_for(uid_t uid)
{
    _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_close_ int fd = root < 0 ? -1 : chase_open(root, "/etc/passwd", O_RDONLY, 0);
    _cleanup_free_ char *buf = NULL;
    if (fd < 0 || read_fd_full(fd, 1u << 20, &buf, NULL, NULL) < 0) {
        return NULL;
    }
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        /* name:pw:uid:gid:gecos:home:shell */
        char *f[7] = {0};
        int n = 0;
        for (char *s = line; n < 7; n++) {
            f[n] = s;
            s = strchr(s, ':');
            if (!s) {
                n++;
                break;
            }
            *s++ = '\0';
        }
        if (n >= 6 && strtoul(f[2], NULL, 10) == uid && f[5] && *f[5]) {
            return xstrdup(f[5]);
        }
    }
    return NULL;
}

/* Find args[0] like execvp would, inside the container, and fail with the
 * messages Docker maps to exit codes 127 ("not found") and 126. */
static int lookup_executable(const char *arg0, char *const *env, char **ret,
                             struct berth_error **err)
{
    struct stat st;
    if (strchr(arg0, '/')) {
        if (stat(arg0, &st) < 0) {
            return berth_error_sys(err, errno, "exec: \"%s\": stat %s", arg0, arg0);
        }
        if (S_ISDIR(st.st_mode)) {
            return berth_error_set(err, EACCES, "exec: \"%s\": is a directory: permission denied",
                                   arg0);
        }
        *ret = xstrdup(arg0);
        return 0;
    }
    const char *path = strv_env_get(env, "PATH");
    _cleanup_strv_free_ char **dirs = strv_split(path ? path : DEFAULT_PATH, ":");
    for (size_t i = 0; dirs[i]; i++) {
        _cleanup_free_ char *cand = xasprintf("%s/%s", *dirs[i] ? dirs[i] : ".", arg0);
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
            *ret = TAKE_PTR(cand);
            return 0;
        }
    }
    return berth_error_set(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", arg0);
}

struct prepared {
    char *exe;
    char **env;
    bool seccomp_loaded;
};

/* Everything between a set-up namespace environment and execve that can
 * fail with a useful message: done before "ready" so create reports it. */
static int prepare_process(const struct linux_spawn *sp, bool is_init, int sync,
                           struct prepared *out, struct berth_error **err)
{
    const struct oci_process *p = sp->process;
    int r;
    if (p->terminal && sp->console_socket >= 0) {
        int peer = -1;
        r = rootfs_setup_console(sp->console_socket, p, &peer, is_init, err);
        if (r < 0) {
            return r;
        }
        if (setsid() < 0 || ioctl(peer, TIOCSCTTY, 0) < 0) {
            return berth_error_sys(err, errno, "make the terminal the controlling tty");
        }
        if (dup2(peer, 0) < 0 || dup2(peer, 1) < 0 || dup2(peer, 2) < 0) {
            return berth_error_sys(err, errno, "dup terminal");
        }
        if (peer > 2) {
            close(peer);
        }
        close(sp->console_socket);
    }
    r = apply_rlimits(p, err);
    if (r < 0) {
        return r;
    }
    if (is_init && !sp->no_new_keyring) {
        /* A fresh session keyring, so containers do not share the host's keys. */
        _cleanup_free_ char *name = xasprintf("_ses.%s", sp->id);
        if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name) < 0 && errno != ENOSYS &&
            errno != EDQUOT && errno != EACCES) {
            return berth_error_sys(err, errno, "join session keyring");
        }
    }
    if (is_init && sp->spec->linux_.has_personality &&
        personality(sp->spec->linux_.personality) < 0) {
        return berth_error_sys(err, errno, "linux.personality");
    }
    r = apply_sched(p, err);
    if (r < 0) {
        return r;
    }
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        return berth_error_sys(err, errno, "set no_new_privs");
    }
    /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
     * before the capabilities go (runc's order). A notify listener is also
     * loaded here so the fd can reach the runtime before "ready". */
    if (sp->seccomp && (!p->no_new_privileges || seccomp_program_listener_path(sp->seccomp))) {
        int nfd = -1;
        r = seccomp_program_load(sp->seccomp, &nfd, err);
        if (r < 0) {
            return berth_error_prefix(err, "seccomp");
        }
        if (nfd >= 0) {
            r = send_fd(sync, nfd, &(struct sync_msg){.type = SYNC_NOTIFY_FD},
                        offsetof(struct sync_msg, text));
            close(nfd);
            if (r < 0) {
                return berth_error_sys(err, -r, "send seccomp notify fd");
            }
        }
        out->seccomp_loaded = true;
    }
    /* No capabilities in the config: keep the ones the runtime has (asking
     * for all fails where the runtime itself lacks some, e.g. in a pod). */
    struct oci_caps current = {0};
    if (!p->has_caps) {
        caps_get_permitted(&current);
    }
    const struct oci_caps *caps = p->has_caps ? &p->caps : &current;
    if (p->has_caps) {
        r = caps_drop_bounding(caps, err);
        if (r < 0) {
            return r;
        }
    }
    /* runc's order: enter cwd as root first (it may be reachable only by
     * root), and again as the user if that failed. */
    bool in_cwd = chdir(p->cwd) == 0;
    if (caps_keep_on_setuid(1) < 0) {
        return berth_error_sys(err, errno, "keep capabilities");
    }
    r = switch_user(p, err);
    if (r < 0) {
        return r;
    }
    caps_keep_on_setuid(0);
    if (p->has_caps || p->user.uid != 0) {
        r = caps_set(caps, err);
        if (r < 0) {
            return r;
        }
    }
    umask(p->user.has_umask ? p->user.umask : 0022);
    if (!in_cwd && chdir(p->cwd) < 0) {
        return berth_error_sys(err, errno, "chdir to cwd (\"%s\") set in config.json", p->cwd);
    }
    /* CVE-2024-21626: a leaked fd could make cwd a host directory; make sure
     * the kernel can name it from inside the container's root. */
    char cwdbuf[4096];
    if (!getcwd(cwdbuf, sizeof(cwdbuf)) || cwdbuf[0] != '/') {
        return berth_error_set(err, EPERM, "cwd '%s' is outside the container", p->cwd);
    }
    out->env = strv_copy(p->env);
    if (!strv_env_get(out->env, "HOME")) {
        _cleanup_free_ char *home = home_for(p->user.uid);
        _cleanup_free_ char *kv = xasprintf("HOME=%s", home ? home : "/");
        strv_push(&out->env, kv);
    }
    return lookup_executable(p->args[0], out->env, &out->exe, err);
}

/* The embedded exec stub (exec-stub.c, built by meson). */
extern const unsigned char berth_exec_stub[];
extern const size_t berth_exec_stub_len;

/* A sealed memfd holding `len` bytes: nothing can change it once made. */
static int sealed_memfd(const char *name, const void *data, size_t len, unsigned flags)
{
    int fd = memfd_create(name, MFD_ALLOW_SEALING | flags);
    if (fd < 0) {
        return -errno;
    }
    if (write_all(fd, data, len) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* The last steps: descriptor hygiene, then execve through the sealed exec
 * stub, which loads a late seccomp filter and execs the process. The process
 * thus never starts from the host's berth binary (CVE-2019-5736; see
 * exec-stub.c). Never returns. */
static _noreturn_ void exec_process(const struct linux_spawn *sp, struct prepared *pp, int sync,
                                    int wait_fd)
{
    struct berth_error *e = NULL;
    int stub = sealed_memfd("berth-exec", berth_exec_stub, berth_exec_stub_len, MFD_CLOEXEC);
    if (stub < 0) {
        berth_error_sys(&e, -stub, "prepare exec stub");
        child_fail(sync, e);
    }
    char scfd_s[16] = "-", flags_s[24] = "0", wait_s[16] = "-";
    int scfd = -1;
    if (wait_fd >= 0) {
        /* Kept open across the exec, above the preserved range. */
        int moved = fcntl(wait_fd, F_DUPFD, 3 + sp->preserve_fds);
        if (moved < 0) {
            berth_error_sys(&e, errno, "prepare exec.fifo");
            child_fail(sync, e);
        }
        close(wait_fd);
        wait_fd = moved;
        snprintf(wait_s, sizeof(wait_s), "%d", wait_fd);
    }
    if (sp->seccomp && !pp->seccomp_loaded) {
        unsigned long flags = 0;
        const struct sock_fprog *fp = seccomp_program_fprog(sp->seccomp, &flags);
        int fd = sealed_memfd("berth-seccomp", fp->filter, fp->len * sizeof(struct sock_filter), 0);
        /* Keep it above the preserved range, the only fd besides them that
         * crosses into the stub (which closes it). */
        int moved = fd < 0 ? -1 : fcntl(fd, F_DUPFD, 3 + sp->preserve_fds);
        if (moved < 0) {
            berth_error_sys(&e, fd < 0 ? -fd : errno, "prepare seccomp filter");
            child_fail(sync, e);
        }
        close(fd);
        scfd = moved;
        snprintf(scfd_s, sizeof(scfd_s), "%d", moved);
        snprintf(flags_s, sizeof(flags_s), "%lu", flags);
    }
    /* The process starts with default signal handling whatever the runtime
     * blocked or ignored (a blocked SIGTERM would make it unkillable but by
     * SIGKILL; an ignored SIGPIPE survives execve). */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL);
        }
    }
    /* CVE-2024-21626: nothing but the preserved fds (and the filter, closed
     * by the stub) crosses into the process. */
    for (int fd = 3; fd < 3 + sp->preserve_fds; fd++) {
        fd_set_cloexec(fd, 0);
    }
    fds_cloexec_from(3 + sp->preserve_fds);
    if (scfd >= 0) {
        fd_set_cloexec(scfd, 0);
    }
    if (wait_fd >= 0) {
        fd_set_cloexec(wait_fd, 0);
    }
    size_t n = strv_length(sp->process->args);
    char **argv = xcalloc(n + 6, sizeof(char *));
    argv[0] = (char *)"berth-exec";
    argv[1] = wait_s;
    argv[2] = scfd_s;
    argv[3] = flags_s;
    argv[4] = pp->exe;
    for (size_t i = 0; i < n; i++) {
        argv[5 + i] = sp->process->args[i];
    }
    syscall(SYS_execveat, stub, "", argv, pp->env, AT_EMPTY_PATH);
    int en = errno;
    berth_error_sys(&e, en, "exec: \"%s\" through the exec stub", sp->process->args[0]);
    child_fail(sync, e);
}

/* ---- create ----------------------------------------------------------- */

static int write_id_map(pid_t pid, const char *file, const struct oci_idmap *m, size_t n,
                        struct berth_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        strbuf_addf(&sb, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int r = write_file_at(AT_FDCWD, path, strbuf_str(&sb), sb.len, err);
    strbuf_release(&sb);
    if (r < 0) {
        return berth_error_prefix(err, "linux.%sMappings", file[0] == 'u' ? "uid" : "gid");
    }
    return 0;
}

struct ns_join {
    int type;
    int fd;
};

/* Open and check every namespace path before anything is created, so a bad
 * path fails create cleanly. */
static int open_join_namespaces(const struct oci_spec *s, struct ns_join *joins, size_t *n,
                                struct berth_error **err)
{
    *n = 0;
    for (size_t i = 0; i < s->linux_.n_namespaces; i++) {
        const struct oci_namespace *ns = &s->linux_.namespaces[i];
        if (!ns->path) {
            continue;
        }
        int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return berth_error_sys(err, errno, "linux.namespaces: %s namespace path '%s'",
                                   ns_type_to_name(ns->type), ns->path);
        }
        int t = ioctl(fd, 0xb703 /* NS_GET_NSTYPE */);
        if (t < 0 || t != ns->type) {
            close(fd);
            return berth_error_set(err, EINVAL, "linux.namespaces: '%s' is not a %s namespace",
                                   ns->path, ns_type_to_name(ns->type));
        }
        joins[(*n)++] = (struct ns_join){ns->type, fd};
    }
    return 0;
}

static int new_ns_flags(const struct oci_spec *s)
{
    int flags = 0;
    for (size_t i = 0; i < s->linux_.n_namespaces; i++) {
        if (!s->linux_.namespaces[i].path) {
            flags |= s->linux_.namespaces[i].type;
        }
    }
    return flags;
}

static int write_time_offsets(const struct oci_linux *l, struct berth_error **err)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "monotonic %lld %u\nboottime %lld %u\n",
                     (long long)l->monotonic_secs, l->monotonic_nsecs, (long long)l->boottime_secs,
                     l->boottime_nsecs);
    return write_file_at(AT_FDCWD, "/proc/self/timens_offsets", buf, (size_t)n, err);
}

/* CVE-2024-21626: the runtime holds host directory fds (the state root, the
 * state dir); close-on-exec only drops them at execve, which is too late for
 * a cwd of /proc/self/fd/N. Close everything the child does not need now. */
static void close_inherited(const struct linux_spawn *sp, int sync, const struct ns_join *joins,
                            size_t njoins, const struct cgroup_entry *ce)
{
    int keep[48];
    size_t n = 0;
    keep[n++] = ce->v2_fd;
    for (size_t i = 0; i < ce->n_tasks; i++) {
        keep[n++] = ce->tasks_fds[i];
    }
    keep[n++] = sync;
    keep[n++] = sp->fifo_fd;
    keep[n++] = sp->console_socket;
    keep[n++] = log_get_fd();
    for (size_t i = 0; sp->idmapped_fds && i < sp->spec->n_mounts && n < ARRAY_SIZE(keep); i++) {
        if (sp->idmapped_fds[i] >= 0) {
            keep[n++] = sp->idmapped_fds[i];
        }
    }
    for (size_t i = 0; i < njoins && n < ARRAY_SIZE(keep); i++) {
        keep[n++] = joins[i].fd;
    }
    fds_close_except(3 + sp->preserve_fds, keep, n);
}

/* First thing in a new process: enter the container's v1 cgroups itself. */
static void enter_cgroup(struct cgroup_entry *ce, int sync)
{
    int r = cgroup_entry_enter_self(ce);
    cgroup_entry_close(ce);
    if (r < 0) {
        struct berth_error *e = NULL;
        berth_error_sys(&e, -r, "enter cgroup");
        child_fail(sync, e);
    }
}

/* The init, after the runtime placed it in its cgroup. */
static _noreturn_ void init_main(struct linux_spawn *sp, int sync, bool userns, bool shared_vm)
{
    struct berth_error *e = NULL;
    const struct oci_spec *s = sp->spec;
    pid_t host_pid = 0;
    if (shared_vm) {
        /* The runtime is suspended until this process execs (see
         * clone_init_vm): nothing to wait for. The host's procfs is still
         * mounted here and names this process by its host pid. */
        char self[32];
        ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
        host_pid = n > 0 ? (self[n] = 0, (pid_t)strtol(self, NULL, 10)) : 0;
    } else {
        struct sync_msg m;
        if (sync_recv(sync, &m, NULL, NULL) <= 0 || m.type != SYNC_CGROUP_DONE) {
            _exit(1);
        }
        host_pid = m.pid;
    }
    log_trace_point("init: cgroup done");
    const struct oci_namespace *cg = oci_spec_namespace(s, CLONE_NEWCGROUP);
    if (cg && !cg->path && unshare(CLONE_NEWCGROUP) < 0) {
        berth_error_sys(&e, errno, "unshare cgroup namespace");
        child_fail(sync, e);
    }
    if (s->hostname && *s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
        berth_error_sys(&e, errno, "sethostname '%s'", s->hostname);
        child_fail(sync, e);
    }
    if (s->domainname && *s->domainname &&
        setdomainname(s->domainname, strlen(s->domainname)) < 0) {
        berth_error_sys(&e, errno, "setdomainname '%s'", s->domainname);
        child_fail(sync, e);
    }
    const struct oci_namespace *mntns = oci_spec_namespace(s, CLONE_NEWNS);
    struct rootfs_opts ro = {.in_userns = userns,
                             .new_cgroupns = cg && !cg->path,
                             .joined_mntns = mntns && mntns->path,
                             .idmapped_fds = sp->idmapped_fds};
    for (size_t i = 0; i < s->linux_.n_uid_mappings; i++) {
        if (s->linux_.uid_mappings[i].container_id == 0) {
            ro.host_root_uid = s->linux_.uid_mappings[i].host_id;
        }
    }
    _cleanup_close_ int rootfd = -1;
    if (rootfs_prepare(s, &ro, &rootfd, &e) < 0) {
        child_fail(sync, e);
    }
    log_trace_point("init: mounts done");
    if (s->hooks[OCI_HOOK_PRESTART].n || s->hooks[OCI_HOOK_CREATE_RUNTIME].n) {
        if (sync_send(sync, SYNC_HOOKS_REQ, 0, 0, NULL) < 0 ||
            child_expect(sync, SYNC_HOOKS_DONE) < 0) {
            _exit(1);
        }
    }
    if (s->hooks[OCI_HOOK_CREATE_CONTAINER].n) {
        _cleanup_free_ char *st = linux_hook_state(s, sp->id, sp->bundle, "created", host_pid);
        if (hooks_run(&s->hooks[OCI_HOOK_CREATE_CONTAINER], OCI_HOOK_CREATE_CONTAINER, st, &e) <
            0) {
            child_fail(sync, e);
        }
    }
    if (rootfs_pivot(s, rootfd, sp->no_pivot, &e) < 0) {
        child_fail(sync, e);
    }
    log_trace_point("init: pivoted");
    if (s->linux_.n_sysctls) {
        _cleanup_close_ int procfd = proc_open_private(&e);
        if (procfd < 0) {
            child_fail(sync, e);
        }
        for (size_t i = 0; i < s->linux_.n_sysctls; i++) {
            if (proc_write_sysctl(procfd, s->linux_.sysctls[i].key, s->linux_.sysctls[i].value,
                                  &e) < 0) {
                child_fail(sync, e);
            }
        }
    }
    if (rootfs_finalize(s, &ro, &e) < 0) {
        child_fail(sync, e);
    }
    log_trace_point("init: finalized");
    struct prepared pp = {0};
    if (prepare_process(sp, true, sync, &pp, &e) < 0) {
        child_fail(sync, e);
    }
    log_trace_point("init: ready");
    if (!s->hooks[OCI_HOOK_START_CONTAINER].n) {
        /* Wait for start inside the sealed stub, not as berth: another
         * container may join our pid namespace before start (CVE-2019-5736). */
        if (sync_send(sync, SYNC_READY, 0, 0, NULL) < 0) {
            _exit(1);
        }
        exec_process(sp, &pp, -1, sp->fifo_fd);
    }
    /* startContainer hooks run berth's code after start: the runtime made
     * sure it runs from a sealed copy (see berth_runtime_create). */
    if (sync_send(sync, SYNC_READY, 0, 0, NULL) < 0) {
        _exit(1);
    }
    close(sync);
    /* Wait for start: it writes one byte into exec.fifo. */
    char c;
    ssize_t n = RETRY_EINTR(read(sp->fifo_fd, &c, 1));
    if (n != 1) {
        _exit(1);
    }
    close(sp->fifo_fd);
    log_trace_point("init: started");
    if (s->hooks[OCI_HOOK_START_CONTAINER].n) {
        _cleanup_free_ char *st = linux_hook_state(s, sp->id, sp->bundle, "created", host_pid);
        if (hooks_run(&s->hooks[OCI_HOOK_START_CONTAINER], OCI_HOOK_START_CONTAINER, st, &e) < 0) {
            child_fail(-1, e);
        }
    }
    exec_process(sp, &pp, -1, -1);
}

/* Join a cgroup namespace only once inside the cgroup: from outside, the
 * kernel refuses CLONE_INTO_CGROUP (our cgroup is not visible in it). */
static void join_cgroupns_late(struct ns_join *joins, size_t n, int sync)
{
    for (size_t i = 0; i < n; i++) {
        if (joins[i].type == CLONE_NEWCGROUP && joins[i].fd >= 0) {
            if (setns(joins[i].fd, CLONE_NEWCGROUP) < 0) {
                struct berth_error *e = NULL;
                berth_error_sys(&e, errno, "join cgroup namespace");
                child_fail(sync, e);
            }
            close(joins[i].fd);
            joins[i].fd = -1;
        }
    }
}

/* Two-stage start for namespaces joined by path: this first child joins,
 * creates the user namespace, then clones the init as the runtime's child. */
static _noreturn_ void stage1_main(struct linux_spawn *sp, int sync, struct ns_join *joins,
                                   size_t njoins, int flags, struct cgroup_entry *ce)
{
    struct berth_error *e = NULL;
    /* A joined user namespace first: it grants the rights to join the rest. */
    for (size_t i = 0; i < njoins; i++) {
        if (joins[i].type == CLONE_NEWUSER && setns(joins[i].fd, CLONE_NEWUSER) < 0) {
            berth_error_sys(&e, errno, "join user namespace");
            child_fail(sync, e);
        }
    }
    for (size_t i = 0; i < njoins; i++) {
        if (joins[i].type == CLONE_NEWCGROUP) {
            continue;
        }
        if (joins[i].type != CLONE_NEWUSER && setns(joins[i].fd, joins[i].type) < 0) {
            berth_error_sys(&e, errno, "join %s namespace", ns_type_to_name(joins[i].type));
            child_fail(sync, e);
        }
        close(joins[i].fd);
        joins[i].fd = -1;
    }
    bool userns = (flags & CLONE_NEWUSER) || oci_spec_namespace(sp->spec, CLONE_NEWUSER);
    if (flags & CLONE_NEWUSER) {
        if (unshare(CLONE_NEWUSER) < 0) {
            berth_error_sys(&e, errno, "unshare user namespace");
            child_fail(sync, e);
        }
        if (sync_send(sync, SYNC_USERMAP_REQ, 0, 0, NULL) < 0 ||
            child_expect(sync, SYNC_USERMAP_DONE) < 0) {
            _exit(1);
        }
    }
    if (userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
        berth_error_sys(&e, errno, "become root in the user namespace");
        child_fail(sync, e);
    }
    if (flags & CLONE_NEWTIME) {
        if (unshare(CLONE_NEWTIME) < 0 || write_time_offsets(&sp->spec->linux_, &e) < 0) {
            if (!e) {
                berth_error_sys(&e, errno, "unshare time namespace");
            }
            child_fail(sync, e);
        }
    }
    int cflags = flags & ~(CLONE_NEWUSER | CLONE_NEWTIME | CLONE_NEWCGROUP);
    bool entered = false;
    pid_t pid = clone_into(CLONE_PARENT | cflags, ce, &entered);
    if (pid < 0) {
        berth_error_sys(&e, errno, "clone container init");
        child_fail(sync, e);
    }
    if (pid == 0) {
        enter_cgroup(ce, sync);
        linux_log_exe("container init");
        join_cgroupns_late(joins, njoins, sync);
        if (sync_send_pid(sync, entered) < 0) {
            _exit(1);
        }
        init_main(sp, sync, userns, false);
    }
    _exit(0);
}

static int wait_status_error(pid_t pid, const char *what, struct berth_error **err)
{
    int status = 0;
    if (RETRY_EINTR(waitpid(pid, &status, 0)) < 0) {
        return berth_error_sys(err, errno, "%s exited unexpectedly", what);
    }
    if (WIFSIGNALED(status)) {
        return berth_error_set(err, EIO, "%s was killed by signal %d%s", what, WTERMSIG(status),
                               WTERMSIG(status) == SIGKILL ? " (out of memory?)" : "");
    }
    return berth_error_set(err, EIO, "%s exited unexpectedly with status %d", what,
                           WEXITSTATUS(status));
}

static int forward_notify_fd(const struct linux_spawn *sp, int nfd, pid_t pid,
                             struct berth_error **err)
{
    const char *path = seccomp_program_listener_path(sp->seccomp);
    _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof(addr.sun_path)) {
        return berth_error_set(err, EINVAL, "linux.seccomp.listenerPath: invalid");
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        return berth_error_sys(err, errno, "connect to seccomp listener '%s'", path);
    }
    /* The spec's container process state: state plus fds and metadata. */
    _cleanup_free_ char *st = linux_hook_state(sp->spec, sp->id, sp->bundle, "creating", pid);
    json_t *j = json_loads(st, 0, NULL);
    json_t *out = json_pack("{s:s, s:[s], s:I, s:s, s:O}", "ociVersion", sp->spec->oci_version,
                            "fds", "seccompFd", "pid", (json_int_t)pid, "metadata",
                            seccomp_program_listener_metadata(sp->seccomp)
                                ? seccomp_program_listener_metadata(sp->seccomp)
                                : "",
                            "state", j);
    json_decref(j);
    _cleanup_free_ char *txt = json_dump_compact(out);
    json_decref(out);
    int r = send_fd(s, nfd, txt, strlen(txt));
    if (r < 0) {
        return berth_error_sys(err, -r, "send seccomp fd to '%s'", path);
    }
    return 0;
}

/* The init cloned in the runtime's memory (CLONE_VM | CLONE_VFORK, see
 * clone-vm.h): no copy of the runtime's page tables, no copy-on-write fault
 * for every page the init's setup writes, no teardown of a copy at its exec
 * of the exec stub (together ~0.3 ms of a container start on a v1 host).
 * The runtime is suspended until that exec, so the init must need nothing
 * from it on the way, and must exec before the start: no user namespace
 * (its id maps are written by the runtime), no prestart/createRuntime
 * hooks (run by the runtime), no startContainer hooks (the init waits for
 * the start as berth, not exec'd), no
 * seccomp listener (forwarded by the runtime), no oom_score_adj (set by the
 * runtime), and its cgroup entered by itself (v1 "tasks" files, cgroup2 at
 * the clone). Everything the init changes that is per process (fds, signal
 * handlers, cwd, root, namespaces, credentials, seccomp, rlimits) is its
 * own, since only the memory is shared; the one per-memory setting it
 * changes, "dumpable", the runtime restores after. What it allocates stays
 * in the runtime's heap. Otherwise, or where the clone is refused, the
 * init is forked as before. */
struct vm_init {
    struct linux_spawn *sp;
    int sync, other;
    struct cgroup_entry *ce;
};

static bool shared_vm_possible(const struct linux_spawn *sp, bool userns)
{
    const struct oci_spec *s = sp->spec;
    return !BERTH_ASAN && !userns && sp->cgroup && !s->hooks[OCI_HOOK_PRESTART].n &&
           !s->hooks[OCI_HOOK_CREATE_RUNTIME].n && !s->hooks[OCI_HOOK_START_CONTAINER].n &&
           !sp->process->has_oom_score_adj &&
           !(sp->seccomp && seccomp_program_listener_path(sp->seccomp)) &&
           !getenv("BERTH_NO_SHARED_VM_INIT");
}

static int vm_init_main(void *arg)
{
    struct vm_init *vi = arg;
    log_trace_point("init: cloned");
    linux_log_exe("container init");
    close(vi->other);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    close_inherited(vi->sp, vi->sync, NULL, 0, vi->ce);
    enter_cgroup(vi->ce, vi->sync);
    init_main(vi->sp, vi->sync, false, true);
}

#define VM_INIT_STACK (8u << 20)

static pid_t clone_init_vm(int flags, struct vm_init *vi)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, page + VM_INIT_STACK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        return -errno;
    }
    pid_t pid = -ENOMEM;
    if (mprotect(map, page, PROT_NONE) == 0) { /* a guard below the stack */
        struct clone_args a = {.flags = (uint64_t)flags | CLONE_VM | CLONE_VFORK,
                               .exit_signal = SIGCHLD,
                               .stack = (uint64_t)(uintptr_t)(map + page),
                               .stack_size = VM_INIT_STACK};
        if (vi->ce->v2_fd >= 0) {
            a.flags |= CLONE_INTO_CGROUP;
            a.cgroup = (uint64_t)vi->ce->v2_fd;
        }
        pid = clone3_vm(&a, vm_init_main, vi);
    }
    /* The init has exec'd (or died) by now: the stack is no one's. */
    munmap(map, page + VM_INIT_STACK);
    return pid;
}

int linux_create(struct linux_spawn *sp, struct berth_error **err)
{
    const struct oci_spec *s = sp->spec;
    if (!oci_spec_namespace(s, CLONE_NEWNS)) {
        return berth_error_set(err, EINVAL, "linux.namespaces: a mount namespace is required");
    }
    struct ns_join joins[16];
    size_t njoins = 0;
    struct cgroup_entry ce = {.v2_fd = -1};
    int *idfds = NULL;
    int r = open_join_namespaces(s, joins, &njoins, err);
    if (r < 0) {
        return r;
    }
    int flags = new_ns_flags(s);
    if (sp->cgroup && (r = cgroup_entry_open(sp->cgroup, &ce, err)) < 0) {
        goto out_joins;
    }
    bool entered = !sp->cgroup;
    int sv[2] = {-1, -1};
    /* Idmapped mounts are made here, where the runtime has the privilege
     * over their filesystems that the kernel asks for; the init moves them
     * into place. */
    idfds = xcalloc(s->n_mounts + 1, sizeof(int));
    bool any_idmap = false;
    for (size_t i = 0; i < s->n_mounts; i++) {
        idfds[i] = -1;
        if (s->mounts[i].attrs & (OCI_MOUNT_IDMAP | OCI_MOUNT_RIDMAP)) {
            r = mount_make_idmapped(&s->mounts[i], &idfds[i], err);
            if (r < 0) {
                berth_error_prefix(err, "mounts[%zu]", i);
                goto out_joins;
            }
            any_idmap = true;
        }
    }
    sp->idmapped_fds = any_idmap ? idfds : NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r = berth_error_sys(err, errno, "socketpair");
        goto out_joins;
    }
    int one = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    bool userns = oci_spec_namespace(s, CLONE_NEWUSER) != NULL;
    /* A network namespace to join, and nothing else (berth's containers
     * get theirs ready-made, in parallel with the CLI's work): entered here
     * around the clone, which the init then inherits, instead of the
     * two-stage start that joining by path otherwise takes. */
    bool net_join = njoins == 1 && joins[0].type == CLONE_NEWNET && !userns;
    bool fast = njoins == 0 || net_join;
    bool shared_vm = false;
    pid_t first;
    if (fast) {
        if (flags & CLONE_NEWTIME) {
            /* A time namespace applies to children: unshare it here and write
             * the offsets before the init enters it. */
            if (unshare(CLONE_NEWTIME) < 0) {
                r = berth_error_sys(err, errno, "unshare time namespace");
                goto out_sock;
            }
            r = write_time_offsets(&s->linux_, err);
            if (r < 0) {
                goto out_sock;
            }
        }
        _cleanup_close_ int own_net = -1;
        if (net_join) {
            own_net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
            if (own_net < 0 || setns(joins[0].fd, CLONE_NEWNET) < 0) {
                r = berth_error_sys(err, errno, "join network namespace");
                goto out_sock;
            }
        }
        int cflags = flags & ~(CLONE_NEWTIME | CLONE_NEWCGROUP);
        struct vm_init vi = {.sp = sp, .sync = sv[1], .other = sv[0], .ce = &ce};
        first = shared_vm_possible(sp, userns) ? clone_init_vm(cflags, &vi) : -ENOSYS;
        shared_vm = first > 0;
        if (shared_vm) {
            entered = true; /* or the init reported it could not enter */
        } else {
            first = sp->cgroup
                        ? clone_into(cflags, &ce, &entered)
                        : (pid_t)syscall(SYS_clone, cflags | SIGCHLD, NULL, NULL, NULL, NULL);
        }
        if (first != 0 && own_net >= 0 && setns(own_net, CLONE_NEWNET) < 0) {
            /* Never go on in the container's network namespace. */
            abort();
        }
        if (first == 0) {
            log_trace_point("init: cloned");
            linux_log_exe("container init");
            close(sv[0]);
            prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
            close_inherited(sp, sv[1], NULL, 0, &ce);
            enter_cgroup(&ce, sv[1]);
            if (userns) {
                if (sync_send(sv[1], SYNC_USERMAP_REQ, 0, 0, NULL) < 0 ||
                    child_expect(sv[1], SYNC_USERMAP_DONE) < 0) {
                    _exit(1);
                }
                if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                    struct berth_error *e = NULL;
                    berth_error_sys(&e, errno, "become root in the user namespace");
                    child_fail(sv[1], e);
                }
            }
            init_main(sp, sv[1], userns, false);
        }
    } else {
        first = fork();
        if (first == 0) {
            close(sv[0]);
            prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
            close_inherited(sp, sv[1], joins, njoins, &ce);
            stage1_main(sp, sv[1], joins, njoins, flags, &ce);
        }
    }
    if (first < 0) {
        r = berth_error_sys(err, errno, "clone container init");
        goto out_sock;
    }
    close(sv[1]);
    sv[1] = -1;

    pid_t pid = fast ? first : 0;
    struct sync_msg m;
    int nfd = -1;
    if (flags & CLONE_NEWUSER) {
        r = sync_recv(sv[0], &m, NULL, NULL);
        if (r <= 0 || m.type != SYNC_USERMAP_REQ) {
            goto out_child_error;
        }
        r = write_id_map(first, "uid_map", s->linux_.uid_mappings, s->linux_.n_uid_mappings, err);
        if (r >= 0) {
            r = write_id_map(first, "gid_map", s->linux_.gid_mappings, s->linux_.n_gid_mappings,
                             err);
        }
        if (r < 0) {
            goto out_kill;
        }
        sync_send(sv[0], SYNC_USERMAP_DONE, 0, 0, NULL);
    }
    if (!fast) {
        struct ucred cred = {0};
        r = sync_recv(sv[0], &m, NULL, &cred);
        if (r <= 0 || m.type != SYNC_PID) {
            pid = 0;
            goto out_child_error;
        }
        pid = cred.pid;
        entered = m.code == 1 || !sp->cgroup;
        int st;
        RETRY_EINTR(waitpid(first, &st, 0));
    }
    cgroup_entry_close(&ce);
    if (!entered) {
        /* The slow way, only when the kernel refused the fast one. */
        r = cgroup_add_pid(sp->cgroup, pid, err);
        if (r < 0) {
            goto out_kill;
        }
    }
    if (sp->process->has_oom_score_adj) {
        char path[64], val[16];
        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
        int n = snprintf(val, sizeof(val), "%d", sp->process->oom_score_adj);
        r = write_file_at(AT_FDCWD, path, val, (size_t)n, err);
        if (r == -EACCES) {
            berth_error_prefix(err, "process.oomScoreAdj: lowering it needs CAP_SYS_RESOURCE");
        }
        if (r < 0) {
            goto out_kill;
        }
    }
    if (shared_vm) {
        /* The init ran in our memory until its exec; it made the mm
         * undumpable, which is ours too. */
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    } else {
        sync_send(sv[0], SYNC_CGROUP_DONE, 0, pid, NULL);
    }
    for (;;) {
        r = sync_recv(sv[0], &m, &nfd, NULL);
        if (r <= 0) {
            goto out_child_error;
        }
        if (m.type == SYNC_READY) {
            break;
        }
        if (m.type == SYNC_ERROR) {
            r = berth_error_set(err, m.code, "%s", m.text);
            goto out_kill;
        }
        if (m.type == SYNC_HOOKS_REQ) {
            _cleanup_free_ char *st = linux_hook_state(s, sp->id, sp->bundle, "created", pid);
            r = hooks_run(&s->hooks[OCI_HOOK_PRESTART], OCI_HOOK_PRESTART, st, err);
            if (r >= 0) {
                r = hooks_run(&s->hooks[OCI_HOOK_CREATE_RUNTIME], OCI_HOOK_CREATE_RUNTIME, st, err);
            }
            if (r < 0) {
                goto out_kill;
            }
            sync_send(sv[0], SYNC_HOOKS_DONE, 0, 0, NULL);
        } else if (m.type == SYNC_NOTIFY_FD && nfd >= 0) {
            r = forward_notify_fd(sp, nfd, pid, err);
            close(nfd);
            nfd = -1;
            if (r < 0) {
                goto out_kill;
            }
        }
    }
    sp->pid = pid;
    close(sv[0]);
    for (size_t i = 0; i < s->n_mounts; i++) {
        safe_close(idfds[i]);
    }
    free(idfds);
    sp->idmapped_fds = NULL;
    return 0;

out_child_error:
    if (r < 0) {
        r = berth_error_sys(err, -r, "sync with container init");
    } else if (pid > 0) {
        r = wait_status_error(pid, "container init", err);
        pid = 0;
    } else {
        r = wait_status_error(first, "container setup", err);
        first = 0;
    }
out_kill:
    if (pid > 0) {
        kill(pid, SIGKILL);
        RETRY_EINTR(waitpid(pid, NULL, 0));
    }
    if (!fast && first > 0) {
        kill(first, SIGKILL);
        RETRY_EINTR(waitpid(first, NULL, 0));
    }
out_sock:
    safe_close(sv[0]);
    safe_close(sv[1]);
out_joins:
    cgroup_entry_close(&ce);
    for (size_t i = 0; i < njoins; i++) {
        close(joins[i].fd);
    }
    for (size_t i = 0; idfds && i < s->n_mounts; i++) {
        safe_close(idfds[i]);
    }
    free(idfds);
    sp->idmapped_fds = NULL;
    return r;
}

/* ---- exec ------------------------------------------------------------- */

static _noreturn_ void exec_stage1(struct linux_spawn *sp, int sync, struct ns_join *joins,
                                   size_t n, struct cgroup_entry *ce)
{
    struct berth_error *e = NULL;
    for (size_t i = 0; i < n; i++) {
        if (joins[i].type == CLONE_NEWCGROUP) {
            continue;
        }
        if (setns(joins[i].fd, joins[i].type) < 0) {
            berth_error_sys(&e, errno, "join %s namespace", ns_type_to_name(joins[i].type));
            child_fail(sync, e);
        }
        close(joins[i].fd);
    }
    bool entered = false;
    pid_t pid = clone_into(CLONE_PARENT, ce, &entered);
    if (pid < 0) {
        berth_error_sys(&e, errno, "clone");
        child_fail(sync, e);
    }
    if (pid > 0) {
        _exit(0);
    }
    enter_cgroup(ce, sync);
    linux_log_exe("exec process");
    if (sync_send_pid(sync, entered) < 0 || child_expect(sync, SYNC_CGROUP_DONE) < 0) {
        _exit(1);
    }
    join_cgroupns_late(joins, n, sync);
    struct prepared pp = {0};
    if (prepare_process(sp, false, sync, &pp, &e) < 0) {
        child_fail(sync, e);
    }
    exec_process(sp, &pp, sync, -1);
}

int linux_exec(struct linux_spawn *sp, struct berth_error **err)
{
    /* The namespaces of the running init; user first, mount late (it moves
     * our root), the ones identical to ours skipped. */
    static const int order[] = {CLONE_NEWUSER, CLONE_NEWIPC,    CLONE_NEWUTS,  CLONE_NEWNET,
                                CLONE_NEWPID,  CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_NEWNS};
    struct ns_join joins[ARRAY_SIZE(order)];
    size_t n = 0;
    int r = 0;
    struct cgroup_entry ce = {.v2_fd = -1};
    for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
        char a[64], b[64];
        snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)sp->join_pid, ns_type_proc_name(order[i]));
        snprintf(b, sizeof(b), "/proc/self/ns/%s", ns_type_proc_name(order[i]));
        struct stat sa, sb;
        if (stat(a, &sa) < 0) {
            if (errno == ENOENT && order[i] == CLONE_NEWTIME) {
                continue;
            }
            r = berth_error_sys(err, errno, "container namespace '%s'", a);
            goto out;
        }
        if (stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev) {
            continue;
        }
        int fd = open(a, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r = berth_error_sys(err, errno, "open '%s'", a);
            goto out;
        }
        joins[n++] = (struct ns_join){order[i], fd};
    }
    if (sp->cgroup && (r = cgroup_entry_open(sp->cgroup, &ce, err)) < 0) {
        goto out;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r = berth_error_sys(err, errno, "socketpair");
        goto out;
    }
    int one = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    pid_t first = fork();
    if (first < 0) {
        r = berth_error_sys(err, errno, "fork");
        close(sv[0]);
        close(sv[1]);
        goto out;
    }
    if (first == 0) {
        close(sv[0]);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        close_inherited(sp, sv[1], joins, n, &ce);
        exec_stage1(sp, sv[1], joins, n, &ce);
    }
    close(sv[1]);
    struct sync_msg m;
    struct ucred cred = {0};
    int st;
    r = sync_recv(sv[0], &m, NULL, &cred);
    RETRY_EINTR(waitpid(first, &st, 0));
    if (r <= 0 || m.type != SYNC_PID) {
        if (r > 0 && m.type == SYNC_ERROR) {
            r = berth_error_set(err, m.code, "%s", m.text);
        } else {
            r = berth_error_set(err, EIO, "exec setup failed");
        }
        close(sv[0]);
        goto out;
    }
    pid_t pid = cred.pid;
    cgroup_entry_close(&ce);
    if (sp->cgroup && m.code != 1) {
        r = cgroup_add_pid(sp->cgroup, pid, err);
        if (r < 0) {
            kill(pid, SIGKILL);
            RETRY_EINTR(waitpid(pid, NULL, 0));
            close(sv[0]);
            goto out;
        }
    }
    sync_send(sv[0], SYNC_CGROUP_DONE, 0, pid, NULL);
    /* EOF means execve succeeded (the socket was close-on-exec). */
    for (;;) {
        int nfd = -1;
        r = sync_recv(sv[0], &m, &nfd, NULL);
        if (r <= 0) {
            r = 0;
            break;
        }
        if (m.type == SYNC_ERROR) {
            r = berth_error_set(err, m.code, "%s", m.text);
            RETRY_EINTR(waitpid(pid, NULL, 0));
            break;
        }
        if (m.type == SYNC_NOTIFY_FD && nfd >= 0) {
            forward_notify_fd(sp, nfd, pid, NULL);
            close(nfd);
        }
    }
    close(sv[0]);
    if (r >= 0) {
        sp->pid = pid;
    }
out:
    cgroup_entry_close(&ce);
    for (size_t i = 0; i < n; i++) {
        close(joins[i].fd);
    }
    return r;
}

/* ---- CVE-2019-5736 ---------------------------------------------------- */

int cloned_binary_ensure(struct berth_error **err)
{
    _cleanup_close_ int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0) {
        return berth_error_sys(err, errno, "open /proc/self/exe");
    }
    int seals = fcntl(self, F_GET_SEALS);
    if (seals >= 0 && (seals & F_SEAL_WRITE)) {
        return 0; /* already the sealed copy */
    }
    _cleanup_free_ char *cmdline = NULL;
    size_t len = 0;
    int r = read_file_at(AT_FDCWD, "/proc/self/cmdline", 1u << 20, &cmdline, &len, err);
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **argv = NULL;
    for (size_t off = 0; off < len; off += strlen(cmdline + off) + 1) {
        strv_push(&argv, cmdline + off);
    }
    struct stat st;
    if (fstat(self, &st) < 0) {
        return berth_error_sys(err, errno, "stat /proc/self/exe");
    }
    _cleanup_close_ int mfd = memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0) {
        return berth_error_sys(err, errno, "memfd_create");
    }
    off_t left = st.st_size;
    while (left > 0) {
        ssize_t n = sendfile(mfd, self, NULL, (size_t)left);
        if (n <= 0) {
            return berth_error_sys(err, n < 0 ? errno : EIO, "copy the berth binary");
        }
        left -= n;
    }
    if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        return berth_error_sys(err, errno, "seal the berth binary copy");
    }
    extern char **environ;
    syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
    return berth_error_sys(err, errno, "re-execute from a sealed copy");
}

void linux_log_exe(const char *who)
{
    if (log_get_level() < LOG_LEVEL_DEBUG) {
        return;
    }
    char buf[256];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    log_debug("%s runs from '%s'", who, buf);
}
