/* layers.c - the unpacked layer store (see layers.h). */
#include "layers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "libberth/store/blob.h"

#define STALE_TEMP_SEC (60 * 60)

struct layer_store {
    char *dir;   /* <root>/layers */
    int dir_fd;  /* <root>/layers */
    int tmp_fd;  /* <root>/layers/tmp */
    int lock_fd; /* <root>/layers/locks */
};

/* The hex of a validated sha256 digest: the only thing that becomes a name. */
static const char *chain_hex(const char *chain_id, struct berth_error **err)
{
    bool ok = chain_id && strncmp(chain_id, "sha256:", 7) == 0 && strlen(chain_id) == 7 + 64;
    for (size_t i = 7; ok && chain_id[i]; i++) {
        ok = (chain_id[i] >= '0' && chain_id[i] <= '9') ||
             (chain_id[i] >= 'a' && chain_id[i] <= 'f');
    }
    if (!ok) {
        berth_error_set(err, EINVAL, "invalid layer chain id '%.80s'", chain_id ? chain_id : "");
        return NULL;
    }
    return chain_id + 7;
}

static int open_dir(int dirfd, const char *name, int *ret, struct berth_error **err)
{
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST) {
        return berth_error_sys(err, errno, "create '%s'", name);
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", name);
    }
    *ret = fd;
    return 0;
}

/* A temp layer belongs to a live writer exactly while its diff directory is
 * flock()ed: layer_store_create locks the diff fd it hands out, and the
 * writer keeps that fd until commit or abort. So a temp layer we can lock is
 * a dead writer's (a pull killed mid-layer) and is removed at once. Temp
 * layers are made under a dot name and renamed once locked, so an unlocked
 * visible one is never a writer that has not locked yet; a dot name left by
 * a crash in that instant is removed when it is old. */
static bool temp_is_dead(int tmp_fd, const char *name, const struct stat *st, time_t now)
{
    if (name[0] == '.') {
        return now - st->st_mtime > STALE_TEMP_SEC;
    }
    _cleanup_free_ char *diff = xasprintf("%s/diff", name);
    _cleanup_close_ int fd = openat(tmp_fd, diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT;
    }
    return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

static void remove_stale_temps(int tmp_fd)
{
    int fd = dup(tmp_fd);
    if (fd < 0) {
        return;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
            fstatat(tmp_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (temp_is_dead(tmp_fd, de->d_name, &st, now)) {
            log_debug("removing temp layer '%s' of a dead writer", de->d_name);
            (void)rm_rf_at(tmp_fd, de->d_name, NULL);
        }
    }
    closedir(d);
}

int layer_store_open(const char *root, struct layer_store **ret, struct berth_error **err)
{
    struct layer_store *ls = xcalloc(1, sizeof(*ls));
    ls->dir_fd = ls->tmp_fd = ls->lock_fd = -1;
    _cleanup_(layer_store_freep) struct layer_store *owned = ls;
    ls->dir = xasprintf("%s/layers", root);
    int r = mkdir_p(ls->dir, 0700, err);
    if (r < 0) {
        return r;
    }
    ls->dir_fd = open(ls->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ls->dir_fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", ls->dir);
    }
    r = open_dir(ls->dir_fd, "tmp", &ls->tmp_fd, err);
    if (r >= 0) {
        r = open_dir(ls->dir_fd, "locks", &ls->lock_fd, err);
    }
    if (r < 0) {
        return berth_error_prefix(err, "layer store '%s'", ls->dir);
    }
    remove_stale_temps(ls->tmp_fd);
    *ret = TAKE_PTR(owned);
    return 0;
}

void layer_store_free(struct layer_store *ls)
{
    if (!ls) {
        return;
    }
    if (ls->dir_fd >= 0) {
        close(ls->dir_fd);
    }
    if (ls->tmp_fd >= 0) {
        close(ls->tmp_fd);
    }
    if (ls->lock_fd >= 0) {
        close(ls->lock_fd);
    }
    free(ls->dir);
    free(ls);
}

int layer_store_lock(struct layer_store *ls, const char *chain_id, bool wait, int *ret_fd,
                     struct berth_error **err)
{
    const char *hex = chain_hex(chain_id, err);
    if (!hex) {
        return -EINVAL;
    }
    _cleanup_close_ int fd =
        openat(ls->lock_fd, hex, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return berth_error_sys(err, errno, "lock layer '%s'", chain_id);
    }
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            return -EBUSY;
        }
        return berth_error_sys(err, errno, "lock layer '%s'", chain_id);
    }
    *ret_fd = TAKE_FD(fd);
    return 0;
}

bool layer_store_has(struct layer_store *ls, const char *chain_id)
{
    const char *hex = chain_hex(chain_id, NULL);
    if (!hex) {
        return false;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/diff", hex);
    struct stat st;
    return fstatat(ls->dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int layer_store_create(struct layer_store *ls, char **ret_tmp, int *ret_diff_fd,
                       struct berth_error **err)
{
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        return berth_error_sys(err, errno, "getrandom");
    }
    _cleanup_free_ char *name = xasprintf("%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
                                          rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    _cleanup_free_ char *stage = xasprintf(".%s", name);
    if (mkdirat(ls->tmp_fd, stage, 0700) < 0) {
        return berth_error_sys(err, errno, "create temp layer");
    }
    _cleanup_free_ char *diff = xasprintf("%s/diff", stage);
    /* The diff dir is the container's root when it is the bottom layer:
     * 0755 as an image's / normally is; the tar's "./" entry may change it. */
    int r = 0;
    _cleanup_close_ int fd = -1;
    if (mkdirat(ls->tmp_fd, diff, 0755) < 0) {
        r = berth_error_sys(err, errno, "create temp layer");
    } else if ((fd = openat(ls->tmp_fd, diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) <
               0) {
        r = berth_error_sys(err, errno, "open temp layer");
    } else if (flock(fd, LOCK_EX) < 0) {
        r = berth_error_sys(err, errno, "lock temp layer");
    } else if (renameat(ls->tmp_fd, stage, ls->tmp_fd, name) < 0) {
        r = berth_error_sys(err, errno, "create temp layer");
    }
    if (r < 0) {
        (void)rm_rf_at(ls->tmp_fd, stage, NULL);
        return r;
    }
    *ret_diff_fd = TAKE_FD(fd);
    *ret_tmp = TAKE_PTR(name);
    return 0;
}

int layer_store_commit(struct layer_store *ls, const char *tmp, const char *chain_id,
                       struct berth_error **err)
{
    const char *hex = chain_hex(chain_id, err);
    if (!hex) {
        return -EINVAL;
    }
    if (renameat(ls->tmp_fd, tmp, ls->dir_fd, hex) < 0) {
        int e = errno;
        /* Someone stored it first (callers hold the lock, so only a store
         * written without one): keep theirs. */
        if ((e == ENOTEMPTY || e == EEXIST) && layer_store_has(ls, chain_id)) {
            layer_store_abort(ls, tmp);
            return 0;
        }
        return berth_error_sys(err, e, "store layer '%s'", chain_id);
    }
    return 0;
}

void layer_store_abort(struct layer_store *ls, const char *tmp)
{
    if (tmp && *tmp && !strchr(tmp, '/')) {
        (void)rm_rf_at(ls->tmp_fd, tmp, NULL);
    }
}

int layer_store_remove(struct layer_store *ls, const char *chain_id, struct berth_error **err)
{
    const char *hex = chain_hex(chain_id, err);
    if (!hex) {
        return -EINVAL;
    }
    /* Rename out of the way first: the chain id is gone at once, and a
     * crash half-way through the removal leaves only a temp dir. */
    char name[96];
    snprintf(name, sizeof(name), "rm-%s", hex);
    if (renameat(ls->dir_fd, hex, ls->tmp_fd, name) < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        return berth_error_sys(err, errno, "remove layer '%s'", chain_id);
    }
    /* The lock file stays: unlinking it while another process waits on it
     * would let a third take a lock on a new file at the same time. */
    return rm_rf_at(ls->tmp_fd, name, err);
}

char *layer_store_diff_path(struct layer_store *ls, const char *chain_id)
{
    const char *hex = chain_id && strncmp(chain_id, "sha256:", 7) == 0 ? chain_id + 7 : chain_id;
    return xasprintf("%s/%s/diff", ls->dir, hex ? hex : "");
}

void layer_chain_id(const char *parent_chain, const char *diff_id, char out[72])
{
    if (!parent_chain) {
        snprintf(out, 72, "%s", diff_id);
        return;
    }
    _cleanup_free_ char *s = xasprintf("%s %s", parent_chain, diff_id);
    digest_of(s, strlen(s), out);
}
