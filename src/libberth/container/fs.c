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
 * The tar is written by image/tree-tar.c, which walks the same way.
 */
#include "fs.h"

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
#include "libberth/image/tree-tar.h"
#include "libberth/runtime/container.h"

#define MAX_DEPTH 1024

static char *join_name(const char *dir, const char *name)
{
    return *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
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
    struct tree_tar_opts topts = {0};
    _cleanup_(tree_tar_freep) struct tree_tar *t = NULL;
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
        topts.set_owner = true;
        topts.uid = dstroot >= 0 ? 0 : getuid();
        topts.gid = dstroot >= 0 ? 0 : getgid();
    }
    r = tree_tar_open(tmp, &topts, &t, err);
    if (r >= 0) {
        r = tree_tar_add(t, sfd, &sst, prefix, err);
    }
    if (r >= 0) {
        r = tree_tar_finish(t, err);
    }
    if (r >= 0 && lseek(tmp, 0, SEEK_SET) < 0) {
        r = berth_error_sys(err, errno, "rewind");
    }
    if (r >= 0) {
        r = layer_unpack(tmp, target, LAYER_APPLY, NULL, NULL, err);
    }
out:
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
    struct tree_tar_opts topts = {0};
    _cleanup_(tree_tar_freep) struct tree_tar *t = NULL;
    bool follow = (flags & CONTAINER_CP_FOLLOW) || sp.dir_slash || !*sp.base;
    _cleanup_close_ int sfd = chase_open(x.rootfd, sp.path, O_PATH, follow ? 0 : CHASE_NOFOLLOW);
    struct stat st;
    if (sfd < 0 || fstat(sfd, &st) < 0) {
        r = not_found(&x, src, name_or_id, sfd < 0 ? -sfd : errno, err);
    } else if (sp.contents && !S_ISDIR(st.st_mode)) {
        r = berth_error_set(err, ENOTDIR, "'%s': not a directory", src);
    } else {
        r = tree_tar_open(fd, &topts, &t, err);
        if (r >= 0) {
            r = tree_tar_add(t, sfd, &st, sp.contents ? "" : sp.base, err);
        }
        if (r >= 0) {
            r = tree_tar_finish(t, err);
        }
    }
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
    int r = tree_list_dir(dfd, &names, err);
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
        if (tree_is_berth_file(child, &st)) {
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
    struct tree_tar_opts topts = {0};
    _cleanup_(tree_tar_freep) struct tree_tar *t = NULL;
    struct stat st;
    r = tree_tar_open(fd, &topts, &t, err);
    if (r >= 0 && fstat(x.rootfd, &st) < 0) {
        r = berth_error_sys(err, errno, "rootfs");
    }
    if (r >= 0) {
        r = tree_tar_add(t, x.rootfd, &st, "", err);
    }
    if (r >= 0) {
        r = tree_tar_finish(t, err);
    }
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
    struct tree_tar_opts topts = {0};
    _cleanup_(tree_tar_freep) struct tree_tar *t = NULL;
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
    topts.layer = true;
    topts.skip_berth_files = true;
    struct stat st;
    topts.gzip = true;
    r = tree_tar_open(tmp, &topts, &t, err);
    if (r >= 0 && fstat(ufd, &st) < 0) {
        r = berth_error_sys(err, errno, "upper dir");
    }
    if (r >= 0) {
        r = tree_tar_add(t, ufd, &st, "", err);
    }
    if (r >= 0) {
        r = tree_tar_finish(t, err);
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
    ctr_release(s, &x);
    return r < 0 ? berth_error_prefix(err, "commit '%s'", name_or_id) : 0;
}
