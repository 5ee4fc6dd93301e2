/* exec-stub.c - the program every container process is exec'd through.
 *
 * CVE-2019-5736: while a process execve()s inside a container, the kernel
 * resolves "/proc/self/exe" (say, in a "#!/proc/self/exe" line of a hostile
 * binary) to the exe of the process doing the execve. If that were the host's
 * berth binary, the container could reopen it for writing and replace it.
 * So the last execve never happens from berth: the runtime execs this stub
 * from a sealed memfd, and the stub execs the container's program. What a
 * container can reach through /proc/self/exe is then a sealed, unwritable
 * copy of a few hundred bytes of code. (runc instead re-executes all of
 * itself from a memfd; the stub costs a fraction of that exec.)
 *
 * Built freestanding (no libc, static, no PIE) and embedded in berth as a
 * byte array. Arguments, all strings:
 *   argv[0] "berth-exec"
 *   argv[1] fd to read one byte from before going on (exec.fifo) or "-"
 *   argv[2] fd of a seccomp program (struct sock_filter array) or "-"
 *   argv[3] seccomp(2) flags, decimal
 *   argv[4] path of the executable
 *   argv[5...] the container process's argv
 * A created container's init waits for `start` here, in the stub, so that
 * what it runs while waiting is the sealed stub and never berth: another
 * container may join its pid namespace before it starts. Then the stub
 * loads the seccomp filter (the last thing before execve, as the spec
 * wants), closes its fds, and execve()s. On failure it prints the reason and
 * exits 127 (not found) or 126 (not executable), as a shell would.
 */
#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/filter.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>

#include "stub-syscall.h"

STUB_ENTRY(stub_main)

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

static long number(const char *s)
{
    long v = 0;
    if (*s == '-') {
        return -1;
    }
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
    }
    return v;
}

static __attribute__((noreturn)) void die(const char *what, const char *subject, long err)
{
    const char *why = err == -ENOENT    ? "no such file or directory"
                      : err == -EACCES  ? "permission denied"
                      : err == -ENOEXEC ? "exec format error"
                      : err == -ENOTDIR ? "not a directory"
                      : err == -EPERM   ? "operation not permitted"
                                        : "failed";
    say("berth: ");
    say(what);
    say(" \"");
    say(subject);
    say("\": ");
    say(why);
    say("\n");
    sc(__NR_exit_group, err == -ENOENT ? 127 : 126, 0, 0, 0, 0, 0);
    for (;;) {
    }
}

__attribute__((used, noreturn)) void stub_main(long *sp);

void stub_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    /* execve made us dumpable again: while we wait holding exec.fifo, a
     * process sharing our pid namespace must not follow our fds. The
     * container's own execve below resets this as usual. */
    sc(__NR_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0, 0);
    if (argc < 6) {
        die("usage", "berth-exec", -22);
    }
    long wait = number(argv[1]);
    if (wait >= 0) {
        char c;
        long n;
        do {
            n = sc(__NR_read, wait, (long)&c, 1, 0, 0, 0);
        } while (n == -EINTR);
        if (n != 1) {
            sc(__NR_exit_group, 1, 0, 0, 0, 0, 0);
        }
        sc(__NR_close, wait, 0, 0, 0, 0, 0);
    }
    long fd = number(argv[2]);
    if (fd >= 0) {
        long size = sc(__NR_lseek, fd, 0, 2 /* SEEK_END */, 0, 0, 0);
        void *p =
            size > 0 ? (void *)sc(__NR_mmap, 0, size, PROT_READ, MAP_PRIVATE, fd, 0) : (void *)-1;
        if ((unsigned long)p > -4096UL) {
            die("read seccomp filter", argv[4], -5);
        }
        struct sock_fprog prog = {.len = (unsigned short)(size / sizeof(struct sock_filter)),
                                  .filter = p};
        sc(__NR_close, fd, 0, 0, 0, 0, 0);
        long r = sc(__NR_seccomp, SECCOMP_SET_MODE_FILTER, number(argv[3]), (long)&prog, 0, 0, 0);
        if (r < 0) {
            die("load seccomp filter for", argv[4], r);
        }
    }
    long r = sc(__NR_execve, (long)argv[4], (long)(argv + 5), (long)envp, 0, 0, 0);
    die("exec", argv[5], r);
}
