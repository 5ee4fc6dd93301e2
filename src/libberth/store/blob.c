/* blob.c - the content-addressed blob store (see blob.h for the contract).
 *
 * Every path below the root is reached from a directory fd opened once in
 * blob_store_open(); digests are validated before they become file names, so
 * a digest from a manifest ("sha256:../../etc/passwd") can never name a file
 * outside blobs/sha256.
 */
#include "libberth/store/blob.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/sha256.h"
#include "basic/log.h"
#include "basic/strv.h"
#include "libberth/common/digest.h"

#define DIGEST_PREFIX "sha256:"
#define DIGEST_PREFIX_LEN (sizeof(DIGEST_PREFIX) - 1)
#define HEX_LEN 64
/* A temp file untouched for this long belongs to a writer that died. */
#define STALE_TEMP_SEC (60 * 60)

struct blob_store {
    int blobs_fd;  /* <root>/blobs */
    int sha256_fd; /* <root>/blobs/sha256 */
    int tmp_fd;    /* <root>/blobs/tmp */
};

struct blob_writer {
    struct blob_store *store;
    struct digest *ctx;
    int fd;
    char *tmp_name;        /* name under tmp_fd, NULL once renamed or removed */
    char *expected_digest; /* NULL if unknown */
    int64_t expected_size; /* -1 if unknown */
    uint64_t max_size;
    uint64_t offset;
    bool failed; /* a write failed: the hash no longer matches the file */
};

static bool hex_valid(const char *h)
{
    for (size_t i = 0; i < HEX_LEN; i++) {
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) {
            return false;
        }
    }
    return h[HEX_LEN] == '\0';
}

/* Exactly "sha256:" + 64 lowercase hex: the only form accepted, so the hex
 * part is always a safe single path component. Returns the hex or NULL. */
static const char *digest_hex(const char *digest)
{
    if (!digest || strncmp(digest, DIGEST_PREFIX, DIGEST_PREFIX_LEN) != 0) {
        return NULL;
    }
    const char *h = digest + DIGEST_PREFIX_LEN;
    if (strnlen(h, HEX_LEN + 1) != HEX_LEN || !hex_valid(h)) {
        return NULL;
    }
    return h;
}

static int digest_check(const char *digest, const char **ret_hex, struct berth_error **err)
{
    const char *h = digest_hex(digest);
    if (!h) {
        /* Cap what we echo: the digest may come from a hostile manifest. */
        return berth_error_set(err, EINVAL, "invalid digest '%.80s'", digest ? digest : "");
    }
    *ret_hex = h;
    return 0;
}

void digest_format(const unsigned char md[32], char out[72])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, DIGEST_PREFIX, DIGEST_PREFIX_LEN);
    char *p = out + DIGEST_PREFIX_LEN;
    for (size_t i = 0; i < 32; i++) {
        *p++ = hex[md[i] >> 4];
        *p++ = hex[md[i] & 0xf];
    }
    *p = '\0';
}

/* In-memory data is small (configs, manifests, chain ids): basic/sha256.h,
 * which spares the process OpenSSL's start-up (see there). */
void digest_of(const void *data, size_t len, char out[72])
{
    unsigned char md[32];
    sha256(data, len, md);
    digest_format(md, out);
}

static int open_subdir(int dirfd, const char *name, int *ret_fd, struct berth_error **err)
{
    if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST) {
        return berth_error_sys(err, errno, "mkdir '%s'", name);
    }
    /* O_NOFOLLOW: a symlink planted at blobs/sha256 must not redirect writes. */
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", name);
    }
    *ret_fd = fd;
    return 0;
}

/* Whether the process that named a temp file "<rnd>.<pid>.tmp" is gone (a
 * pull killed mid-blob). A reused pid only keeps the file until it is old. */
static bool writer_gone(const char *name)
{
    const char *dot = strchr(name, '.');
    char *end;
    long pid = dot ? strtol(dot + 1, &end, 10) : 0;
    if (pid <= 0 || !streq(end, ".tmp")) {
        return false;
    }
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Remove temp files whose writer has died: its pid is gone, or the file is
 * so old that no live writer can own it. Best effort. */
static void remove_stale_temps(int tmp_fd)
{
    int fd = openat(tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode) ||
            (st.st_mtime > now - STALE_TEMP_SEC && !writer_gone(de->d_name))) {
            continue;
        }
        if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
            log_debug("remove stale temp '%s': %m", de->d_name);
        } else {
            log_debug("removed stale temp '%s'", de->d_name);
        }
    }
    closedir(d);
}

int blob_store_open(const char *root, struct blob_store **ret, struct berth_error **err)
{
    int r = mkdir_p(root, 0755, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", root);
    }
    _cleanup_close_ int blobs_fd = -1, sha_fd = -1, tmp_fd = -1;
    if ((r = open_subdir(root_fd, "blobs", &blobs_fd, err)) < 0 ||
        (r = open_subdir(blobs_fd, "sha256", &sha_fd, err)) < 0 ||
        (r = open_subdir(blobs_fd, "tmp", &tmp_fd, err)) < 0) {
        return berth_error_prefix(err, "open blob store '%s'", root);
    }
    remove_stale_temps(tmp_fd);

    struct blob_store *s = xcalloc(1, sizeof(*s));
    s->blobs_fd = TAKE_FD(blobs_fd);
    s->sha256_fd = TAKE_FD(sha_fd);
    s->tmp_fd = TAKE_FD(tmp_fd);
    *ret = s;
    return 0;
}

void blob_store_free(struct blob_store *s)
{
    if (!s) {
        return;
    }
    safe_close(s->blobs_fd);
    safe_close(s->sha256_fd);
    safe_close(s->tmp_fd);
    free(s);
}

bool blob_exists(struct blob_store *s, const char *digest)
{
    return blob_size(s, digest) >= 0;
}

int64_t blob_size(struct blob_store *s, const char *digest)
{
    const char *h = digest_hex(digest);
    if (!h) {
        return -EINVAL;
    }
    struct stat st;
    if (fstatat(s->sha256_fd, h, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        return -ENOENT;
    }
    return st.st_size;
}

int blob_open(struct blob_store *s, const char *digest, int *ret_fd, struct berth_error **err)
{
    const char *h = NULL;
    int r = digest_check(digest, &h, err);
    if (r < 0) {
        return r;
    }
    int fd = openat(s->sha256_fd, h, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return berth_error_set(err, ENOENT, "blob '%s' not found", digest);
        }
        return berth_error_sys(err, errno, "open blob '%s'", digest);
    }
    *ret_fd = fd;
    return 0;
}

/* The stored file is trusted no more than the network it came from: a disk
 * error or a tampered store must not hand wrong content to the caller. */
int blob_read(struct blob_store *s, const char *digest, size_t max, char **ret, size_t *ret_len,
              struct berth_error **err)
{
    _cleanup_close_ int fd = -1;
    int r = blob_open(s, digest, &fd, err);
    if (r < 0) {
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return berth_error_sys(err, errno, "stat blob '%s'", digest);
    }
    if ((uint64_t)st.st_size > max) {
        return berth_error_set(err, EFBIG, "blob '%s' is %" PRId64 " bytes, more than %zu", digest,
                               (int64_t)st.st_size, max);
    }
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    r = read_fd_full(fd, max, &buf, &len, err);
    if (r < 0) {
        return berth_error_prefix(err, "read blob '%s'", digest);
    }
    char got[72];
    digest_of(buf, len, got);
    if (!streq(got, digest)) {
        return berth_error_set(err, EBADMSG, "blob %s: digest mismatch (got %s)", digest, got);
    }
    if (ret_len) {
        *ret_len = len;
    }
    *ret = TAKE_PTR(buf);
    return 0;
}

#define STREAM_BLOCK (1 << 20)

int blob_stream(struct blob_store *s, const char *digest, blob_block_fn fn, void *userdata,
                struct berth_error **err)
{
    _cleanup_close_ int fd = -1;
    int r = blob_open(s, digest, &fd, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *buf = xmalloc(STREAM_BLOCK);
    for (;;) {
        ssize_t n = read(fd, buf, STREAM_BLOCK);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return berth_error_sys(err, errno, "read blob '%s'", digest);
        }
        if (n == 0) {
            return 0;
        }
        r = fn(buf, (size_t)n, userdata, err);
        if (r < 0) {
            return r;
        }
    }
}

static char *temp_name(void)
{
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        /* Uniqueness only, not secrecy: O_EXCL catches any collision. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rnd = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts;
    }
    return xasprintf("%016" PRIx64 ".%d.tmp", rnd, (int)getpid());
}

int blob_writer_new(struct blob_store *s, const char *expected_digest, int64_t expected_size,
                    uint64_t max_size, struct blob_writer **ret, struct berth_error **err)
{
    const char *h = NULL;
    int r;
    if (expected_digest && (r = digest_check(expected_digest, &h, err)) < 0) {
        return r;
    }
    if (expected_size < -1) {
        return berth_error_set(err, EINVAL, "invalid blob size %" PRId64, expected_size);
    }
    if (expected_size >= 0 && (uint64_t)expected_size > max_size) {
        return berth_error_set(err, EFBIG, "blob %s: size %" PRId64 " exceeds limit of %" PRIu64,
                               expected_digest ? expected_digest : "", expected_size, max_size);
    }

    _cleanup_free_ char *name = NULL;
    int fd = -1;
    for (int tries = 0; fd < 0; tries++) {
        free(name);
        name = temp_name();
        fd = openat(s->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && (errno != EEXIST || tries >= 16)) {
            return berth_error_sys(err, errno, "create temp file for blob");
        }
    }

    struct blob_writer *w = xcalloc(1, sizeof(*w));
    w->store = s;
    w->fd = fd;
    w->tmp_name = TAKE_PTR(name);
    w->expected_digest = expected_digest ? xstrdup(expected_digest) : NULL;
    w->expected_size = expected_size;
    w->max_size = max_size;
    w->ctx = digest_sha256_new();
    *ret = w;
    return 0;
}

static const char *writer_label(const struct blob_writer *w)
{
    return w->expected_digest ? w->expected_digest : "(unknown digest)";
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct berth_error **err)
{
    if (w->failed) {
        return berth_error_set(err, EIO, "blob %s: writer failed earlier", writer_label(w));
    }
    uint64_t limit = w->max_size;
    if (w->expected_size >= 0 && (uint64_t)w->expected_size < limit) {
        limit = (uint64_t)w->expected_size;
    }
    /* Refuse before writing: a server that sends more than it announced is
     * either broken or trying to fill the disk. */
    if (len > limit - w->offset) {
        w->failed = true;
        return berth_error_set(err, EFBIG, "blob %s: more than %" PRIu64 " bytes", writer_label(w),
                               limit);
    }
    if (len == 0) {
        return 0;
    }
    int r = write_all(w->fd, data, len);
    if (r < 0) {
        w->failed = true;
        return berth_error_sys(err, -r, "write blob %s", writer_label(w));
    }
    digest_update(w->ctx, data, len);
    w->offset += len;
    return 0;
}

uint64_t blob_writer_offset(const struct blob_writer *w)
{
    return w->offset;
}

static int writer_commit(struct blob_writer *w, char **ret_digest, struct berth_error **err)
{
    if (w->failed) {
        return berth_error_set(err, EIO, "blob %s: writer failed earlier", writer_label(w));
    }
    if (w->expected_size >= 0 && w->offset != (uint64_t)w->expected_size) {
        return berth_error_set(
            err, EBADMSG, "blob %s: size mismatch (expected %" PRId64 " bytes, got %" PRIu64 ")",
            writer_label(w), w->expected_size, w->offset);
    }
    char got[DIGEST_STR_SIZE];
    if (digest_final_str(w->ctx, got) < 0) {
        return berth_error_set(err, EIO, "blob %s: sha256 failed", writer_label(w));
    }
    if (w->expected_digest && !streq(got, w->expected_digest)) {
        return berth_error_set(err, EBADMSG, "blob %s: digest mismatch (got %s)",
                               w->expected_digest, got);
    }
    const char *hex = got + DIGEST_PREFIX_LEN;

    /* fchmod: the umask must not decide whether other users can read blobs. */
    if (fchmod(w->fd, 0644) < 0) {
        return berth_error_sys(err, errno, "chmod blob %s", got);
    }
    /* Data before name: after a crash the name must never point at a file
     * whose content has not reached the disk. */
    if (fsync(w->fd) < 0) {
        return berth_error_sys(err, errno, "fsync blob %s", got);
    }
    w->fd = safe_close(w->fd);

    struct blob_store *s = w->store;
    if (renameat2(s->tmp_fd, w->tmp_name, s->sha256_fd, hex, RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST) {
            /* Another writer stored the same content first; it is identical
             * by construction, so ours is simply dropped. */
            log_debug("blob %s already stored", got);
            goto done;
        }
        if (errno != EINVAL && errno != ENOSYS) {
            return berth_error_sys(err, errno, "rename blob %s into place", got);
        }
        /* No RENAME_NOREPLACE on this fs: replacing an identical file is
         * atomic and harmless to readers of the old one. */
        if (renameat(s->tmp_fd, w->tmp_name, s->sha256_fd, hex) < 0) {
            return berth_error_sys(err, errno, "rename blob %s into place", got);
        }
    }
    free(w->tmp_name);
    w->tmp_name = NULL;
    if (fsync(s->sha256_fd) < 0) {
        return berth_error_sys(err, errno, "fsync blob directory");
    }
done:
    if (ret_digest) {
        *ret_digest = xstrdup(got);
    }
    return 0;
}

int blob_writer_commit(struct blob_writer *w, char **ret_digest, struct berth_error **err)
{
    int r = writer_commit(w, ret_digest, err);
    blob_writer_free(w);
    return r;
}

void blob_writer_free(struct blob_writer *w)
{
    if (!w) {
        return;
    }
    safe_close(w->fd);
    if (w->tmp_name && unlinkat(w->store->tmp_fd, w->tmp_name, 0) < 0 && errno != ENOENT) {
        log_debug("remove temp '%s': %m", w->tmp_name);
    }
    free(w->tmp_name);
    free(w->expected_digest);
    digest_free(w->ctx);
    free(w);
}

int blob_put(struct blob_store *s, const void *data, size_t len, char **ret_digest,
             struct berth_error **err)
{
    _cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
    int r = blob_writer_new(s, NULL, (int64_t)len, len, &w, err);
    if (r < 0) {
        return r;
    }
    r = blob_writer_write(w, data, len, err);
    if (r < 0) {
        return r;
    }
    return blob_writer_commit(TAKE_PTR(w), ret_digest, err);
}

int blob_delete(struct blob_store *s, const char *digest, struct berth_error **err)
{
    const char *h = NULL;
    int r = digest_check(digest, &h, err);
    if (r < 0) {
        return r;
    }
    if (unlinkat(s->sha256_fd, h, 0) < 0 && errno != ENOENT) {
        return berth_error_sys(err, errno, "remove blob '%s'", digest);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int blob_list(struct blob_store *s, char ***ret, struct berth_error **err)
{
    /* A fresh fd: readdir on a dup would share (and move) the offset. */
    int fd = openat(s->sha256_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open blob directory");
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return berth_error_sys(err, e, "open blob directory");
    }
    _cleanup_strv_free_ char **v = NULL;
    size_t n = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            break;
        }
        if ((de->d_type != DT_REG && de->d_type != DT_UNKNOWN) || strlen(de->d_name) != HEX_LEN ||
            !hex_valid(de->d_name)) {
            continue;
        }
        strv_consume(&v, xasprintf(DIGEST_PREFIX "%s", de->d_name));
        n++;
    }
    int e = errno;
    closedir(d);
    if (e != 0) {
        return berth_error_sys(err, e, "read blob directory");
    }
    if (!v) {
        v = xcalloc(1, sizeof(char *));
    }
    qsort(v, n, sizeof(char *), cmp_str);
    *ret = TAKE_PTR(v);
    return 0;
}
