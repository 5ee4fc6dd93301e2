/* fs.c - cp, diff, export and commit on a container's files (see fs.h).
 *
 * Everything that reads a container walks it from a directory fd: the
 * object named by a path is found with chase_open (RESOLVE_IN_ROOT), and
 * below it every child is opened O_PATH|O_NOFOLLOW from its parent's fd, so
 * a symlink swapped in by the container mid-walk is read as a symlink and
 * never followed to the host (CVE-2018-15664). Regular files are then
 * reopened through their O_PATH fd (/proc/self/fd), which pins the inode
 * that was checked. Everything that writes into a directory goes through
 * layer_unpack (layer.h), which resolves each entry from the target dirfd.
 * The tar is written with libarchive's writer, dlopen()ed on first use as
 * the readers are; owner names are never looked up (CVE-2019-14271).
 */
#include "fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/dl.h"
#include "libberth/common/json-util.h"
#include "libberth/container/containers.h"
#include "libberth/container/lifecycle.h"
#include "libberth/image/archive.h"
#include "libberth/image/images.h"
#include "libberth/image/layer.h"
#include "libberth/runtime/container.h"

#define MAX_DEPTH 1024
#define COPY_BUF (256 * 1024)
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_NAME ".wh..wh..opq"

#define LAW_SYMBOLS(X)                                                                             \
    X(archive_write_new)                                                                           \
    X(archive_write_set_format_pax_restricted)                                                     \
    X(archive_write_add_filter_gzip)                                                               \
    X(archive_write_set_bytes_in_last_block)                                                       \
    X(archive_write_open_fd)                                                                       \
    X(archive_write_header)                                                                        \
    X(archive_write_data)                                                                          \
    X(archive_write_close)                                                                         \
    X(archive_write_free)                                                                          \
    X(archive_error_string)                                                                        \
    X(archive_errno)                                                                               \
    X(archive_entry_new)                                                                           \
    X(archive_entry_clear)                                                                         \
    X(archive_entry_free)                                                                          \
    X(archive_entry_set_pathname)                                                                  \
    X(archive_entry_set_size)                                                                      \
    X(archive_entry_set_mode)                                                                      \
    X(archive_entry_set_uid)                                                                       \
    X(archive_entry_set_gid)                                                                       \
    X(archive_entry_set_mtime)                                                                     \
    X(archive_entry_set_symlink)                                                                   \
    X(archive_entry_set_hardlink)                                                                  \
    X(archive_entry_set_rdevmajor)                                                                 \
    X(archive_entry_set_rdevminor)                                                                 \
    X(archive_entry_xattr_add_entry)

DEFINE_DL_LIB(law, LAW_SYMBOLS, "libarchive.so.13", "libarchive13")

/* ---- the tar writer ------------------------------------------------------ */

struct hardlink {
    dev_t dev;
    ino_t ino;
    char *name;
};

struct tar_out {
    struct archive *a;
    struct archive_entry *e;
    bool set_owner; /* cp without -a: every entry owned by uid:gid */
    uid_t uid;
    gid_t gid;
    bool layer; /* commit: overlay whiteouts and opaque dirs as OCI entries */
    bool skip_berth_files;
    struct hardlink *links;
    size_t n_links, cap_links;
};

static int tar_error(struct tar_out *t, struct berth_error **err, const char *what)
{
    int e = law.archive_errno(t->a);
    const char *msg = law.archive_error_string(t->a);
    return berth_error_set(err, e > 0 ? e : EIO, "%s: %s", what, msg ? msg : "archive error");
}

static int tar_open(struct tar_out *t, int fd, bool gzip, struct berth_error **err)
{
    int r = law_load(err);
    if (r < 0) {
        return r;
    }
    t->a = law.archive_write_new();
    t->e = law.archive_entry_new();
    if (!t->a || !t->e) {
        abort(); /* out of memory, as xmalloc */
    }
    if (law.archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
        (gzip && law.archive_write_add_filter_gzip(t->a) < ARCHIVE_WARN) ||
        law.archive_write_set_bytes_in_last_block(t->a, 1) != ARCHIVE_OK ||
        law.archive_write_open_fd(t->a, fd) != ARCHIVE_OK) {
        return tar_error(t, err, "tar");
    }
    return 0;
}

static int tar_close(struct tar_out *t, struct berth_error **err)
{
    int r = 0;
    if (t->a && law.archive_write_close(t->a) != ARCHIVE_OK) {
        r = tar_error(t, err, "tar");
    }
    return r;
}

static void tar_release(struct tar_out *t)
{
    if (t->a) {
        law.archive_write_free(t->a);
    }
    if (t->e) {
        law.archive_entry_free(t->e);
    }
    for (size_t i = 0; i < t->n_links; i++) {
        free(t->links[i].name);
    }
    free(t->links);
    *t = (struct tar_out){0};
}

static void entry_basics(struct tar_out *t, const char *name, const struct stat *st)
{
    struct archive_entry *e = t->e;
    law.archive_entry_clear(e);
    law.archive_entry_set_pathname(e, name);
    law.archive_entry_set_mode(e, st->st_mode);
    law.archive_entry_set_uid(e, t->set_owner ? t->uid : st->st_uid);
    law.archive_entry_set_gid(e, t->set_owner ? t->gid : st->st_gid);
    law.archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    law.archive_entry_set_size(e, 0);
}

/* An empty regular file: OCI whiteouts and opaque markers. */
static int tar_marker(struct tar_out *t, const char *name, const struct stat *st,
                      struct berth_error **err)
{
    struct stat m = *st;
    m.st_mode = S_IFREG | 0;
    entry_basics(t, name, &m);
    if (law.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
        return tar_error(t, err, name);
    }
    return 0;
}

/* Extended attributes worth keeping in a layer or copy: file capabilities
 * and user attributes; overlay's own (trusted.overlay.*) never. */
static void entry_xattrs(struct tar_out *t, int fd)
{
    char names[4096];
    ssize_t n = flistxattr(fd, names, sizeof(names));
    for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
        const char *k = names + off;
        if (strncmp(k, "user.", 5) != 0 && strcmp(k, "security.capability") != 0) {
            continue;
        }
        char val[4096];
        ssize_t vl = fgetxattr(fd, k, val, sizeof(val));
        if (vl >= 0) {
            law.archive_entry_xattr_add_entry(t->e, k, val, (size_t)vl);
        }
    }
}

static char *join_name(const char *dir, const char *name)
{
    return *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

/* Files berth itself bind-mounts into every container (and the empty
 * mount points made for them): not the container's changes. */
static bool is_berth_file(const char *name, const struct stat *st)
{
    static const char *const files[] = {"etc/hosts", "etc/hostname", "etc/resolv.conf", NULL};
    if (!S_ISREG(st->st_mode) || st->st_size != 0) {
        return false;
    }
    for (size_t i = 0; files[i]; i++) {
        if (streq(name, files[i])) {
            return true;
        }
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory (without . and ..), sorted. */
static int list_dir(int dfd, char ***ret, struct berth_error **err)
{
    int dup = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) {
        return berth_error_sys(err, errno, "open directory");
    }
    DIR *d = fdopendir(dup);
    if (!d) {
        int e = errno;
        close(dup);
        return berth_error_sys(err, e, "read directory");
    }
    char **names = xcalloc(1, sizeof(char *));
    size_t n = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        strv_push(&names, de->d_name);
        n++;
    }
    int e = errno;
    closedir(d);
    if (e) {
        strv_free(names);
        return berth_error_sys(err, e, "read directory");
    }
    qsort(names, n, sizeof(char *), cmp_str);
    *ret = names;
    return 0;
}

/* Reopen an O_PATH fd for reading: the inode it pins, not whatever the
 * path names now. */
static int reopen_read(int pathfd)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", pathfd);
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    return fd < 0 ? -errno : fd;
}

static int tar_entry(struct tar_out *t, int fd, const struct stat *st, const char *name,
                     unsigned depth, struct berth_error **err);

static int tar_children(struct tar_out *t, int dfd, const char *name, unsigned depth,
                        struct berth_error **err)
{
    _cleanup_strv_free_ char **names = NULL;
    int r = list_dir(dfd, &names, err);
    if (r < 0) {
        return berth_error_prefix(err, "'%s'", *name ? name : "/");
    }
    STRV_FOREACH(n, names)
    {
        _cleanup_free_ char *child = join_name(name, *n);
        _cleanup_close_ int cfd = openat(dfd, *n, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat cst;
        if (cfd < 0 || fstat(cfd, &cst) < 0) {
            if (errno == ENOENT) {
                continue; /* gone meanwhile (a running container) */
            }
            return berth_error_sys(err, errno, "'%s'", child);
        }
        r = tar_entry(t, cfd, &cst, child, depth + 1, err);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* Write the object fd (O_PATH, not followed) as name; name "" is the root
 * of the walk: only its contents are written. */
static int tar_entry(struct tar_out *t, int fd, const struct stat *st, const char *name,
                     unsigned depth, struct berth_error **err)
{
    if (depth > MAX_DEPTH) {
        return berth_error_set(err, ELOOP, "'%s': directories nested too deep", name);
    }
    if (S_ISSOCK(st->st_mode)) {
        return 0; /* tar cannot hold them; Docker skips them too */
    }
    if (t->skip_berth_files && is_berth_file(name, st)) {
        return 0;
    }
    if (t->layer && S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
        /* overlayfs whiteout -> OCI ".wh.<name>" */
        const char *slash = strrchr(name, '/');
        _cleanup_free_ char *wh =
            slash ? xasprintf("%.*s/" WHITEOUT_PREFIX "%s", (int)(slash - name), name, slash + 1)
                  : xasprintf(WHITEOUT_PREFIX "%s", name);
        return tar_marker(t, wh, st, err);
    }
    if (S_ISDIR(st->st_mode)) {
        _cleanup_close_ int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            return berth_error_sys(err, errno, "open '%s'", name);
        }
        if (*name) {
            entry_basics(t, name, st);
            entry_xattrs(t, dfd);
            if (law.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
                return tar_error(t, err, name);
            }
        }
        char v[2];
        if (t->layer && *name && fgetxattr(dfd, "trusted.overlay.opaque", v, sizeof(v)) == 1 &&
            v[0] == 'y') {
            _cleanup_free_ char *opq = join_name(name, OPAQUE_NAME);
            int r = tar_marker(t, opq, st, err);
            if (r < 0) {
                return r;
            }
        }
        return tar_children(t, dfd, name, depth, err);
    }
    if (!*name) {
        return berth_error_set(err, EINVAL, "nothing to write: an unnamed file");
    }
    entry_basics(t, name, st);
    if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
        for (size_t i = 0; i < t->n_links; i++) {
            if (t->links[i].dev == st->st_dev && t->links[i].ino == st->st_ino) {
                law.archive_entry_set_hardlink(t->e, t->links[i].name);
                if (law.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
                    return tar_error(t, err, name);
                }
                return 0;
            }
        }
        t->links = xgrow(t->links, sizeof(*t->links), t->n_links + 1, &t->cap_links);
        t->links[t->n_links++] =
            (struct hardlink){.dev = st->st_dev, .ino = st->st_ino, .name = xstrdup(name)};
    }
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
        if (n < 0) {
            return berth_error_sys(err, errno, "readlink '%s'", name);
        }
        target[n] = '\0';
        law.archive_entry_set_symlink(t->e, target);
        if (law.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
            return tar_error(t, err, name);
        }
        return 0;
    }
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode)) {
        law.archive_entry_set_rdevmajor(t->e, major(st->st_rdev));
        law.archive_entry_set_rdevminor(t->e, minor(st->st_rdev));
        if (law.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
            return tar_error(t, err, name);
        }
        return 0;
    }
    if (!S_ISREG(st->st_mode)) {
        return 0;
    }
    _cleanup_close_ int rfd = reopen_read(fd);
    if (rfd < 0) {
        return berth_error_sys(err, -rfd, "open '%s'", name);
    }
    law.archive_entry_set_size(t->e, st->st_size);
    entry_xattrs(t, rfd);
    if (law.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
        return tar_error(t, err, name);
    }
    /* Exactly st_size bytes: libarchive pads a file that shrank meanwhile
     * and a file that grew is cut, so the archive stays well-formed. */
    _cleanup_free_ char *buf = xmalloc(COPY_BUF);
    off_t left = st->st_size;
    while (left > 0) {
        ssize_t n = read(rfd, buf, left < COPY_BUF ? (size_t)left : COPY_BUF);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return berth_error_sys(err, errno, "read '%s'", name);
        }
        if (n == 0) {
            break;
        }
        if (law.archive_write_data(t->a, buf, (size_t)n) < 0) {
            return tar_error(t, err, name);
        }
        left -= n;
    }
    return 0;
}

/* ---- a container's root --------------------------------------------------- */

struct ctr {
    struct container_record *c;
    bool running; /* running or paused: its rootfs stays mounted */
    bool mounted; /* we mounted it: unmount when done */
    int rootfd;
    int lock; /* container_lock: no start while we use (and unmount) its rootfs */
};

static void ctr_release(struct store *s, struct ctr *x)
{
    x->rootfd = safe_close(x->rootfd);
    if (x->mounted) {
        (void)container_rootfs_unmount(s, x->c->id, NULL);
    }
    safe_close(x->lock);
    container_record_free(x->c);
    *x = (struct ctr){.rootfd = -1, .lock = -1};
}

static int ctr_open(struct store *s, const char *name_or_id, bool rootfs, struct ctr *x,
                    struct berth_error **err)
{
    *x = (struct ctr){.rootfd = -1, .lock = -1};
    _cleanup_free_ char *id = NULL;
    int r = container_resolve(s, name_or_id, &id, err);
    if (r >= 0) {
        r = container_record_get(s, id, &x->c, err);
    }
    if (r < 0) {
        return r;
    }
    if (rootfs) {
        x->lock = container_lock(s, id, err);
        if (x->lock < 0) {
            r = x->lock;
            ctr_release(s, x);
            return r;
        }
    }
    struct container_state_file st = {0};
    if (container_status(s, id, &st, NULL) >= 0) {
        x->running = st.status && (streq(st.status, "running") || streq(st.status, "paused") ||
                                   streq(st.status, "restarting"));
    }
    container_state_file_release(&st);
    if (!rootfs) {
        return 0;
    }
    _cleanup_free_ char *path = NULL;
    r = container_rootfs_mount(s, x->c, &path, err);
    if (r < 0) {
        ctr_release(s, x);
        return r;
    }
    x->mounted = !x->running;
    /* The one host path ever used: the rootfs itself, which berth made. */
    x->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (x->rootfd < 0) {
        r = berth_error_sys(err, errno, "open '%s'", path);
        ctr_release(s, x);
        return r;
    }
    return 0;
}

/* An unlinked temp file under the store's root (same disk as the blobs;
 * a copy or layer can be large, so never in memory). */
static int tmp_file(struct store *s, struct berth_error **err)
{
    int fd = open(s->root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        return berth_error_sys(err, errno, "temporary file in '%s'", s->root);
    }
    return fd;
}

/* ---- cp ------------------------------------------------------------------- */

/* A cp path as Docker splits it. */
struct cp_path {
    char *path;     /* trailing "/." and slashes removed; "/" stays */
    char *dir;      /* parent: "/", "." or a path */
    char *base;     /* last component; "" for "/" */
    bool contents;  /* ended in "/." (copy a directory's contents) */
    bool dir_slash; /* ended in "/" (must be a directory) */
};

static void cp_path_release(struct cp_path *p)
{
    free(p->path);
    free(p->dir);
    free(p->base);
}

static void cp_path_split(const char *in, struct cp_path *ret)
{
    *ret = (struct cp_path){0};
    char *p = xstrdup(*in ? in : ".");
    size_t n = strlen(p);
    for (;;) {
        if (n > 1 && p[n - 1] == '/') {
            ret->dir_slash = true;
            p[--n] = '\0';
        } else if ((n >= 2 && p[n - 1] == '.' && p[n - 2] == '/') || streq(p, ".")) {
            ret->contents = true;
            p[--n] = '\0';
            if (n == 0) {
                p[n++] = '.';
                p[n] = '\0';
                break;
            }
        } else {
            break;
        }
    }
    char *slash = strrchr(p, '/');
    if (streq(p, "/")) {
        ret->dir = xstrdup("/");
        ret->base = xstrdup("");
        ret->contents = true;
    } else if (streq(p, ".")) {
        ret->dir = xstrdup(".");
        ret->base = xstrdup("");
        ret->contents = true;
    } else if (!slash) {
        ret->dir = xstrdup(".");
        ret->base = xstrdup(p);
    } else {
        ret->dir = slash == p ? xstrdup("/") : xstrndup(p, (size_t)(slash - p));
        ret->base = xstrdup(slash + 1);
    }
    ret->path = p;
}

/* One side of a copy: a container (rootfd) or the host (-1). Host paths
 * are the user's own and resolve as usual; container paths only through
 * chase. */
static int side_open(int rootfd, const char *path, int flags, bool nofollow)
{
    if (rootfd < 0) {
        int fd = open(path, flags | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
        return fd < 0 ? -errno : fd;
    }
    return chase_open(rootfd, path, flags, nofollow ? CHASE_NOFOLLOW : 0);
}

static int not_found(const struct ctr *x, const char *path, const char *name_or_id, int e,
                     struct berth_error **err)
{
    if (x && e == ENOENT) {
        return berth_error_set(err, ENOENT, "Could not find the file %s in container %s", path,
                               name_or_id);
    }
    return berth_error_sys(err, e, "'%s'", path);
}

/* The copy itself: src (on side srcroot) as a tar into a temp file, then
 * unpacked into the directory Docker's rules choose on side dstroot. */
static int cp_copy(struct store *s, int srcroot, const char *src, int dstroot, const char *dest,
                   const struct ctr *src_ctr, const struct ctr *dst_ctr, const char *ctr_name,
                   unsigned flags, struct berth_error **err)
{
    struct cp_path sp, dp;
    cp_path_split(src, &sp);
    cp_path_split(dest, &dp);
    _cleanup_close_ int sfd = -1, dfd = -1, target = -1, tmp = -1;
    const char *prefix = NULL;
    struct stat sst, dst;
    struct tar_out t = {0};
    int r = 0;

    bool follow = (flags & CONTAINER_CP_FOLLOW) || sp.dir_slash || !*sp.base;
    sfd = side_open(srcroot, sp.path, O_PATH, !follow);
    if (sfd < 0 || fstat(sfd, &sst) < 0) {
        r = not_found(src_ctr, src, ctr_name, sfd < 0 ? -sfd : errno, err);
        goto out;
    }
    bool src_dir = S_ISDIR(sst.st_mode);
    if (sp.contents && !src_dir) {
        r = berth_error_set(err, ENOTDIR, "'%s': not a directory", src);
        goto out;
    }
    dfd = side_open(dstroot, dp.path, O_PATH, false);
    if (dfd >= 0 && fstat(dfd, &dst) == 0 && S_ISDIR(dst.st_mode)) {
        target = side_open(dstroot, dp.path, O_RDONLY | O_DIRECTORY, false);
        prefix = src_dir && sp.contents ? "" : sp.base;
    } else if (dfd >= 0) {
        if (src_dir) {
            r = berth_error_set(err, ENOTDIR,
                                "cannot overwrite non-directory \"%s\" with directory", dest);
            goto out;
        }
        if (dp.dir_slash) {
            r = berth_error_set(err, ENOTDIR, "\"%s\": not a directory", dest);
            goto out;
        }
        target = side_open(dstroot, dp.dir, O_RDONLY | O_DIRECTORY, false);
        prefix = dp.base;
    } else if (dfd == -ENOENT) {
        if (dp.dir_slash && !src_dir) {
            r = berth_error_set(err, ENOENT, "no such directory: \"%s\"", dest);
            goto out;
        }
        target = side_open(dstroot, dp.dir, O_RDONLY | O_DIRECTORY, false);
        prefix = dp.base;
    } else {
        r = not_found(dst_ctr, dest, ctr_name, -dfd, err);
        goto out;
    }
    if (target < 0) {
        r = not_found(dst_ctr, dp.dir, ctr_name, -target, err);
        goto out;
    }
    if (!*prefix && !src_dir) {
        r = berth_error_set(err, EINVAL, "'%s': no name to copy to", dest);
        goto out;
    }
    tmp = tmp_file(s, err);
    if (tmp < 0) {
        r = tmp;
        goto out;
    }
    if (!(flags & CONTAINER_CP_ARCHIVE)) {
        /* Docker: owned by root in a container, by the caller on the host. */
        t.set_owner = true;
        t.uid = dstroot >= 0 ? 0 : getuid();
        t.gid = dstroot >= 0 ? 0 : getgid();
    }
    r = tar_open(&t, tmp, false, err);
    if (r >= 0) {
        r = tar_entry(&t, sfd, &sst, prefix, 0, err);
    }
    if (r >= 0) {
        r = tar_close(&t, err);
    }
    if (r >= 0 && lseek(tmp, 0, SEEK_SET) < 0) {
        r = berth_error_sys(err, errno, "rewind");
    }
    if (r >= 0) {
        r = layer_unpack(tmp, target, LAYER_APPLY, NULL, NULL, err);
    }
out:
    tar_release(&t);
    cp_path_release(&sp);
    cp_path_release(&dp);
    return r;
}

int container_cp_from(struct store *s, const char *name_or_id, const char *src,
                      const char *host_dest, int fd, unsigned flags, struct berth_error **err)
{
    struct ctr x;
    int r = ctr_open(s, name_or_id, true, &x, err);
    if (r < 0) {
        return r;
    }
    if (host_dest) {
        r = cp_copy(s, x.rootfd, src, -1, host_dest, &x, NULL, name_or_id, flags, err);
        ctr_release(s, &x);
        return r;
    }
    /* A tar of SRC on fd, named by its base name (Docker's). */
    struct cp_path sp;
    cp_path_split(src, &sp);
    struct tar_out t = {0};
    bool follow = (flags & CONTAINER_CP_FOLLOW) || sp.dir_slash || !*sp.base;
    _cleanup_close_ int sfd = chase_open(x.rootfd, sp.path, O_PATH, follow ? 0 : CHASE_NOFOLLOW);
    struct stat st;
    if (sfd < 0 || fstat(sfd, &st) < 0) {
        r = not_found(&x, src, name_or_id, sfd < 0 ? -sfd : errno, err);
    } else if (sp.contents && !S_ISDIR(st.st_mode)) {
        r = berth_error_set(err, ENOTDIR, "'%s': not a directory", src);
    } else {
        r = tar_open(&t, fd, false, err);
        if (r >= 0) {
            r = tar_entry(&t, sfd, &st, sp.contents ? "" : sp.base, 0, err);
        }
        if (r >= 0) {
            r = tar_close(&t, err);
        }
    }
    tar_release(&t);
    cp_path_release(&sp);
    ctr_release(s, &x);
    return r;
}

int container_cp_to(struct store *s, const char *host_src, int fd, const char *name_or_id,
                    const char *dest, unsigned flags, struct berth_error **err)
{
    struct ctr x;
    int r = ctr_open(s, name_or_id, true, &x, err);
    if (r < 0) {
        return r;
    }
    if (host_src) {
        r = cp_copy(s, -1, host_src, x.rootfd, dest, NULL, &x, name_or_id, flags, err);
        ctr_release(s, &x);
        return r;
    }
    /* A tar from fd: DEST must be a directory (Docker's rule for "-"). */
    _cleanup_close_ int target = chase_open(x.rootfd, dest, O_RDONLY | O_DIRECTORY, 0);
    if (target == -ENOTDIR) {
        r = berth_error_set(err, ENOTDIR, "destination \"%s\" must be a directory", dest);
    } else if (target < 0) {
        r = not_found(&x, dest, name_or_id, -target, err);
    } else {
        r = layer_unpack(fd, target, LAYER_APPLY, NULL, NULL, err);
    }
    ctr_release(s, &x);
    return r;
}

/* ---- diff ----------------------------------------------------------------- */

struct diff {
    int *lowers; /* layer diff dirfds, top first */
    size_t n_lowers;
    struct container_change *c;
    size_t n, cap;
};

static void diff_add(struct diff *d, char kind, const char *rel)
{
    d->c = xgrow(d->c, sizeof(*d->c), d->n + 1, &d->cap);
    d->c[d->n++] = (struct container_change){.kind = kind, .path = xasprintf("/%s", rel)};
}

/* Does a lower layer have rel? The topmost layer that names it decides; a
 * whiteout there means no. */
static bool in_lower(struct diff *d, const char *rel)
{
    for (size_t i = 0; i < d->n_lowers; i++) {
        _cleanup_close_ int fd = chase_open(d->lowers[i], rel, O_PATH, CHASE_NOFOLLOW);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            continue;
        }
        return !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
    }
    return false;
}

/* Walk the upper dir below dfd; returns how many changes it recorded, so
 * a directory copied up only for a hidden child stays unlisted. */
static int diff_walk(struct diff *d, int dfd, const char *rel, bool opaque, unsigned depth,
                     struct berth_error **err)
{
    if (depth > MAX_DEPTH) {
        return berth_error_set(err, ELOOP, "'%s': directories nested too deep", rel);
    }
    _cleanup_strv_free_ char **names = NULL;
    int r = list_dir(dfd, &names, err);
    if (r < 0) {
        return r;
    }
    int count = 0;
    STRV_FOREACH(n, names)
    {
        _cleanup_free_ char *child = join_name(rel, *n);
        struct stat st;
        if (fstatat(dfd, *n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
            diff_add(d, 'D', child);
            count++;
            continue;
        }
        if (is_berth_file(child, &st)) {
            continue;
        }
        bool lower = !opaque && in_lower(d, child);
        if (!S_ISDIR(st.st_mode)) {
            diff_add(d, lower ? 'C' : 'A', child);
            count++;
            continue;
        }
        _cleanup_close_ int cfd = openat(dfd, *n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd < 0) {
            return berth_error_sys(err, errno, "open '%s'", child);
        }
        char v[2];
        bool child_opaque =
            opaque || (fgetxattr(cfd, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y');
        size_t at = d->n;
        diff_add(d, lower ? 'C' : 'A', child);
        r = diff_walk(d, cfd, child, child_opaque, depth + 1, err);
        if (r < 0) {
            return r;
        }
        if (lower && r == 0 && !child_opaque) {
            /* only copied up (a mount point's parent): no change of its own */
            free(d->c[at].path);
            memmove(&d->c[at], &d->c[at + 1], (d->n - at - 1) * sizeof(*d->c));
            d->n--;
            continue;
        }
        count += 1 + r;
    }
    return count;
}

void container_changes_free(struct container_change *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].path);
    }
    free(c);
}

static int cmp_change(const void *a, const void *b)
{
    return strcmp(((const struct container_change *)a)->path,
                  ((const struct container_change *)b)->path);
}

static int upper_open(struct store *s, const char *id, struct berth_error **err)
{
    if (!streq(s->driver, "overlay")) {
        return berth_error_set(err, ENOTSUP, "not supported with the '%s' storage driver",
                               s->driver);
    }
    _cleanup_free_ char *p = xasprintf("%s/containers/%s/upper", s->root, id);
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", p);
    }
    return fd;
}

int container_diff(struct store *s, const char *name_or_id, struct container_change **ret,
                   size_t *ret_n, struct berth_error **err)
{
    struct ctr x;
    int r = ctr_open(s, name_or_id, false, &x, err);
    if (r < 0) {
        return r;
    }
    struct diff d = {0};
    _cleanup_(image_info_freep) struct image_info *img = NULL;
    _cleanup_close_ int ufd = upper_open(s, x.c->id, err);
    if (ufd < 0) {
        r = ufd;
        goto out;
    }
    r = image_get(s, x.c->image_id, &img, err);
    if (r < 0) {
        goto out;
    }
    d.lowers = xcalloc(img->n_layers + 1, sizeof(int));
    for (size_t i = img->n_layers; i-- > 0;) {
        _cleanup_free_ char *p = layer_store_diff_path(s->layers, img->layers[i].chain_id);
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            r = berth_error_sys(err, errno, "open '%s'", p);
            goto out;
        }
        d.lowers[d.n_lowers++] = fd;
    }
    r = diff_walk(&d, ufd, "", false, 0, err);
    if (r >= 0) {
        qsort(d.c, d.n, sizeof(*d.c), cmp_change);
        *ret = TAKE_PTR(d.c);
        *ret_n = d.n;
        d.n = 0;
        r = 0;
    }
out:
    for (size_t i = 0; i < d.n_lowers; i++) {
        safe_close(d.lowers[i]);
    }
    free(d.lowers);
    container_changes_free(d.c, d.n);
    ctr_release(s, &x);
    return r < 0 ? berth_error_prefix(err, "diff '%s'", name_or_id) : 0;
}

/* ---- export ------------------------------------------------------------- */

int container_export(struct store *s, const char *name_or_id, int fd, struct berth_error **err)
{
    struct ctr x;
    int r = ctr_open(s, name_or_id, true, &x, err);
    if (r < 0) {
        return r;
    }
    struct tar_out t = {0};
    struct stat st;
    r = tar_open(&t, fd, false, err);
    if (r >= 0 && fstat(x.rootfd, &st) < 0) {
        r = berth_error_sys(err, errno, "rootfs");
    }
    if (r >= 0) {
        r = tar_entry(&t, x.rootfd, &st, "", 0, err);
    }
    if (r >= 0) {
        r = tar_close(&t, err);
    }
    tar_release(&t);
    ctr_release(s, &x);
    return r < 0 ? berth_error_prefix(err, "export '%s'", name_or_id) : 0;
}

/* ---- commit --------------------------------------------------------------- */

/* The parts of the container's merged Config that an image config holds. */
static json_t *commit_config(json_t *merged)
{
    static const char *const keys[] = {
        "Hostname",     "Domainname", "User",      "AttachStdin", "AttachStdout", "AttachStderr",
        "ExposedPorts", "Tty",        "OpenStdin", "StdinOnce",   "Env",          "Cmd",
        "Healthcheck",  "Image",      "Volumes",   "WorkingDir",  "Entrypoint",   "OnBuild",
        "Labels",       "StopSignal", NULL};
    json_t *c = json_object();
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(merged, keys[i]);
        if (v && !json_is_null(v)) {
            json_object_set(c, keys[i], v);
        }
    }
    return c;
}

static char *created_by(json_t *merged)
{
    struct strbuf sb = STRBUF_INIT;
    const char *keys[] = {"Entrypoint", "Cmd"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(merged, keys[k]), i, v)
        {
            if (sb.len) {
                strbuf_addc(&sb, ' ');
            }
            strbuf_adds(&sb, json_string_value(v) ? json_string_value(v) : "");
        }
    }
    return strbuf_detach(&sb, NULL);
}

int container_commit(struct store *s, const char *name_or_id,
                     const struct container_commit_options *o, char **ret_id,
                     struct berth_error **err)
{
    struct ctr x;
    int r = ctr_open(s, name_or_id, false, &x, err);
    if (r < 0) {
        return r;
    }
    struct berth_runtime rt = container_runtime(s);
    _cleanup_json_ json_t *inspect = NULL;
    _cleanup_json_ json_t *config = NULL;
    _cleanup_free_ char *by = NULL;
    _cleanup_close_ int ufd = -1, tmp = -1;
    struct tar_out t = {0};
    bool paused = false;

    r = container_inspect_json(s, x.c->id, &inspect, err);
    if (r < 0) {
        goto out;
    }
    json_t *merged = json_object_get(inspect, "Config");
    config = commit_config(merged);
    by = created_by(merged);
    ufd = upper_open(s, x.c->id, err);
    if (ufd < 0) {
        r = ufd;
        goto out;
    }
    const char *status =
        json_string_value(json_object_get(json_object_get(inspect, "State"), "Status"));
    if (o->pause && status && streq(status, "running")) {
        /* A consistent layer: nothing writes while the upper dir is read. */
        r = berth_runtime_pause(&rt, x.c->id, err);
        if (r < 0) {
            goto out;
        }
        paused = true;
    }
    tmp = tmp_file(s, err);
    if (tmp < 0) {
        r = tmp;
        goto out;
    }
    t.layer = true;
    t.skip_berth_files = true;
    struct stat st;
    r = tar_open(&t, tmp, true, err);
    if (r >= 0 && fstat(ufd, &st) < 0) {
        r = berth_error_sys(err, errno, "upper dir");
    }
    if (r >= 0) {
        r = tar_entry(&t, ufd, &st, "", 0, err);
    }
    if (r >= 0) {
        r = tar_close(&t, err);
    }
    if (paused) {
        struct berth_error *e2 = NULL;
        if (berth_runtime_resume(&rt, x.c->id, &e2) < 0) {
            log_debug("commit: resume '%.12s': %s", x.c->id, e2 ? e2->msg : "");
            berth_error_free(e2);
        }
        paused = false;
    }
    if (r >= 0 && lseek(tmp, 0, SEEK_SET) < 0) {
        r = berth_error_sys(err, errno, "rewind");
    }
    if (r >= 0) {
        struct image_import_options io = {
            .changes = o->changes,
            .message = o->message,
            .repository = o->repository,
            .parent = x.c->image_id,
            .config = config,
            .author = o->author,
            .created_by = by,
        };
        r = image_import(s, tmp, &io, ret_id, err);
    }
out:
    if (paused) {
        (void)berth_runtime_resume(&rt, x.c->id, NULL);
    }
    tar_release(&t);
    ctr_release(s, &x);
    return r < 0 ? berth_error_prefix(err, "commit '%s'", name_or_id) : 0;
}
