/* exec.c - run another process in a running container (see exec.h). */
#include "libberth/container/exec.h"

#include "libberth/container/account.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "libberth/container/account.h"
#include "libberth/container/containers.h"
#include "libberth/container/lifecycle.h"
#include "libberth/runtime/caps.h"
#include "libberth/runtime/container.h"
#include "libberth/runtime/linux.h"
#include "libberth/runtime/spec.h"

void container_exec_proc_release(struct container_exec_proc *p)
{
    safe_close(p->master), safe_close(p->stdin_fd), safe_close(p->stdout_fd);
    safe_close(p->stderr_fd);
    p->master = p->stdin_fd = p->stdout_fd = p->stderr_fd = -1;
    free(p->id);
    p->id = NULL;
}

/* Every capability the kernel has, as Docker's exec --privileged. */
static void all_caps(struct oci_process *p)
{
    int last = berth_cap_last();
    if (last > berth_cap_count() - 1) {
        last = berth_cap_count() - 1; /* the runtime sets only caps it knows */
    }
    uint64_t all = 0;
    /* Every capability we can give: ours (berth may itself run with a
     * reduced bounding set, inside another container). */
    for (int c = 0; c <= last && c < 64; c++) {
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) {
            all |= 1ULL << c;
        }
    }
    p->has_caps = true;
    p->caps.bounding = p->caps.effective = p->caps.permitted = all;
    free(p->apparmor_profile);
    p->apparmor_profile = NULL;
}

/* berth_runtime_exec with child_stdio[] as the new process's fds 0-2: the
 * runtime passes the caller's own, so they are swapped in for the call. */
static int exec_with_stdio(const struct berth_runtime *rt, const struct berth_exec_opts *eo,
                           const int child_stdio[3], pid_t *ret_pid, struct berth_error **err)
{
    int saved[3];
    for (int i = 0; i < 3; i++) {
        saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
    }
    int r = 0;
    for (int i = 0; i < 3 && r >= 0; i++) {
        if (dup2(child_stdio[i], i) < 0) {
            r = berth_error_sys(err, errno, "exec stdio");
        }
    }
    if (r >= 0) {
        r = berth_runtime_exec(rt, eo, ret_pid, err);
    }
    for (int i = 0; i < 3; i++) {
        if (saved[i] >= 0) {
            dup2(saved[i], i);
            close(saved[i]);
        } else {
            close(i);
        }
    }
    return r;
}

/* exec -d. The process is a child of whoever calls berth_runtime_exec
 * (CLONE_PARENT); were that the CLI, which exits at once, it would be
 * reparented to the CLI's pid namespace's reaper: the host's pid 1 or a
 * subreaper above the CLI, neither of which need reap it (this host's
 * pid 1 does not), so every detached exec would end as a zombie outside
 * the container. Docker's shim reaps its exec processes; here a small
 * waiter does: a child of the CLI in its own session that starts the
 * process, reports the outcome, drops every fd it inherited (the caller's
 * terminal, a shell's $(...) pipe, the store's database) and waits for it.
 * A stop or rm -f of the container kills the process (the pid namespace's
 * init goes, and the cgroup is killed), so the waiter never outlives it. */
struct detached_result {
    int32_t r, pid;
    char msg[1016];
};

static int exec_detached(const struct berth_runtime *rt, const struct berth_exec_opts *eo,
                         const int child_stdio[3], pid_t *ret_pid, struct berth_error **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        return berth_error_sys(err, errno, "pipe");
    }
    pid_t w = fork();
    if (w < 0) {
        int e = errno;
        close(p[0]), close(p[1]);
        return berth_error_sys(err, e, "fork");
    }
    if (w == 0) {
        close(p[0]);
        (void)setsid(); /* no signal from the caller's terminal reaches it */
        struct detached_result res = {0};
        struct berth_error *e = NULL;
        pid_t pid = 0;
        int r = exec_with_stdio(rt, eo, child_stdio, &pid, &e);
        res.r = r < 0 ? r : 0;
        res.pid = (int32_t)pid;
        if (e && e->msg) {
            snprintf(res.msg, sizeof(res.msg), "%s", e->msg);
        }
        (void)write_all(p[1], &res, sizeof(res));
        if (r < 0) {
            _exit(1);
        }
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int i = 0; i < 3 && null >= 0; i++) {
            dup2(null, i);
        }
        (void)syscall(SYS_close_range, 3U, ~0U, 0U);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    close(p[1]);
    struct detached_result res = {0};
    ssize_t n = read_all(p[0], &res, sizeof(res));
    close(p[0]);
    if (n != (ssize_t)sizeof(res)) {
        /* The waiter died before it could tell: reap it, report that. */
        while (waitpid(w, NULL, 0) < 0 && errno == EINTR) {
        }
        return berth_error_set(err, EIO, "exec: the detached process's waiter failed");
    }
    res.msg[sizeof(res.msg) - 1] = 0;
    if (res.r < 0) {
        while (waitpid(w, NULL, 0) < 0 && errno == EINTR) {
        }
        return berth_error_set(err, -res.r, "%s", res.msg[0] ? res.msg : strerror(-res.r));
    }
    *ret_pid = res.pid;
    return 0;
}

int container_exec(struct store *s, const char *name_or_id, const struct container_exec_opts *o,
                   struct container_exec_proc *ret, struct berth_error **err)
{
    if (!o->cmd || !o->cmd[0]) {
        return berth_error_set(err, EINVAL, "No exec command specified");
    }
    if (o->workdir && *o->workdir && o->workdir[0] != '/') {
        return berth_error_set(err, EINVAL,
                               "the working directory '%s' is invalid, it needs to be an "
                               "absolute path",
                               o->workdir);
    }
    /* The runtime re-executes this whole command from a sealed copy of
     * berth before it enters the container (CVE-2019-5736, linux.h). Do it
     * now, while our fds 0-2 are still the user's: done later, inside
     * exec_with_stdio, the re-executed CLI would start on the pipes. */
    int r = cloned_binary_ensure(err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *id = NULL;
    struct container_state_file st = {0};
    r = container_resolve_state(s, name_or_id, &id, &st, err);
    if (r < 0) {
        return r;
    }
    bool running = streq(st.status, "running"), paused = streq(st.status, "paused");
    pid_t init = (pid_t)st.pid;
    container_state_file_release(&st);
    if (paused) {
        return berth_error_set(err, EINVAL,
                               "Container %s is paused, unpause the container before exec", id);
    }
    if (!running || init <= 0) {
        return berth_error_set(err, EINVAL, "Container %s is not running", id);
    }

    struct berth_runtime rt = container_runtime(s);
    _cleanup_(oci_process_freep) struct oci_process *p = NULL;
    r = berth_runtime_exec_process(&rt, id, o->cmd, &p, err);
    if (r < 0) {
        return r;
    }
    STRV_FOREACH(e, o->env)
    {
        strv_env_set(&p->env, *e);
    }
    if (o->workdir && *o->workdir) {
        free(p->cwd);
        p->cwd = xstrdup(o->workdir);
    }
    if (o->user && *o->user) {
        /* The init's root is the container's root as it sees it now. */
        _cleanup_free_ char *root = xasprintf("/proc/%d/root", (int)init);
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
            return berth_error_sys(err, errno, "Container %s is not running", id);
        }
        struct container_user cu;
        r = container_user_resolve(rootfd, o->user, NULL, &cu, err);
        if (r < 0) {
            return r;
        }
        free(p->user.additional_gids);
        p->user.uid = cu.uid;
        p->user.gid = cu.gid;
        p->user.additional_gids = TAKE_PTR(cu.gids);
        p->user.n_additional_gids = cu.n_gids;
    }
    if (o->privileged) {
        all_caps(p);
    }
    p->terminal = o->tty && !o->detach;
    if (p->terminal && o->rows && o->cols) {
        /* Set by the runtime on the new pty before the command runs. */
        p->console_height = o->rows;
        p->console_width = o->cols;
    }

    _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, console[2] = {-1, -1};
    struct berth_exec_opts eo = {.id = id, .process = p, .console_fd = -1};
    if (devnull < 0) {
        return berth_error_sys(err, errno, "open /dev/null");
    }
    if (p->terminal) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0) {
            return berth_error_sys(err, errno, "console socket");
        }
        eo.console_fd = console[0];
    } else if (!o->detach) {
        if ((o->interactive && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
            pipe2(errp, O_CLOEXEC) < 0) {
            r = berth_error_sys(err, errno, "pipe");
            goto out;
        }
    }
    const int child[3] = {in[0] >= 0 ? in[0] : devnull, out[1] >= 0 ? out[1] : devnull,
                          errp[1] >= 0 ? errp[1] : devnull};
    pid_t pid = 0;
    r = o->detach ? exec_detached(&rt, &eo, child, &pid, err)
                  : exec_with_stdio(&rt, &eo, child, &pid, err);
    if (r < 0) {
        goto out;
    }
    int master = -1;
    if (p->terminal) {
        char byte;
        ssize_t n = recv_fd(console[1], &master, &byte, 1);
        if (n <= 0 || master < 0) {
            r = berth_error_sys(err, n < 0 ? (int)-n : EBADMSG, "receive the exec's terminal");
            (void)kill(pid, SIGKILL);
            goto out;
        }
        if (o->rows && o->cols) {
            struct winsize ws = {.ws_row = o->rows, .ws_col = o->cols};
            (void)ioctl(master, TIOCSWINSZ, &ws);
        }
    }
    *ret = (struct container_exec_proc){
        .pid = pid,
        .master = master,
        .stdin_fd = TAKE_FD(in[1]),
        .stdout_fd = TAKE_FD(out[0]),
        .stderr_fd = TAKE_FD(errp[0]),
        .id = TAKE_PTR(id),
    };
out:
    safe_close(in[0]), safe_close(in[1]), safe_close(out[0]), safe_close(out[1]);
    safe_close(errp[0]), safe_close(errp[1]), safe_close(console[0]), safe_close(console[1]);
    return r;
}
