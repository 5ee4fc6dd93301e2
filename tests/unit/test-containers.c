/* Unit tests of container records: names and their rules, lookup, rename,
 * listing order, the overlay rootfs (merged view, writes in upper,
 * idempotent mount and unmount), the vfs copy (hardlinks, symlinks,
 * devices, xattrs, setuid), removal leaving nothing, the state file, the
 * /etc files, and image removal refused while a container uses the image.
 * Runs as root (mount, mknod, chown, security.* xattrs), as scripts/test
 * runs the unit tests. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "libberth/container/containers.h"
#include "libberth/image/images.h"

struct fixture {
    char *tmp;
    struct store *s;
};

static struct fixture *open_fixture(const char *driver)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/test-containers-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->tmp = xstrdup(tmpl);
    _cleanup_free_ char *root = xasprintf("%s/root", f->tmp), *run = xasprintf("%s/run", f->tmp);
    struct store_options o = {.root = root, .runroot = run, .driver = driver};
    _cleanup_error_ struct berth_error *e = NULL;
    int r = store_open(&o, &f->s, &e);
    if (r < 0) {
        fail_msg("store_open: %s", e->msg);
    }
    return f;
}

static int setup_overlay(void **state)
{
    *state = open_fixture("overlay");
    return 0;
}

static int setup_vfs(void **state)
{
    *state = open_fixture("vfs");
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    /* Anything a failed test left mounted goes first, so rm_rf (which does
     * not cross mounts) can remove the tree. */
    _cleanup_free_ char *cdir = xasprintf("%s/run/containers", f->tmp);
    DIR *d = opendir(cdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        _cleanup_free_ char *p = xasprintf("%s/%s/rootfs", cdir, de->d_name);
        (void)umount2(p, MNT_DETACH);
    }
    if (d) {
        closedir(d);
    }
    store_free(f->s);
    assert_int_equal(rm_rf_at(AT_FDCWD, f->tmp, NULL), 0);
    free(f->tmp);
    free(f);
    return 0;
}

static void put_file(const char *dir, const char *name, const char *content, mode_t mode)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
    _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, content, strlen(content)), 0);
    assert_int_equal(fchmod(fd, mode), 0);
}

static char *slurp(const char *path)
{
    char *buf = NULL;
    size_t len;
    if (read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len, NULL) < 0) {
        return NULL;
    }
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* An image with n layers whose diff dirs exist (empty) and a config blob,
 * recorded under tag (may be NULL). *ret_diffs gets the diff paths, bottom
 * first. Returns the image id. */
static char *fake_image(struct fixture *f, size_t n, const char *tag, const char *salt,
                        char ***ret_diffs)
{
    struct image_layer_rec *layers = xcalloc(n + 1, sizeof(*layers));
    char **diff_ids = xcalloc(n + 1, sizeof(char *));
    char **diffs = xcalloc(n + 1, sizeof(char *));
    char parent[72] = "";
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *seed = xasprintf("%s-layer-%zu", salt, i);
        char d[72];
        digest_of(seed, strlen(seed), d);
        diff_ids[i] = xstrdup(d);
        char chain[72];
        layer_chain_id(i ? parent : NULL, d, chain);
        memcpy(parent, chain, sizeof(chain));
        layers[i].chain_id = xstrdup(chain);
        layers[i].diff_id = xstrdup(d);
        layers[i].size = 1;
        diffs[i] = layer_store_diff_path(f->s->layers, chain);
        assert_int_equal(mkdir_p(diffs[i], 0755, NULL), 0);
    }
    _cleanup_strv_free_ char **quoted = xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        strv_consume(&quoted, xasprintf("\"%s\"", diff_ids[i]));
    }
    _cleanup_free_ char *ids = strv_join(quoted, ",");
    _cleanup_free_ char *config =
        xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]},\"comment\":\"%s\"}",
                  ids, salt);
    char *id = NULL;
    assert_int_equal(blob_put(f->s->blobs, config, strlen(config), &id, NULL), 0);
    struct image_add a = {.id = id, .layers = layers, .n_layers = n, .tag = tag};
    assert_int_equal(image_record_add(f->s, &a, NULL, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        free(layers[i].chain_id);
        free(layers[i].diff_id);
    }
    free(layers);
    strv_free(diff_ids);
    if (ret_diffs) {
        *ret_diffs = diffs;
    } else {
        strv_free(diffs);
    }
    return id;
}

static struct container_record *create(struct fixture *f, const char *image, const char *name,
                                       const char *body_json)
{
    json_t *body = json_loads(body_json ? body_json : "{}", 0, NULL);
    assert_non_null(body);
    struct container_record *c = NULL;
    _cleanup_error_ struct berth_error *e = NULL;
    int r = container_record_create(f->s, body, name, image, "busybox", &c, &e);
    json_decref(body);
    if (r < 0) {
        fail_msg("create: %s", e->msg);
    }
    return c;
}

static int create_fails(struct fixture *f, const char *image, const char *name, char **ret_msg)
{
    json_t *body = json_object();
    struct container_record *c = NULL;
    struct berth_error *e = NULL;
    int r = container_record_create(f->s, body, name, image, "busybox", &c, &e);
    json_decref(body);
    assert_true(r < 0);
    assert_null(c);
    *ret_msg = xstrdup(e->msg);
    berth_error_free(e);
    return r;
}

static size_t count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        return 0;
    }
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        n += !streq(de->d_name, ".") && !streq(de->d_name, "..");
    }
    closedir(d);
    return n;
}

static size_t mounts_at(const char *path)
{
    _cleanup_free_ char *mi = slurp("/proc/self/mountinfo");
    assert_non_null(mi);
    _cleanup_free_ char *needle = xasprintf(" %s ", path);
    size_t n = 0;
    for (const char *p = mi; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

static void test_create_get_files(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *img = fake_image(f, 1, NULL, "a", NULL);
    _cleanup_(container_record_freep) struct container_record *c =
        create(f, img, "/web",
               "{\"Cmd\":[\"sh\"],\"HostConfig\":{\"ExtraHosts\":"
               "[\"db:10.1.2.3\",\"v6:fd00::1\"]}}");
    assert_int_equal(strlen(c->id), 64);
    assert_string_equal(c->name, "web");
    assert_string_equal(c->image_id, img);
    /* RFC 3339 UTC with nanoseconds */
    assert_int_equal(strlen(c->created), 30);
    assert_int_equal(c->created[29], 'Z');

    _cleanup_(container_record_freep) struct container_record *g = NULL;
    assert_int_equal(container_record_get(f->s, c->id, &g, NULL), 0);
    assert_string_equal(g->name, "web");
    assert_string_equal(g->image_name, "busybox");
    assert_string_equal(g->created, c->created);
    assert_string_equal(json_string_value(json_array_get(json_object_get(g->body, "Cmd"), 0)),
                        "sh");

    _cleanup_free_ char *dir = xasprintf("%s/root/containers/%s", f->tmp, c->id);
    _cleanup_free_ char *hp = xasprintf("%s/hostname", dir), *hsp = xasprintf("%s/hosts", dir);
    _cleanup_free_ char *rp = xasprintf("%s/resolv.conf", dir);
    _cleanup_free_ char *hostname = slurp(hp), *hosts = slurp(hsp), *resolv = slurp(rp);
    _cleanup_free_ char *want = xasprintf("%.12s\n", c->id);
    assert_string_equal(hostname, want);
    assert_non_null(strstr(hosts, "127.0.0.1\tlocalhost\n"));
    assert_non_null(strstr(hosts, "::1\tlocalhost ip6-localhost ip6-loopback\n"));
    assert_non_null(strstr(hosts, "10.1.2.3\tdb\n"));
    assert_non_null(strstr(hosts, "fd00::1\tv6\n"));
    assert_non_null(resolv);
    assert_non_null(strstr(resolv, "nameserver "));
    assert_null(strstr(resolv, "nameserver 127."));
    struct stat st;
    assert_int_equal(stat(hsp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* overlay: upper and work made, nothing mounted yet */
    _cleanup_free_ char *up = xasprintf("%s/upper", dir), *wp = xasprintf("%s/work", dir);
    assert_true(exists(up) && exists(wp));
    _cleanup_free_ char *rootfs = xasprintf("%s/run/containers/%s/rootfs", f->tmp, c->id);
    assert_int_equal(mounts_at(rootfs), 0);

    /* an explicit hostname */
    _cleanup_(container_record_freep) struct container_record *h =
        create(f, img, NULL, "{\"Hostname\":\"box1\"}");
    _cleanup_free_ char *hp2 = xasprintf("%s/root/containers/%s/hostname", f->tmp, h->id);
    _cleanup_free_ char *hn2 = slurp(hp2);
    assert_string_equal(hn2, "box1\n");
}

static void test_names(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *img = fake_image(f, 1, NULL, "n", NULL);
    _cleanup_(container_record_freep) struct container_record *c = create(f, img, "db-1", NULL);
    _cleanup_free_ char *cdir = xasprintf("%s/root/containers", f->tmp);
    size_t before = count_dir(cdir);

    char *msg = NULL;
    assert_int_equal(create_fails(f, img, "db-1", &msg), -EEXIST);
    _cleanup_free_ char *want =
        xasprintf("Conflict. The container name \"/db-1\" is already in use by container \"%s\". "
                  "You have to remove (or rename) that container to be able to reuse that name.",
                  c->id);
    assert_string_equal(msg, want);
    free(msg);
    assert_int_equal(create_fails(f, img, "/db-1", &msg), -EEXIST);
    free(msg);

    const char *bad[] = {"a", "-x", "_x", "a b", "x/y", "x:y", "é1", ".hidden", "ab!"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(create_fails(f, img, bad[i], &msg), -EINVAL);
        _cleanup_free_ char *w = xasprintf(
            "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", bad[i]);
        assert_string_equal(msg, w);
        free(msg);
    }
    /* valid edge forms */
    _cleanup_(container_record_freep) struct container_record *ok = create(f, img, "a1._-Z", NULL);
    assert_string_equal(ok->name, "a1._-Z");

    /* an image that does not exist */
    assert_int_equal(create_fails(f, img + 1, "other", &msg), -ENOENT);
    free(msg);
    /* failures left no directory */
    assert_int_equal(count_dir(cdir), before + 1);

    /* generated names: adjective_surname, all different */
    char *seen[24] = {0};
    for (size_t i = 0; i < ARRAY_SIZE(seen); i++) {
        struct container_record *g = create(f, img, NULL, NULL);
        const char *us = strchr(g->name, '_');
        assert_non_null(us);
        assert_true(us > g->name && us[1] != '\0');
        for (const char *p = g->name; *p; p++) {
            assert_true((*p >= 'a' && *p <= 'z') || *p == '_' || (*p >= '0' && *p <= '9'));
        }
        for (size_t k = 0; k < i; k++) {
            assert_string_not_equal(seen[k], g->name);
        }
        seen[i] = xstrdup(g->name);
        container_record_free(g);
    }
    for (size_t i = 0; i < ARRAY_SIZE(seen); i++) {
        free(seen[i]);
    }
}

static void test_resolve(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *img = fake_image(f, 1, NULL, "r", NULL);
    /* 17 containers: two share a first hex digit (pigeonhole). */
    struct container_record *cs[17];
    for (size_t i = 0; i < ARRAY_SIZE(cs); i++) {
        _cleanup_free_ char *n = xasprintf("c%zu", i);
        cs[i] = create(f, img, n, NULL);
    }
    char *id = NULL;
    assert_int_equal(container_resolve(f->s, cs[3]->id, &id, NULL), 0);
    assert_string_equal(id, cs[3]->id);
    free(id);
    assert_int_equal(container_resolve(f->s, "c5", &id, NULL), 0);
    assert_string_equal(id, cs[5]->id);
    free(id);
    assert_int_equal(container_resolve(f->s, "/c5", &id, NULL), 0);
    assert_string_equal(id, cs[5]->id);
    free(id);
    /* a 12-digit prefix is unique */
    _cleanup_free_ char *pre = xstrndup(cs[7]->id, 12);
    assert_int_equal(container_resolve(f->s, pre, &id, NULL), 0);
    assert_string_equal(id, cs[7]->id);
    free(id);
    /* ambiguous one-digit prefix */
    char shared[2] = {0};
    for (size_t i = 0; i < ARRAY_SIZE(cs) && !shared[0]; i++) {
        for (size_t k = i + 1; k < ARRAY_SIZE(cs); k++) {
            if (cs[i]->id[0] == cs[k]->id[0]) {
                shared[0] = cs[i]->id[0];
                break;
            }
        }
    }
    struct berth_error *e = NULL;
    assert_int_equal(container_resolve(f->s, shared, &id, &e), -EINVAL);
    _cleanup_free_ char *w = xasprintf("multiple containers match '%s'", shared);
    assert_string_equal(e->msg, w);
    berth_error_free(e);
    e = NULL;
    assert_int_equal(container_resolve(f->s, "nosuch", &id, &e), -ENOENT);
    assert_string_equal(e->msg, "No such container: nosuch");
    berth_error_free(e);
    e = NULL;
    /* a name wins over an id prefix that looks the same */
    _cleanup_free_ char *hexname = xstrndup(cs[0]->id, 6);
    _cleanup_(container_record_freep) struct container_record *byname =
        create(f, img, hexname, NULL);
    assert_int_equal(container_resolve(f->s, hexname, &id, NULL), 0);
    assert_string_equal(id, byname->id);
    free(id);
    /* uppercase hex is not an id */
    char upper[13];
    for (int i = 0; i < 12; i++) {
        char ch = cs[9]->id[i];
        upper[i] = (ch >= 'a' && ch <= 'f') ? (char)(ch - 32) : ch;
    }
    upper[12] = '\0';
    /* (a prefix of only digits has no upper case: then it is the id) */
    if (strncmp(upper, cs[9]->id, 12) != 0) {
        assert_int_equal(container_resolve(f->s, upper, &id, NULL), -ENOENT);
    }
    for (size_t i = 0; i < ARRAY_SIZE(cs); i++) {
        container_record_free(cs[i]);
    }
}

static void test_rename_and_list(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *img = fake_image(f, 1, NULL, "l", NULL);
    struct container_record *a = create(f, img, "first", NULL);
    struct container_record *b = create(f, img, "second", NULL);
    struct container_record *c = create(f, img, "third", NULL);

    struct container_record **l = NULL;
    size_t n = 0;
    assert_int_equal(container_record_list(f->s, &l, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(l[0]->id, c->id); /* newest first */
    assert_string_equal(l[1]->id, b->id);
    assert_string_equal(l[2]->id, a->id);
    container_record_list_free(l, n);

    assert_int_equal(container_rename(f->s, "first", "renamed", NULL), 0);
    char *id = NULL;
    assert_int_equal(container_resolve(f->s, "renamed", &id, NULL), 0);
    assert_string_equal(id, a->id);
    free(id);
    assert_int_equal(container_resolve(f->s, "first", &id, NULL), -ENOENT);
    /* the old name is free again */
    struct container_record *d = create(f, img, "first", NULL);

    struct berth_error *e = NULL;
    assert_int_equal(container_rename(f->s, "renamed", "/second", &e), -EEXIST);
    _cleanup_free_ char *w = xasprintf("Conflict. The container name \"/second\" is already in "
                                       "use by container \"%s\". You have to remove (or rename) "
                                       "that container to be able to reuse that name.",
                                       b->id);
    assert_string_equal(e->msg, w);
    berth_error_free(e);
    e = NULL;
    assert_int_equal(container_rename(f->s, "renamed", "renamed", &e), -EINVAL);
    assert_string_equal(e->msg, "Renaming a container with the same name as its current name");
    berth_error_free(e);
    e = NULL;
    assert_int_equal(container_rename(f->s, "renamed", "x y", &e), -EINVAL);
    berth_error_free(e);
    e = NULL;
    assert_int_equal(container_rename(f->s, "ghost", "ghost2", &e), -ENOENT);
    assert_string_equal(e->msg, "No such container: ghost");
    berth_error_free(e);
    /* rename by id prefix */
    _cleanup_free_ char *pre = xstrndup(c->id, 12);
    assert_int_equal(container_rename(f->s, pre, "by-prefix", NULL), 0);
    _cleanup_(container_record_freep) struct container_record *g = NULL;
    assert_int_equal(container_record_get(f->s, c->id, &g, NULL), 0);
    assert_string_equal(g->name, "by-prefix");
    container_record_free(a);
    container_record_free(b);
    container_record_free(c);
    container_record_free(d);
}

static void test_overlay_mount(void **state)
{
    struct fixture *f = *state;
    char **diffs = NULL;
    _cleanup_free_ char *img = fake_image(f, 2, "docker.io/library/two:latest", "ov", &diffs);
    put_file(diffs[0], "a", "bottom", 0644);
    put_file(diffs[0], "b", "only-bottom", 0644);
    put_file(diffs[1], "a", "top", 0644);
    put_file(diffs[1], "c", "only-top", 0600);
    _cleanup_(container_record_freep) struct container_record *c = create(f, img, "ov", NULL);

    char *path = NULL;
    _cleanup_error_ struct berth_error *e = NULL;
    int r = container_rootfs_mount(f->s, c, &path, &e);
    if (r < 0) {
        fail_msg("mount: %s", e->msg);
    }
    _cleanup_free_ char *want = xasprintf("%s/run/containers/%s/rootfs", f->tmp, c->id);
    assert_string_equal(path, want);
    assert_int_equal(mounts_at(path), 1);
    _cleanup_free_ char *pa = xasprintf("%s/a", path), *pb = xasprintf("%s/b", path);
    _cleanup_free_ char *pc = xasprintf("%s/c", path);
    _cleanup_free_ char *va = slurp(pa), *vb = slurp(pb), *vc = slurp(pc);
    assert_string_equal(va, "top");
    assert_string_equal(vb, "only-bottom");
    assert_string_equal(vc, "only-top");

    /* a write lands in upper, never in a layer */
    put_file(path, "new", "written", 0644);
    put_file(path, "b", "changed", 0644);
    _cleanup_free_ char *un = xasprintf("%s/root/containers/%s/upper/new", f->tmp, c->id);
    _cleanup_free_ char *ub = xasprintf("%s/root/containers/%s/upper/b", f->tmp, c->id);
    _cleanup_free_ char *vn = slurp(un), *vub = slurp(ub);
    assert_string_equal(vn, "written");
    assert_string_equal(vub, "changed");
    _cleanup_free_ char *lb = xasprintf("%s/b", diffs[0]), *ln = xasprintf("%s/new", diffs[1]);
    _cleanup_free_ char *vlb = slurp(lb);
    assert_string_equal(vlb, "only-bottom");
    assert_false(exists(ln));

    /* mount again: same path, still one mount */
    char *again = NULL;
    assert_int_equal(container_rootfs_mount(f->s, c, &again, NULL), 0);
    assert_string_equal(again, path);
    assert_int_equal(mounts_at(path), 1);
    free(again);

    assert_int_equal(container_rootfs_unmount(f->s, c->id, NULL), 0);
    assert_int_equal(mounts_at(path), 0);
    assert_false(exists(pa));
    assert_int_equal(container_rootfs_unmount(f->s, c->id, NULL), 0);

    /* writes survive a remount */
    assert_int_equal(container_rootfs_mount(f->s, c, &again, NULL), 0);
    _cleanup_free_ char *pn = xasprintf("%s/new", again);
    _cleanup_free_ char *vn2 = slurp(pn);
    assert_string_equal(vn2, "written");
    free(again);

    /* a busy rootfs is detached, not left behind */
    _cleanup_close_ int busy = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(busy >= 0);
    _cleanup_close_ int busyf = open(pn, O_RDONLY | O_CLOEXEC);
    assert_true(busyf >= 0);

    /* remove: unmounts, both directories and the record go */
    assert_int_equal(container_remove(f->s, c->id, NULL), 0);
    assert_int_equal(mounts_at(path), 0);
    _cleanup_free_ char *rdir = xasprintf("%s/run/containers/%s", f->tmp, c->id);
    _cleanup_free_ char *dir = xasprintf("%s/root/containers/%s", f->tmp, c->id);
    assert_false(exists(rdir));
    assert_false(exists(dir));
    char *id = NULL;
    assert_int_equal(container_resolve(f->s, c->id, &id, NULL), -ENOENT);
    assert_false(container_image_in_use(f->s, img));
    /* the layers are untouched */
    _cleanup_free_ char *la = xasprintf("%s/a", diffs[1]);
    _cleanup_free_ char *vla = slurp(la);
    assert_string_equal(vla, "top");
    free(path);
    strv_free(diffs);
}

/* So many layers that the absolute lowerdir list does not fit in a page:
 * the mount falls back to paths relative to the layers dir. */
static void test_overlay_many_layers(void **state)
{
    struct fixture *f = *state;
    char **diffs = NULL;
    _cleanup_free_ char *img = fake_image(f, 40, NULL, "many", &diffs);
    assert_true(strlen(diffs[0]) * 40 > 4096);
    put_file(diffs[0], "x", "bottom", 0644);
    put_file(diffs[39], "y", "top", 0644);
    _cleanup_(container_record_freep) struct container_record *c = create(f, img, "many", NULL);
    char *path = NULL;
    _cleanup_error_ struct berth_error *e = NULL;
    char cwd_before[4096];
    assert_non_null(getcwd(cwd_before, sizeof(cwd_before)));
    int r = container_rootfs_mount(f->s, c, &path, &e);
    if (r < 0) {
        fail_msg("mount: %s", e->msg);
    }
    char cwd_after[4096];
    assert_non_null(getcwd(cwd_after, sizeof(cwd_after)));
    assert_string_equal(cwd_before, cwd_after); /* the working directory is given back */
    _cleanup_free_ char *px = xasprintf("%s/x", path), *py = xasprintf("%s/y", path);
    _cleanup_free_ char *vx = slurp(px), *vy = slurp(py);
    assert_string_equal(vx, "bottom");
    assert_string_equal(vy, "top");
    put_file(path, "w", "up", 0644);
    _cleanup_free_ char *uw = xasprintf("%s/root/containers/%s/upper/w", f->tmp, c->id);
    assert_true(exists(uw));
    assert_int_equal(container_remove(f->s, c->id, NULL), 0);
    assert_int_equal(mounts_at(path), 0);
    free(path);
    strv_free(diffs);
}

/* vfs_cap_data, revision 2, effective, CAP_NET_BIND_SERVICE permitted. */
static const uint8_t cap_value[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};

static void test_vfs_copy(void **state)
{
    struct fixture *f = *state;
    char **diffs = NULL;
    _cleanup_free_ char *img = fake_image(f, 2, NULL, "vfs", &diffs);
    const char *top = diffs[1]; /* vfs layers hold the whole tree */
    put_file(diffs[0], "only-in-bottom", "x", 0644);
    _cleanup_free_ char *bin = xasprintf("%s/bin", top), *dev = xasprintf("%s/dev", top);
    assert_int_equal(mkdir(bin, 0750), 0);
    assert_int_equal(mkdir(dev, 0755), 0);
    put_file(bin, "tool", "#!/bin/sh\n", 0755);
    _cleanup_free_ char *tool = xasprintf("%s/tool", bin), *alias = xasprintf("%s/alias", top);
    assert_int_equal(link(tool, alias), 0);
    put_file(bin, "su", "suid", 04755);
    _cleanup_free_ char *su = xasprintf("%s/su", bin);
    assert_int_equal(chown(su, 1000, 1000), 0);
    assert_int_equal(chmod(su, 04755), 0);
    _cleanup_free_ char *ln = xasprintf("%s/passwd-link", top);
    assert_int_equal(symlink("/etc/passwd", ln), 0);
    _cleanup_free_ char *null = xasprintf("%s/null", dev);
    assert_int_equal(mknod(null, S_IFCHR | 0666, makedev(1, 3)), 0);
    assert_int_equal(chmod(null, 0666), 0);
    assert_int_equal(setxattr(tool, "user.origin", "layer", 5, 0), 0);
    assert_int_equal(setxattr(tool, "security.capability", cap_value, sizeof(cap_value), 0), 0);
    struct timespec ts[2] = {{1000000000, 0}, {1234567890, 123}};
    assert_int_equal(utimensat(AT_FDCWD, tool, ts, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, bin, ts, 0), 0);

    _cleanup_(container_record_freep) struct container_record *c = create(f, img, "copy", NULL);
    char *path = NULL;
    assert_int_equal(container_rootfs_mount(f->s, c, &path, NULL), 0);
    _cleanup_free_ char *want = xasprintf("%s/root/containers/%s/rootfs", f->tmp, c->id);
    assert_string_equal(path, want);
    assert_int_equal(mounts_at(path), 0); /* vfs: a directory, nothing mounted */

    _cleanup_free_ char *ctool = xasprintf("%s/bin/tool", path);
    _cleanup_free_ char *calias = xasprintf("%s/alias", path);
    struct stat a, b;
    assert_int_equal(stat(ctool, &a), 0);
    assert_int_equal(stat(calias, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino); /* a hardlink stays one */
    assert_int_equal(a.st_nlink, 2);
    assert_int_equal(a.st_mode & 07777, 0755);
    assert_int_equal(a.st_mtim.tv_sec, 1234567890);
    assert_int_equal(a.st_mtim.tv_nsec, 123);
    struct stat orig;
    assert_int_equal(stat(tool, &orig), 0);
    assert_int_not_equal(orig.st_ino, a.st_ino); /* a copy, not a link to the layer */
    _cleanup_free_ char *ctext = slurp(ctool);
    assert_string_equal(ctext, "#!/bin/sh\n");
    char val[64];
    assert_int_equal(getxattr(ctool, "user.origin", val, sizeof(val)), 5);
    assert_memory_equal(val, "layer", 5);
    assert_int_equal(getxattr(ctool, "security.capability", val, sizeof(val)), sizeof(cap_value));
    assert_memory_equal(val, cap_value, sizeof(cap_value));

    _cleanup_free_ char *csu = xasprintf("%s/bin/su", path);
    assert_int_equal(stat(csu, &a), 0);
    assert_int_equal(a.st_mode & 07777, 04755);
    assert_int_equal(a.st_uid, 1000);
    assert_int_equal(a.st_gid, 1000);

    _cleanup_free_ char *cbin = xasprintf("%s/bin", path);
    assert_int_equal(stat(cbin, &a), 0);
    assert_int_equal(a.st_mode & 07777, 0750);
    assert_int_equal(a.st_mtim.tv_sec, 1234567890);

    _cleanup_free_ char *cln = xasprintf("%s/passwd-link", path);
    char target[64];
    ssize_t n = readlink(cln, target, sizeof(target) - 1);
    assert_int_equal(n, 11);
    target[n] = '\0';
    assert_string_equal(target, "/etc/passwd");

    _cleanup_free_ char *cnull = xasprintf("%s/dev/null", path);
    assert_int_equal(lstat(cnull, &a), 0);
    assert_true(S_ISCHR(a.st_mode));
    assert_int_equal(major(a.st_rdev), 1);
    assert_int_equal(minor(a.st_rdev), 3);
    assert_int_equal(a.st_mode & 07777, 0666);

    /* the copy is of the top layer only (vfs layers are complete trees) */
    _cleanup_free_ char *cb = xasprintf("%s/only-in-bottom", path);
    assert_false(exists(cb));

    /* writes stay in the copy */
    put_file(path, "scratch", "mine", 0644);
    _cleanup_free_ char *ls = xasprintf("%s/scratch", top);
    assert_false(exists(ls));
    assert_int_equal(container_rootfs_unmount(f->s, c->id, NULL), 0);
    assert_true(exists(ctool));

    assert_int_equal(container_remove(f->s, c->id, NULL), 0);
    _cleanup_free_ char *dir = xasprintf("%s/root/containers/%s", f->tmp, c->id);
    assert_false(exists(dir));
    assert_true(exists(tool)); /* the layer is untouched */
    char *id = NULL;
    assert_int_equal(container_resolve(f->s, c->id, &id, NULL), -ENOENT);
    free(path);
    strv_free(diffs);
}

static void test_state_file(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *img = fake_image(f, 1, NULL, "st", NULL);
    _cleanup_(container_record_freep) struct container_record *c = create(f, img, "st", NULL);
    _cleanup_free_ char *root = xasprintf("%s/root", f->tmp);

    struct container_state_file st = {0};
    struct berth_error *e = NULL;
    assert_int_equal(container_state_read(root, c->id, &st, &e), -ENOENT);
    berth_error_free(e);

    struct container_state_file w = {
        .status = "exited",
        .pid = 0,
        .monitor_pid = 4242,
        .exit_code = 137,
        .oom_killed = true,
        .error = "oom \"quoted\"",
        .started_at = "2024-05-01T10:00:00.123456789Z",
        .finished_at = "2024-05-01T10:00:05.5Z",
        .restart_count = 3,
    };
    assert_int_equal(container_state_write(root, c->id, &w, NULL), 0);
    assert_int_equal(container_state_read(root, c->id, &st, NULL), 0);
    assert_string_equal(st.status, "exited");
    assert_int_equal(st.monitor_pid, 4242);
    assert_int_equal(st.exit_code, 137);
    assert_true(st.oom_killed);
    assert_string_equal(st.error, "oom \"quoted\"");
    assert_string_equal(st.started_at, w.started_at);
    assert_string_equal(st.finished_at, w.finished_at);
    assert_int_equal(st.restart_count, 3);
    container_state_file_release(&st);

    /* never started: Docker's zero time */
    struct container_state_file created = {.status = "created"};
    assert_int_equal(container_state_write(root, c->id, &created, NULL), 0);
    assert_int_equal(container_state_read(root, c->id, &st, NULL), 0);
    assert_string_equal(st.started_at, "0001-01-01T00:00:00Z");
    assert_string_equal(st.finished_at, "0001-01-01T00:00:00Z");
    assert_null(st.error);
    assert_false(st.oom_killed);
    container_state_file_release(&st);

    /* no temp file left beside it, and it is Docker's State field names */
    _cleanup_free_ char *sp = xasprintf("%s/containers/%s/state.json", root, c->id);
    _cleanup_free_ char *raw = slurp(sp);
    assert_non_null(strstr(raw, "\"Status\":\"created\""));
    _cleanup_free_ char *dir = xasprintf("%s/containers/%s", root, c->id);
    assert_int_equal(count_dir(dir), 6); /* hosts hostname resolv.conf upper work state.json */

    /* a corrupt file is an error, not a guess */
    put_file(dir, "state.json", "{\"ExitCode\": \"x\"}", 0600);
    e = NULL;
    assert_true(container_state_read(root, c->id, &st, &e) < 0);
    berth_error_free(e);
    /* an id that is not one cannot walk out of containers/ */
    e = NULL;
    assert_int_equal(container_state_read(root, "../../etc", &st, &e), -EINVAL);
    berth_error_free(e);
}

static void test_resolv_conf(void **state)
{
    (void)state;
    const char *host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n"
                       "nameserver ::1\nnameserver fd00::53\nsearch corp.example\n"
                       "options edns0\n";
    json_t *body = json_loads("{}", 0, NULL);
    char *out = NULL;
    assert_int_equal(container_resolv_conf(host, body, &out, NULL), 0);
    assert_string_equal(out, "# generated\nnameserver 10.0.0.2\nsearch corp.example\n"
                             "options edns0\n");
    free(out);
    /* only loopback resolvers: Docker's public defaults */
    assert_int_equal(container_resolv_conf("nameserver 127.0.0.1\n", body, &out, NULL), 0);
    assert_string_equal(out, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    free(out);
    json_decref(body);

    body = json_loads("{\"HostConfig\":{\"Dns\":[\"1.1.1.1\",\"9.9.9.9\"],"
                      "\"DnsOptions\":[\"ndots:2\"]}}",
                      0, NULL);
    assert_int_equal(container_resolv_conf(host, body, &out, NULL), 0);
    assert_string_equal(out, "search corp.example\nnameserver 1.1.1.1\nnameserver 9.9.9.9\n"
                             "options ndots:2\n");
    free(out);
    json_decref(body);

    body = json_loads("{\"HostConfig\":{\"DnsSearch\":[\".\"]}}", 0, NULL);
    assert_int_equal(container_resolv_conf(host, body, &out, NULL), 0);
    assert_string_equal(out, "nameserver 10.0.0.2\noptions edns0\n");
    free(out);
    json_decref(body);

    /* the host's network: loopback resolvers are reachable, kept */
    body = json_loads("{\"HostConfig\":{\"NetworkMode\":\"host\"}}", 0, NULL);
    assert_int_equal(container_resolv_conf("nameserver 127.0.0.53\n", body, &out, NULL), 0);
    assert_string_equal(out, "nameserver 127.0.0.53\n");
    free(out);
    json_decref(body);

    /* a line smuggled in through a value is refused */
    body = json_loads("{\"HostConfig\":{\"DnsSearch\":[\"a\\nnameserver 6.6.6.6\"]}}", 0, NULL);
    struct berth_error *e = NULL;
    assert_int_equal(container_resolv_conf(host, body, &out, &e), -EINVAL);
    berth_error_free(e);
    json_decref(body);
    body = json_loads("{\"HostConfig\":{\"Dns\":[\"not-an-ip\"]}}", 0, NULL);
    e = NULL;
    assert_int_equal(container_resolv_conf(host, body, &out, &e), -EINVAL);
    assert_string_equal(e->msg, "not-an-ip is not an ip address");
    berth_error_free(e);
    json_decref(body);
}

static void test_bad_extra_hosts(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *img = fake_image(f, 1, NULL, "eh", NULL);
    _cleanup_free_ char *cdir = xasprintf("%s/root/containers", f->tmp);
    size_t before = count_dir(cdir);
    const char *bad[] = {"{\"HostConfig\":{\"ExtraHosts\":[\"evil\\n1.2.3.4 x:1.2.3.4\"]}}",
                         "{\"HostConfig\":{\"ExtraHosts\":[\"noip\"]}}",
                         "{\"HostConfig\":{\"ExtraHosts\":[\"h:999.1.1.1\"]}}",
                         "{\"Hostname\":\"a b\"}"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        json_t *body = json_loads(bad[i], 0, NULL);
        assert_non_null(body);
        struct container_record *c = NULL;
        struct berth_error *e = NULL;
        assert_int_equal(container_record_create(f->s, body, "eh", img, "x", &c, &e), -EINVAL);
        berth_error_free(e);
        json_decref(body);
        /* nothing left: no directory, the name is free */
        assert_int_equal(count_dir(cdir), before);
        char *id = NULL;
        assert_int_equal(container_resolve(f->s, "eh", &id, NULL), -ENOENT);
    }
}

struct removed {
    char *lines;
};

static void on_removed(const char *what, const char *value, void *userdata)
{
    struct removed *r = userdata;
    char *n = xasprintf("%s%s: %s\n", r->lines ? r->lines : "", what, value);
    free(r->lines);
    r->lines = n;
}

static void test_image_in_use(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *img = fake_image(f, 2, "docker.io/library/busybox:latest", "use", NULL);
    _cleanup_(container_record_freep) struct container_record *c = create(f, img, "user", NULL);
    assert_true(container_image_in_use(f->s, img));

    struct berth_error *e = NULL;
    assert_int_equal(image_remove(f->s, "busybox", false, NULL, NULL, &e), -EBUSY);
    _cleanup_free_ char *w1 = xasprintf(
        "conflict: unable to remove repository reference \"busybox\" (must force) - container "
        "%.12s is using its referenced image %.12s",
        c->id, img + 7);
    assert_string_equal(e->msg, w1);
    berth_error_free(e);
    e = NULL;
    _cleanup_free_ char *short_id = xstrndup(img + 7, 12);
    assert_int_equal(image_remove(f->s, short_id, false, NULL, NULL, &e), -EBUSY);
    _cleanup_free_ char *w2 = xasprintf("conflict: unable to delete %.12s (must be forced) - image "
                                        "is being used by stopped container %.12s",
                                        img + 7, c->id);
    assert_string_equal(e->msg, w2);
    berth_error_free(e);
    e = NULL;
    /* still there, by name */
    char *id = NULL;
    assert_int_equal(image_resolve(f->s, "busybox", &id, NULL), 0);
    assert_string_equal(id, img);
    free(id);

    /* with a second name, one name can go (the image keeps the other) */
    assert_int_equal(image_tag(f->s, "busybox", "busybox:other", NULL), 0);
    struct removed rm = {0};
    assert_int_equal(image_remove(f->s, "busybox:other", false, on_removed, &rm, NULL), 0);
    assert_string_equal(rm.lines, "Untagged: busybox:other\n");
    free(rm.lines);
    rm.lines = NULL;

    /* forced: untagged, but the image and its layers stay for the container */
    assert_int_equal(image_remove(f->s, "busybox", true, on_removed, &rm, NULL), 0);
    assert_string_equal(rm.lines, "Untagged: busybox:latest\n");
    free(rm.lines);
    rm.lines = NULL;
    assert_int_equal(image_resolve(f->s, img, &id, NULL), 0);
    free(id);
    _cleanup_(image_info_freep) struct image_info *info = NULL;
    assert_int_equal(image_get(f->s, img, &info, NULL), 0);
    for (size_t i = 0; i < info->n_layers; i++) {
        assert_true(layer_store_has(f->s->layers, info->layers[i].chain_id));
    }
    /* prune -a leaves it too */
    uint64_t reclaimed = 0;
    assert_int_equal(image_prune(f->s, true, NULL, NULL, &reclaimed, NULL), 0);
    assert_int_equal(image_resolve(f->s, img, &id, NULL), 0);
    free(id);

    /* once the container is gone, the image can go */
    assert_int_equal(container_remove(f->s, c->id, NULL), 0);
    assert_false(container_image_in_use(f->s, img));
    assert_int_equal(image_remove(f->s, img, false, on_removed, &rm, NULL), 0);
    assert_non_null(strstr(rm.lines, "Deleted: "));
    free(rm.lines);
    assert_int_equal(image_resolve(f->s, img, &id, NULL), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get_files, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_resolve, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_rename_and_list, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_mount, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_many_layers, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_vfs_copy, setup_vfs, teardown),
        cmocka_unit_test_setup_teardown(test_state_file, setup_overlay, teardown),
        cmocka_unit_test(test_resolv_conf),
        cmocka_unit_test_setup_teardown(test_bad_extra_hosts, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_image_in_use, setup_overlay, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
