#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "strv.h"

int read_fd_full(int fd, size_t max, char **ret, size_t *ret_len, struct berth_error **err)
{
    size_t alloc = 4096, len = 0;
    _cleanup_free_ char *buf = xmalloc(alloc);
    for (;;) {
        if (len + 1 >= alloc) {
            if (alloc > max) {
                return berth_error_set(err, EFBIG, "file larger than %zu bytes", max);
            }
            alloc *= 2;
            buf = xrealloc(buf, alloc);
        }
        ssize_t n = read(fd, buf + len, alloc - len - 1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return berth_error_sys(err, errno, "read");
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len > max) {
            return berth_error_set(err, EFBIG, "file larger than %zu bytes", max);
        }
    }
    buf[len] = '\0';
    if (ret_len) {
        *ret_len = len;
    }
    *ret = TAKE_PTR(buf);
    return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
                 struct berth_error **err)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", path);
    }
    int r = read_fd_full(fd, max, ret, ret_len, err);
    if (r < 0) {
        return berth_error_prefix(err, "'%s'", path);
    }
    return 0;
}

int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t read_all(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int write_file_at(int dirfd, const char *path, const char *data, size_t len,
                  struct berth_error **err)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", path);
    }
    /* Kernel knobs take one write; a short write is an error, not a retry. */
    ssize_t n = write(fd, data, len);
    if (n < 0) {
        return berth_error_sys(err, errno, "write '%s'", path);
    }
    if ((size_t)n != len) {
        return berth_error_set(err, EIO, "write '%s': short write", path);
    }
    return 0;
}

static int replace_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                      bool sync, struct berth_error **err)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return berth_error_set(err, ENAMETOOLONG, "path too long '%s'", path);
    }
    _cleanup_close_ int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        return berth_error_sys(err, errno, "create '%s'", tmp);
    }
    /* A stale temp file of a dead process with our pid keeps its old mode
     * through O_CREAT: set the one asked for (credentials files are 0600). */
    if (fchmod(fd, mode) < 0) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        return berth_error_sys(err, e, "chmod '%s'", tmp);
    }
    int r = write_all(fd, data, len);
    if (r < 0 || (sync && fsync(fd) < 0)) {
        r = r < 0 ? -r : errno;
        unlinkat(dirfd, tmp, 0);
        return berth_error_sys(err, r, "write '%s'", tmp);
    }
    if (renameat(dirfd, tmp, dirfd, path) < 0) {
        r = errno;
        unlinkat(dirfd, tmp, 0);
        return berth_error_sys(err, r, "rename '%s'", path);
    }
    return 0;
}

int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                         struct berth_error **err)
{
    return replace_at(dirfd, path, data, len, mode, true, err);
}

int write_file_replace_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                          struct berth_error **err)
{
    return replace_at(dirfd, path, data, len, mode, false, err);
}

int write_file_new_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                      struct berth_error **err)
{
    _cleanup_close_ int fd =
        openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        return berth_error_sys(err, errno, "create '%s'", path);
    }
    int r = fchmod(fd, mode) < 0 ? -errno : write_all(fd, data, len);
    if (r < 0) {
        unlinkat(dirfd, path, 0);
        return berth_error_sys(err, -r, "write '%s'", path);
    }
    return 0;
}

int mkdir_p(const char *path, mode_t mode, struct berth_error **err)
{
    /* Nearly every call finds the directory there (the store's paths at
     * each command): one mkdir, not one per component. */
    if (mkdir(path, mode) == 0 || errno == EEXIST) {
        return 0;
    }
    if (errno != ENOENT) {
        return berth_error_sys(err, errno, "mkdir '%s'", path);
    }
    _cleanup_free_ char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') {
            continue;
        }
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            return berth_error_sys(err, errno, "mkdir '%s'", p);
        }
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST) {
        return berth_error_sys(err, errno, "mkdir '%s'", p);
    }
    return 0;
}

static int rm_rf_children(int dfd, dev_t dev, struct berth_error **err)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return berth_error_sys(err, e, "opendir");
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                /* A mount point: never delete into another filesystem. */
                r = berth_error_set(err, EBUSY, "'%s' is a mount point", de->d_name);
                continue;
            }
            int cfd = openat(dirfd(d), de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
            if (cfd < 0 && errno == EPERM) {
                cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
            if (cfd >= 0) {
                int q = rm_rf_children(cfd, dev, err);
                if (q < 0) {
                    r = q;
                }
            }
            if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                r = berth_error_sys(err, errno, "rmdir '%s'", de->d_name);
            }
        } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
            r = berth_error_sys(err, errno, "unlink '%s'", de->d_name);
        }
    }
    closedir(d);
    return r;
}

int rm_rf_at(int dirfd, const char *name, struct berth_error **err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return errno == ENOENT ? 0 : berth_error_sys(err, errno, "stat '%s'", name);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
            return berth_error_sys(err, errno, "unlink '%s'", name);
        }
        return 0;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", name);
    }
    int r = rm_rf_children(fd, st.st_dev, err);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
        return berth_error_sys(err, errno, "rmdir '%s'", name);
    }
    return r;
}

/* A DIR of dfd's own (its offset shared with nobody else's reads). */
static DIR *opendir_at(int dfd)
{
    int dup = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
    if (!d && dup >= 0) {
        int e = errno;
        close(dup);
        errno = e;
    }
    return d;
}

int dir_is_empty(int dfd)
{
    DIR *d = opendir_at(dfd);
    if (!d) {
        return -errno;
    }
    int r = 1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            r = 0;
            break;
        }
    }
    closedir(d);
    return r;
}

int rm_rf_contents(int dfd, struct berth_error **err)
{
    DIR *d = opendir_at(dfd);
    if (!d) {
        return berth_error_sys(err, errno, "read directory");
    }
    /* Names first: removing while reading would skip entries. */
    _cleanup_strv_free_ char **names = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            strv_push(&names, de->d_name);
        }
    }
    closedir(d);
    STRV_FOREACH(n, names)
    {
        int r = rm_rf_at(dfd, *n, err);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}
