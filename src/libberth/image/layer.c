/* layer.c - unpack an image layer tar into a directory, through dirfds.
 *
 * libarchive only parses; every write is ours and goes through a parent
 * dirfd found with chase_parent() (RESOLVE_IN_ROOT), then a *at() call on a
 * single, validated name component with no symlink following. libarchive
 * is dlopen()ed on first use: linked, it would pull a dozen libraries into
 * every start of berth, the container runtime's hot path included.
 */
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "libberth/common/dl.h"
#include "basic/chase.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"

#define LIBARCHIVE_SONAME "libarchive.so.13"
#define DEFAULT_MAX_BYTES (64ULL << 30)
#define DEFAULT_MAX_ENTRIES 10000000ULL
#define MAX_XATTR_VALUE (64 * 1024)
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

/* The libarchive functions we use, resolved once by la_load(). */
#define LA_SYMBOLS(X)                                                                              \
    X(archive_read_new)                                                                            \
    X(archive_read_support_filter_gzip)                                                            \
    X(archive_read_support_filter_zstd)                                                            \
    X(archive_read_support_format_tar)                                                             \
    X(archive_read_support_format_empty)                                                           \
    X(archive_read_open_fd)                                                                        \
    X(archive_read_next_header)                                                                    \
    X(archive_read_data_block)                                                                     \
    X(archive_read_free)                                                                           \
    X(archive_error_string)                                                                        \
    X(archive_errno)                                                                               \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_mode)                                                                          \
    X(archive_entry_uid)                                                                           \
    X(archive_entry_gid)                                                                           \
    X(archive_entry_mtime)                                                                         \
    X(archive_entry_mtime_nsec)                                                                    \
    X(archive_entry_mtime_is_set)                                                                  \
    X(archive_entry_atime)                                                                         \
    X(archive_entry_atime_nsec)                                                                    \
    X(archive_entry_atime_is_set)                                                                  \
    X(archive_entry_size)                                                                          \
    X(archive_entry_size_is_set)                                                                   \
    X(archive_entry_symlink)                                                                       \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_rdevmajor)                                                                     \
    X(archive_entry_rdevminor)                                                                     \
    X(archive_entry_xattr_reset)                                                                   \
    X(archive_entry_xattr_next)                                                                    \
    X(archive_entry_sparse_count)

DEFINE_DL_LIB(la, LA_SYMBOLS, LIBARCHIVE_SONAME, "libarchive13")

static int la_error(struct archive *a, struct berth_error **err, const char *what)
{
    int e = la.archive_errno(a);
    const char *msg = la.archive_error_string(a);
    return berth_error_set(err, e > 0 ? e : EIO, "%s: %s", what, msg ? msg : "archive error");
}

/* A set of layer-relative paths: in apply mode, what this layer itself has
 * put in the tree, so whiteouts and opaque markers only ever hide lower
 * layers' files (image-spec layer.md: "whiteout files MUST only apply to
 * resources in lower/parent layers"). */
struct path_set {
    char **slots;
    size_t n, cap;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static bool path_set_contains(const struct path_set *s, const char *p)
{
    if (s->cap == 0) {
        return false;
    }
    for (size_t i = hash_str(p) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slots[i]) {
            return false;
        }
        if (streq(s->slots[i], p)) {
            return true;
        }
    }
}

static void path_set_insert(char **slots, size_t cap, char *p)
{
    size_t i = hash_str(p) & (cap - 1);
    while (slots[i]) {
        i = (i + 1) & (cap - 1);
    }
    slots[i] = p;
}

static void path_set_add(struct path_set *s, const char *p)
{
    if (path_set_contains(s, p)) {
        return;
    }
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        char **nslots = xcalloc(ncap, sizeof(char *));
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i]) {
                path_set_insert(nslots, ncap, s->slots[i]);
            }
        }
        free(s->slots);
        s->slots = nslots;
        s->cap = ncap;
    }
    path_set_insert(s->slots, s->cap, xstrdup(p));
    s->n++;
}

/* Add path and every directory above it: a layer writing "a/b/c" owns "a"
 * and "a/b" too, so an opaque marker on "a" must not remove them. */
static void path_set_add_with_parents(struct path_set *s, const char *path)
{
    _cleanup_free_ char *p = xstrdup(path);
    for (char *c = p; *c; c++) {
        if (*c == '/') {
            *c = '\0';
            path_set_add(s, p);
            *c = '/';
        }
    }
    if (*p) {
        path_set_add(s, p);
    }
}

static void path_set_release(struct path_set *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->slots[i]);
    }
    free(s->slots);
    *s = (struct path_set){0};
}

/* Directory metadata applied after the whole layer is written: a mode
 * without u+w (or a mtime) set early would be undone or block later
 * entries. */
struct dir_fixup {
    char *path;
    mode_t mode;
    bool has_times;
    struct timespec times[2];
};

struct unpack {
    int rootfd;
    enum layer_mode mode;
    uint64_t max_bytes, max_entries;
    struct layer_stats stats;
    struct path_set own; /* apply mode only */
    struct dir_fixup *dirs;
    size_t n_dirs, alloc_dirs;
};

/* Turn a tar name into a clean relative path: leading "/" and "./" go,
 * "." components and repeated slashes collapse, ".." is refused outright
 * (CVE-2014-6407 class: a name must never lead out of the root, and no
 * legitimate layer needs it). "" means the root itself. */
static int normalize_name(const char *raw, char **ret, struct berth_error **err)
{
    _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
    const char *p = raw;
    for (;;) {
        while (*p == '/') {
            p++;
        }
        size_t len = strcspn(p, "/");
        if (len == 0) {
            break;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            return berth_error_set(err, EINVAL, "entry '%s': '..' not allowed in layer names", raw);
        }
        if (!(len == 1 && p[0] == '.')) {
            if (sb.len) {
                strbuf_addc(&sb, '/');
            }
            strbuf_add(&sb, p, len);
        }
        p += len;
    }
    *ret = strbuf_detach(&sb, NULL);
    return 0;
}

/* Make room for a new entry called name in pfd, as tar replaces entries:
 * anything there goes, except that a directory over a directory is kept
 * (returns 1 then) so a layer updates a lower directory in place. */
static int prepare_slot(int pfd, const char *name, bool want_dir, struct berth_error **err)
{
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        return berth_error_sys(err, errno, "stat '%s'", name);
    }
    if (want_dir && S_ISDIR(st.st_mode)) {
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        return rm_rf_at(pfd, name, err);
    }
    if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT) {
        return berth_error_sys(err, errno, "unlink '%s'", name);
    }
    return 0;
}

/* Ownership: numeric ids only, never a name lookup inside the root
 * (CVE-2019-14271). Without the privilege to give files away (rootless, or
 * ids unmapped in a user namespace) the files stay ours, as with rootless
 * Docker; EPERM/EINVAL are therefore not fatal. */
static int apply_owner(int dfd, const char *name, int flags, uid_t uid, gid_t gid,
                       struct berth_error **err)
{
    if (fchownat(dfd, name, uid, gid, flags) < 0) {
        if (errno == EPERM || errno == EINVAL) {
            log_debug("layer: cannot chown '%s' to %u:%u, kept as is", *name ? name : ".",
                      (unsigned)uid, (unsigned)gid);
            return 0;
        }
        return berth_error_sys(err, errno, "chown '%s'", name);
    }
    return 0;
}

/* Extended attributes, capped in size. trusted.overlay.* and user.overlay.*
 * are overlayfs's own control attributes (opaque, redirect, metacopy): a
 * layer setting them could make overlayfs follow a redirect elsewhere in the
 * lower stack, so only our whiteout handling creates them. Attributes the
 * filesystem or our privileges do not allow are skipped, as containerd does
 * (losing security.capability only ever lowers privilege). */
static int apply_xattrs(struct archive_entry *e, int fd, int dfd, const char *name,
                        const char *path, struct berth_error **err)
{
    const char *xname;
    const void *value;
    size_t size;
    char proc[64] = "";
    if (fd < 0) {
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dfd);
    }
    la.archive_entry_xattr_reset(e);
    while (la.archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
        if (!xname || !*xname || strlen(xname) > XATTR_NAME_MAX) {
            return berth_error_set(err, EINVAL, "entry '%s': invalid xattr name", path);
        }
        if (size > MAX_XATTR_VALUE) {
            return berth_error_set(err, E2BIG, "entry '%s': xattr '%s' larger than %d bytes", path,
                                   xname, MAX_XATTR_VALUE);
        }
        if (strneq(xname, "trusted.overlay.", 16) || strneq(xname, "user.overlay.", 13)) {
            log_debug("layer: '%s': ignoring overlayfs xattr '%s'", path, xname);
            continue;
        }
        int r;
        if (fd >= 0) {
            r = fsetxattr(fd, xname, value, size, 0);
        } else {
            /* The parent is a verified dirfd; the name is one component and
             * lsetxattr does not follow it. */
            _cleanup_free_ char *p = xasprintf("%s/%s", proc, name);
            r = lsetxattr(p, xname, value, size, 0);
        }
        if (r < 0) {
            if (errno == EPERM || errno == ENOTSUP || errno == EACCES) {
                log_debug("layer: '%s': xattr '%s' not set: %m", path, xname);
                continue;
            }
            return berth_error_sys(err, errno, "entry '%s': set xattr '%s'", path, xname);
        }
    }
    return 0;
}

static bool entry_times(struct archive_entry *e, struct timespec ts[2])
{
    if (!la.archive_entry_mtime_is_set(e)) {
        return false;
    }
    ts[1].tv_sec = la.archive_entry_mtime(e);
    ts[1].tv_nsec = la.archive_entry_mtime_nsec(e);
    if (la.archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = la.archive_entry_atime(e);
        ts[0].tv_nsec = la.archive_entry_atime_nsec(e);
    } else {
        ts[0] = ts[1];
    }
    if (ts[0].tv_nsec < 0 || ts[0].tv_nsec >= 1000000000L || ts[1].tv_nsec < 0 ||
        ts[1].tv_nsec >= 1000000000L) {
        ts[0].tv_nsec = ts[1].tv_nsec = 0;
    }
    return true;
}

static int entry_ids(struct archive_entry *e, const char *path, uid_t *uid, gid_t *gid,
                     struct berth_error **err)
{
    la_int64_t u = la.archive_entry_uid(e), g = la.archive_entry_gid(e);
    /* (uid_t)-1 would mean "leave unchanged" to chown. */
    if (u < 0 || g < 0 || u >= UINT32_MAX || g >= UINT32_MAX) {
        return berth_error_set(err, EINVAL, "entry '%s': invalid owner %lld:%lld", path,
                               (long long)u, (long long)g);
    }
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

/* Metadata for a non-directory, non-regular entry (symlink, device, fifo)
 * that we have no fd for: everything by name below its parent dirfd, with
 * AT_SYMLINK_NOFOLLOW so no chown or chmod goes through a symlink
 * (CVE-2021-32760). Order matters: chown clears setuid bits, so mode comes
 * after it. */
static int apply_meta_at(struct archive_entry *e, int pfd, const char *name, const char *path,
                         bool is_symlink, struct berth_error **err)
{
    uid_t uid = 0;
    gid_t gid = 0;
    int r = entry_ids(e, path, &uid, &gid, err);
    if (r < 0) {
        return r;
    }
    r = apply_owner(pfd, name, AT_SYMLINK_NOFOLLOW, uid, gid, err);
    if (r < 0) {
        return r;
    }
    if (!is_symlink &&
        fchmodat(pfd, name, la.archive_entry_mode(e) & 07777, AT_SYMLINK_NOFOLLOW) < 0) {
        return berth_error_sys(err, errno, "chmod '%s'", path);
    }
    r = apply_xattrs(e, -1, pfd, name, path, err);
    if (r < 0) {
        return r;
    }
    struct timespec ts[2];
    if (entry_times(e, ts) && utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0) {
        return berth_error_sys(err, errno, "set times of '%s'", path);
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

static int bomb_error(struct unpack *u, const char *path, struct berth_error **err)
{
    return berth_error_set(err, EFBIG, "entry '%s': layer exceeds %llu uncompressed bytes", path,
                           (unsigned long long)u->max_bytes);
}

static int unpack_file(struct unpack *u, struct archive *a, struct archive_entry *e, int pfd,
                       const char *name, const char *path, struct berth_error **err)
{
    uint64_t remaining = u->max_bytes - u->stats.bytes;
    la_int64_t size = la.archive_entry_size_is_set(e) ? la.archive_entry_size(e) : 0;
    if (size < 0) {
        return berth_error_set(err, EINVAL, "entry '%s': negative size", path);
    }
    /* Refuse early what cannot fit; a sparse file's size is only its
     * length, so only the data actually read counts for it. */
    if (la.archive_entry_sparse_count(e) == 0 && (uint64_t)size > remaining) {
        return bomb_error(u, path, err);
    }
    /* Most entries are new names: create first and make room only when
     * something is there (one stat less per file, ~10k in a Debian tree). */
    const int create_flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int r;
    _cleanup_close_ int fd = openat(pfd, name, create_flags, 0600);
    if (fd < 0 && errno == EEXIST) {
        r = prepare_slot(pfd, name, false, err);
        if (r < 0) {
            return r;
        }
        fd = openat(pfd, name, create_flags, 0600);
    }
    if (fd < 0) {
        return berth_error_sys(err, errno, "create '%s'", path);
    }
    uint64_t end = 0; /* where the data written so far ends */
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        r = la.archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF) {
            break;
        }
        if (r < ARCHIVE_WARN) {
            return la_error(a, err, path);
        }
        if (len > u->max_bytes - u->stats.bytes) {
            return bomb_error(u, path, err);
        }
        if (off < 0) {
            return berth_error_set(err, EINVAL, "entry '%s': negative data offset", path);
        }
        u->stats.bytes += len;
        r = pwrite_all(fd, buf, len, (off_t)off);
        if (r < 0) {
            return berth_error_sys(err, -r, "write '%s'", path);
        }
        if ((uint64_t)off + len > end) {
            end = (uint64_t)off + len;
        }
    }
    /* Trailing holes of sparse files (a plain file's data ends at its size:
     * no call needed). */
    if (end != (uint64_t)size && ftruncate(fd, (off_t)size) < 0) {
        return berth_error_sys(err, errno, "truncate '%s'", path);
    }
    uid_t uid = 0;
    gid_t gid = 0;
    r = entry_ids(e, path, &uid, &gid, err);
    if (r < 0) {
        return r;
    }
    r = apply_owner(fd, "", AT_EMPTY_PATH, uid, gid, err);
    if (r < 0) {
        return r;
    }
    if (fchmod(fd, la.archive_entry_mode(e) & 07777) < 0) {
        return berth_error_sys(err, errno, "chmod '%s'", path);
    }
    /* After chown and the data: both clear security.capability. */
    r = apply_xattrs(e, fd, pfd, name, path, err);
    if (r < 0) {
        return r;
    }
    struct timespec ts[2];
    if (entry_times(e, ts) && futimens(fd, ts) < 0) {
        return berth_error_sys(err, errno, "set times of '%s'", path);
    }
    return 0;
}

static void add_dir_fixup(struct unpack *u, struct archive_entry *e, const char *path)
{
    if (u->n_dirs == u->alloc_dirs) {
        u->dirs = xgrow(u->dirs, sizeof(*u->dirs), u->n_dirs, &u->alloc_dirs);
    }
    struct dir_fixup *d = &u->dirs[u->n_dirs++];
    *d = (struct dir_fixup){.path = xstrdup(path), .mode = la.archive_entry_mode(e) & 07777};
    d->has_times = entry_times(e, d->times);
}

static int unpack_dir(struct unpack *u, struct archive_entry *e, int pfd, const char *name,
                      const char *path, struct berth_error **err)
{
    _cleanup_close_ int fd = -1;
    if (!*path) {
        fd = openat(u->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        int r = prepare_slot(pfd, name, true, err);
        if (r < 0) {
            return r;
        }
        /* 0700 until the end: the layer's own mode lands in apply_dir_fixups. */
        if (r == 0 && mkdirat(pfd, name, 0700) < 0) {
            return berth_error_sys(err, errno, "mkdir '%s'", path);
        }
        fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", *path ? path : ".");
    }
    uid_t uid = 0;
    gid_t gid = 0;
    int r = entry_ids(e, path, &uid, &gid, err);
    if (r < 0) {
        return r;
    }
    r = apply_owner(fd, "", AT_EMPTY_PATH, uid, gid, err);
    if (r < 0) {
        return r;
    }
    r = apply_xattrs(e, fd, pfd, name, path, err);
    if (r < 0) {
        return r;
    }
    add_dir_fixup(u, e, path);
    return 0;
}

static int apply_dir_fixup(struct unpack *u, const struct dir_fixup *d, struct berth_error **err)
{
    _cleanup_close_ int pfd = -1;
    const char *name = ".";
    if (*d->path) {
        pfd = chase_parent(u->rootfd, d->path, 0, &name);
        if (pfd < 0) {
            /* A later entry replaced or removed it: nothing to fix. */
            if (pfd == -ENOENT || pfd == -ENOTDIR) {
                return 0;
            }
            return berth_error_sys(err, -pfd, "resolve '%s'", d->path);
        }
    }
    int dfd = pfd >= 0 ? pfd : u->rootfd;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
        return 0;
    }
    if (fchmodat(dfd, name, d->mode, AT_SYMLINK_NOFOLLOW) < 0) {
        return berth_error_sys(err, errno, "chmod '%s'", d->path);
    }
    if (d->has_times && utimensat(dfd, name, d->times, AT_SYMLINK_NOFOLLOW) < 0) {
        return berth_error_sys(err, errno, "set times of '%s'", d->path);
    }
    return 0;
}

/* Modes and times of directories, last entry first (children before their
 * parents, so a parent losing u+x cannot block its children's fixup); of a
 * directory listed twice the last entry wins, as in tar. */
static int apply_dir_fixups(struct unpack *u, struct berth_error **err)
{
    struct path_set done = {0};
    int r = 0;
    for (size_t i = u->n_dirs; i-- > 0 && r >= 0;) {
        if (path_set_contains(&done, u->dirs[i].path)) {
            continue;
        }
        path_set_add(&done, u->dirs[i].path);
        r = apply_dir_fixup(u, &u->dirs[i], err);
    }
    path_set_release(&done);
    return r;
}

static int unpack_hardlink(struct unpack *u, const char *raw_target, int pfd, const char *name,
                           const char *path, struct berth_error **err)
{
    if (strlen(raw_target) >= PATH_MAX) {
        return berth_error_set(err, ENAMETOOLONG, "entry '%s': link target too long", path);
    }
    _cleanup_free_ char *target = NULL;
    int r = normalize_name(raw_target, &target, err);
    if (r < 0) {
        return berth_error_prefix(err, "hardlink '%s'", path);
    }
    if (!*target) {
        return berth_error_set(err, EINVAL, "hardlink '%s' to the root", path);
    }
    /* The target's directory is resolved inside the root like any entry
     * (CVE-2014-9356: "../../etc/passwd" or a path through a symlink to the
     * host can only name a file below the root), and linkat() without
     * AT_SYMLINK_FOLLOW never follows its last component. */
    const char *tname;
    _cleanup_close_ int tpfd = chase_parent(u->rootfd, target, 0, &tname);
    if (tpfd < 0) {
        return berth_error_sys(err, -tpfd, "hardlink '%s': resolve target '%s'", path, target);
    }
    struct stat tst, st;
    if (fstatat(tpfd, tname, &tst, AT_SYMLINK_NOFOLLOW) < 0) {
        return berth_error_sys(err, errno, "hardlink '%s': target '%s'", path, target);
    }
    if (S_ISDIR(tst.st_mode)) {
        return berth_error_set(err, EPERM, "hardlink '%s': target '%s' is a directory", path,
                               target);
    }
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == tst.st_dev &&
        st.st_ino == tst.st_ino) {
        return 0; /* already that file */
    }
    r = prepare_slot(pfd, name, false, err);
    if (r < 0) {
        return r;
    }
    if (linkat(tpfd, tname, pfd, name, 0) < 0) {
        return berth_error_sys(err, errno, "hardlink '%s' to '%s'", path, target);
    }
    return 0;
}

/* Remove what lower layers put below dfd (whose layer path is prefix),
 * keeping everything this layer wrote: an opaque marker may arrive after
 * some of its directory's entries. */
static int clear_lower(struct unpack *u, int dfd, const char *prefix, struct berth_error **err)
{
    int dup = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) {
        return berth_error_sys(err, errno, "open '%s'", *prefix ? prefix : ".");
    }
    DIR *d = fdopendir(dup);
    if (!d) {
        safe_close(dup);
        return berth_error_sys(err, errno, "opendir '%s'", prefix);
    }
    char **names = NULL;
    size_t n = 0, alloc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        if (n == alloc) {
            names = xgrow(names, sizeof(char *), n, &alloc);
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    int r = 0;
    for (size_t i = 0; i < n && r >= 0; i++) {
        _cleanup_free_ char *child =
            *prefix ? xasprintf("%s/%s", prefix, names[i]) : xstrdup(names[i]);
        if (!path_set_contains(&u->own, child)) {
            r = rm_rf_at(dfd, names[i], err);
            continue;
        }
        _cleanup_close_ int cfd =
            openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd >= 0) {
            r = clear_lower(u, cfd, child, err);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return r;
}

static int unpack_opaque(struct unpack *u, const char *dir, struct berth_error **err)
{
    const char *p = *dir ? dir : ".";
    if (u->mode == LAYER_OVERLAY) {
        _cleanup_close_ int fd = chase_open(u->rootfd, p, O_RDONLY | O_DIRECTORY, CHASE_MKDIR);
        if (fd < 0) {
            return berth_error_sys(err, -fd, "opaque directory '%s'", p);
        }
        if (fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0) {
            return berth_error_sys(err, errno, "mark '%s' opaque", p);
        }
        return 0;
    }
    path_set_add_with_parents(&u->own, dir);
    _cleanup_close_ int fd = chase_open(u->rootfd, p, O_RDONLY | O_DIRECTORY, 0);
    if (fd == -ENOENT) {
        return 0; /* nothing below to hide */
    }
    if (fd < 0) {
        return berth_error_sys(err, -fd, "opaque directory '%s'", p);
    }
    return clear_lower(u, fd, dir, err);
}

/* ".wh.<name>" (image-spec layer.md "Whiteouts"). base points at the last
 * component of path. Names that are not a plain component (".wh." alone,
 * ".wh..", ".wh...") or that use the reserved ".wh..wh." prefix for anything
 * but the opaque marker are refused: they would delete the directory itself
 * or its parent. */
static int unpack_whiteout(struct unpack *u, const char *path, const char *base,
                           struct berth_error **err)
{
    _cleanup_free_ char *dir = xstrndup(path, base > path ? (size_t)(base - path - 1) : 0);
    if (streq(base, WHITEOUT_OPAQUE)) {
        return unpack_opaque(u, dir, err);
    }
    const char *target = base + strlen(WHITEOUT_PREFIX);
    if (strneq(base, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)) || !*target ||
        streq(target, ".") || streq(target, "..")) {
        return berth_error_set(err, EINVAL, "entry '%s': invalid whiteout name", path);
    }
    _cleanup_free_ char *full = *dir ? xasprintf("%s/%s", dir, target) : xstrdup(target);
    const char *name;
    if (u->mode == LAYER_OVERLAY) {
        _cleanup_close_ int pfd = chase_parent(u->rootfd, path, CHASE_MKDIR, &name);
        if (pfd < 0) {
            return berth_error_sys(err, -pfd, "whiteout '%s'", path);
        }
        /* The layer's own entry of that name wins over its whiteout. */
        struct stat st;
        if (fstatat(pfd, target, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            return 0;
        }
        /* overlayfs's whiteout: a 0:0 character device (unprivileged
         * creation is allowed since Linux 5.8). */
        if (mknodat(pfd, target, S_IFCHR | 0, makedev(0, 0)) < 0) {
            return berth_error_sys(err, errno, "whiteout '%s'", full);
        }
        return apply_owner(pfd, target, AT_SYMLINK_NOFOLLOW, 0, 0, err);
    }
    if (path_set_contains(&u->own, full)) {
        return 0;
    }
    _cleanup_close_ int pfd = chase_parent(u->rootfd, path, 0, &name);
    if (pfd == -ENOENT || pfd == -ENOTDIR) {
        return 0;
    }
    if (pfd < 0) {
        return berth_error_sys(err, -pfd, "whiteout '%s'", path);
    }
    /* Deleted through the parent dirfd; rm_rf_at follows no symlink. */
    int r = rm_rf_at(pfd, target, err);
    return r < 0 ? berth_error_prefix(err, "whiteout '%s'", path) : 0;
}

static int unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e,
                        struct berth_error **err)
{
    const char *raw = la.archive_entry_pathname(e);
    if (!raw) {
        return berth_error_set(err, EINVAL, "entry without a name");
    }
    if (strlen(raw) >= PATH_MAX) {
        return berth_error_set(err, ENAMETOOLONG, "entry name longer than %d bytes", PATH_MAX);
    }
    if (++u->stats.entries > u->max_entries) {
        return berth_error_set(err, E2BIG, "layer has more than %llu entries",
                               (unsigned long long)u->max_entries);
    }
    _cleanup_free_ char *path = NULL;
    int r = normalize_name(raw, &path, err);
    if (r < 0) {
        return r;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (strneq(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX))) {
        return unpack_whiteout(u, path, base, err);
    }

    const char *hardlink = la.archive_entry_hardlink(e);
    unsigned type = la.archive_entry_filetype(e);
    if (!*path) {
        if (hardlink || type != AE_IFDIR) {
            return berth_error_set(err, EINVAL, "entry '%s': the root must be a directory", raw);
        }
        return unpack_dir(u, e, -1, ".", path, err);
    }
    if (u->mode == LAYER_APPLY) {
        path_set_add_with_parents(&u->own, path);
    }
    const char *name;
    _cleanup_close_ int pfd = chase_parent(u->rootfd, path, CHASE_MKDIR, &name);
    if (pfd < 0) {
        return berth_error_sys(err, -pfd, "entry '%s': resolve parent", path);
    }
    if (hardlink) {
        return unpack_hardlink(u, hardlink, pfd, name, path, err);
    }
    switch (type) {
    case AE_IFREG:
        return unpack_file(u, a, e, pfd, name, path, err);
    case AE_IFDIR:
        return unpack_dir(u, e, pfd, name, path, err);
    case AE_IFLNK: {
        /* Stored verbatim; never followed while unpacking. */
        const char *target = la.archive_entry_symlink(e);
        if (!target || !*target || strlen(target) >= PATH_MAX) {
            return berth_error_set(err, EINVAL, "entry '%s': invalid symlink target", path);
        }
        r = prepare_slot(pfd, name, false, err);
        if (r < 0) {
            return r;
        }
        if (symlinkat(target, pfd, name) < 0) {
            return berth_error_sys(err, errno, "symlink '%s'", path);
        }
        return apply_meta_at(e, pfd, name, path, true, err);
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        r = prepare_slot(pfd, name, false, err);
        if (r < 0) {
            return r;
        }
        dev_t dev = type == AE_IFIFO
                        ? 0
                        : makedev(la.archive_entry_rdevmajor(e), la.archive_entry_rdevminor(e));
        if (mknodat(pfd, name, type | 0600, dev) < 0) {
            if (errno == EPERM) {
                log_debug("layer: not permitted to create device '%s', skipped", path);
                u->stats.skipped_devices++;
                return 0;
            }
            return berth_error_sys(err, errno, "mknod '%s'", path);
        }
        return apply_meta_at(e, pfd, name, path, false, err);
    }
    default:
        return berth_error_set(err, EINVAL, "entry '%s': unsupported file type 0%o", path, type);
    }
}

int layer_unpack(int fd, int rootfd, enum layer_mode mode, const struct layer_limits *limits,
                 struct layer_stats *ret_stats, struct berth_error **err)
{
    int r = la_load(err);
    if (r < 0) {
        return r;
    }
    struct unpack u = {
        .rootfd = rootfd,
        .mode = mode,
        .max_bytes = limits && limits->max_bytes ? limits->max_bytes : DEFAULT_MAX_BYTES,
        .max_entries = limits && limits->max_entries ? limits->max_entries : DEFAULT_MAX_ENTRIES,
    };
    struct archive *a = la.archive_read_new();
    if (!a) {
        return berth_error_set(err, ENOMEM, "libarchive: cannot allocate a reader");
    }
    /* Only what OCI layers use: plain, gzip, zstd. filter_all would also
     * hand attacker-chosen data to external programs (lrzip, lzop, ...).
     * ARCHIVE_WARN means an external gzip/zstd program will be used. */
    if (la.archive_read_support_filter_gzip(a) < ARCHIVE_WARN ||
        la.archive_read_support_filter_zstd(a) < ARCHIVE_WARN ||
        la.archive_read_support_format_tar(a) != ARCHIVE_OK ||
        la.archive_read_support_format_empty(a) != ARCHIVE_OK) {
        r = la_error(a, err, "libarchive setup");
        goto out;
    }
    if (la.archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
        r = la_error(a, err, "read layer");
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        r = la.archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) {
            r = 0;
            break;
        }
        if (r < ARCHIVE_WARN) {
            r = la_error(a, err, "read layer");
            goto out;
        }
        r = unpack_entry(&u, a, e, err);
        if (r < 0) {
            goto out;
        }
    }
    r = apply_dir_fixups(&u, err);
out:
    la.archive_read_free(a);
    path_set_release(&u.own);
    for (size_t i = 0; i < u.n_dirs; i++) {
        free(u.dirs[i].path);
    }
    free(u.dirs);
    if (r >= 0 && ret_stats) {
        *ret_stats = u.stats;
    }
    return r < 0 ? r : 0;
}
