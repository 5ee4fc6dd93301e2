/* init-stub.c - berth-init, the init of a container run with --init
 * (HostConfig.Init), in the role of Docker's docker-init (tini).
 *
 * A container's first process is pid 1 of its pid namespace: orphans are
 * reparented to it, and the kernel delivers it only the signals it has a
 * handler for (kernel/signal.c sig_task_ignored(): SIGNAL_UNKILLABLE). A
 * shell or server that was never written to be an init neither reaps the
 * orphans (they stay <defunct> and hold pids, counted against pids.max) nor
 * dies on `stop`'s SIGTERM. berth-init runs the container's command as its
 * only child and does both jobs for it:
 *  - every signal but the synchronous faults is blocked and taken with
 *    rt_sigtimedwait(): a blocked signal is always queued, even for a
 *    namespace init with default dispositions (sig_ignored() checks the
 *    blocked mask first), so no handler is needed;
 *  - SIGCHLD: reap every zombie (wait4(-1, WNOHANG)); when the child is
 *    among them, exit with its status (128+n for signal n, as a shell);
 *  - any other signal is forwarded to the child.
 * Outside a private pid namespace (--pid=host) it makes itself a child
 * subreaper so that orphans still come to it.
 *
 * Built freestanding (no libc, static, no PIE) like runtime/exec-stub.c and
 * embedded in berth as a byte array; lifecycle.c writes it to
 * <runroot>/berth-init and binds it read-only at /sbin/berth-init.
 * Usage: berth-init [--] COMMAND [ARG...]; COMMAND without a '/' is looked
 * up in $PATH. If it cannot be run: a message and 127 (not found) or 126.
 */
#include <asm/signal.h>
#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/prctl.h>
#include <asm/ioctls.h>
#include <linux/wait.h>

#include "../runtime/stub-syscall.h"

STUB_ENTRY(init_main)

/* The kernel's sigset: one bit per signal, 64 signals on both arches. */
typedef unsigned long kset;
#define KSET_SIZE sizeof(kset)
#define BIT(sig) (1UL << ((sig)-1))

static unsigned long len(const char *s)
{
    unsigned long n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

static void say(const char *s)
{
    sc(__NR_write, 2, (long)s, (long)len(s), 0, 0, 0);
}

static __attribute__((noreturn)) void leave(long code)
{
    for (;;) {
        sc(__NR_exit_group, code, 0, 0, 0, 0, 0);
    }
}

static __attribute__((noreturn)) void die(const char *what, const char *subject, long err)
{
    const char *why = err == -ENOENT    ? "no such file or directory"
                      : err == -EACCES  ? "permission denied"
                      : err == -ENOEXEC ? "exec format error"
                      : err == -ENOTDIR ? "not a directory"
                      : err == -EPERM   ? "operation not permitted"
                                        : "failed";
    say("berth-init: ");
    say(what);
    say(" \"");
    say(subject);
    say("\": ");
    say(why);
    say("\n");
    leave(err == -ENOENT ? 127 : 126);
}

/* execvp(): a name without '/' is tried in each $PATH entry; EACCES is
 * remembered and reported only when no entry works, as shells do. */
static __attribute__((noreturn)) void run(char **argv, char **envp)
{
    const char *name = argv[0];
    for (const char *p = name; *p; p++) {
        if (*p == '/') {
            die("exec", name, sc(__NR_execve, (long)name, (long)argv, (long)envp, 0, 0, 0));
        }
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (char **e = envp; *e; e++) {
        const char *v = *e;
        if (v[0] == 'P' && v[1] == 'A' && v[2] == 'T' && v[3] == 'H' && v[4] == '=') {
            path = v + 5;
            break;
        }
    }
    unsigned long nlen = len(name);
    long err = -ENOENT;
    char buf[4096];
    for (const char *p = path;;) {
        const char *end = p;
        while (*end && *end != ':') {
            end++;
        }
        unsigned long dlen = (unsigned long)(end - p);
        if (nlen > 0 && dlen + nlen + 2 <= sizeof(buf)) {
            unsigned long k = 0;
            for (const char *q = p; q < end; q++) {
                buf[k++] = *q;
            }
            if (dlen == 0) {
                buf[k++] = '.'; /* an empty entry is the current directory */
            }
            buf[k++] = '/';
            for (unsigned long i = 0; i <= nlen; i++) {
                buf[k++] = name[i];
            }
            long r = sc(__NR_execve, (long)buf, (long)argv, (long)envp, 0, 0, 0);
            if (r == -EACCES) {
                err = r;
            } else if (r != -ENOENT && r != -ENOTDIR) {
                die("exec", name, r);
            }
        }
        if (!*end) {
            break;
        }
        p = end + 1;
    }
    die("exec", name, err);
}

__attribute__((used, noreturn)) void init_main(long *sp);

void init_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    long first = 1;
    if (first < argc && argv[first][0] == '-' && argv[first][1] == '-' && !argv[first][2]) {
        first++;
    }
    if (first >= argc) {
        say("usage: berth-init [--] COMMAND [ARG...]\n");
        leave(1);
    }
    /* Faults stay deliverable: blocking them would only turn a crash of
     * ours into a hang. SIGKILL and SIGSTOP cannot be blocked anyway. */
    kset all = ~(BIT(SIGSEGV) | BIT(SIGBUS) | BIT(SIGFPE) | BIT(SIGILL) | BIT(SIGTRAP) |
                 BIT(SIGABRT) | BIT(SIGSYS) | BIT(SIGKILL) | BIT(SIGSTOP));
    kset old = 0;
    sc(__NR_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, KSET_SIZE, 0, 0);
    if (sc(__NR_getpid, 0, 0, 0, 0, 0, 0) != 1) {
        sc(__NR_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0);
    }
    /* fork(): clone with only the exit signal set (the argument order of
     * clone differs between arches; all but flags are zero). */
    long child = sc(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
    if (child < 0) {
        die("fork for", argv[first], child);
    }
    if (child == 0) {
        /* The command gets a process group of its own and, with a tty, the
         * foreground: the terminal's ^C then reaches it once, from the
         * kernel, and not a second time forwarded by us (tini does the
         * same). Without a tty on stdin the ioctl fails, which is fine;
         * SIGTTOU is still blocked here. */
        sc(__NR_setpgid, 0, 0, 0, 0, 0, 0);
        int pgrp = (int)sc(__NR_getpid, 0, 0, 0, 0, 0, 0);
        sc(__NR_ioctl, 0, TIOCSPGRP, (long)&pgrp, 0, 0, 0);
        /* The command starts with the mask we were started with; the
         * dispositions were never changed, so execve keeps them default. */
        sc(__NR_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, KSET_SIZE, 0, 0);
        run(argv + first, envp);
    }
    for (;;) {
        unsigned char info[128]; /* siginfo_t, unused */
        long sig = sc(__NR_rt_sigtimedwait, (long)&all, (long)info, 0, KSET_SIZE, 0, 0);
        if (sig <= 0) {
            continue;
        }
        if (sig != SIGCHLD) {
            sc(__NR_kill, child, sig, 0, 0, 0, 0);
            continue;
        }
        /* SIGCHLDs coalesce: one may stand for many exits. */
        for (;;) {
            int status = 0;
            long pid = sc(__NR_wait4, -1, (long)&status, WNOHANG, 0, 0, 0);
            if (pid <= 0) {
                break;
            }
            if (pid == child) {
                int termsig = status & 0x7f;
                leave(termsig ? 128 + termsig : (status >> 8) & 0xff);
            }
        }
    }
}
