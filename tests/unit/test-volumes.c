/* test-volumes.c - volume names, driver options, label filters, and the
 * record life cycle (create, idempotent create, ref, in use, remove) on a
 * store in a temp dir. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/volume/volumes.h"

struct fixture {
    char *tmp;
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/test-volumes-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->tmp = xstrdup(tmpl);
    _cleanup_free_ char *root = xasprintf("%s/root", f->tmp), *run = xasprintf("%s/run", f->tmp);
    struct store_options o = {.root = root, .runroot = run, .driver = "vfs"};
    _cleanup_error_ struct berth_error *e = NULL;
    if (store_open(&o, &f->s, &e) < 0) {
        fail_msg("store_open: %s", e->msg);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_free(f->s);
    assert_int_equal(rm_rf_at(AT_FDCWD, f->tmp, NULL), 0);
    free(f->tmp);
    free(f);
    return 0;
}

static void test_names(void **state)
{
    (void)state;
    const char *good[] = {"ab", "db_data", "a.b-c_d", "0x", "A1"};
    const char *bad[] = {"", "x", "-ab", ".ab", "_ab", "a/b", "..", "a b", "a:b", "ä1"};
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        assert_int_equal(volume_name_check(good[i], NULL), 0);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        _cleanup_error_ struct berth_error *e = NULL;
        assert_int_equal(volume_name_check(bad[i], &e), -EINVAL);
        assert_non_null(strstr(e->msg, "includes invalid characters for a local volume name"));
    }
    _cleanup_free_ char *longname = xmalloc(VOLUME_NAME_MAX + 2);
    memset(longname, 'a', VOLUME_NAME_MAX + 1);
    longname[VOLUME_NAME_MAX + 1] = '\0';
    assert_int_equal(volume_name_check(longname, NULL), -ENAMETOOLONG);
}

static json_t *opts(const char *type, const char *o, const char *device)
{
    json_t *j = json_object();
    if (type) {
        json_object_set_new(j, "type", json_string(type));
    }
    if (o) {
        json_object_set_new(j, "o", json_string(o));
    }
    if (device) {
        json_object_set_new(j, "device", json_string(device));
    }
    return j;
}

static void test_options(void **state)
{
    (void)state;
    struct volume_mount_spec m;
    _cleanup_error_ struct berth_error *e = NULL;

    assert_int_equal(volume_options_parse(NULL, &m, NULL), 0);
    _cleanup_json_ json_t *empty = json_object();
    assert_int_equal(volume_options_parse(empty, &m, NULL), 0);

    _cleanup_json_ json_t *t = opts("tmpfs", "size=1m,ro,nosuid,nodev,mode=0750,uid=5", "tmpfs");
    assert_int_equal(volume_options_parse(t, &m, NULL), 1);
    assert_string_equal(m.type, "tmpfs");
    assert_string_equal(m.device, "tmpfs");
    assert_string_equal(m.data, "size=1m,mode=0750,uid=5");
    assert_int_equal(m.flags, MS_RDONLY | MS_NOSUID | MS_NODEV);
    assert_int_equal(m.propagation, 0);
    volume_mount_spec_release(&m);

    /* later words win, as mount(8): ro then rw is rw */
    _cleanup_json_ json_t *b = opts("none", "bind,ro,rw,noexec,rshared", "/tmp");
    assert_int_equal(volume_options_parse(b, &m, NULL), 1);
    assert_null(m.data);
    assert_int_equal(m.flags, MS_BIND | MS_NOEXEC);
    assert_int_equal(m.propagation, MS_SHARED | MS_REC);
    volume_mount_spec_release(&m);

    _cleanup_json_ json_t *unknown = opts("tmpfs", NULL, "tmpfs");
    json_object_set_new(unknown, "size", json_string("1m"));
    assert_int_equal(volume_options_parse(unknown, NULL, &e), -EINVAL);
    assert_string_equal(e->msg, "invalid option key: \"size\"");
    berth_error_free(e);
    e = NULL;

    _cleanup_json_ json_t *notype = opts(NULL, NULL, "tmpfs");
    assert_int_equal(volume_options_parse(notype, NULL, &e), -EINVAL);
    assert_string_equal(e->msg, "missing required option: \"type\"");
    berth_error_free(e);
    e = NULL;

    _cleanup_json_ json_t *nodev = opts("tmpfs", "size=1m", NULL);
    assert_int_equal(volume_options_parse(nodev, NULL, &e), -EINVAL);
    assert_string_equal(e->msg, "missing required option: \"device\"");
    berth_error_free(e);
    e = NULL;

    _cleanup_json_ json_t *relbind = opts("none", "bind", "tmp");
    assert_int_equal(volume_options_parse(relbind, NULL, &e), -EINVAL);
    assert_non_null(strstr(e->msg, "not an absolute path"));
    berth_error_free(e);
    e = NULL;

    _cleanup_json_ json_t *missing = opts("none", "rbind", "/nonexistent-volume-test-dir");
    assert_int_equal(volume_options_parse(missing, NULL, NULL), -ENOENT);
    _cleanup_json_ json_t *file = opts("none", "bind", "/etc/hostname");
    assert_int_equal(volume_options_parse(file, NULL, NULL), -ENOTDIR);

    _cleanup_json_ json_t *notstr = json_pack("{s:i}", "type", 1);
    assert_int_equal(volume_options_parse(notstr, NULL, NULL), -EINVAL);
}

static void test_label_filters(void **state)
{
    (void)state;
    _cleanup_json_ json_t *l = json_pack("{s:s,s:s}", "a", "1", "b", "");
    char *t1[] = {"label=a", NULL};
    char *t2[] = {"label=a=1", NULL};
    char *t3[] = {"label=a=2", NULL};
    char *t4[] = {"label!=a", NULL};
    char *t5[] = {"label!=a=2", NULL};
    char *t6[] = {"label=a=1", "label!=c", "label=b=", NULL};
    char *t7[] = {"label=a=1", "label=c", NULL};
    char *t8[] = {"label!=b", NULL};
    assert_true(volume_labels_match(l, t1));
    assert_true(volume_labels_match(l, t2));
    assert_false(volume_labels_match(l, t3));
    assert_false(volume_labels_match(l, t4));
    assert_true(volume_labels_match(l, t5));
    assert_true(volume_labels_match(l, t6));
    assert_false(volume_labels_match(l, t7));
    assert_false(volume_labels_match(l, t8));
    assert_true(volume_labels_match(l, NULL));

    char *bad1[] = {"name=a", NULL};
    char *bad2[] = {"label=", NULL};
    char *bad3[] = {"label!==x", NULL};
    assert_int_equal(volume_label_terms_check(t6, NULL), 0);
    assert_int_equal(volume_label_terms_check(bad1, NULL), -EINVAL);
    assert_int_equal(volume_label_terms_check(bad2, NULL), -EINVAL);
    assert_int_equal(volume_label_terms_check(bad3, NULL), -EINVAL);
}

static void add_container(struct store *s, const char *id)
{
    assert_true(db_run(s->db, NULL,
                       "INSERT INTO containers(id, name, image_id, created, body)"
                       " VALUES(?, ?, 'img', 'now', '{}')",
                       "ss", id, id) >= 0);
}

static void test_lifecycle(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    _cleanup_error_ struct berth_error *e = NULL;
    struct volume *v = NULL;
    bool created = false;

    _cleanup_json_ json_t *labels = json_pack("{s:s}", "k", "v");
    struct volume_create_opts o = {.name = "data1", .labels = labels};
    assert_int_equal(volume_create(s, &o, &v, &created, &e), 0);
    assert_true(created);
    assert_string_equal(v->name, "data1");
    assert_string_equal(v->driver, "local");
    assert_false(v->anonymous);
    assert_string_equal(json_string_value(json_object_get(v->labels, "k")), "v");
    assert_int_equal(strlen(v->created), 20);
    struct stat st;
    assert_int_equal(stat(v->mountpoint, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0755);
    _cleanup_free_ char *parent = xasprintf("%s/root/volumes/data1", f->tmp);
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    volume_free(v);

    /* idempotent: the same volume, not a new one, labels as first made */
    struct volume_create_opts again = {.name = "data1"};
    assert_int_equal(volume_create(s, &again, &v, &created, NULL), 0);
    assert_false(created);
    assert_string_equal(json_string_value(json_object_get(v->labels, "k")), "v");
    volume_free(v);

    /* a nameless one: 64 hex, anonymous with Docker's label */
    struct volume_create_opts anon = {.anonymous = true};
    assert_int_equal(volume_create(s, &anon, &v, NULL, NULL), 0);
    assert_int_equal(strlen(v->name), 64);
    assert_int_equal(strspn(v->name, "0123456789abcdef"), 64);
    assert_true(v->anonymous);
    assert_non_null(json_object_get(v->labels, VOLUME_ANONYMOUS_LABEL));
    _cleanup_free_ char *anon_name = xstrdup(v->name);
    volume_free(v);

    /* bad input leaves nothing */
    struct volume_create_opts bad = {.name = "x"};
    assert_int_equal(volume_create(s, &bad, NULL, NULL, &e), -EINVAL);
    assert_string_equal(e->msg, "create x: \"x\" includes invalid characters for a local volume "
                                "name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you "
                                "intended to pass a host directory, use absolute path");
    berth_error_free(e);
    e = NULL;
    struct volume_create_opts plugin = {.name = "pv", .driver = "nfs"};
    assert_int_equal(volume_create(s, &plugin, NULL, NULL, &e), -ENOTSUP);
    assert_string_equal(e->msg, "create pv: plugin \"nfs\" not found");
    berth_error_free(e);
    e = NULL;
    _cleanup_json_ json_t *badopt = json_pack("{s:s}", "foo", "bar");
    struct volume_create_opts bo = {.name = "bo", .options = badopt};
    assert_int_equal(volume_create(s, &bo, NULL, NULL, NULL), -EINVAL);
    _cleanup_free_ char *bodir = xasprintf("%s/root/volumes/bo", f->tmp);
    assert_int_equal(access(bodir, F_OK), -1);
    assert_int_equal(volume_get(s, "bo", &v, NULL), -ENOENT);

    struct volume **l = NULL;
    size_t n = 0;
    assert_int_equal(volume_list(s, &l, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_true(strcmp(l[0]->name, l[1]->name) < 0);
    volume_list_free(l, n);

    /* in use: refused with Docker's message, with or without force */
    add_container(s, "c1");
    add_container(s, "c2");
    assert_int_equal(volume_ref(s, "data1", "c1", NULL), 0);
    assert_int_equal(volume_ref(s, "data1", "c1", NULL), 0); /* idempotent */
    assert_int_equal(volume_ref(s, "data1", "c2", NULL), 0);
    assert_int_equal(volume_ref(s, "nope", "c1", &e), -ENOENT);
    assert_string_equal(e->msg, "No such volume: nope");
    berth_error_free(e);
    e = NULL;
    _cleanup_strv_free_ char **users = NULL;
    assert_int_equal(volume_users(s, "data1", &users, NULL), 0);
    assert_int_equal(strv_length(users), 2);
    assert_int_equal(volume_remove(s, "data1", true, &e), -EBUSY);
    assert_string_equal(e->msg, "remove data1: volume is in use - [c1, c2]");
    berth_error_free(e);
    e = NULL;
    assert_int_equal(volume_get(s, "data1", &v, NULL), 0);
    volume_free(v);

    /* prune: only the anonymous one, and only unused ones */
    char **removed = NULL;
    uint64_t reclaimed = 1;
    struct volume_prune_opts po = {0};
    assert_int_equal(volume_prune(s, &po, &removed, &reclaimed, NULL), 0);
    assert_int_equal(strv_length(removed), 1);
    assert_string_equal(removed[0], anon_name);
    strv_free(removed);
    struct volume_prune_opts all = {.all = true};
    assert_int_equal(volume_prune(s, &all, &removed, &reclaimed, NULL), 0);
    assert_int_equal(strv_length(removed), 0); /* data1 is in use */
    strv_free(removed);

    /* the refs go with the containers (ON DELETE CASCADE) */
    assert_true(db_run(s->db, NULL, "DELETE FROM containers", "") >= 0);
    assert_int_equal(volume_remove(s, "data1", false, NULL), 0);
    assert_int_equal(access(parent, F_OK), -1);
    assert_int_equal(volume_remove(s, "data1", false, &e), -ENOENT);
    assert_string_equal(e->msg, "get data1: no such volume");
    assert_int_equal(volume_remove(s, "data1", true, NULL), 0);
}

/* A volume called "x.lock" is a name like any other: it neither is nor
 * breaks the lock of volume "x" (locks once lived at <name>.lock beside
 * the volume directories). */
static void test_lock_names(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    const char *names[] = {"ab", "ab.lock", "cd.lock", "cd"};
    for (size_t i = 0; i < 4; i++) {
        struct volume_create_opts o = {.name = names[i]};
        assert_int_equal(volume_create(s, &o, NULL, NULL, NULL), 0);
    }
    int l1 = volume_lock_take(s, "ab", NULL);
    assert_true(l1 >= 0);
    /* held: another taker would wait; a second open of the file cannot
     * take it either */
    _cleanup_free_ char *lp = xasprintf("%s/root/volumes/.ab.lock", f->tmp);
    int probe = open(lp, O_RDWR | O_CLOEXEC);
    assert_true(probe >= 0);
    assert_int_equal(flock(probe, LOCK_EX | LOCK_NB), -1);
    close(probe);
    close(l1);
    assert_int_equal(volume_lock_take(s, "../x", NULL), -EINVAL);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(volume_remove(s, names[i], false, NULL), 0);
    }
    struct volume **l = NULL;
    size_t n = 1;
    assert_int_equal(volume_list(s, &l, &n, NULL), 0);
    assert_int_equal(n, 0);
    volume_list_free(l, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_label_filters),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
