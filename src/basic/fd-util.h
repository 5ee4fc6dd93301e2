/* fd-util.h - descriptor passing and descriptor hygiene. */
#ifndef BERTH_BASIC_FD_UTIL_H
#define BERTH_BASIC_FD_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Send len bytes (at least one) and, if fd >= 0, the descriptor with SCM_RIGHTS. */
int send_fd(int sock, int fd, const void *data, size_t len);
/* Receive up to len bytes and at most one descriptor (*ret_fd = -1 if none).
 * Returns the number of bytes or -errno; 0 means the peer closed. */
ssize_t recv_fd(int sock, int *ret_fd, void *buf, size_t len);
/* Mark every descriptor >= from close-on-exec (close_range, with a /proc
 * fallback): CVE-2024-21626 leaked a host directory fd into a container. */
int fds_cloexec_from(int from);
/* Close every descriptor >= from except those in keep[0..n). */
int fds_close_except(int from, const int *keep, size_t n);
int fd_set_cloexec(int fd, int on);
int fd_set_nonblock(int fd, int on);

#endif
