/* tree-tar.c - a tree written as a tar through dirfds, and the escape
 * check of an archive (see tree-tar.h). Moved here from container/fs.c so
 * volumes export with the same writer `docker cp`, export and commit use.
 */
#include "tree-tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/dl.h"

#define MAX_DEPTH 1024
#define COPY_BUF (256 * 1024)
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_NAME ".wh..wh..opq"

#define TLA_SYMBOLS(X)                                                                             \
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
    X(archive_entry_xattr_add_entry)                                                               \
    X(archive_read_new)                                                                            \
    X(archive_read_support_filter_all)                                                             \
    X(archive_read_support_format_tar)                                                             \
    X(archive_read_open_fd)                                                                        \
    X(archive_read_next_header)                                                                    \
    X(archive_read_data_skip)                                                                      \
    X(archive_read_free)                                                                           \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_filetype)

DEFINE_DL_LIB(tla, TLA_SYMBOLS, "libarchive.so.13", "libarchive13")

/* ---- the tar writer ------------------------------------------------------ */

struct hardlink {
    dev_t dev;
    ino_t ino;
    char *name;
};

struct tree_tar {
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

static int tar_error(struct tree_tar *t, struct berth_error **err, const char *what)
{
    int e = tla.archive_errno(t->a);
    const char *msg = tla.archive_error_string(t->a);
    return berth_error_set(err, e > 0 ? e : EIO, "%s: %s", what, msg ? msg : "archive error");
}

static void entry_basics(struct tree_tar *t, const char *name, const struct stat *st)
{
    struct archive_entry *e = t->e;
    tla.archive_entry_clear(e);
    /* "." is the root of a walk written with its own entry */
    tla.archive_entry_set_pathname(e, streq(name, ".") ? "./" : name);
    tla.archive_entry_set_mode(e, st->st_mode);
    tla.archive_entry_set_uid(e, t->set_owner ? t->uid : st->st_uid);
    tla.archive_entry_set_gid(e, t->set_owner ? t->gid : st->st_gid);
    tla.archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    tla.archive_entry_set_size(e, 0);
}

/* An empty regular file: OCI whiteouts and opaque markers. */
static int tar_marker(struct tree_tar *t, const char *name, const struct stat *st,
                      struct berth_error **err)
{
    struct stat m = *st;
    m.st_mode = S_IFREG | 0;
    entry_basics(t, name, &m);
    if (tla.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
        return tar_error(t, err, name);
    }
    return 0;
}

/* Extended attributes worth keeping in a layer or copy: file capabilities
 * and user attributes; overlay's own (trusted.overlay.*) never. */
static void entry_xattrs(struct tree_tar *t, int fd)
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
            tla.archive_entry_xattr_add_entry(t->e, k, val, (size_t)vl);
        }
    }
}

static char *join_name(const char *dir, const char *name)
{
    return *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

bool tree_is_berth_file(const char *name, const struct stat *st)
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

int tree_list_dir(int dfd, char ***ret, struct berth_error **err)
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

static int tar_entry(struct tree_tar *t, int fd, const struct stat *st, const char *name,
                     unsigned depth, struct berth_error **err);

static int tar_children(struct tree_tar *t, int dfd, const char *name, unsigned depth,
                        struct berth_error **err)
{
    _cleanup_strv_free_ char **names = NULL;
    int r = tree_list_dir(dfd, &names, err);
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
static int tar_entry(struct tree_tar *t, int fd, const struct stat *st, const char *name,
                     unsigned depth, struct berth_error **err)
{
    if (depth > MAX_DEPTH) {
        return berth_error_set(err, ELOOP, "'%s': directories nested too deep", name);
    }
    if (S_ISSOCK(st->st_mode)) {
        return 0; /* tar cannot hold them; Docker skips them too */
    }
    if (t->skip_berth_files && tree_is_berth_file(name, st)) {
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
            if (tla.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
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
                tla.archive_entry_set_hardlink(t->e, t->links[i].name);
                if (tla.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
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
        tla.archive_entry_set_symlink(t->e, target);
        if (tla.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
            return tar_error(t, err, name);
        }
        return 0;
    }
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode)) {
        tla.archive_entry_set_rdevmajor(t->e, major(st->st_rdev));
        tla.archive_entry_set_rdevminor(t->e, minor(st->st_rdev));
        if (tla.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
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
    tla.archive_entry_set_size(t->e, st->st_size);
    entry_xattrs(t, rfd);
    if (tla.archive_write_header(t->a, t->e) < ARCHIVE_WARN) {
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
        if (tla.archive_write_data(t->a, buf, (size_t)n) < 0) {
            return tar_error(t, err, name);
        }
        left -= n;
    }
    return 0;
}

/* ---- a container's root --------------------------------------------------- */

/* ---- the public writer ------------------------------------------------------ */

int tree_tar_open(int fd, const struct tree_tar_opts *opts, struct tree_tar **ret,
                  struct berth_error **err)
{
    int r = tla_load(err);
    if (r < 0) {
        return r;
    }
    _cleanup_(tree_tar_freep) struct tree_tar *t = xcalloc(1, sizeof(*t));
    t->set_owner = opts->set_owner;
    t->uid = opts->uid;
    t->gid = opts->gid;
    t->layer = opts->layer;
    t->skip_berth_files = opts->skip_berth_files;
    t->a = tla.archive_write_new();
    t->e = tla.archive_entry_new();
    if (!t->a || !t->e) {
        abort(); /* out of memory, as xmalloc */
    }
    if (tla.archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
        (opts->gzip && tla.archive_write_add_filter_gzip(t->a) < ARCHIVE_WARN) ||
        tla.archive_write_set_bytes_in_last_block(t->a, 1) != ARCHIVE_OK ||
        tla.archive_write_open_fd(t->a, fd) != ARCHIVE_OK) {
        return tar_error(t, err, "tar");
    }
    *ret = TAKE_PTR(t);
    return 0;
}

int tree_tar_add(struct tree_tar *t, int pathfd, const struct stat *st, const char *name,
                 struct berth_error **err)
{
    return tar_entry(t, pathfd, st, name, 0, err);
}

int tree_tar_finish(struct tree_tar *t, struct berth_error **err)
{
    if (tla.archive_write_close(t->a) != ARCHIVE_OK) {
        return tar_error(t, err, "tar");
    }
    return 0;
}

void tree_tar_free(struct tree_tar *t)
{
    if (!t) {
        return;
    }
    if (t->a) {
        tla.archive_write_free(t->a);
    }
    if (t->e) {
        tla.archive_entry_free(t->e);
    }
    for (size_t i = 0; i < t->n_links; i++) {
        free(t->links[i].name);
    }
    free(t->links);
    free(t);
}

/* ---- the escape check ------------------------------------------------------- */

/* The symlink entries seen so far, by clean path: a small chained hash set
 * (an archive may hold many). */
#define SET_BUCKETS 4096

struct name_node {
    struct name_node *next;
    char name[];
};

struct name_set {
    struct name_node *b[SET_BUCKETS];
};

static size_t name_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    }
    return (size_t)(h % SET_BUCKETS);
}

static bool name_set_has(const struct name_set *set, const char *s, size_t len)
{
    for (const struct name_node *n = set->b[name_hash(s, len)]; n; n = n->next) {
        if (strlen(n->name) == len && memcmp(n->name, s, len) == 0) {
            return true;
        }
    }
    return false;
}

static void name_set_add(struct name_set *set, const char *s)
{
    size_t len = strlen(s);
    if (name_set_has(set, s, len)) {
        return;
    }
    struct name_node *n = xmalloc(sizeof(*n) + len + 1);
    memcpy(n->name, s, len + 1);
    size_t h = name_hash(s, len);
    n->next = set->b[h];
    set->b[h] = n;
}

static void name_set_free(struct name_set *set)
{
    for (size_t i = 0; i < SET_BUCKETS; i++) {
        while (set->b[i]) {
            struct name_node *n = set->b[i];
            set->b[i] = n->next;
            free(n);
        }
    }
    free(set);
}

/* The clean form of a tar name ("./a//b/" -> "a/b"), or -EPERM for an
 * absolute name or a ".." component. */
static int clean_name(const char *raw, char **ret)
{
    if (raw[0] == '/') {
        return -EPERM;
    }
    _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
    for (const char *p = raw; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            return -EPERM;
        }
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (sb.len) {
                strbuf_addc(&sb, '/');
            }
            strbuf_add(&sb, p, len);
        }
        p += len;
        while (*p == '/') {
            p++;
        }
    }
    *ret = strbuf_detach(&sb, NULL);
    return 0;
}

/* Whether a proper prefix of the clean path is a symlink of the archive. */
static bool below_symlink(const struct name_set *links, const char *path)
{
    for (const char *p = path; (p = strchr(p, '/')); p++) {
        if (name_set_has(links, path, (size_t)(p - path))) {
            return true;
        }
    }
    return false;
}

static int check_name(const struct name_set *links, const char *what, const char *raw, char **ret,
                      struct berth_error **err)
{
    _cleanup_free_ char *clean = NULL;
    if (clean_name(raw, &clean) < 0) {
        return berth_error_set(err, EPERM, "%s '%s': %s", what, raw,
                               raw[0] == '/' ? "absolute path not allowed" : "'..' not allowed");
    }
    if (below_symlink(links, clean)) {
        return berth_error_set(err, EPERM, "%s '%s': path through a symlink not allowed", what,
                               raw);
    }
    if (ret) {
        *ret = TAKE_PTR(clean);
    }
    return 0;
}

int tree_tar_check_confined(int fd, struct berth_error **err)
{
    int r = tla_load(err);
    if (r < 0) {
        return r;
    }
    struct archive *a = tla.archive_read_new();
    if (!a) {
        abort();
    }
    struct name_set *links = xcalloc(1, sizeof(*links));
    struct archive_entry *e;
    tla.archive_read_support_filter_all(a);
    tla.archive_read_support_format_tar(a);
    if (tla.archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
        const char *m = tla.archive_error_string(a);
        r = berth_error_set(err, EINVAL, "read archive: %s", m ? m : "not a tar archive");
        goto out;
    }
    for (;;) {
        int h = tla.archive_read_next_header(a, &e);
        if (h == ARCHIVE_EOF) {
            break;
        }
        if (h < ARCHIVE_WARN) {
            const char *m = tla.archive_error_string(a);
            r = berth_error_set(err, EINVAL, "read archive: %s", m ? m : "bad archive");
            goto out;
        }
        const char *raw = tla.archive_entry_pathname(e);
        if (!raw) {
            r = berth_error_set(err, EINVAL, "read archive: an entry without a name");
            goto out;
        }
        _cleanup_free_ char *clean = NULL;
        r = check_name(links, "entry", raw, &clean, err);
        if (r < 0) {
            goto out;
        }
        const char *hl = tla.archive_entry_hardlink(e);
        _cleanup_free_ char *hl_clean = NULL;
        if (hl) {
            r = check_name(links, "hardlink target", hl, &hl_clean, err);
            if (r < 0) {
                goto out;
            }
        }
        /* A hardlink to a symlink entry is that symlink under a second
         * name: entries below either name go through it. */
        bool is_link = hl ? name_set_has(links, hl_clean, strlen(hl_clean))
                          : tla.archive_entry_filetype(e) == AE_IFLNK;
        if (is_link && *clean) {
            name_set_add(links, clean);
        }
        if (tla.archive_read_data_skip(a) < ARCHIVE_WARN) {
            const char *m = tla.archive_error_string(a);
            r = berth_error_set(err, EINVAL, "read archive: %s", m ? m : "bad archive");
            goto out;
        }
    }
    r = 0;
out:
    tla.archive_read_free(a);
    name_set_free(links);
    return r;
}
