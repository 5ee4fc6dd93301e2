#include "netns-prep.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/thread.h"

static void *prep_thread(void *arg)
{
    struct netns_prep *p = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        p->err = errno;
        return NULL;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
        p->err = errno;
        safe_close(s);
        return NULL;
    }
    close(s);
    p->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (p->fd < 0) {
        p->err = errno;
    }
    return NULL;
}

void netns_prep_start(struct netns_prep *p)
{
    *p = NETNS_PREP_NONE;
    if (thread_start(&p->thread, prep_thread, p) == 0) {
        p->started = true;
    }
}

int netns_prep_take(struct netns_prep *p, struct berth_error **err)
{
    if (!p->started) {
        return berth_error_set(err, ENOENT, "no network namespace was prepared");
    }
    pthread_join(p->thread, NULL);
    int fd = p->fd, e = p->err;
    *p = NETNS_PREP_NONE;
    if (fd < 0) {
        return berth_error_sys(err, e ? e : EIO, "prepare the network namespace");
    }
    return fd;
}

void netns_prep_release(struct netns_prep *p)
{
    if (p->started) {
        pthread_join(p->thread, NULL);
        safe_close(p->fd);
    }
    *p = NETNS_PREP_NONE;
}
