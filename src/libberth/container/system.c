#include "system.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "libberth/container/containers.h"
#include "libberth/container/lifecycle.h"
#include "libberth/container/network-attach.h"
#include "libberth/image/images.h"
#include "libberth/net/dns-server.h"
#include "libberth/net/netlink.h"
#include "libberth/net/networks.h"
#include "libberth/volume/volumes.h"

/* Keep the first error; later ones are dropped. */
static void keep(int r, struct berth_error **first, struct berth_error *e, int *ret)
{
    if (r >= 0) {
        berth_error_free(e);
        return;
    }
    if (*ret >= 0) {
        *ret = r;
        *first = e;
    } else {
        berth_error_free(e);
    }
}

static int remove_networks(struct store *s, struct berth_error **first, int *ret)
{
    struct network **l = NULL;
    size_t n = 0;
    struct berth_error *e = NULL;
    int r = network_list(s, &l, &n, &e);
    if (r < 0) {
        keep(r, first, e, ret);
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        e = NULL;
        if (!l[i]->predefined) {
            keep(network_attach_remove(s, l[i]->id, &e), first, e, ret);
            continue;
        }
        if (!l[i]->bridge) {
            continue;
        }
        /* The default network's bridge and firewall elements outlive its
         * containers; nothing else removes them. */
        network_attach_network_removed(l[i]);
        struct netlink *nl = NULL;
        if (netlink_open(-1, &nl, &e) >= 0) {
            r = netlink_link_delete(nl, l[i]->bridge, &e);
            keep(r == -ENODEV ? 0 : r, first, e, ret);
            netlink_close(nl);
        } else {
            keep(-EIO, first, e, ret);
        }
    }
    network_list_free(l, n);
    return 0;
}

/* The names berth creates in root and runroot. */
static const char *const root_entries[] = {"containers",   "volumes",  "layers",
                                           "blobs",        "berth.db", "berth.db-wal",
                                           "berth.db-shm", "gc.lock",  NULL};
static const char *const runroot_entries[] = {"containers", "runtime", "seccomp-cache", "dns",
                                              "network",    "netns",   "berth-init",    NULL};

static void wipe(const char *dir, const char *const *names, struct berth_error **first, int *ret)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return;
    }
    for (size_t i = 0; names[i]; i++) {
        struct berth_error *e = NULL;
        int r = rm_rf_at(dfd, names[i], &e);
        keep(r == -ENOENT ? 0 : r, first, e, ret);
    }
    close(dfd);
}

int system_reset(struct store *s, struct berth_error **err)
{
    struct berth_error *first = NULL;
    int ret = 0;
    struct container_record **cl = NULL;
    size_t cn = 0;
    struct berth_error *e = NULL;
    int r = container_record_list(s, &cl, &cn, &e);
    keep(r, &first, e, &ret);
    for (size_t i = 0; r >= 0 && i < cn; i++) {
        e = NULL;
        keep(container_rm(s, cl[i]->id, true, &e), &first, e, &ret);
    }
    if (r >= 0) {
        container_record_list_free(cl, cn);
    }
    struct volume **vl = NULL;
    size_t vn = 0;
    e = NULL;
    r = volume_list(s, &vl, &vn, &e);
    keep(r, &first, e, &ret);
    for (size_t i = 0; r >= 0 && i < vn; i++) {
        e = NULL;
        keep(volume_remove(s, vl[i]->name, true, &e), &first, e, &ret);
    }
    if (r >= 0) {
        volume_list_free(vl, vn);
    }
    (void)remove_networks(s, &first, &ret);
    e = NULL;
    keep(dns_server_stop(s->runroot, &e), &first, e, &ret);
    /* Images need no host-side teardown: their files go with the store's. */
    _cleanup_free_ char *root = xstrdup(s->root), *runroot = xstrdup(s->runroot);
    store_free(s);
    wipe(root, root_entries, &first, &ret);
    wipe(runroot, runroot_entries, &first, &ret);
    if (ret < 0) {
        if (err) {
            *err = first;
        } else {
            berth_error_free(first);
        }
    }
    return ret;
}
