#include "chase.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "strbuf.h"

#define MAX_SYMLINKS 40

static bool force_fallback;

void chase_force_fallback(bool on)
{
    force_fallback = on;
}

static int try_openat2(int rootfd, const char *path, int open_flags, unsigned flags)
{
    struct open_how how = {
        .flags = (uint64_t)(open_flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    if (open_flags & O_CREAT) {
        how.mode = 0644;
    }
    if (flags & CHASE_NO_SYMLINKS) {
        how.resolve |= RESOLVE_NO_SYMLINKS;
    }
    if (flags & CHASE_NOFOLLOW) {
        how.flags |= O_NOFOLLOW;
    }
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    return fd < 0 ? -errno : fd;
}

/* Split the next component off *p (skipping slashes); returns its length. */
static size_t next_component(const char **p)
{
    while (**p == '/') {
        (*p)++;
    }
    return strcspn(*p, "/");
}

/* The fallback walk: resolve every component by hand from rootfd. The
 * remaining path is kept in a buffer so symlink targets can be spliced in. */
static int walk(int rootfd, const char *path, int open_flags, unsigned flags)
{
    struct strbuf rest = STRBUF_INIT;
    strbuf_adds(&rest, path);
    int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
    int links = 0, r;
    if (cur < 0) {
        strbuf_release(&rest);
        return -errno;
    }
    size_t off = 0;
    for (;;) {
        const char *p = rest.buf + off;
        size_t len = next_component(&p);
        off = (size_t)(p - rest.buf);
        if (len == 0) {
            /* Path ended on a directory: reopen it with the wanted flags. */
            r = openat(cur, ".", open_flags | O_CLOEXEC);
            r = r < 0 ? -errno : r;
            break;
        }
        char name[256];
        if (len >= sizeof(name)) {
            r = -ENAMETOOLONG;
            break;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        off += len;
        const char *after = rest.buf + off;
        while (*after == '/') {
            after++;
        }
        bool last = *after == '\0';
        if (streq(name, ".")) {
            continue;
        }
        if (streq(name, "..")) {
            struct stat a, b;
            if (fstat(cur, &a) == 0 && fstat(rootfd, &b) == 0 && a.st_dev == b.st_dev &&
                a.st_ino == b.st_ino) {
                continue; /* ".." at the root stays at the root */
            }
            int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (up < 0) {
                r = -errno;
                break;
            }
            close(cur);
            cur = up;
            continue;
        }
        struct stat st;
        int nfd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT && (flags & CHASE_MKDIR) &&
            (!last || (open_flags & O_DIRECTORY))) {
            if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST) {
                r = -errno;
                break;
            }
            nfd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
        if (nfd < 0) {
            if (last && errno == ENOENT && (open_flags & O_CREAT)) {
                r = openat(cur, name, open_flags | O_NOFOLLOW | O_CLOEXEC, 0644);
                r = r < 0 ? -errno : r;
                break;
            }
            r = -errno;
            break;
        }
        if (fstat(nfd, &st) < 0) {
            r = -errno;
            close(nfd);
            break;
        }
        if (S_ISLNK(st.st_mode) && !(last && (flags & CHASE_NOFOLLOW))) {
            if ((flags & CHASE_NO_SYMLINKS) || ++links > MAX_SYMLINKS) {
                close(nfd);
                r = -ELOOP;
                break;
            }
            char target[4096];
            ssize_t n = readlinkat(nfd, "", target, sizeof(target) - 1);
            close(nfd);
            if (n < 0) {
                r = -errno;
                break;
            }
            target[n] = '\0';
            struct strbuf nr = STRBUF_INIT;
            strbuf_adds(&nr, target);
            strbuf_addc(&nr, '/');
            strbuf_adds(&nr, after);
            strbuf_release(&rest);
            rest = nr;
            off = 0;
            if (target[0] == '/') {
                int root = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
                if (root < 0) {
                    r = -errno;
                    break;
                }
                close(cur);
                cur = root;
            }
            continue;
        }
        if (last) {
            if (S_ISDIR(st.st_mode) || (open_flags & O_PATH)) {
                r = S_ISLNK(st.st_mode)
                        ? fcntl(nfd, F_DUPFD_CLOEXEC, 3)
                        : openat(nfd, S_ISDIR(st.st_mode) ? "." : "", open_flags | O_CLOEXEC);
                if (r < 0 && !S_ISDIR(st.st_mode)) {
                    r = openat(cur, name, open_flags | O_NOFOLLOW | O_CLOEXEC);
                }
                r = r < 0 ? -errno : r;
            } else {
                r = openat(cur, name, open_flags | O_NOFOLLOW | O_CLOEXEC, 0644);
                r = r < 0 ? -errno : r;
            }
            close(nfd);
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(nfd);
            r = -ENOTDIR;
            break;
        }
        close(cur);
        cur = nfd;
    }
    close(cur);
    strbuf_release(&rest);
    return r;
}

/* Create the missing directories of path with the openat2 primitive: find
 * the deepest existing prefix, mkdirat the next component below it. */
static int mkdir_parents(int rootfd, const char *path, unsigned flags)
{
    _cleanup_free_ char *p = xstrdup(path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') {
            continue;
        }
        char saved = p[i];
        p[i] = '\0';
        int fd = try_openat2(rootfd, p, O_PATH | O_DIRECTORY, flags & CHASE_NO_SYMLINKS);
        if (fd == -ENOENT) {
            char *slash = strrchr(p, '/');
            const char *name = slash ? slash + 1 : p;
            int pfd;
            if (slash && slash != p) {
                *slash = '\0';
                pfd = try_openat2(rootfd, p, O_PATH | O_DIRECTORY, flags & CHASE_NO_SYMLINKS);
                *slash = '/';
            } else {
                pfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
            }
            if (pfd < 0) {
                return pfd;
            }
            if (*name && mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) {
                int e = -errno;
                close(pfd);
                return e;
            }
            close(pfd);
        } else if (fd < 0) {
            return fd;
        } else {
            close(fd);
        }
        p[i] = saved;
    }
    return 0;
}

int chase_open(int rootfd, const char *path, int open_flags, unsigned flags)
{
    if (!force_fallback) {
        int fd = try_openat2(rootfd, path, open_flags, flags);
        if (fd == -ENOENT && (flags & CHASE_MKDIR)) {
            /* Create the parents, then the target itself if a directory was
             * asked. */
            _cleanup_free_ char *parent = xstrdup(path);
            char *slash = strrchr(parent, '/');
            int r = 0;
            if (slash) {
                *slash = '\0';
                r = mkdir_parents(rootfd, parent, flags);
            }
            if (r >= 0 && (open_flags & O_DIRECTORY)) {
                r = mkdir_parents(rootfd, path, flags);
            }
            fd = r < 0 ? r : try_openat2(rootfd, path, open_flags, flags);
            if (fd == -ENOENT) {
                /* A symlink on the way names a directory that does not exist
                 * yet (mkdirat met the link itself): the walk resolves it
                 * inside the root and creates the target, so both resolvers
                 * agree. */
                return walk(rootfd, path, open_flags, flags);
            }
        }
        if (fd != -ENOSYS && fd != -E2BIG) {
            return fd;
        }
    }
    return walk(rootfd, path, open_flags, flags);
}

int chase_parent(int rootfd, const char *path, unsigned flags, const char **ret_name)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    const char *slash = NULL;
    for (size_t i = 0; i < n; i++) {
        if (path[i] == '/') {
            slash = path + i;
        }
    }
    *ret_name = slash ? slash + 1 : path;
    if (!slash || slash == path) {
        return slash || n ? fcntl(rootfd, F_DUPFD_CLOEXEC, 3) : -EINVAL;
    }
    _cleanup_free_ char *parent = xstrndup(path, (size_t)(slash - path));
    return chase_open(rootfd, parent, O_PATH | O_DIRECTORY, flags & ~CHASE_NOFOLLOW);
}
