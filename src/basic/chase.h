/* chase.h - resolve paths inside an untrusted root, from its dirfd.
 *
 * A container rootfs or an image layer is attacker-controlled: symlinks in it
 * may point at "/etc" or "../../..", meaning the host. chase_open() resolves
 * a path as if rootfd were "/": absolute symlinks restart at rootfd, ".."
 * stops at rootfd. It uses openat2(RESOLVE_IN_ROOT) and falls back to a
 * component walk with O_NOFOLLOW on kernels without openat2
 * (CVE-2021-30465, CVE-2018-15664 class races are closed because nothing is
 * ever resolved from a string prefix of the host path).
 */
#ifndef BERTH_BASIC_CHASE_H
#define BERTH_BASIC_CHASE_H

#include <stdbool.h>
#include <sys/types.h>

enum chase_flags {
    CHASE_NO_SYMLINKS = 1 << 0, /* refuse any symlink on the way (ELOOP) */
    CHASE_MKDIR = 1 << 1,       /* create missing directories (mode 0755) */
    CHASE_NOFOLLOW = 1 << 2,    /* do not follow a symlink in the last component */
};

/* Open path below rootfd with open_flags (O_CLOEXEC is always added).
 * Returns the fd or -errno. */
int chase_open(int rootfd, const char *path, int open_flags, unsigned flags);
/* Open the parent directory of path (resolved as above, creating it with
 * CHASE_MKDIR) and return it; *ret_name points into path at the last
 * component ("" for the root itself). */
int chase_parent(int rootfd, const char *path, unsigned flags, const char **ret_name);
/* Tests only: force the component-walk fallback. */
void chase_force_fallback(bool on);

#endif
