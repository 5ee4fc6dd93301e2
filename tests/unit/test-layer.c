/* Unit tests of layer unpacking: content and metadata land as the tar says,
 * whiteouts in both modes, and no entry can write, link or chmod outside the
 * root. Test tars are built with python3's tarfile module, which writes
 * whatever names and link targets it is given. */
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/fileio.h"
#include "libberth/image/layer.h"

struct fixture {
    char *tmp;  /* removed by teardown */
    char *root; /* tmp/root, the layer root */
    int rootfd;
    char *host; /* a "host" directory outside the root, removed by teardown */
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/test-layer-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->tmp = xstrdup(tmpl);
    f->root = xasprintf("%s/root", f->tmp);
    assert_int_equal(mkdir(f->root, 0755), 0);
    f->rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->rootfd >= 0);
    char htmpl[] = "/tmp/test-layer-host-XXXXXX";
    assert_non_null(mkdtemp(htmpl));
    f->host = xstrdup(htmpl);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    chase_force_fallback(false);
    close(f->rootfd);
    assert_int_equal(rm_rf_at(AT_FDCWD, f->tmp, NULL), 0);
    assert_int_equal(rm_rf_at(AT_FDCWD, f->host, NULL), 0);
    free(f->tmp);
    free(f->root);
    free(f->host);
    free(f);
    return 0;
}

/* Python helpers: f(name, data, mode, uid, gid, mtime, pax), d(name, mode,
 * mtime), sl(name, target), hl(name, target), dev(name, type, major, minor). */
static const char py_prelude[] =
    "import tarfile, io, sys\n"
    "t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)\n"
    "def add(name, typ, data=b'', mode=0o644, uid=0, gid=0, mtime=1000000000, pax=None,\n"
    "        link='', major=0, minor=0):\n"
    "    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.uid = uid\n"
    "    ti.gid = gid; ti.mtime = mtime; ti.linkname = link; ti.devmajor = major\n"
    "    ti.devminor = minor; ti.pax_headers = pax or {}\n"
    "    ti.size = len(data) if typ == tarfile.REGTYPE else 0\n"
    "    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)\n"
    "def f(name, data=b'', mode=0o644, **kw): add(name, tarfile.REGTYPE, data, mode, **kw)\n"
    "def d(name, mode=0o755, **kw): add(name, tarfile.DIRTYPE, mode=mode, **kw)\n"
    "def sl(name, target): add(name, tarfile.SYMTYPE, mode=0o777, link=target)\n"
    "def hl(name, target): add(name, tarfile.LNKTYPE, link=target)\n"
    "def dev(name, typ, major=0, minor=0, mode=0o666):\n"
    "    add(name, typ, mode=mode, major=major, minor=minor)\n"
    "CHR = tarfile.CHRTYPE; FIFO = tarfile.FIFOTYPE\n";

/* Build tmp/<name> from a python body; returns the tar's path (caller frees). */
static char *make_tar(struct fixture *f, const char *name, const char *body)
{
    char *script = xasprintf("%s/%s.py", f->tmp, name);
    char *tar = xasprintf("%s/%s", f->tmp, name);
    FILE *fp = fopen(script, "w");
    assert_non_null(fp);
    fprintf(fp, "%s%s\nt.close()\n", py_prelude, body);
    assert_int_equal(fclose(fp), 0);
    char *cmd = xasprintf("python3 '%s' '%s'", script, tar);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    unlink(script);
    free(script);
    return tar;
}

static int unpack_path(struct fixture *f, const char *tar, enum layer_mode mode,
                       const struct layer_limits *lim, struct layer_stats *st,
                       struct berth_error **e)
{
    int fd = open(tar, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int r = layer_unpack(fd, f->rootfd, mode, lim, st, e);
    close(fd);
    return r;
}

/* Unpack a tar built from body; returns layer_unpack's result, error freed. */
static int unpack_body(struct fixture *f, const char *body, enum layer_mode mode,
                       struct layer_stats *st)
{
    char *tar = make_tar(f, "layer.tar", body);
    struct berth_error *e = NULL;
    int r = unpack_path(f, tar, mode, NULL, st, &e);
    if (r < 0) {
        assert_non_null(e);
        assert_non_null(e->msg);
    }
    berth_error_free(e);
    unlink(tar);
    free(tar);
    return r;
}

static char *read_in_root(struct fixture *f, const char *path)
{
    char *data = NULL;
    size_t len;
    if (read_file_at(f->rootfd, path, 1 << 20, &data, &len, NULL) < 0) {
        return NULL;
    }
    return data;
}

static bool exists_at(int dfd, const char *path)
{
    struct stat st;
    return fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool host_exists(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    struct stat st;
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static void create_in_root(struct fixture *f, const char *path, const char *data)
{
    _cleanup_free_ char *copy = xstrdup(path);
    char *slash = strrchr(copy, '/');
    if (slash) {
        *slash = '\0';
        int fd = chase_open(f->rootfd, copy, O_PATH | O_DIRECTORY, CHASE_MKDIR);
        assert_true(fd >= 0);
        close(fd);
    }
    assert_int_equal(write_file_atomic_at(f->rootfd, path, data, strlen(data), 0644, NULL), 0);
}

static void test_regular_files(void **state)
{
    struct fixture *f = *state;
    struct layer_stats st;
    assert_int_equal(unpack_body(f,
                                 "d('etc', mode=0o755, mtime=1000)\n"
                                 "f('etc/hello', b'hi\\n', mode=0o640, uid=1000, gid=1001,"
                                 " mtime=1234567890)\n"
                                 "f('./bin/su', b'#!', mode=0o4755)\n"
                                 "f('/abs', b'abs', mode=0o2711)\n"
                                 "f('.//dot/./slash', b'')\n"
                                 "f('sticky', b'', mode=0o1777)\n",
                                 LAYER_OVERLAY, &st),
                     0);
    assert_int_equal(st.entries, 6);
    assert_int_equal(st.bytes, 3 + 2 + 3);
    assert_int_equal(st.skipped_devices, 0);

    char *s = read_in_root(f, "etc/hello");
    assert_string_equal(s, "hi\n");
    free(s);
    struct stat sb;
    assert_int_equal(fstatat(f->rootfd, "etc/hello", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
    assert_int_equal(sb.st_mtim.tv_sec, 1234567890);
    /* Tests run as root here; as a user the files stay ours (rootless). */
    assert_int_equal(sb.st_uid, geteuid() == 0 ? 1000 : geteuid());
    assert_int_equal(sb.st_gid, geteuid() == 0 ? 1001 : getegid());
    assert_int_equal(fstatat(f->rootfd, "bin/su", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(sb.st_mode & 07777, 04755);
    assert_int_equal(fstatat(f->rootfd, "abs", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(sb.st_mode & 07777, 02711);
    assert_int_equal(fstatat(f->rootfd, "sticky", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(sb.st_mode & 07777, 01777);
    assert_true(exists_at(f->rootfd, "dot/slash"));
    /* Implicit parent directories are 0755. */
    assert_int_equal(fstatat(f->rootfd, "bin", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 0755);
    /* The directory's mtime survives the file written into it later. */
    assert_int_equal(fstatat(f->rootfd, "etc", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(sb.st_mtim.tv_sec, 1000);
}

static void test_dirs_and_replacement(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(unpack_body(f,
                                 "d('ro', mode=0o555, mtime=2000)\n"
                                 "f('ro/file', b'x')\n"
                                 "d('ro/sub', mode=0o700)\n"
                                 "f('ro/sub/deep', b'y')\n"
                                 /* a file replaced by a dir, a dir by a file */
                                 "f('swap1', b'file')\n"
                                 "d('swap1')\n"
                                 "d('swap2')\n"
                                 "f('swap2/child', b'c')\n"
                                 "f('swap2', b'now a file')\n"
                                 /* a dir over a dir keeps its content, takes the new mode */
                                 "d('keep', mode=0o755)\n"
                                 "f('keep/a', b'a')\n"
                                 "d('keep', mode=0o750)\n",
                                 LAYER_OVERLAY, NULL),
                     0);
    struct stat sb;
    assert_int_equal(fstatat(f->rootfd, "ro", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(sb.st_mode & 07777, 0555);
    assert_int_equal(sb.st_mtim.tv_sec, 2000);
    assert_int_equal(fstatat(f->rootfd, "ro/sub", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    assert_true(exists_at(f->rootfd, "ro/sub/deep"));
    assert_int_equal(fstatat(f->rootfd, "swap1", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISDIR(sb.st_mode));
    char *s = read_in_root(f, "swap2");
    assert_string_equal(s, "now a file");
    free(s);
    assert_int_equal(fstatat(f->rootfd, "keep", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(sb.st_mode & 07777, 0750);
    assert_true(exists_at(f->rootfd, "keep/a"));
}

static void test_symlinks_verbatim(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *body = xasprintf("sl('abs', '%s')\n"
                                          "sl('rel', '../../../x')\n"
                                          "sl('dir/self', '.')\n",
                                          f->host);
    assert_int_equal(unpack_body(f, body, LAYER_OVERLAY, NULL), 0);
    char buf[4096];
    ssize_t n = readlinkat(f->rootfd, "abs", buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, f->host);
    n = readlinkat(f->rootfd, "rel", buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "../../../x");
    struct stat sb;
    assert_int_equal(fstatat(f->rootfd, "dir/self", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISLNK(sb.st_mode));
}

static void test_hardlinks(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(unpack_body(f,
                                 "f('a/file', b'data', mode=0o600)\n"
                                 "hl('b/link', 'a/file')\n"
                                 "hl('./c', './a/file')\n"
                                 "sl('s', 'a/file')\n"
                                 "hl('slink', 's')\n",
                                 LAYER_OVERLAY, NULL),
                     0);
    struct stat a, b, c, s, sl;
    assert_int_equal(fstatat(f->rootfd, "a/file", &a, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(fstatat(f->rootfd, "b/link", &b, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(fstatat(f->rootfd, "c", &c, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_ino, c.st_ino);
    assert_int_equal(a.st_nlink, 3);
    /* A hardlink to a symlink links the symlink itself, never its target. */
    assert_int_equal(fstatat(f->rootfd, "s", &s, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(fstatat(f->rootfd, "slink", &sl, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISLNK(sl.st_mode));
    assert_int_equal(s.st_ino, sl.st_ino);

    /* Missing target and a directory target are errors. */
    assert_int_equal(unpack_body(f, "hl('x', 'missing')\n", LAYER_OVERLAY, NULL), -ENOENT);
    assert_int_equal(unpack_body(f, "d('dd')\nhl('y', 'dd')\n", LAYER_OVERLAY, NULL), -EPERM);
    assert_false(exists_at(f->rootfd, "y"));
}

static void test_whiteouts_overlay(void **state)
{
    struct fixture *f = *state;
    int r = unpack_body(f,
                        "f('.wh.gone')\n"
                        "d('d')\n"
                        "f('d/.wh..wh..opq')\n"
                        "f('d/new', b'n')\n"
                        "f('mine', b'm')\n"
                        "f('.wh.mine')\n",
                        LAYER_OVERLAY, NULL);
    struct stat sb;
    /* overlayfs's whiteout, allowed unprivileged since Linux 5.8. */
    assert_int_equal(fstatat(f->rootfd, "gone", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISCHR(sb.st_mode));
    assert_int_equal(sb.st_rdev, makedev(0, 0));
    assert_false(exists_at(f->rootfd, ".wh.gone"));
    if (geteuid() == 0) {
        assert_int_equal(r, 0);
        assert_int_equal(sb.st_uid, 0);
        assert_int_equal(sb.st_gid, 0);
        char v[8];
        _cleanup_free_ char *d = xasprintf("%s/d", f->root);
        ssize_t n = getxattr(d, "trusted.overlay.opaque", v, sizeof(v));
        assert_int_equal(n, 1);
        assert_int_equal(v[0], 'y');
        assert_false(exists_at(f->rootfd, "d/.wh..wh..opq"));
        assert_true(exists_at(f->rootfd, "d/new"));
        /* The layer's own file is not hidden by its own whiteout. */
        assert_int_equal(fstatat(f->rootfd, "mine", &sb, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(sb.st_mode));
    } else {
        /* trusted.* needs CAP_SYS_ADMIN: an opaque directory cannot be made. */
        assert_int_equal(r, -EPERM);
    }
}

static void test_whiteouts_apply(void **state)
{
    struct fixture *f = *state;
    /* The lower layer. */
    create_in_root(f, "gone", "lower");
    create_in_root(f, "gonedir/x/y", "lower");
    create_in_root(f, "keep", "lower");
    create_in_root(f, "d/lower1", "lower");
    create_in_root(f, "d/sub/lower2", "lower");
    create_in_root(f, "e/file", "lower");
    create_in_root(f, "e/sub/lower3", "lower");
    create_in_root(f, "mine", "lower");
    struct layer_stats st;
    assert_int_equal(unpack_body(f,
                                 "f('.wh.gone')\n"
                                 "f('.wh.gonedir')\n"
                                 "f('.wh.nothere')\n"
                                 "f('nodir/.wh.x')\n"
                                 "d('d')\n"
                                 "f('d/.wh..wh..opq')\n"
                                 "f('d/new', b'n')\n"
                                 /* opaque after the layer's own entries */
                                 "f('e/mine', b'm')\n"
                                 "f('e/sub/mine2', b'm')\n"
                                 "f('e/.wh..wh..opq')\n"
                                 /* a whiteout never hides the same layer's file */
                                 "f('mine', b'layer')\n"
                                 "f('.wh.mine')\n",
                                 LAYER_APPLY, &st),
                     0);
    assert_false(exists_at(f->rootfd, "gone"));
    assert_false(exists_at(f->rootfd, "gonedir"));
    assert_false(exists_at(f->rootfd, ".wh.gone"));
    assert_false(exists_at(f->rootfd, "nodir"));
    assert_true(exists_at(f->rootfd, "keep"));
    assert_false(exists_at(f->rootfd, "d/lower1"));
    assert_false(exists_at(f->rootfd, "d/sub"));
    assert_true(exists_at(f->rootfd, "d/new"));
    assert_false(exists_at(f->rootfd, "d/.wh..wh..opq"));
    assert_false(exists_at(f->rootfd, "e/file"));
    assert_false(exists_at(f->rootfd, "e/sub/lower3"));
    assert_true(exists_at(f->rootfd, "e/mine"));
    assert_true(exists_at(f->rootfd, "e/sub/mine2"));
    char *s = read_in_root(f, "mine");
    assert_string_equal(s, "layer");
    free(s);
    /* No overlay markers in apply mode. */
    char v[8];
    _cleanup_free_ char *d = xasprintf("%s/d", f->root);
    assert_true(getxattr(d, "trusted.overlay.opaque", v, sizeof(v)) < 0);
}

static void test_invalid_whiteouts(void **state)
{
    struct fixture *f = *state;
    create_in_root(f, "d/lower", "lower");
    const char *bad[] = {"f('.wh.')\n", "f('d/.wh..')\n", "f('d/.wh...')\n", "f('d/.wh..wh.foo')\n",
                         "f('d/.wh..wh.')\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(unpack_body(f, bad[i], LAYER_APPLY, NULL), -EINVAL);
        assert_int_equal(unpack_body(f, bad[i], LAYER_OVERLAY, NULL), -EINVAL);
        assert_true(exists_at(f->rootfd, "d/lower"));
    }
}

/* Every escape attempt, with openat2 and with the component-walk fallback. */
static void test_escapes(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *secret = xasprintf("%s/secret", f->host);
    assert_int_equal(write_file_atomic_at(AT_FDCWD, secret, "host", 4, 0600, NULL), 0);
    for (int fb = 0; fb < 2; fb++) {
        chase_force_fallback(fb);
        /* Names leading out. */
        assert_int_equal(unpack_body(f, "f('../evil', b'x')\n", LAYER_OVERLAY, NULL), -EINVAL);
        assert_int_equal(unpack_body(f, "f('/abs/../../evil', b'x')\n", LAYER_OVERLAY, NULL),
                         -EINVAL);
        assert_int_equal(unpack_body(f, "f('a/../../../evil', b'x')\n", LAYER_APPLY, NULL),
                         -EINVAL);
        assert_false(host_exists(f->tmp, "evil"));
        assert_false(host_exists("/tmp", "evil"));

        /* A symlink to a host directory, then a file through it: it lands in
         * the root's copy of that path. */
        _cleanup_free_ char *body = xasprintf("d('%s')\n"
                                              "sl('link', '%s')\n"
                                              "f('link/evil', b'x')\n"
                                              "sl('rel', '../../../../../../..%s')\n"
                                              "f('rel/evil2', b'x')\n",
                                              f->host + 1, f->host, f->host);
        assert_int_equal(unpack_body(f, body, LAYER_OVERLAY, NULL), 0);
        assert_false(host_exists(f->host, "evil"));
        assert_false(host_exists(f->host, "evil2"));
        _cleanup_free_ char *inside = xasprintf("%s/evil", f->host + 1);
        _cleanup_free_ char *inside2 = xasprintf("%s/evil2", f->host + 1);
        assert_true(exists_at(f->rootfd, inside));
        assert_true(exists_at(f->rootfd, inside2));

        /* The same with the directory missing in the root: whatever the
         * outcome, nothing reaches the host. */
        _cleanup_free_ char *dangling = xasprintf("sl('dl', '%s/')\n"
                                                  "f('dl/evil3', b'x')\n",
                                                  f->host);
        (void)unpack_body(f, dangling, LAYER_OVERLAY, NULL);
        assert_false(host_exists(f->host, "evil3"));

        /* Hardlinks to host files: by "..", by absolute name, through a symlink. */
        assert_int_equal(unpack_body(f, "hl('pw', '../../etc/passwd')\n", LAYER_OVERLAY, NULL),
                         -EINVAL);
        _cleanup_free_ char *abs = xasprintf("hl('pw2', '%s')\n", secret);
        assert_int_equal(unpack_body(f, abs, LAYER_OVERLAY, NULL), -ENOENT);
        _cleanup_free_ char *via = xasprintf("sl('hostl', '%s')\n"
                                             "hl('pw3', 'hostl/secret')\n",
                                             f->host);
        assert_true(unpack_body(f, via, LAYER_OVERLAY, NULL) < 0);
        struct stat sb;
        assert_int_equal(stat(secret, &sb), 0);
        assert_int_equal(sb.st_nlink, 1);
        assert_false(exists_at(f->rootfd, "pw"));
        assert_false(exists_at(f->rootfd, "pw2"));
        assert_false(exists_at(f->rootfd, "pw3"));

        /* chmod/chown through a symlink (CVE-2021-32760): a file or dir
         * entry replaces the symlink, the host file keeps its mode. */
        _cleanup_free_ char *over = xasprintf("sl('s1', '%s')\n"
                                              "f('s1', b'new', mode=0o777, uid=1234)\n"
                                              "sl('s2', '%s')\n"
                                              "d('s2', mode=0o777)\n",
                                              secret, f->host);
        assert_int_equal(unpack_body(f, over, LAYER_OVERLAY, NULL), 0);
        assert_int_equal(stat(secret, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0600);
        assert_int_equal(sb.st_uid, geteuid());
        assert_int_equal(stat(f->host, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0700);
        char *s = read_in_root(f, "s1");
        assert_string_equal(s, "new");
        free(s);

        /* Whiteouts through a symlink delete inside the root only. */
        _cleanup_free_ char *wh = xasprintf("sl('wl', '%s')\n"
                                            "f('wl/.wh.secret')\n",
                                            f->host);
        (void)unpack_body(f, wh, LAYER_APPLY, NULL);
        assert_true(host_exists(f->host, "secret"));

        char *cmd = xasprintf("rm -rf '%s'/* '%s'/.[!.]*", f->root, f->root);
        assert_int_equal(system(cmd), 0);
        free(cmd);
    }
    chase_force_fallback(false);
}

static void test_caps(void **state)
{
    struct fixture *f = *state;
    /* 8 MiB of zeros, gzip-compressed to a few KiB. */
    char *tar = make_tar(f, "bomb.tar", "f('zeros', bytes(8 << 20))\n");
    char *cmd = xasprintf("gzip -9 '%s'", tar);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *gz = xasprintf("%s.gz", tar);
    struct layer_limits lim = {.max_bytes = 1 << 20};
    struct berth_error *e = NULL;
    assert_int_equal(unpack_path(f, gz, LAYER_OVERLAY, &lim, NULL, &e), -EFBIG);
    assert_non_null(strstr(e->msg, "zeros"));
    berth_error_free(e);
    e = NULL;
    struct layer_stats st;
    assert_int_equal(unpack_path(f, gz, LAYER_OVERLAY, NULL, &st, &e), 0);
    assert_int_equal(st.bytes, 8 << 20);
    free(gz);
    free(tar);

    tar = make_tar(f, "many.tar", "f('a')\nf('b')\nf('c')\n");
    lim = (struct layer_limits){.max_entries = 2};
    assert_int_equal(unpack_path(f, tar, LAYER_OVERLAY, &lim, NULL, NULL), -E2BIG);
    lim.max_entries = 3;
    assert_int_equal(unpack_path(f, tar, LAYER_OVERLAY, &lim, NULL, NULL), 0);
    free(tar);

    /* Name longer than PATH_MAX (a pax header), xattr value over 64 KiB. */
    assert_int_equal(unpack_body(f, "f('a/' * 2100)\n", LAYER_OVERLAY, NULL), -ENAMETOOLONG);
    assert_int_equal(unpack_body(f, "f('big', pax={'SCHILY.xattr.user.big': 'x' * 70000})\n",
                                 LAYER_OVERLAY, NULL),
                     -E2BIG);
}

static void test_compressed(void **state)
{
    struct fixture *f = *state;
    const char *tools[] = {"gzip", "zstd"};
    for (size_t i = 0; i < 2; i++) {
        char *tar = make_tar(f, "c.tar", "f('dir/file', b'compressed ' * 1000)\n");
        char *cmd = xasprintf("%s -q '%s'", tools[i], tar);
        if (system(cmd) != 0) {
            /* The tool is part of the test environment (scripts/bootstrap). */
            fail_msg("%s not available", tools[i]);
        }
        free(cmd);
        char *c = xasprintf("%s.%s", tar, i == 0 ? "gz" : "zst");
        struct layer_stats st;
        assert_int_equal(unpack_path(f, c, LAYER_OVERLAY, NULL, &st, NULL), 0);
        assert_int_equal(st.bytes, 11000);
        char *s = read_in_root(f, "dir/file");
        assert_int_equal(strlen(s), 11000);
        free(s);
        unlink(c);
        unlink(tar);
        free(c);
        free(tar);
        assert_int_equal(rm_rf_at(f->rootfd, "dir", NULL), 0);
    }
    /* Garbage is an error, an empty file an empty layer. */
    char *junk = xasprintf("%s/junk", f->tmp);
    assert_int_equal(write_file_atomic_at(AT_FDCWD, junk, "not a tar at all", 16, 0600, NULL), 0);
    assert_true(unpack_path(f, junk, LAYER_OVERLAY, NULL, NULL, NULL) < 0);
    assert_int_equal(write_file_atomic_at(AT_FDCWD, junk, "", 0, 0600, NULL), 0);
    struct layer_stats st;
    assert_int_equal(unpack_path(f, junk, LAYER_OVERLAY, NULL, &st, NULL), 0);
    assert_int_equal(st.entries, 0);
    free(junk);
}

static void test_xattrs(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(unpack_body(f,
                                 "f('x', b'', pax={'SCHILY.xattr.user.k': 'v1'})\n"
                                 "d('d', pax={'SCHILY.xattr.user.k': 'v2'})\n"
                                 /* overlayfs control xattrs from a layer are dropped */
                                 "d('o', pax={'SCHILY.xattr.trusted.overlay.redirect': '/x',"
                                 " 'SCHILY.xattr.trusted.overlay.opaque': 'y'})\n",
                                 LAYER_OVERLAY, NULL),
                     0);
    char v[16];
    _cleanup_free_ char *x = xasprintf("%s/x", f->root);
    _cleanup_free_ char *d = xasprintf("%s/d", f->root);
    _cleanup_free_ char *o = xasprintf("%s/o", f->root);
    assert_int_equal(getxattr(x, "user.k", v, sizeof(v)), 2);
    assert_memory_equal(v, "v1", 2);
    assert_int_equal(getxattr(d, "user.k", v, sizeof(v)), 2);
    assert_memory_equal(v, "v2", 2);
    assert_true(getxattr(o, "trusted.overlay.redirect", v, sizeof(v)) < 0);
    assert_true(getxattr(o, "trusted.overlay.opaque", v, sizeof(v)) < 0);
}

static const char devices_body[] = "dev('dev/null', CHR, 1, 3)\n"
                                   "dev('fifo', FIFO, mode=0o620)\n"
                                   "f('rootfile', b'r', uid=0, gid=0)\n";

/* As an unprivileged user: devices are skipped and counted, fifos made,
 * ownership stays ours. Returns 0 or the number of the failed check. */
static int check_unprivileged(struct fixture *f, const char *tar)
{
    struct layer_stats st;
    if (unpack_path(f, tar, LAYER_OVERLAY, NULL, &st, NULL) != 0) {
        return 1;
    }
    if (st.skipped_devices != 1 || exists_at(f->rootfd, "dev/null")) {
        return 2;
    }
    struct stat sb;
    if (fstatat(f->rootfd, "fifo", &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISFIFO(sb.st_mode) ||
        (sb.st_mode & 07777) != 0620) {
        return 3;
    }
    if (fstatat(f->rootfd, "rootfile", &sb, AT_SYMLINK_NOFOLLOW) < 0 || sb.st_uid != geteuid()) {
        return 4;
    }
    return 0;
}

static void test_devices(void **state)
{
    struct fixture *f = *state;
    char *tar = make_tar(f, "dev.tar", devices_body);
    if (geteuid() != 0) {
        assert_int_equal(check_unprivileged(f, tar), 0);
        free(tar);
        return;
    }
    struct layer_stats st;
    assert_int_equal(unpack_path(f, tar, LAYER_OVERLAY, NULL, &st, NULL), 0);
    assert_int_equal(st.skipped_devices, 0);
    struct stat sb;
    assert_int_equal(fstatat(f->rootfd, "dev/null", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISCHR(sb.st_mode));
    assert_int_equal(sb.st_rdev, makedev(1, 3));
    assert_int_equal(sb.st_mode & 07777, 0666);

    /* And the unprivileged path, in a child that gives up root. */
    assert_int_equal(rm_rf_at(f->rootfd, "dev", NULL), 0);
    assert_int_equal(rm_rf_at(f->rootfd, "fifo", NULL), 0);
    assert_int_equal(rm_rf_at(f->rootfd, "rootfile", NULL), 0);
    assert_int_equal(chown(f->root, 65534, 65534), 0);
    assert_int_equal(chmod(f->tmp, 0755), 0);
    assert_int_equal(chmod(tar, 0644), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
            _exit(100);
        }
        _exit(check_unprivileged(f, tar));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    free(tar);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_regular_files),
        T(test_dirs_and_replacement),
        T(test_symlinks_verbatim),
        T(test_hardlinks),
        T(test_whiteouts_overlay),
        T(test_whiteouts_apply),
        T(test_invalid_whiteouts),
        T(test_escapes),
        T(test_caps),
        T(test_compressed),
        T(test_xattrs),
        T(test_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
