#include "mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sched.h>
#include <signal.h>
#include <termios.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/runtime/cgroup.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#define FD_PATH_MAX 40

static void fd_path(int fd, char buf[FD_PATH_MAX])
{
    snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
}

/* Flags the kernel "locks" on a mount seen from a less privileged user
 * namespace: a bind remount must repeat them or it fails with EPERM. */
static unsigned long flags_of_statvfs(const struct statvfs *sv)
{
    unsigned long f = 0;
    if (sv->f_flag & ST_NOSUID) {
        f |= MS_NOSUID;
    }
    if (sv->f_flag & ST_NODEV) {
        f |= MS_NODEV;
    }
    if (sv->f_flag & ST_NOEXEC) {
        f |= MS_NOEXEC;
    }
    if (sv->f_flag & ST_RDONLY) {
        f |= MS_RDONLY;
    }
    if (sv->f_flag & ST_NOATIME) {
        f |= MS_NOATIME;
    }
    if (sv->f_flag & ST_NODIRATIME) {
        f |= MS_NODIRATIME;
    }
    if (sv->f_flag & ST_RELATIME) {
        f |= MS_RELATIME;
    }
    return f;
}

static unsigned long locked_flags(const char *path)
{
    struct statvfs sv;
    return statvfs(path, &sv) < 0 ? 0 : flags_of_statvfs(&sv);
}

/* The same for the mount fd is on, without a path walk (fstatfs accepts
 * O_PATH fds). */
static unsigned long locked_flags_fd(int fd)
{
    struct statvfs sv;
    return fstatvfs(fd, &sv) < 0 ? 0 : flags_of_statvfs(&sv);
}

static bool is_dir_path(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Resolve (and create) a mount destination below rootfd and return an O_PATH
 * fd of it. file=true creates an empty regular file (for file bind mounts). */
static int open_destination(int rootfd, const char *dest, bool file, unsigned chase_flags,
                            struct berth_error **err)
{
    int fd = chase_open(rootfd, dest, O_PATH | (file ? 0 : O_DIRECTORY), chase_flags);
    if (fd >= 0) {
        return fd;
    }
    if (fd == -ENOENT) {
        if (!file) {
            fd = chase_open(rootfd, dest, O_PATH | O_DIRECTORY, chase_flags | CHASE_MKDIR);
        } else {
            const char *name;
            _cleanup_close_ int pfd = chase_parent(rootfd, dest, chase_flags | CHASE_MKDIR, &name);
            if (pfd < 0) {
                return berth_error_sys(err, -pfd, "mount destination '%s'", dest);
            }
            _cleanup_close_ int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int f = dfd < 0 ? -1
                            : openat(dfd, name,
                                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (f < 0 && errno != EEXIST) {
                return berth_error_sys(err, errno, "mount destination '%s'", dest);
            }
            safe_close(f);
            fd = chase_open(rootfd, dest, O_PATH, chase_flags);
        }
    }
    if (fd == -ELOOP && (chase_flags & CHASE_NO_SYMLINKS)) {
        return berth_error_set(err, ELOOP, "mount destination '%s' is or passes a symlink", dest);
    }
    if (fd < 0) {
        return berth_error_sys(err, -fd, "mount destination '%s'", dest);
    }
    return fd;
}

int rootfs_precreate_file(int rootfd, const char *dest, struct berth_error **err)
{
    int fd = open_destination(rootfd, dest, true, 0, err);
    if (fd < 0) {
        return fd;
    }
    close(fd);
    return 0;
}

/* Set while rootfs_prepare/rootfs_finalize have saved the init's working
 * directory and will restore it: mount targets are then reached as "." after
 * fchdir to the destination's fd. That names the same mount point as
 * /proc/self/fd/N (both stop at the fd's own path, the mount goes on top),
 * without walking procfs on every mount: those walks were half the cost of
 * each mount, and the dentries they made were torn down again at exit. */
static bool cwd_movable;

/* The path that mount(2) should get for the directory dstfd: "." after
 * moving there, or the fd's /proc/self/fd/N link when that is not possible
 * (a file, or a directory we may not search). */
static const char *mount_target(int dstfd, char buf[FD_PATH_MAX])
{
    if (cwd_movable && fchdir(dstfd) == 0) {
        return ".";
    }
    fd_path(dstfd, buf);
    return buf;
}

/* Enter (and leave, with restore_cwd) a stretch where mount_target may move
 * the cwd. Returns an O_PATH fd of the current cwd, or -1 if it cannot be
 * restored (then targets go through /proc/self/fd). */
static int save_cwd(void)
{
    int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && fchdir(fd) < 0) {
        /* Not searchable (a user namespace): we could not come back. */
        close(fd);
        fd = -1;
    }
    cwd_movable = fd >= 0;
    return fd;
}

static void restore_cwd(int *fd)
{
    if (*fd >= 0) {
        (void)!fchdir(*fd);
        close(*fd);
        *fd = -1;
    }
    cwd_movable = false;
}

static int do_mount(const char *src, int dstfd, const char *dest, const char *type,
                    unsigned long flags, const char *data, struct berth_error **err)
{
    char buf[FD_PATH_MAX];
    const char *p = mount_target(dstfd, buf);
    if (mount(src, p, type, flags, data) < 0) {
        return berth_error_sys(err, errno, "mount '%s' on '%s'%s%s", src ? src : "none", dest,
                               type ? " type " : "", type ? type : "");
    }
    return 0;
}

/* After mounting on /proc/self/fd/N, N still names the covered directory;
 * reopen the destination to reach the new mount on top. */
static int reopen(int rootfd, const char *dest, unsigned chase_flags, struct berth_error **err)
{
    int fd = chase_open(rootfd, dest, O_PATH, chase_flags);
    if (fd < 0) {
        return berth_error_sys(err, -fd, "reopen '%s'", dest);
    }
    return fd;
}

/* Whether apply_mount_attrs has anything to do for m: most mounts need
 * nothing, and then the new mount is not even looked up again. */
static bool mount_attrs_needed(const struct oci_mount *m)
{
    bool remount = (m->flags & MS_BIND) && (m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT));
    return remount || m->propagation || m->rec_attr_set || m->rec_attr_clr;
}

/* Propagation of the mount fd names (m->propagation: one type, maybe with
 * MS_REC), set through the fd with mount_setattr: no path is resolved. A
 * kernel without it gets the same change from mount(2) on the fd's path. */
static int set_propagation(int fd, const struct oci_mount *m, struct berth_error **err)
{
    struct mount_attr attr = {.propagation = m->propagation & ~MS_REC};
    unsigned rec = (m->propagation & MS_REC) ? AT_RECURSIVE : 0;
    if (mount_setattr(fd, "", AT_EMPTY_PATH | rec, &attr, sizeof(attr)) == 0) {
        return 0;
    }
    if (errno == ENOSYS || errno == EINVAL) {
        char buf[FD_PATH_MAX];
        if (mount(NULL, mount_target(fd, buf), NULL, m->propagation, NULL) == 0) {
            return 0;
        }
    }
    return berth_error_sys(err, errno, "set propagation of '%s'", m->destination);
}

static int apply_mount_attrs(int rootfd, const struct oci_mount *m, int fd,
                             struct berth_error **err)
{
    unsigned long extra = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if ((m->flags & MS_BIND) && extra) {
        /* Bind mounts ignore flags on the first call; remount to apply them,
         * keeping whatever the kernel locked on the source. */
        unsigned long keep = locked_flags_fd(fd) & ~m->clear_flags;
        char buf[FD_PATH_MAX];
        if (mount(NULL, mount_target(fd, buf), NULL, MS_REMOUNT | MS_BIND | extra | keep, NULL) <
            0) {
            return berth_error_sys(err, errno, "remount '%s'", m->destination);
        }
    }
    if (m->propagation) {
        int r = set_propagation(fd, m, err);
        if (r < 0) {
            return r;
        }
    }
    if (m->rec_attr_set || m->rec_attr_clr) {
        struct mount_attr attr = {.attr_set = m->rec_attr_set, .attr_clr = m->rec_attr_clr};
        if (m->rec_attr_set & MOUNT_ATTR__ATIME) {
            attr.attr_clr |= MOUNT_ATTR__ATIME;
        }
        if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
            return berth_error_sys(err, errno, "set recursive attributes of '%s'", m->destination);
        }
    }
    return 0;
}

/* Copy the contents of directory src into dst (both fds), for tmpcopyup. */
static int copy_tree(int src, int dst, struct berth_error **err)
{
    int sfd = fcntl(src, F_DUPFD_CLOEXEC, 3);
    DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
    if (!d) {
        safe_close(sfd);
        return berth_error_sys(err, errno, "tmpcopyup: read directory");
    }
    int r = 0;
    struct dirent *de;
    while (r >= 0 && (de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (mkdirat(dst, de->d_name, st.st_mode & 07777) < 0 && errno != EEXIST) {
                r = berth_error_sys(err, errno, "tmpcopyup: mkdir '%s'", de->d_name);
                break;
            }
            _cleanup_close_ int cs =
                openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            _cleanup_close_ int cd =
                openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cs < 0 || cd < 0) {
                r = berth_error_sys(err, errno, "tmpcopyup: open '%s'", de->d_name);
                break;
            }
            r = copy_tree(cs, cd, err);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
            if (n >= 0) {
                target[n] = '\0';
                if (symlinkat(target, dst, de->d_name) < 0) {
                    r = berth_error_sys(err, errno, "tmpcopyup: symlink '%s'", de->d_name);
                }
            }
        } else if (S_ISREG(st.st_mode)) {
            _cleanup_close_ int in =
                openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            _cleanup_close_ int out =
                openat(dst, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       st.st_mode & 07777);
            if (in < 0 || out < 0) {
                r = berth_error_sys(err, errno, "tmpcopyup: copy '%s'", de->d_name);
                break;
            }
            off_t left = st.st_size;
            while (left > 0) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
                if (n <= 0) {
                    char buf[65536];
                    n = read(in, buf, sizeof(buf));
                    if (n <= 0 || write_all(out, buf, (size_t)n) < 0) {
                        break;
                    }
                }
                left -= n;
            }
        } else {
            if (mknodat(dst, de->d_name, st.st_mode, st.st_rdev) < 0) {
                continue; /* devices may be refused in a user namespace */
            }
        }
        if (r >= 0) {
            fchownat(dst, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
            if (!S_ISLNK(st.st_mode)) {
                fchmodat(dst, de->d_name, st.st_mode & 07777, 0);
            }
        }
    }
    closedir(d);
    return r;
}

/* tmpfs with tmpcopyup: build the tmpfs detached (fsopen/fsmount), copy the
 * destination's current contents into it, then move it over the destination. */
static int mount_tmpcopyup(int dstfd, const struct oci_mount *m, struct berth_error **err)
{
    _cleanup_close_ int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fsfd < 0) {
        return berth_error_sys(err, errno, "tmpcopyup '%s': fsopen", m->destination);
    }
    if (m->data) {
        _cleanup_strv_free_ char **opts = strv_split(m->data, ",");
        for (size_t i = 0; opts[i]; i++) {
            char *eq = strchr(opts[i], '=');
            int r;
            if (eq) {
                *eq = '\0';
                r = fsconfig(fsfd, FSCONFIG_SET_STRING, opts[i], eq + 1, 0);
            } else {
                r = fsconfig(fsfd, FSCONFIG_SET_FLAG, opts[i], NULL, 0);
            }
            if (r < 0) {
                return berth_error_sys(err, errno, "tmpcopyup '%s': option '%s'", m->destination,
                                       opts[i]);
            }
        }
    }
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        return berth_error_sys(err, errno, "tmpcopyup '%s': create", m->destination);
    }
    unsigned attrs = 0;
    if (m->flags & MS_NOSUID) {
        attrs |= MOUNT_ATTR_NOSUID;
    }
    if (m->flags & MS_NODEV) {
        attrs |= MOUNT_ATTR_NODEV;
    }
    if (m->flags & MS_NOEXEC) {
        attrs |= MOUNT_ATTR_NOEXEC;
    }
    _cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
    if (mfd < 0) {
        return berth_error_sys(err, errno, "tmpcopyup '%s': fsmount", m->destination);
    }
    char p[FD_PATH_MAX];
    fd_path(dstfd, p);
    _cleanup_close_ int src = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    _cleanup_close_ int dst = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src >= 0 && dst >= 0) {
        int r = copy_tree(src, dst, err);
        if (r < 0) {
            return berth_error_prefix(err, "'%s'", m->destination);
        }
        struct stat st;
        if (fstat(src, &st) == 0) {
            fchmod(dst, st.st_mode & 07777);
            fchown(dst, st.st_uid, st.st_gid);
        }
    }
    if (move_mount(mfd, "", dstfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
        return berth_error_sys(err, errno, "tmpcopyup '%s': move mount", m->destination);
    }
    return 0;
}

/* The cgroup filesystem as the container should see it. With a cgroup
 * namespace a fresh mount already shows only the container's subtree; without
 * one, the host path of the container's cgroup is bind-mounted so the host
 * tree stays hidden (runc's behaviour). */
static int mount_cgroups(int rootfd, const struct oci_mount *m, const struct rootfs_opts *o,
                         struct berth_error **err)
{
    /* The hierarchies as the runtime found them before the clone: a new
     * mount namespace is a copy of that one, with the same cgroup mounts.
     * A joined one is read. */
    _cleanup_free_ char *own = NULL, *joined = NULL;
    const char *mi = NULL;
    int r = o->joined_mntns
                ? read_file_at(AT_FDCWD, "/proc/self/mountinfo", 4u << 20, &joined, NULL, err)
                : cgroup_host_mountinfo(&mi, err);
    mi = joined ? joined : mi;
    if (r >= 0) {
        r = read_file_at(AT_FDCWD, "/proc/self/cgroup", 1u << 20, &own, NULL, err);
    }
    if (r < 0) {
        return r;
    }
    /* Find the host cgroup mounts: "... - cgroup cgroup rw,memory" lines. */
    bool unified_only = true, any = false;
    _cleanup_strv_free_ char **lines = strv_split(mi, "\n");
    for (size_t i = 0; lines[i]; i++) {
        if (strstr(lines[i], " - cgroup ")) {
            unified_only = false;
        }
        if (strstr(lines[i], " - cgroup2 ") || strstr(lines[i], " - cgroup ")) {
            any = true;
        }
    }
    unsigned long flags = m->flags & ~(MS_BIND | MS_REC);
    if (!any) {
        return 0;
    }
    if (unified_only) {
        _cleanup_close_ int fd = open_destination(rootfd, m->destination, false, 0, err);
        if (fd < 0) {
            return fd;
        }
        if (o->new_cgroupns) {
            return do_mount("cgroup", fd, m->destination, "cgroup2", flags, NULL, err);
        }
        /* Bind the container's own cgroup directory. */
        const char *path = NULL;
        _cleanup_strv_free_ char **cl = strv_split(own, "\n");
        for (size_t i = 0; cl[i]; i++) {
            if (strneq(cl[i], "0::", 3)) {
                path = cl[i] + 3;
            }
        }
        _cleanup_free_ char *src = xasprintf("/sys/fs/cgroup%s", path ? path : "/");
        r = do_mount(src, fd, m->destination, NULL, MS_BIND | MS_REC, NULL, err);
        if (r < 0) {
            return r;
        }
        _cleanup_close_ int top = reopen(rootfd, m->destination, 0, err);
        char p[FD_PATH_MAX];
        fd_path(top, p);
        if (top >= 0 && flags && mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0) {
            return berth_error_sys(err, errno, "remount '%s'", m->destination);
        }
        return top < 0 ? top : 0;
    }

    /* v1 or hybrid: a tmpfs holding one directory per hierarchy. */
    _cleanup_close_ int fd = open_destination(rootfd, m->destination, false, 0, err);
    if (fd < 0) {
        return fd;
    }
    r = do_mount("tmpfs", fd, m->destination, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755",
                 err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int base = reopen(rootfd, m->destination, 0, err);
    if (base < 0) {
        return base;
    }
    _cleanup_strv_free_ char **cl = strv_split(own, "\n");
    _cleanup_strv_free_ char **bound = xcalloc(1, sizeof(char *));
    for (size_t i = 0; lines[i]; i++) {
        /* mountinfo: id parent maj:min root mountpoint opts ... - fstype source superopts */
        char *sep = strstr(lines[i], " - ");
        if (!sep) {
            continue;
        }
        bool v2 = strneq(sep, " - cgroup2 ", 11);
        if (!v2 && !strneq(sep, " - cgroup ", 10)) {
            continue;
        }
        char mnt_root[1024], mountpoint[1024];
        if (sscanf(lines[i], "%*d %*d %*s %1023s %1023s", mnt_root, mountpoint) != 2 ||
            !strneq(mountpoint, "/sys/fs/cgroup/", 15)) {
            continue;
        }
        const char *name = mountpoint + 15;
        if (strchr(name, '/')) {
            continue;
        }
        /* Which controllers: the superblock options after the source. */
        const char *super = strrchr(sep, ' ');
        super = super ? super + 1 : "";
        /* This process's path in that hierarchy. */
        const char *inner = "/";
        for (size_t k = 0; cl[k]; k++) {
            char *c1 = strchr(cl[k], ':');
            char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (!c2) {
                continue;
            }
            _cleanup_free_ char *ctrls = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
            bool match;
            if (v2) {
                match = !*ctrls && strneq(cl[k], "0:", 2);
            } else {
                match = *ctrls && strstr(super, ctrls) != NULL;
            }
            if (match) {
                inner = c2 + 1;
                break;
            }
        }
        if (mkdirat(base, name, 0755) < 0 && errno != EEXIST) {
            return berth_error_sys(err, errno, "mkdir '%s/%s'", m->destination, name);
        }
        _cleanup_close_ int sub = openat(base, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            return berth_error_sys(err, errno, "open '%s/%s'", m->destination, name);
        }
        _cleanup_free_ char *dest = xasprintf("%s/%s", m->destination, name);
        if (o->new_cgroupns) {
            /* Options for a v1 mount: the controllers, or name=... */
            _cleanup_free_ char *opts = NULL;
            if (!v2) {
                _cleanup_strv_free_ char **so = strv_split(super, ",");
                _cleanup_strv_free_ char **keep = xcalloc(1, sizeof(char *));
                for (size_t k = 0; so[k]; k++) {
                    if (!streq(so[k], "rw") && !streq(so[k], "ro")) {
                        strv_push(&keep, so[k]);
                    }
                }
                opts = strv_join(keep, ",");
            }
            r = do_mount("cgroup", sub, dest, v2 ? "cgroup2" : "cgroup", flags, opts, err);
        } else {
            /* The binds' flags (read-only...) are set on all of them at
             * once below; only a kernel without mount_setattr remounts each. */
            _cleanup_free_ char *src = xasprintf("%s%s", mountpoint, inner);
            r = do_mount(src, sub, dest, NULL, MS_BIND | MS_REC, NULL, err);
            if (r >= 0) {
                strv_push(&bound, name);
            }
        }
        if (r < 0) {
            return r;
        }
        /* Co-mounted controllers ("cpu,cpuacct") also answer to each name. */
        if (strchr(name, ',')) {
            _cleanup_strv_free_ char **parts = strv_split(name, ",");
            for (size_t k = 0; parts[k]; k++) {
                symlinkat(name, base, parts[k]);
            }
        }
    }
    /* One recursive mount_setattr for the tmpfs and every bind on it,
     * instead of a remount each (20 mount calls on a v1 host). */
    struct mount_attr attr = {.attr_set = (flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
                                          (flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
                                          (flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
                                          (flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0)};
    if (!attr.attr_set ||
        mount_setattr(base, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) == 0) {
        return 0;
    }
    if (errno != ENOSYS) {
        return berth_error_sys(err, errno, "set attributes of '%s'", m->destination);
    }
    STRV_FOREACH(b, bound)
    {
        _cleanup_close_ int top = openat(base, *b, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        char p[FD_PATH_MAX];
        fd_path(top, p);
        if (top < 0 || mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0) {
            return berth_error_sys(err, errno, "remount '%s/%s'", m->destination, *b);
        }
    }
    if (flags & MS_RDONLY) {
        char p[FD_PATH_MAX];
        fd_path(base, p);
        if (mount(NULL, p, NULL, MS_REMOUNT | (flags & ~MS_REC), "mode=755") < 0) {
            return berth_error_sys(err, errno, "remount '%s' read-only", m->destination);
        }
    }
    return 0;
}

/* A detached clone of a bind mount's source, made before the destination is
 * opened: fstat of the clone tells whether the destination must be a file or
 * a directory, which spares two more walks of the host path (stat for the
 * type, access for existence). Returns the clone, -ENOSYS where the kernel
 * has no open_tree (the caller falls back to the path-based bind), or a
 * failure. */
static int clone_bind_source(const struct oci_mount *m, bool *ret_file, struct berth_error **err)
{
    int tree =
        open_tree(AT_FDCWD, m->source,
                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & MS_REC) ? AT_RECURSIVE : 0));
    if (tree < 0) {
        if (errno == ENOSYS) {
            return -ENOSYS;
        }
        if (errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == ELOOP ||
            errno == ENAMETOOLONG) {
            return berth_error_sys(err, errno, "bind mount source '%s'", m->source);
        }
        return berth_error_sys(err, errno, "bind mount '%s' on '%s'", m->source, m->destination);
    }
    struct stat st;
    if (fstat(tree, &st) < 0) {
        int e = errno;
        close(tree);
        return berth_error_sys(err, e, "bind mount source '%s'", m->source);
    }
    *ret_file = !S_ISDIR(st.st_mode);
    return tree;
}

static int mount_one(int rootfd, const struct oci_mount *m, int idmapped_fd,
                     const struct rootfs_opts *o, struct berth_error **err)
{
    const char *type = m->type ? m->type : "bind";
    bool bind = (m->flags & MS_BIND) != 0;
    if (streq(type, "cgroup") || streq(type, "cgroup2")) {
        return mount_cgroups(rootfd, m, o, err);
    }
    /* proc and sysfs over a symlink would let an image aim runtime writes
     * at the host: refuse symlinks on their way (CVE-2019-16884). */
    unsigned cf = (streq(type, "proc") || streq(type, "sysfs")) ? CHASE_NO_SYMLINKS : 0;
    bool file = false;
    _cleanup_close_ int tree = -1;
    if (bind && m->source && idmapped_fd < 0 && !(m->attrs & OCI_MOUNT_TMPCOPYUP)) {
        tree = clone_bind_source(m, &file, err);
        if (tree < 0 && tree != -ENOSYS) {
            return tree;
        }
    }
    if (tree < 0) {
        file = bind && m->source && !is_dir_path(m->source);
        if (bind && m->source && access(m->source, F_OK) < 0) {
            return berth_error_sys(err, errno, "bind mount source '%s'", m->source);
        }
    }
    _cleanup_close_ int fd = open_destination(rootfd, m->destination, file, cf, err);
    if (fd < 0) {
        return fd;
    }
    if (cf) {
        /* The destination must be a directory on the rootfs, not a fake fs. */
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
            return berth_error_set(err, ENOTDIR, "mount destination '%s' is not a directory",
                                   m->destination);
        }
    }
    if (m->attrs & OCI_MOUNT_TMPCOPYUP) {
        int r = mount_tmpcopyup(fd, m, err);
        if (r < 0) {
            return r;
        }
    } else if (bind) {
        if (idmapped_fd >= 0) {
            if (move_mount(idmapped_fd, "", fd, "",
                           MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                return berth_error_sys(err, errno, "mount idmapped '%s' on '%s'", m->source,
                                       m->destination);
            }
            if (!mount_attrs_needed(m)) {
                return 0;
            }
            _cleanup_close_ int top = reopen(rootfd, m->destination, cf, err);
            if (top < 0) {
                return top;
            }
            return apply_mount_attrs(rootfd, m, top, err);
        }
        /* The detached clone of the source is attached onto the
         * destination's fd: afterwards that clone's fd names the new mount
         * itself, so its flags and propagation are set through it, never by
         * resolving the destination again (a shared volume could swap a
         * component of it meanwhile and have a read-only flag land
         * elsewhere: CVE-2021-30465). */
        if (tree >= 0) {
            if (move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
                0) {
                return berth_error_sys(err, errno, "bind mount '%s' on '%s'", m->source,
                                       m->destination);
            }
            return apply_mount_attrs(rootfd, m, tree, err);
        }
        int r =
            do_mount(m->source, fd, m->destination, NULL, MS_BIND | (m->flags & MS_REC), NULL, err);
        if (r < 0) {
            return r;
        }
    } else {
        unsigned long flags = m->flags & ~(MS_REC);
        int r =
            do_mount(m->source ? m->source : type, fd, m->destination, type, flags, m->data, err);
        if (r == -EPERM && streq(type, "sysfs") && o->in_userns) {
            /* A user namespace without its own network namespace may not
             * mount sysfs; runc binds the host's read-only instead. */
            berth_error_free(*err);
            *err = NULL;
            r = do_mount("/sys", fd, m->destination, NULL, MS_BIND | MS_REC, NULL, err);
            if (r >= 0) {
                _cleanup_close_ int top = reopen(rootfd, m->destination, cf, err);
                char p[FD_PATH_MAX];
                fd_path(top, p);
                mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(p), NULL);
            }
            return r;
        }
        if (r < 0) {
            return r;
        }
    }
    if (!mount_attrs_needed(m)) {
        return 0;
    }
    _cleanup_close_ int top = reopen(rootfd, m->destination, cf, err);
    if (top < 0) {
        return top;
    }
    return apply_mount_attrs(rootfd, m, top, err);
}

static bool has_mount_at(const struct oci_spec *s, const char *dest)
{
    for (size_t i = 0; i < s->n_mounts; i++) {
        if (streq(s->mounts[i].destination, dest)) {
            return true;
        }
    }
    return false;
}

static bool dev_is_host_bind(const struct oci_spec *s)
{
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct oci_mount *m = &s->mounts[i];
        if (streq(m->destination, "/dev") && (m->flags & MS_BIND)) {
            return true;
        }
    }
    return false;
}

/* Create one device node below devfd: mknod, or (in a user namespace, where
 * mknod is refused) a bind mount of the host's node on an empty file. */
static int make_device(int devfd, int devfd_rw, const char *name, char type, unsigned major,
                       unsigned minor, mode_t mode, uid_t uid, gid_t gid, bool in_userns,
                       struct berth_error **err)
{
    mode_t fmt = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
    const char *slash = strrchr(name, '/');
    _cleanup_close_ int sub_rw = -1;
    const char *leaf = name;
    int dirfd_rw = devfd_rw;
    if (slash) {
        _cleanup_free_ char *dir = xstrndup(name, (size_t)(slash - name));
        _cleanup_close_ int parent =
            chase_open(devfd, dir, O_PATH | O_DIRECTORY, CHASE_MKDIR | CHASE_NO_SYMLINKS);
        if (parent < 0) {
            return berth_error_sys(err, -parent, "device '/dev/%s'", name);
        }
        sub_rw = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub_rw < 0) {
            return berth_error_sys(err, errno, "device '/dev/%s'", name);
        }
        dirfd_rw = sub_rw;
        leaf = slash + 1;
    }
    unlinkat(dirfd_rw, leaf, 0);
    if (!in_userns || fmt == S_IFIFO) {
        if (mknodat(dirfd_rw, leaf, fmt | (mode & 07777), makedev(major, minor)) < 0) {
            return berth_error_sys(err, errno, "mknod '/dev/%s'", name);
        }
        if (fchownat(dirfd_rw, leaf, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
            return berth_error_sys(err, errno, "chown '/dev/%s'", name);
        }
        /* mknod is subject to the umask; set the mode exactly. */
        if (fchmodat(dirfd_rw, leaf, mode & 07777, 0) < 0) {
            return berth_error_sys(err, errno, "chmod '/dev/%s'", name);
        }
        return 0;
    }
    _cleanup_close_ int f =
        openat(dirfd_rw, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0000);
    if (f < 0) {
        return berth_error_sys(err, errno, "create '/dev/%s'", name);
    }
    _cleanup_close_ int target = openat(dirfd_rw, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_free_ char *host = xasprintf("/dev/%s", name);
    char p[FD_PATH_MAX];
    fd_path(target, p);
    if (target < 0 || mount(host, p, NULL, MS_BIND, NULL) < 0) {
        return berth_error_sys(err, errno, "bind '/dev/%s'", name);
    }
    return 0;
}

static int setup_dev(int rootfd, const struct oci_spec *s, const struct rootfs_opts *o,
                     struct berth_error **err)
{
    static const struct {
        const char *name;
        unsigned major, minor;
    } defaults[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    /* CVE-2026-41579: everything below is relative to the rootfs dirfd and
     * /dev itself may not be a symlink. */
    _cleanup_close_ int devfd =
        chase_open(rootfd, "/dev", O_PATH | O_DIRECTORY, CHASE_NO_SYMLINKS | CHASE_MKDIR);
    if (devfd < 0) {
        return berth_error_sys(err, -devfd, "'/dev' in the rootfs");
    }
    if (dev_is_host_bind(s)) {
        return 0;
    }
    /* One readable fd of /dev for every node and link made directly in it. */
    _cleanup_close_ int rw = openat(devfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rw < 0) {
        return berth_error_sys(err, errno, "open '/dev'");
    }
    for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
        bool overridden = false;
        for (size_t k = 0; k < s->linux_.n_devices; k++) {
            _cleanup_free_ char *p = xasprintf("/dev/%s", defaults[i].name);
            overridden |= streq(s->linux_.devices[k].path, p);
        }
        if (overridden) {
            continue;
        }
        int r = make_device(devfd, rw, defaults[i].name, 'c', defaults[i].major, defaults[i].minor,
                            0666, 0, 0, o->in_userns, err);
        if (r < 0) {
            return r;
        }
    }
    for (size_t k = 0; k < s->linux_.n_devices; k++) {
        const struct oci_device *d = &s->linux_.devices[k];
        if (!strneq(d->path, "/dev/", 5)) {
            return berth_error_set(err, EINVAL, "linux.devices[%zu].path: '%s' is not under /dev",
                                   k, d->path);
        }
        int r =
            make_device(devfd, rw, d->path + 5, d->type == 'u' ? 'c' : d->type, (unsigned)d->major,
                        (unsigned)d->minor, d->has_mode ? d->file_mode : 0666,
                        d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0, o->in_userns, err);
        if (r < 0) {
            return r;
        }
    }
    static const char *const links[][2] = {{"/proc/self/fd", "fd"},
                                           {"/proc/self/fd/0", "stdin"},
                                           {"/proc/self/fd/1", "stdout"},
                                           {"/proc/self/fd/2", "stderr"}};
    for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
        if (symlinkat(links[i][0], rw, links[i][1]) < 0 && errno != EEXIST) {
            return berth_error_sys(err, errno, "symlink '/dev/%s'", links[i][1]);
        }
    }
    if (access("/proc/kcore", F_OK) == 0) {
        symlinkat("/proc/kcore", rw, "core");
    }
    if (has_mount_at(s, "/dev/pts")) {
        /* ptmx must be the one of the container's devpts instance. */
        unlinkat(rw, "ptmx", 0);
        if (symlinkat("pts/ptmx", rw, "ptmx") < 0) {
            return berth_error_sys(err, errno, "symlink '/dev/ptmx'");
        }
    }
    return 0;
}

int rootfs_prepare(const struct oci_spec *spec, const struct rootfs_opts *o, int *ret_rootfd,
                   struct berth_error **err)
{
    /* Keep the container's mounts from propagating to the host: slave by
     * default, or what rootfsPropagation says. */
    unsigned long prop = spec->linux_.rootfs_propagation;
    unsigned long root_prop = MS_SLAVE | MS_REC;
    if (prop & (MS_PRIVATE | MS_SLAVE)) {
        root_prop = prop | MS_REC;
    }
    if (mount(NULL, "/", NULL, root_prop, NULL) < 0) {
        return berth_error_sys(err, errno, "make '/' %s",
                               root_prop & MS_PRIVATE ? "private" : "slave");
    }
    /* pivot_root needs the new root to be a mount point. */
    if (mount(spec->root_path, spec->root_path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        if (errno == EACCES && o->in_userns) {
            return berth_error_sys(err, errno,
                                   "bind rootfs '%s': the container's root user (host uid %u) "
                                   "cannot reach the rootfs; make its parent directories "
                                   "searchable",
                                   spec->root_path, o->host_root_uid);
        }
        return berth_error_sys(err, errno, "bind rootfs '%s'", spec->root_path);
    }
    if (prop && mount(NULL, spec->root_path, NULL, prop, NULL) < 0) {
        return berth_error_sys(err, errno, "set rootfs propagation");
    }
    _cleanup_close_ int rootfd = open(spec->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        return berth_error_sys(err, errno, "open rootfs '%s'", spec->root_path);
    }
    /* Mount targets are reached through the cwd (see mount_target); the
     * createContainer hooks that run next still start where the init was. */
    _cleanup_(restore_cwd) int oldcwd = save_cwd();
    for (size_t i = 0; i < spec->n_mounts; i++) {
        int r =
            mount_one(rootfd, &spec->mounts[i], o->idmapped_fds ? o->idmapped_fds[i] : -1, o, err);
        if (r < 0) {
            return berth_error_prefix(err, "mounts[%zu]", i);
        }
    }
    int r = setup_dev(rootfd, spec, o, err);
    if (r < 0) {
        return r;
    }
    *ret_rootfd = TAKE_FD(rootfd);
    return 0;
}

int rootfs_pivot(const struct oci_spec *spec, int rootfd, bool no_pivot, struct berth_error **err)
{
    _cleanup_close_ int newroot = open(spec->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (newroot < 0) {
        return berth_error_sys(err, errno, "open rootfs");
    }
    if (no_pivot) {
        if (fchdir(newroot) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
            chdir("/") < 0) {
            return berth_error_sys(err, errno, "move rootfs to '/'");
        }
        return 0;
    }
    _cleanup_close_ int oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (oldroot < 0) {
        return berth_error_sys(err, errno, "open '/'");
    }
    /* pivot_root(".", ".") stacks the old root under the new one at "/";
     * it is then detached without ever being reachable by path. */
    if (fchdir(newroot) < 0) {
        return berth_error_sys(err, errno, "chdir rootfs");
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        return berth_error_sys(err, errno, "pivot_root");
    }
    if (fchdir(oldroot) < 0) {
        return berth_error_sys(err, errno, "chdir old root");
    }
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
        return berth_error_sys(err, errno, "make old root slave");
    }
    if (umount2(".", MNT_DETACH) < 0) {
        return berth_error_sys(err, errno, "detach old root");
    }
    if (chdir("/") < 0) {
        return berth_error_sys(err, errno, "chdir '/'");
    }
    return 0;
}

/* Open /dev/null of the container safely: CVE-2025-31133 replaced it with a
 * symlink so masking bound a real file read-write. */
static int open_dev_null(struct berth_error **err)
{
    int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        safe_close(fd);
        return berth_error_sys(err, e, "open '/dev/null'");
    }
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
        close(fd);
        return berth_error_set(err, EPERM, "'/dev/null' is not the null device");
    }
    return fd;
}

/* Attach a detached clone of the mount under fd (non-recursive, as a plain
 * bind) onto dstfd. Both ends are fds, so nothing is resolved by path.
 * Returns -ENOSYS on kernels without open_tree. */
static int bind_fd(int srcfd, int dstfd, unsigned clone_flags, const struct mount_attr *attr)
{
    _cleanup_close_ int tree =
        open_tree(srcfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | clone_flags);
    if (tree < 0) {
        return -errno;
    }
    if (attr &&
        mount_setattr(tree, "", AT_EMPTY_PATH, (struct mount_attr *)attr, sizeof(*attr)) < 0) {
        return -errno;
    }
    if (move_mount(tree, "", dstfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
        return -errno;
    }
    return 0;
}

static int mask_path(int rootfd, int nullfd, const char *path, struct berth_error **err)
{
    _cleanup_close_ int fd = chase_open(rootfd, path, O_PATH, CHASE_NO_SYMLINKS | CHASE_NOFOLLOW);
    if (fd == -ENOENT || fd == -ENOTDIR) {
        return 0;
    }
    if (fd < 0) {
        return berth_error_sys(err, -fd, "mask '%s'", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return berth_error_sys(err, errno, "mask '%s'", path);
    }
    char p[FD_PATH_MAX], n[FD_PATH_MAX];
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", mount_target(fd, p), "tmpfs", MS_RDONLY, NULL) < 0) {
            return berth_error_sys(err, errno, "mask '%s'", path);
        }
        return 0;
    }
    /* The checked /dev/null, bound from its fd onto the file's fd. */
    int r = bind_fd(nullfd, fd, 0, NULL);
    if (r == 0) {
        return 0;
    }
    if (r != -ENOSYS) {
        return berth_error_sys(err, -r, "mask '%s'", path);
    }
    fd_path(fd, p);
    fd_path(nullfd, n);
    if (mount(n, p, NULL, MS_BIND, NULL) < 0) {
        return berth_error_sys(err, errno, "mask '%s'", path);
    }
    return 0;
}

static int readonly_path(int rootfd, const char *path, struct berth_error **err)
{
    _cleanup_close_ int fd = chase_open(rootfd, path, O_PATH, CHASE_NO_SYMLINKS | CHASE_NOFOLLOW);
    if (fd == -ENOENT || fd == -ENOTDIR) {
        return 0;
    }
    if (fd < 0) {
        return berth_error_sys(err, -fd, "read-only '%s'", path);
    }
    /* A recursive clone of the path, made read-only (its top mount only, as
     * a bind remount would: every other flag stays) while still detached,
     * then attached over the path. All through fds: the path is resolved
     * once, not again after the bind. */
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    int r = bind_fd(fd, fd, AT_RECURSIVE, &ro);
    if (r == 0) {
        return 0;
    }
    if (r != -ENOSYS) {
        return berth_error_sys(err, -r, "read-only '%s'", path);
    }
    char p[FD_PATH_MAX];
    fd_path(fd, p);
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
        return berth_error_sys(err, errno, "read-only '%s': bind", path);
    }
    _cleanup_close_ int top = chase_open(rootfd, path, O_PATH, CHASE_NO_SYMLINKS | CHASE_NOFOLLOW);
    if (top < 0) {
        return berth_error_sys(err, -top, "read-only '%s'", path);
    }
    fd_path(top, p);
    if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(p), NULL) < 0) {
        return berth_error_sys(err, errno, "read-only '%s': remount", path);
    }
    return 0;
}

int rootfs_finalize(const struct oci_spec *spec, const struct rootfs_opts *o,
                    struct berth_error **err)
{
    const struct oci_linux *l = &spec->linux_;
    _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        return berth_error_sys(err, errno, "open '/'");
    }
    /* Masked directories are mounted on through the cwd (mount_target). */
    _cleanup_(restore_cwd) int oldcwd = save_cwd();
    if (l->masked_paths && l->masked_paths[0]) {
        _cleanup_close_ int nullfd = open_dev_null(err);
        if (nullfd < 0) {
            return nullfd;
        }
        for (size_t i = 0; l->masked_paths[i]; i++) {
            int r = mask_path(rootfd, nullfd, l->masked_paths[i], err);
            if (r < 0) {
                return r;
            }
        }
    }
    for (size_t i = 0; l->readonly_paths && l->readonly_paths[i]; i++) {
        int r = readonly_path(rootfd, l->readonly_paths[i], err);
        if (r < 0) {
            return r;
        }
    }
    if (spec->root_readonly) {
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/"), NULL) <
            0) {
            return berth_error_sys(err, errno, "remount root read-only");
        }
    }
    (void)o;
    return 0;
}

int rootfs_setup_console(int console_socket, const struct oci_process *p, int *ret_peer,
                         bool bind_console, struct berth_error **err)
{
    _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        return berth_error_sys(err, errno, "open '/'");
    }
    _cleanup_close_ int ptmx =
        chase_open(rootfd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY, CHASE_NO_SYMLINKS);
    if (ptmx < 0) {
        ptmx = chase_open(rootfd, "/dev/ptmx", O_RDWR | O_NOCTTY, 0);
    }
    if (ptmx < 0) {
        return berth_error_sys(err, -ptmx, "open the container's ptmx");
    }
    struct stat st;
    if (fstat(ptmx, &st) < 0 || !S_ISCHR(st.st_mode)) {
        return berth_error_set(err, EPERM, "the container's ptmx is not a device");
    }
    int unlock = 0;
    if (ioctl(ptmx, TIOCSPTLCK, &unlock) < 0) {
        return berth_error_sys(err, errno, "unlock pty");
    }
    int peer = ioctl(ptmx, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (peer < 0) {
        return berth_error_sys(err, errno, "open pty peer");
    }
    if (p->console_height || p->console_width) {
        struct winsize ws = {.ws_row = (unsigned short)p->console_height,
                             .ws_col = (unsigned short)p->console_width};
        ioctl(ptmx, TIOCSWINSZ, &ws);
    }
    /* /dev/console: an empty file, created without following links, with the
     * peer bound on it. */
    _cleanup_close_ int devfd =
        bind_console ? chase_open(rootfd, "/dev", O_RDONLY | O_DIRECTORY, CHASE_NO_SYMLINKS) : -1;
    if (devfd >= 0) {
        struct stat cs;
        if (fstatat(devfd, "console", &cs, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(cs.st_mode)) {
            unlinkat(devfd, "console", 0);
        }
        int f =
            openat(devfd, "console", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f >= 0) {
            close(f);
            _cleanup_close_ int target = openat(devfd, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
            char src[FD_PATH_MAX], dst[FD_PATH_MAX];
            fd_path(peer, src);
            fd_path(target, dst);
            if (target >= 0 && mount(src, dst, NULL, MS_BIND, NULL) < 0) {
                int e = errno;
                close(peer);
                return berth_error_sys(err, e, "bind '/dev/console'");
            }
        }
    }
    int tty = ioctl(ptmx, TIOCGPTN, &unlock) == 0 ? unlock : -1;
    char name[64];
    snprintf(name, sizeof(name), "/dev/pts/%d", tty);
    int r = send_fd(console_socket, ptmx, name, strlen(name));
    if (r < 0) {
        close(peer);
        return berth_error_sys(err, -r, "send the terminal to the console socket");
    }
    *ret_peer = peer;
    return 0;
}

int proc_open_private(struct berth_error **err)
{
    _cleanup_close_ int fsfd = fsopen("proc", FSOPEN_CLOEXEC);
    if (fsfd < 0) {
        return berth_error_sys(err, errno, "fsopen proc");
    }
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        return berth_error_sys(err, errno, "create proc instance");
    }
    int mfd =
        fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (mfd < 0) {
        return berth_error_sys(err, errno, "mount proc instance");
    }
    return mfd;
}

int proc_write_sysctl(int procfd, const char *key, const char *value, struct berth_error **err)
{
    _cleanup_free_ char *rel = xasprintf("sys/%s", key);
    for (char *p = rel + 4; *p; p++) {
        if (*p == '.') {
            *p = '/';
        }
    }
    struct open_how how = {.flags = O_WRONLY | O_CLOEXEC | O_NOCTTY,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV};
    _cleanup_close_ int fd = (int)syscall(SYS_openat2, procfd, rel, &how, sizeof(how));
    if (fd < 0) {
        return berth_error_sys(err, errno, "sysctl '%s'", key);
    }
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) {
        return berth_error_set(err, EPERM, "sysctl '%s': target is not on procfs", key);
    }
    if (write(fd, value, strlen(value)) < 0) {
        return berth_error_sys(err, errno, "sysctl '%s' = '%s'", key, value);
    }
    return 0;
}

/* A user namespace with these mappings, as an fd: a child unshares it and
 * waits while we write its maps, then we keep its /proc/<pid>/ns/user. */
static int userns_fd(const struct oci_idmap *u, size_t nu, const struct oci_idmap *g, size_t ng,
                     struct berth_error **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        return berth_error_sys(err, errno, "pipe");
    }
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        char c;
        close(p[1]);
        (void)!read(p[0], &c, 1); /* until the parent closes its end */
        _exit(0);
    }
    close(p[0]);
    int r = 0;
    if (pid < 0) {
        r = berth_error_sys(err, errno, "create a user namespace for an idmapped mount");
        close(p[1]);
        return r;
    }
    const struct {
        const char *file;
        const struct oci_idmap *m;
        size_t n;
    } maps[] = {{"uid_map", u, nu}, {"gid_map", g, ng}};
    for (size_t k = 0; k < 2 && r >= 0; k++) {
        struct strbuf sb = STRBUF_INIT;
        for (size_t i = 0; i < maps[k].n; i++) {
            strbuf_addf(&sb, "%u %u %u\n", maps[k].m[i].container_id, maps[k].m[i].host_id,
                        maps[k].m[i].size);
        }
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, maps[k].file);
        r = write_file_at(AT_FDCWD, path, strbuf_str(&sb), sb.len, err);
        strbuf_release(&sb);
    }
    int fd = -1;
    if (r >= 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r = berth_error_sys(err, errno, "open '%s'", path);
        }
    }
    close(p[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return r < 0 ? r : fd;
}

int mount_make_idmapped(const struct oci_mount *m, int *ret_fd, struct berth_error **err)
{
    _cleanup_close_ int ns =
        userns_fd(m->uid_mappings, m->n_uid_mappings, m->gid_mappings, m->n_gid_mappings, err);
    if (ns < 0) {
        return berth_error_prefix(err, "mount '%s'", m->destination);
    }
    bool rec = (m->flags & MS_REC) != 0;
    int tree = open_tree(AT_FDCWD, m->source,
                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0));
    if (tree < 0) {
        return berth_error_sys(err, errno, "mount '%s': clone '%s'", m->destination, m->source);
    }
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
    unsigned flags = AT_EMPTY_PATH | ((m->attrs & OCI_MOUNT_RIDMAP) ? AT_RECURSIVE : 0);
    if (mount_setattr(tree, "", flags, &attr, sizeof(attr)) < 0) {
        int e = errno;
        close(tree);
        return berth_error_sys(err, e, "mount '%s': idmap '%s'%s", m->destination, m->source,
                               e == EINVAL ? " (its filesystem does not support idmapped mounts)"
                                           : "");
    }
    *ret_fd = tree;
    return 0;
}
