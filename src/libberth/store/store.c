/* store.c - open root and runroot, the db, blobs and layers together. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"

bool store_overlay_supported(void)
{
    _cleanup_free_ char *fs = NULL;
    size_t len;
    if (read_file_at(AT_FDCWD, "/proc/filesystems", 1 << 20, &fs, &len, NULL) < 0) {
        return false;
    }
    return strstr(fs, "\toverlay\n") != NULL;
}

static int choose_driver(struct store *s, const char *wanted, struct berth_error **err)
{
    if (wanted && !streq(wanted, "overlay") && !streq(wanted, "vfs")) {
        return berth_error_set(err, EINVAL, "unknown storage driver '%s' (known: overlay, vfs)",
                               wanted);
    }
    int r = db_get_text(s->db, &s->driver, err, "SELECT value FROM meta WHERE key = 'driver'", "");
    if (r == -ENOENT) {
        const char *d = wanted ? wanted : store_overlay_supported() ? "overlay" : "vfs";
        if (wanted && streq(wanted, "overlay") && !store_overlay_supported()) {
            return berth_error_set(err, ENODEV,
                                   "storage driver 'overlay': the kernel has no "
                                   "overlayfs (use --storage-driver vfs)");
        }
        /* INSERT OR IGNORE, then read back: a concurrent first use may win. */
        r = db_run(s->db, err, "INSERT OR IGNORE INTO meta(key, value) VALUES('driver', ?)", "s",
                   d);
        if (r < 0) {
            return r;
        }
        r = db_get_text(s->db, &s->driver, err, "SELECT value FROM meta WHERE key = 'driver'", "");
    }
    if (r < 0) {
        return r;
    }
    if (wanted && !streq(wanted, s->driver)) {
        return berth_error_set(err, EINVAL,
                               "store '%s' uses storage driver '%s', not '%s' (use another --root)",
                               s->root, s->driver, wanted);
    }
    return 0;
}

/* A relative --root or --runroot is taken from the current directory, as
 * podman does; later components (mounts, monitors) need absolute paths. */
static char *absolute(const char *path)
{
    if (path[0] == '/') {
        return xstrdup(path);
    }
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd))) {
        return NULL;
    }
    return xasprintf("%s/%s", cwd, path);
}

int store_open(const struct store_options *opts, struct store **ret, struct berth_error **err)
{
    struct store *s = xcalloc(1, sizeof(*s));
    _cleanup_(store_freep) struct store *owned = s;
    s->root = absolute(opts && opts->root ? opts->root : STORE_DEFAULT_ROOT);
    s->runroot = absolute(opts && opts->runroot ? opts->runroot : STORE_DEFAULT_RUNROOT);
    if (!s->root || !s->runroot) {
        return berth_error_sys(err, errno, "current directory");
    }
    s->seccomp_cache = xasprintf("%s/seccomp-cache", s->runroot);
    s->runtime_root = xasprintf("%s/runtime", s->runroot);
    int r = mkdir_p(s->root, 0711, err);
    if (r >= 0) {
        r = mkdir_p(s->runroot, 0711, err);
    }
    if (r >= 0) {
        r = db_open(s->root, &s->db, err);
    }
    if (r >= 0) {
        r = choose_driver(s, opts ? opts->driver : NULL, err);
    }
    if (r >= 0) {
        r = blob_store_open(s->root, &s->blobs, err);
    }
    if (r >= 0) {
        r = layer_store_open(s->root, &s->layers, err);
    }
    if (r >= 0) {
        /* The GC lock's file exists from the start: a store's layout does
         * not change with the first pull. */
        _cleanup_free_ char *lock = xasprintf("%s/gc.lock", s->root);
        int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            r = berth_error_sys(err, errno, "open '%s'", lock);
        }
        safe_close(fd);
    }
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(owned);
    return 0;
}

static int gc_lock(struct store *s, int op, int *ret_fd, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/gc.lock", s->root);
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", path);
    }
    while (flock(fd, op) < 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            return berth_error_set(err, EBUSY, "the store's gc lock is held");
        }
        return berth_error_sys(err, errno, "lock '%s'", path);
    }
    *ret_fd = TAKE_FD(fd);
    return 0;
}

int store_gc_lock_shared(struct store *s, int *ret_fd, struct berth_error **err)
{
    return gc_lock(s, LOCK_SH, ret_fd, err);
}

int store_gc_lock_exclusive(struct store *s, int *ret_fd, struct berth_error **err)
{
    return gc_lock(s, LOCK_EX, ret_fd, err);
}

int store_gc_lock_try(struct store *s, int *ret_fd, struct berth_error **err)
{
    return gc_lock(s, LOCK_EX | LOCK_NB, ret_fd, err);
}

void store_free(struct store *s)
{
    if (!s) {
        return;
    }
    layer_store_free(s->layers);
    blob_store_free(s->blobs);
    db_close(s->db);
    free(s->driver);
    free(s->seccomp_cache);
    free(s->runtime_root);
    free(s->root);
    free(s->runroot);
    free(s);
}
