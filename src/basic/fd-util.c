#include "fd-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"

int send_fd(int sock, int fd, const void *data, size_t len)
{
    char dummy = 0;
    struct iovec iov = {.iov_base = (void *)(len ? data : &dummy), .iov_len = len ? len : 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&u, 0, sizeof(u));
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    if (RETRY_EINTR(sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0) {
        return -errno;
    }
    return 0;
}

ssize_t recv_fd(int sock, int *ret_fd, void *buf, size_t len)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    *ret_fd = -1;
    ssize_t n = RETRY_EINTR(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC));
    if (n < 0) {
        return -errno;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
        }
    }
    return n;
}

int fd_set_cloexec(int fd, int on)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) {
        return -errno;
    }
    flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
    return fcntl(fd, F_SETFD, flags) < 0 ? -errno : 0;
}

int fd_set_nonblock(int fd, int on)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) {
        return -errno;
    }
    flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

int fds_cloexec_from(int from)
{
    if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
        return 0;
    }
    /* Older kernels: walk /proc/self/fd. */
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        return -errno;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        if (*end || end == de->d_name || fd < from || fd == dirfd(d)) {
            continue;
        }
        fd_set_cloexec((int)fd, 1);
    }
    closedir(d);
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int fds_close_except(int from, const int *keep, size_t n)
{
    /* close_range over the gaps between the kept fds: no /proc walk. */
    int k[64];
    size_t m = 0;
    for (size_t i = 0; i < n && m < ARRAY_SIZE(k); i++) {
        if (keep[i] >= from) {
            k[m++] = keep[i];
        }
    }
    qsort(k, m, sizeof(int), cmp_int);
    unsigned lo = (unsigned)from;
    for (size_t i = 0; i <= m; i++) {
        unsigned hi = i < m ? (unsigned)k[i] : ~0U;
        if (hi > lo && syscall(SYS_close_range, lo, hi - 1, 0) < 0) {
            return -errno;
        }
        if (i < m) {
            lo = (unsigned)k[i] + 1;
        }
    }
    return 0;
}
