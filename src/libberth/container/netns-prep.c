#include "netns-prep.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"

/* The helper: fds 3 (ready, write end) and 4 (release, read end) only. */
static _Noreturn void helper_main(void)
{
    if (unshare(CLONE_NEWNET) < 0) {
        _exit(1);
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        _exit(1);
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        _exit(1);
    }
    close(s);
    if (write(3, "1", 1) != 1) {
        _exit(1);
    }
    char c;
    while (read(4, &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
}

void netns_prep_start(struct netns_prep *p)
{
    *p = NETNS_PREP_NONE;
    int ready[2], release[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        return;
    }
    if (pipe2(release, O_CLOEXEC) < 0) {
        close(ready[0]), close(ready[1]);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* Keep nothing of the caller's but the two pipe ends, as fds 3, 4. */
        int w = fcntl(ready[1], F_DUPFD, 10), r = fcntl(release[0], F_DUPFD, 10);
        if (w < 0 || r < 0 || dup2(w, 3) < 0 || dup2(r, 4) < 0) {
            _exit(1);
        }
        syscall(SYS_close_range, 5U, ~0U, 0U);
        helper_main();
    }
    close(ready[1]);
    close(release[0]);
    if (pid < 0) {
        close(ready[0]), close(release[1]);
        return;
    }
    *p = (struct netns_prep){.pid = pid, .ready_r = ready[0], .release_w = release[1]};
}

static void reap(struct netns_prep *p)
{
    safe_close(p->ready_r);
    safe_close(p->release_w);
    if (p->pid > 0) {
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    *p = NETNS_PREP_NONE;
}

int netns_prep_take(struct netns_prep *p, struct berth_error **err)
{
    if (p->pid <= 0) {
        return berth_error_set(err, ENOENT, "no network namespace was prepared");
    }
    char c;
    ssize_t n;
    while ((n = read(p->ready_r, &c, 1)) < 0 && errno == EINTR) {
    }
    int fd = -1;
    if (n == 1) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)p->pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    int e = errno;
    reap(p);
    if (fd < 0) {
        return berth_error_sys(err, n == 1 ? e : EIO, "prepare the network namespace");
    }
    return fd;
}

void netns_prep_release(struct netns_prep *p)
{
    if (p->pid > 0) {
        reap(p);
    }
}
