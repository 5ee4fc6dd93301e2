#include "hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"

#define HOOK_OUTPUT_MAX 4096

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_one(const struct oci_hook *h, const char *where, const char *state_json,
                   struct berth_error **err)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0) {
        return berth_error_sys(err, errno, "%s: pipe", where);
    }
    if (pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        close(in[0]);
        close(in[1]);
        return berth_error_sys(err, e, "%s: pipe", where);
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return berth_error_sys(err, e, "%s: fork", where);
    }
    if (pid == 0) {
        /* Child: stdin from the state pipe, stdout+stderr to the capture pipe. */
        signal(SIGPIPE, SIG_DFL);
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0) {
            _exit(127);
        }
        char *empty[] = {NULL};
        char *argv0[] = {h->path, NULL};
        execve(h->path, h->args && h->args[0] ? h->args : argv0, h->env ? h->env : empty);
        dprintf(2, "exec: %s", strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    /* The hook may not read stdin at all: a short write is fine, and the
     * caller's SIGPIPE disposition is put back afterwards. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    (void)write_all(in[1], state_json, strlen(state_json));
    close(in[1]);
    sigaction(SIGPIPE, &old, NULL);

    struct strbuf output = STRBUF_INIT;
    int64_t deadline = h->timeout > 0 ? now_ms() + (int64_t)h->timeout * 1000 : -1;
    bool timed_out = false;
    /* Wait on the process, not on EOF: a hook that leaves a daemon holding
     * its stdout must not stall us. */
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    bool exited = false;
    fd_set_nonblock(out[0], 1);
    for (;;) {
        int wait_ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            wait_ms = (int)left;
        }
        struct pollfd p[2] = {{.fd = out[0], .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        int n = poll(p, pidfd >= 0 ? 2 : 1, exited ? 0 : wait_ms);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0 && !exited) {
            timed_out = true;
            break;
        }
        if (pidfd >= 0 && (p[1].revents & POLLIN)) {
            exited = true;
        }
        char buf[1024];
        ssize_t k = read(out[0], buf, sizeof(buf));
        if (k > 0) {
            if (output.len < HOOK_OUTPUT_MAX) {
                strbuf_add(&output, buf, (size_t)k);
            }
            continue;
        }
        if (k == 0 || exited || (k < 0 && errno != EAGAIN)) {
            break;
        }
    }
    close(out[0]);
    if (timed_out) {
        kill(pid, SIGKILL);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    while (output.len && (output.buf[output.len - 1] == '\n')) {
        output.buf[--output.len] = '\0';
    }
    int r = 0;
    if (timed_out) {
        r = berth_error_set(err, ETIMEDOUT, "%s '%s': timed out after %d seconds", where, h->path,
                            h->timeout);
    } else if (WIFSIGNALED(status)) {
        r = berth_error_set(err, EIO, "%s '%s': killed by signal %d%s%s", where, h->path,
                            WTERMSIG(status), output.len ? ": " : "", strbuf_str(&output));
    } else if (WEXITSTATUS(status) != 0) {
        r = berth_error_set(err, EIO, "%s '%s': exit status %d%s%s", where, h->path,
                            WEXITSTATUS(status), output.len ? ": " : "", strbuf_str(&output));
    }
    strbuf_release(&output);
    return r;
}

int hooks_run(const struct oci_hook_list *list, enum oci_hook_kind kind, const char *state_json,
              struct berth_error **err)
{
    for (size_t i = 0; list && i < list->n; i++) {
        char where[64];
        snprintf(where, sizeof(where), "hooks.%s[%zu]", oci_hook_kind_name(kind), i);
        int r = run_one(&list->hooks[i], where, state_json, err);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}
