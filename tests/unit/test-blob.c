/* Unit tests of the blob store: content is verified while it streams in, and
 * nothing but a verified blob ever appears under blobs/sha256. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "libberth/store/blob.h"

/* sha256("hello") */
#define HELLO_DIGEST "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define EMPTY_DIGEST "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct fixture {
    char *root;
    struct blob_store *store;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/test-blob-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->root = xstrdup(tmpl);
    struct berth_error *e = NULL;
    assert_int_equal(blob_store_open(f->root, &f->store, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    blob_store_free(f->store);
    assert_int_equal(rm_rf_at(AT_FDCWD, f->root, NULL), 0);
    free(f->root);
    free(f);
    return 0;
}

/* Number of entries (besides . and ..) in <root>/blobs/<sub>. */
static size_t count_entries(const struct fixture *f, const char *sub)
{
    char *p = xasprintf("%s/blobs/%s", f->root, sub);
    DIR *d = opendir(p);
    free(p);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void assert_store_empty(const struct fixture *f)
{
    assert_int_equal(count_entries(f, "sha256"), 0);
    assert_int_equal(count_entries(f, "tmp"), 0);
}

static void assert_error_contains(struct berth_error *e, const char *want)
{
    assert_non_null(e);
    if (!strstr(e->msg, want)) {
        fail_msg("error '%s' does not contain '%s'", e->msg, want);
    }
}

static void test_digest_of(void **state)
{
    char d[72];
    digest_of("hello", 5, d);
    assert_string_equal(d, HELLO_DIGEST);
    digest_of("", 0, d);
    assert_string_equal(d, EMPTY_DIGEST);
}

static void test_put_read_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    char *digest = NULL;
    assert_int_equal(blob_put(f->store, "hello", 5, &digest, &e), 0);
    assert_string_equal(digest, HELLO_DIGEST);
    assert_true(blob_exists(f->store, digest));
    assert_int_equal(blob_size(f->store, digest), 5);

    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(blob_read(f->store, digest, 1024, &buf, &len, &e), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);
    free(buf);

    struct stat st;
    char *p = xasprintf("%s/blobs/sha256/%s", f->root, digest + 7);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    free(p);
    assert_int_equal(count_entries(f, "tmp"), 0);

    /* Storing it again is fine and keeps one copy. */
    char *again = NULL;
    assert_int_equal(blob_put(f->store, "hello", 5, &again, &e), 0);
    assert_string_equal(again, digest);
    assert_int_equal(count_entries(f, "sha256"), 1);
    free(again);
    free(digest);

    /* The empty blob is a real blob (empty layers). */
    assert_int_equal(blob_put(f->store, "", 0, &digest, &e), 0);
    assert_string_equal(digest, EMPTY_DIGEST);
    free(digest);
    assert_null(e);
}

static void test_read_cap_and_tamper(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    assert_int_equal(blob_put(f->store, "hello", 5, NULL, &e), 0);

    char *buf = NULL;
    assert_int_equal(blob_read(f->store, HELLO_DIGEST, 4, &buf, NULL, &e), -EFBIG);
    assert_null(buf);
    berth_error_free(e);
    e = NULL;

    /* A blob changed on disk behind our back is refused. */
    char *p = xasprintf("%s/blobs/sha256/%s", f->root, HELLO_DIGEST + 7);
    int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
    free(p);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, "jello", 5), 0);
    close(fd);
    assert_int_equal(blob_read(f->store, HELLO_DIGEST, 1024, &buf, NULL, &e), -EBADMSG);
    assert_null(buf);
    assert_error_contains(e, "digest mismatch");
    berth_error_free(e);
}

static void test_writer_expected_match(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    struct blob_writer *w = NULL;
    assert_int_equal(blob_writer_new(f->store, HELLO_DIGEST, 5, 1 << 20, &w, &e), 0);
    assert_int_equal(blob_writer_write(w, "hel", 3, &e), 0);
    assert_int_equal(blob_writer_offset(w), 3);
    assert_int_equal(blob_writer_write(w, "lo", 2, &e), 0);
    assert_int_equal(blob_writer_offset(w), 5);
    char *digest = NULL;
    assert_int_equal(blob_writer_commit(w, &digest, &e), 0);
    assert_string_equal(digest, HELLO_DIGEST);
    free(digest);
    assert_true(blob_exists(f->store, HELLO_DIGEST));
    assert_int_equal(count_entries(f, "tmp"), 0);
    assert_null(e);
}

static void test_writer_digest_mismatch(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    struct blob_writer *w = NULL;
    assert_int_equal(blob_writer_new(f->store, HELLO_DIGEST, -1, 1 << 20, &w, &e), 0);
    assert_int_equal(count_entries(f, "tmp"), 1);
    assert_int_equal(blob_writer_write(w, "jello", 5, &e), 0);
    char *digest = NULL;
    assert_int_equal(blob_writer_commit(w, &digest, &e), -EBADMSG);
    assert_null(digest);
    assert_error_contains(e, "blob " HELLO_DIGEST ": digest mismatch (got sha256:");
    berth_error_free(e);
    assert_false(blob_exists(f->store, HELLO_DIGEST));
    assert_store_empty(f);
}

static void test_writer_expected_size_exceeded(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    struct blob_writer *w = NULL;
    assert_int_equal(blob_writer_new(f->store, HELLO_DIGEST, 5, 1 << 20, &w, &e), 0);
    assert_int_equal(blob_writer_write(w, "hello", 5, &e), 0);
    assert_int_equal(blob_writer_write(w, "!", 1, &e), -EFBIG);
    assert_error_contains(e, HELLO_DIGEST);
    berth_error_free(e);
    e = NULL;
    /* A writer that overflowed never commits. */
    assert_true(blob_writer_commit(w, NULL, &e) < 0);
    berth_error_free(e);
    assert_store_empty(f);
}

static void test_writer_max_size(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    struct blob_writer *w = NULL;

    /* An announced size above the cap is refused up front. */
    assert_int_equal(blob_writer_new(f->store, NULL, 100, 10, &w, &e), -EFBIG);
    assert_null(w);
    berth_error_free(e);
    e = NULL;
    assert_store_empty(f);

    /* Unknown size: the cap still holds, even in one big write. */
    assert_int_equal(blob_writer_new(f->store, HELLO_DIGEST, -1, 4, &w, &e), 0);
    assert_int_equal(blob_writer_write(w, "hel", 3, &e), 0);
    assert_int_equal(blob_writer_write(w, "lo", 2, &e), -EFBIG);
    assert_error_contains(e, HELLO_DIGEST);
    assert_int_equal(blob_writer_offset(w), 3);
    berth_error_free(e);
    blob_writer_free(w);
    assert_store_empty(f);
}

static void test_writer_truncated(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    struct blob_writer *w = NULL;
    assert_int_equal(blob_writer_new(f->store, HELLO_DIGEST, 5, 1 << 20, &w, &e), 0);
    assert_int_equal(blob_writer_write(w, "hell", 4, &e), 0);
    assert_int_equal(blob_writer_commit(w, NULL, &e), -EBADMSG);
    assert_error_contains(e, "size mismatch");
    assert_error_contains(e, HELLO_DIGEST);
    berth_error_free(e);
    assert_store_empty(f);

    /* Without an expected digest too: the size alone rejects it. */
    e = NULL;
    assert_int_equal(blob_writer_new(f->store, NULL, 5, 1 << 20, &w, &e), 0);
    assert_int_equal(blob_writer_write(w, "hell", 4, &e), 0);
    assert_int_equal(blob_writer_commit(w, NULL, &e), -EBADMSG);
    berth_error_free(e);
    assert_store_empty(f);
}

static void test_writer_abort(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    struct blob_writer *w = NULL;
    assert_int_equal(blob_writer_new(f->store, NULL, -1, 1 << 20, &w, &e), 0);
    assert_int_equal(blob_writer_write(w, "hello", 5, &e), 0);
    assert_int_equal(count_entries(f, "tmp"), 1);
    blob_writer_free(w);
    assert_store_empty(f);
}

static void test_invalid_digests(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        "../x",
        "sha256:../../../etc/passwd",
        "sha512:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "sha512:abcd",
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982",
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240",
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982/",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "sha256:",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct berth_error *e = NULL;
        struct blob_writer *w = NULL;
        assert_int_equal(blob_writer_new(f->store, bad[i], -1, 1 << 20, &w, &e), -EINVAL);
        assert_null(w);
        assert_error_contains(e, "invalid digest");
        berth_error_free(e);
        assert_store_empty(f);

        e = NULL;
        int fd = -1;
        assert_int_equal(blob_open(f->store, bad[i], &fd, &e), -EINVAL);
        assert_int_equal(fd, -1);
        berth_error_free(e);

        e = NULL;
        char *buf = NULL;
        assert_int_equal(blob_read(f->store, bad[i], 1024, &buf, NULL, &e), -EINVAL);
        berth_error_free(e);

        e = NULL;
        assert_int_equal(blob_delete(f->store, bad[i], &e), -EINVAL);
        berth_error_free(e);

        assert_false(blob_exists(f->store, bad[i]));
        assert_int_equal(blob_size(f->store, bad[i]), -EINVAL);
    }
    assert_false(blob_exists(f->store, NULL));
    assert_store_empty(f);
}

static void test_concurrent_writers(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    struct blob_writer *w1 = NULL, *w2 = NULL;
    assert_int_equal(blob_writer_new(f->store, HELLO_DIGEST, 5, 1 << 20, &w1, &e), 0);
    assert_int_equal(blob_writer_new(f->store, HELLO_DIGEST, 5, 1 << 20, &w2, &e), 0);
    assert_int_equal(count_entries(f, "tmp"), 2);
    assert_int_equal(blob_writer_write(w1, "hello", 5, &e), 0);
    assert_int_equal(blob_writer_write(w2, "hello", 5, &e), 0);
    char *d1 = NULL, *d2 = NULL;
    assert_int_equal(blob_writer_commit(w1, &d1, &e), 0);
    assert_int_equal(blob_writer_commit(w2, &d2, &e), 0);
    assert_string_equal(d1, HELLO_DIGEST);
    assert_string_equal(d2, HELLO_DIGEST);
    free(d1);
    free(d2);
    assert_int_equal(count_entries(f, "sha256"), 1);
    assert_int_equal(count_entries(f, "tmp"), 0);
    assert_null(e);
}

static void test_delete(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    assert_int_equal(blob_put(f->store, "hello", 5, NULL, &e), 0);
    assert_true(blob_exists(f->store, HELLO_DIGEST));
    assert_int_equal(blob_delete(f->store, HELLO_DIGEST, &e), 0);
    assert_false(blob_exists(f->store, HELLO_DIGEST));
    assert_int_equal(blob_size(f->store, HELLO_DIGEST), -ENOENT);
    /* Missing is success. */
    assert_int_equal(blob_delete(f->store, HELLO_DIGEST, &e), 0);
    assert_null(e);
    assert_store_empty(f);
}

static void test_list_sorted(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    char **v = NULL;
    assert_int_equal(blob_list(f->store, &v, &e), 0);
    assert_non_null(v);
    assert_int_equal(strv_length(v), 0);
    strv_free(v);

    char **want = NULL;
    for (int i = 0; i < 20; i++) {
        char data[16], *d = NULL;
        int n = snprintf(data, sizeof(data), "blob %d", i);
        assert_int_equal(blob_put(f->store, data, (size_t)n, &d, &e), 0);
        strv_consume(&want, d);
    }
    /* The expected order, sorted independently of the code under test. */
    for (size_t i = 0; want[i]; i++) {
        for (size_t j = i + 1; want[j]; j++) {
            if (strcmp(want[i], want[j]) > 0) {
                char *t = want[i];
                want[i] = want[j];
                want[j] = t;
            }
        }
    }

    /* Names that are not digests are ignored. */
    char *junk = xasprintf("%s/blobs/sha256/not-a-digest", f->root);
    int fd = open(junk, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    free(junk);
    junk = xasprintf("%s/blobs/sha256/%s", f->root,
                     "ABCDEF0000000000000000000000000000000000000000000000000000000000");
    fd = open(junk, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    free(junk);

    assert_int_equal(blob_list(f->store, &v, &e), 0);
    assert_int_equal(strv_length(v), 20);
    for (size_t i = 0; v[i]; i++) {
        assert_string_equal(v[i], want[i]);
    }
    strv_free(v);
    strv_free(want);
    assert_null(e);
}

static void make_temp(const struct fixture *f, const char *name, time_t age)
{
    char *p = xasprintf("%s/blobs/tmp/%s", f->root, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, "partial", 7), 0);
    struct timespec ts[2] = {{.tv_sec = time(NULL) - age}, {.tv_sec = time(NULL) - age}};
    assert_int_equal(futimens(fd, ts), 0);
    close(fd);
    free(p);
}

static bool temp_exists(const struct fixture *f, const char *name)
{
    char *p = xasprintf("%s/blobs/tmp/%s", f->root, name);
    bool r = access(p, F_OK) == 0;
    free(p);
    return r;
}

static void test_stale_temp_cleanup(void **state)
{
    struct fixture *f = *state;
    make_temp(f, "0123456789abcdef.1.tmp", 2 * 60 * 60);
    make_temp(f, "fedcba9876543210.2.tmp", 60);
    /* Stamp one with utimensat too, relative to the directory. */
    make_temp(f, "aaaaaaaaaaaaaaaa.3.tmp", 0);
    char *dir = xasprintf("%s/blobs/tmp", f->root);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    assert_true(dfd >= 0);
    struct timespec old[2] = {{.tv_sec = time(NULL) - 3 * 60 * 60},
                              {.tv_sec = time(NULL) - 3 * 60 * 60}};
    assert_int_equal(utimensat(dfd, "aaaaaaaaaaaaaaaa.3.tmp", old, AT_SYMLINK_NOFOLLOW), 0);
    close(dfd);

    blob_store_free(f->store);
    f->store = NULL;
    struct berth_error *e = NULL;
    assert_int_equal(blob_store_open(f->root, &f->store, &e), 0);
    assert_false(temp_exists(f, "0123456789abcdef.1.tmp"));
    assert_false(temp_exists(f, "aaaaaaaaaaaaaaaa.3.tmp"));
    assert_true(temp_exists(f, "fedcba9876543210.2.tmp"));
    assert_int_equal(count_entries(f, "tmp"), 1);
}

static void test_open_missing(void **state)
{
    struct fixture *f = *state;
    struct berth_error *e = NULL;
    int fd = -1;
    assert_int_equal(blob_open(f->store, HELLO_DIGEST, &fd, &e), -ENOENT);
    assert_int_equal(fd, -1);
    assert_error_contains(e, HELLO_DIGEST);
    assert_error_contains(e, "not found");
    assert_int_equal(e->code, ENOENT);
    berth_error_free(e);

    e = NULL;
    char *buf = NULL;
    assert_int_equal(blob_read(f->store, HELLO_DIGEST, 1024, &buf, NULL, &e), -ENOENT);
    berth_error_free(e);
    assert_false(blob_exists(f->store, HELLO_DIGEST));
    assert_int_equal(blob_size(f->store, HELLO_DIGEST), -ENOENT);

    /* And an fd to a stored blob reads its content. */
    e = NULL;
    assert_int_equal(blob_put(f->store, "hello", 5, NULL, &e), 0);
    assert_int_equal(blob_open(f->store, HELLO_DIGEST, &fd, &e), 0);
    char rb[8];
    assert_int_equal(read_all(fd, rb, sizeof(rb)), 5);
    assert_memory_equal(rb, "hello", 5);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_of),
        T(test_put_read_roundtrip),
        T(test_read_cap_and_tamper),
        T(test_writer_expected_match),
        T(test_writer_digest_mismatch),
        T(test_writer_expected_size_exceeded),
        T(test_writer_max_size),
        T(test_writer_truncated),
        T(test_writer_abort),
        T(test_invalid_digests),
        T(test_concurrent_writers),
        T(test_delete),
        T(test_list_sorted),
        T(test_stale_temp_cleanup),
        T(test_open_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
