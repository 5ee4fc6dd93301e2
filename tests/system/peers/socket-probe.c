/* socket-probe.c - which socket(2) calls a seccomp profile lets through.
 * Prints one line per probe: "NAME: ok", "NAME: ENOSYS" (what a profile's
 * default action answers), "NAME: EINVAL" or "NAME: errno N". */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static void probe(const char *name, int domain, int type, int protocol)
{
    int fd = socket(domain, type, protocol);
    if (fd >= 0) {
        printf("%s: ok\n", name);
        close(fd);
    } else if (errno == ENOSYS) {
        printf("%s: ENOSYS\n", name);
    } else if (errno == EINVAL) {
        printf("%s: EINVAL\n", name);
    } else {
        printf("%s: errno %d\n", name, errno);
    }
}

int main(void)
{
    probe("netlink-audit", AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */);
    probe("netlink-route", AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */);
    probe("unix", AF_UNIX, SOCK_STREAM, 0);
    probe("inet-protocol-9", AF_INET, SOCK_DGRAM, 9);
    return 0;
}
