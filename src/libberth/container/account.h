/* account.h - a container's users and groups, from its own /etc/passwd and
 * /etc/group read through the rootfs dirfd (chase_open: a symlink in the
 * image cannot point the lookup at the host), never through NSS
 * (CVE-2019-14271: NSS would load libraries from the container's root).
 *
 * Docker's User forms: "" (root), "name", "uid", "name:group", "uid:gid".
 * An unknown numeric uid is allowed, an unknown name is not ("unable to
 * find user x: no matching entries in passwd file"). The primary group is
 * the passwd entry's unless a group is given; the supplementary groups are
 * those of /etc/group listing the user by name (none when a group is
 * given), then GroupAdd's (names or ids) - Docker's rules for run and exec.
 */
#ifndef BERTH_CONTAINER_ACCOUNT_H
#define BERTH_CONTAINER_ACCOUNT_H

#include <jansson.h>
#include <sys/types.h>

#include "basic/error.h"

struct container_user {
    uid_t uid;
    gid_t gid;
    gid_t *gids; /* supplementary */
    size_t n_gids;
};
void container_user_release(struct container_user *u);

/* group_add: a JSON array of group names or ids, or NULL. */
int container_user_resolve(int rootfd, const char *user, json_t *group_add,
                           struct container_user *ret, struct berth_error **err);

#endif
