/* Unit tests of image references: the normalised and familiar forms Docker
 * shows for a name, and the exact message for every name it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/error.h"
#include "libberth/image/reference.h"

#define HEX64 "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define HEX128                                                                                     \
    "1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f53"                             \
    "02860c652bf08d560252aa5e74210546f369fbbbce8c12cfc7957b2652fe9a75"
#define D256 "sha256:" HEX64
#define D512 "sha512:" HEX128

struct valid_case {
    const char *input;
    const char *full;
    const char *familiar;
    const char *repository;
    const char *familiar_repository;
    const char *domain;
    const char *tag;    /* NULL: no tag */
    const char *digest; /* NULL: no digest */
};

static const struct valid_case valid_cases[] = {
    {"busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io/library/busybox",
     "busybox", "docker.io", "latest", NULL},
    {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "docker.io/library/busybox",
     "busybox", "docker.io", "1.36", NULL},
    {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io/library/busybox", "busybox", "docker.io", "latest", NULL},
    {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io/library/busybox", "busybox", "docker.io", "latest", NULL},
    {"docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io/library/busybox", "busybox", "docker.io", "latest", NULL},
    {"index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io/library/busybox", "busybox", "docker.io", "latest", NULL},
    {"index.docker.io/user/app:v2", "docker.io/user/app:v2", "user/app:v2", "docker.io/user/app",
     "user/app", "docker.io", "v2", NULL},
    {"user/app:v1", "docker.io/user/app:v1", "user/app:v1", "docker.io/user/app", "user/app",
     "docker.io", "v1", NULL},
    {"docker.io/user/app:v1", "docker.io/user/app:v1", "user/app:v1", "docker.io/user/app",
     "user/app", "docker.io", "v1", NULL},
    /* "library/" is only dropped when nothing is nested below it. */
    {"library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", "docker.io/library/a/b",
     "library/a/b", "docker.io", "latest", NULL},
    {"a/b/c/d", "docker.io/a/b/c/d:latest", "a/b/c/d:latest", "docker.io/a/b/c/d", "a/b/c/d",
     "docker.io", "latest", NULL},
    /* No '/': always a Docker Hub name, even when it looks like a host. */
    {"localhost", "docker.io/library/localhost:latest", "localhost:latest",
     "docker.io/library/localhost", "localhost", "docker.io", "latest", NULL},
    {"localhost:5000", "docker.io/library/localhost:5000", "localhost:5000",
     "docker.io/library/localhost", "localhost", "docker.io", "5000", NULL},
    {"localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost/app",
     "localhost/app", "localhost", "latest", NULL},
    {"localhost:5000/a:b", "localhost:5000/a:b", "localhost:5000/a:b", "localhost:5000/a",
     "localhost:5000/a", "localhost:5000", "b", NULL},
    {"localhost:5000/a/b@" D256, "localhost:5000/a/b@" D256, "localhost:5000/a/b@" D256,
     "localhost:5000/a/b", "localhost:5000/a/b", "localhost:5000", NULL, D256},
    {"quay.io/a/b:c", "quay.io/a/b:c", "quay.io/a/b:c", "quay.io/a/b", "quay.io/a/b", "quay.io",
     "c", NULL},
    /* Other registries keep a single component, without "library/". */
    {"quay.io/busybox", "quay.io/busybox:latest", "quay.io/busybox:latest", "quay.io/busybox",
     "quay.io/busybox", "quay.io", "latest", NULL},
    {"myhost:5000/x", "myhost:5000/x:latest", "myhost:5000/x:latest", "myhost:5000/x",
     "myhost:5000/x", "myhost:5000", "latest", NULL},
    {"192.168.1.10:5000/team/app:1.0", "192.168.1.10:5000/team/app:1.0",
     "192.168.1.10:5000/team/app:1.0", "192.168.1.10:5000/team/app", "192.168.1.10:5000/team/app",
     "192.168.1.10:5000", "1.0", NULL},
    {"[::1]:5000/repo", "[::1]:5000/repo:latest", "[::1]:5000/repo:latest", "[::1]:5000/repo",
     "[::1]:5000/repo", "[::1]:5000", "latest", NULL},
    {"[fe80::1]/repo:t", "[fe80::1]/repo:t", "[fe80::1]/repo:t", "[fe80::1]/repo", "[fe80::1]/repo",
     "[fe80::1]", "t", NULL},
    {"[2001:DB8::1]:443/a/b", "[2001:DB8::1]:443/a/b:latest", "[2001:DB8::1]:443/a/b:latest",
     "[2001:DB8::1]:443/a/b", "[2001:DB8::1]:443/a/b", "[2001:DB8::1]:443", "latest", NULL},
    /* Uppercase is fine in a domain, and a first component with uppercase is
     * a domain (Docker Hub namespaces are lowercase). */
    {"Registry.Example.COM/app", "Registry.Example.COM/app:latest",
     "Registry.Example.COM/app:latest", "Registry.Example.COM/app", "Registry.Example.COM/app",
     "Registry.Example.COM", "latest", NULL},
    {"Foo/bar", "Foo/bar:latest", "Foo/bar:latest", "Foo/bar", "Foo/bar", "Foo", "latest", NULL},
    {"my-registry-1.example.com/a", "my-registry-1.example.com/a:latest",
     "my-registry-1.example.com/a:latest", "my-registry-1.example.com/a",
     "my-registry-1.example.com/a", "my-registry-1.example.com", "latest", NULL},
    /* Separators inside path components. */
    {"x/a.b_c__d-e---f/g", "docker.io/x/a.b_c__d-e---f/g:latest", "x/a.b_c__d-e---f/g:latest",
     "docker.io/x/a.b_c__d-e---f/g", "x/a.b_c__d-e---f/g", "docker.io", "latest", NULL},
    {"0/1", "docker.io/0/1:latest", "0/1:latest", "docker.io/0/1", "0/1", "docker.io", "latest",
     NULL},
    /* Tags may carry uppercase, '_', '.', '-'. */
    {"busybox:Ver_1.2-rc", "docker.io/library/busybox:Ver_1.2-rc", "busybox:Ver_1.2-rc",
     "docker.io/library/busybox", "busybox", "docker.io", "Ver_1.2-rc", NULL},
    {"busybox:_x", "docker.io/library/busybox:_x", "busybox:_x", "docker.io/library/busybox",
     "busybox", "docker.io", "_x", NULL},
    /* Digests: name@digest has no tag; name:tag@digest keeps both. */
    {"busybox@" D256, "docker.io/library/busybox@" D256, "busybox@" D256,
     "docker.io/library/busybox", "busybox", "docker.io", NULL, D256},
    {"busybox:1@" D256, "docker.io/library/busybox:1@" D256, "busybox:1@" D256,
     "docker.io/library/busybox", "busybox", "docker.io", "1", D256},
    {"user/app@" D512, "docker.io/user/app@" D512, "user/app@" D512, "docker.io/user/app",
     "user/app", "docker.io", NULL, D512},
    {"ghcr.io/o/r:t@" D256, "ghcr.io/o/r:t@" D256, "ghcr.io/o/r:t@" D256, "ghcr.io/o/r",
     "ghcr.io/o/r", "ghcr.io", "t", D256},
    /* 64 hex with a tag is a name, not an id. */
    {HEX64 ":v", "docker.io/library/" HEX64 ":v", HEX64 ":v", "docker.io/library/" HEX64, HEX64,
     "docker.io", "v", NULL},
};

static void test_valid(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(valid_cases); i++) {
        const struct valid_case *c = &valid_cases[i];
        struct image_ref *r = NULL;
        _cleanup_error_ struct berth_error *e = NULL;

        print_message("valid: %.80s\n", c->input);
        int rc = image_ref_parse(c->input, &r, &e);
        if (rc < 0) {
            fail_msg("'%s': unexpected error: %s", c->input, e->msg);
        }
        assert_int_equal(rc, 0);
        assert_null(e);

        _cleanup_free_ char *full = image_ref_string(r);
        _cleanup_free_ char *fam = image_ref_familiar(r);
        _cleanup_free_ char *repo = image_ref_repository(r);
        _cleanup_free_ char *famrepo = image_ref_familiar_repository(r);
        assert_string_equal(full, c->full);
        assert_string_equal(fam, c->familiar);
        assert_string_equal(repo, c->repository);
        assert_string_equal(famrepo, c->familiar_repository);
        assert_string_equal(r->domain, c->domain);
        if (c->tag) {
            assert_non_null(r->tag);
            assert_string_equal(r->tag, c->tag);
        } else {
            assert_null(r->tag);
        }
        if (c->digest) {
            assert_non_null(r->digest);
            assert_string_equal(r->digest, c->digest);
        } else {
            assert_null(r->digest);
        }

        /* The full form is a fixed point: parsing it gives it back. */
        struct image_ref *again = NULL;
        assert_int_equal(image_ref_parse(full, &again, NULL), 0);
        _cleanup_free_ char *full2 = image_ref_string(again);
        assert_string_equal(full2, full);
        image_ref_free(again);

        /* So is the familiar form, as "docker images" output is re-typed. */
        again = NULL;
        assert_int_equal(image_ref_parse(fam, &again, NULL), 0);
        _cleanup_free_ char *full3 = image_ref_string(again);
        assert_string_equal(full3, full);
        image_ref_free(again);

        image_ref_free(r);
    }
}

struct invalid_case {
    const char *input;
    const char *message;
};

#define FMT "invalid reference format"
#define LOWER "invalid reference format: repository name must be lowercase"

static const struct invalid_case invalid_cases[] = {
    {"", FMT},
    {"/", FMT},
    {"/busybox", FMT},
    {"busybox/", FMT},
    {"a//b", FMT},
    {"user/app/", FMT},
    {"..", FMT},
    {"a/../b", FMT},
    {"a/..b", FMT},
    {"a..b/c/d", FMT}, /* '..' in the domain */
    {"-a", FMT},
    {"_a", FMT},
    {".a", FMT},
    {"a-", FMT},
    {"a.", FMT},
    {"a_", FMT},
    {"a___b", FMT},
    {"a._b", FMT},
    {"a/-b", FMT},
    {"a/.b", FMT},
    {"busybox:", FMT},
    {"busybox@", FMT},
    {":tag", FMT},
    {"@" D256, FMT},
    {"busybox:-tag", FMT},
    {"busybox:.tag", FMT},
    {"busybox:a:b", FMT},
    {"busybox:a/b", FMT},
    {"busybox:t@g", FMT},
    {"busy box", FMT},
    {"busybox ", FMT},
    {"busy\tbox", FMT},
    {"büsybox", FMT},
    {"a$b", FMT},
    {"localhost:/a", FMT},
    {"localhost:50a/a", FMT},
    {"host:5000:6000/a", FMT},
    {"-host.com/a", FMT},
    {"host-.com/a", FMT},
    {"host..com/a", FMT},
    {"my_host.com/a", FMT},
    {"[::1/a", FMT},
    {"[]:5000/a", FMT},
    {"[::g]/a", FMT},
    {"[::1]x/a", FMT},
    {"[::1]:/a", FMT},
    {"localhost/", FMT},
    {"quay.io/", FMT},
    {"busybox@sha256:abc", FMT},        /* fewer than 32 hex */
    {"busybox@sha256", FMT},            /* no ':' */
    {"busybox@:" HEX64, FMT},           /* no algorithm */
    {"busybox@sha256:" HEX64 "x", FMT}, /* not hex */
    {"busybox@1sha:" HEX64, FMT},
    {"busybox@" D256 "@" D256, FMT},
    {"busybox@" D256 ":tag", FMT},
    {"busybox@sha256:" HEX64 "00", "invalid checksum digest length"},
    {"busybox@sha256:" HEX128, "invalid checksum digest length"},
    {"busybox@sha512:" HEX64, "invalid checksum digest length"},
    {"busybox@sha256:CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB",
     "invalid checksum digest format"},
    {"busybox@md5:" HEX64, "unsupported digest algorithm"},
    {"busybox:t@Md5:" HEX64, "invalid checksum digest format"},
    {"busybox@Md5:" HEX64, LOWER}, /* the case check runs up to the first ':' */
    {"Busybox", LOWER},
    {"busyBox:latest", LOWER},
    {"user/App", LOWER},
    {"docker.io/Busybox", LOWER},
    {"quay.io/Org/app:v1", LOWER},
    {"localhost:5000/A", LOWER},
    {"[::1]:5000/Repo", LOWER},
    {"user/app@SHA256:" HEX64, LOWER},
    {HEX64, "invalid repository name (" HEX64 "), cannot specify 64-byte hexadecimal strings"},
};

static void expect_invalid(const char *input, const char *message)
{
    struct image_ref *r = NULL;
    _cleanup_error_ struct berth_error *e = NULL;

    print_message("invalid: %.80s\n", input);
    int rc = image_ref_parse(input, &r, &e);
    if (rc == 0) {
        _cleanup_free_ char *s = image_ref_string(r);
        fail_msg("'%s' was accepted as '%s'", input, s);
    }
    assert_int_equal(rc, -EINVAL);
    assert_null(r);
    assert_non_null(e);
    assert_int_equal(e->code, EINVAL);
    assert_string_equal(e->msg, message);

    /* A NULL error pointer is allowed and gives the same result. */
    assert_int_equal(image_ref_parse(input, &r, NULL), -EINVAL);
    assert_null(r);
}

static void test_invalid(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(invalid_cases); i++) {
        expect_invalid(invalid_cases[i].input, invalid_cases[i].message);
    }
}

static char *repeat(char c, size_t n)
{
    char *s = xmalloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* 255 bytes of name, domain and '/' included, is the limit. */
static void test_lengths(void **state)
{
    struct image_ref *r = NULL;

    /* "docker.io/library/" is 18 bytes: 237 more makes 255. */
    _cleanup_free_ char *ok = repeat('a', 237);
    assert_int_equal(image_ref_parse(ok, &r, NULL), 0);
    _cleanup_free_ char *repo = image_ref_repository(r);
    assert_int_equal(strlen(repo), 255);
    image_ref_free(r);
    r = NULL;

    _cleanup_free_ char *long1 = repeat('a', 238);
    expect_invalid(long1, "repository name must not be more than 255 characters");

    /* The domain counts: "quay.io/" is 8 bytes. */
    _cleanup_free_ char *path247 = repeat('b', 247);
    _cleanup_free_ char *q_ok = xasprintf("quay.io/%s", path247);
    assert_int_equal(image_ref_parse(q_ok, &r, NULL), 0);
    image_ref_free(r);
    r = NULL;
    _cleanup_free_ char *q_long = xasprintf("quay.io/%sb:tag", path247);
    expect_invalid(q_long, "repository name must not be more than 255 characters");

    /* The tag is not part of the name, and may be 128 bytes long. */
    _cleanup_free_ char *tag128 = repeat('t', 128);
    _cleanup_free_ char *t_ok = xasprintf("%s:%s", ok, tag128);
    assert_int_equal(image_ref_parse(t_ok, &r, NULL), 0);
    assert_int_equal(strlen(r->tag), 128);
    image_ref_free(r);
    r = NULL;
    _cleanup_free_ char *tag129 = repeat('t', 129);
    _cleanup_free_ char *t_long = xasprintf("busybox:%s", tag129);
    expect_invalid(t_long, FMT);

    /* Inputs past the hard cap are refused before any parsing. */
    _cleanup_free_ char *huge = repeat('a', 5000);
    expect_invalid(huge, FMT);
    _cleanup_free_ char *huge_tag = repeat('t', 5000);
    _cleanup_free_ char *huge2 = xasprintf("busybox:%s", huge_tag);
    expect_invalid(huge2, FMT);

    /* 63 and 65 hex characters are ordinary names. */
    _cleanup_free_ char *hex63 = xstrndup(HEX64, 63);
    assert_int_equal(image_ref_parse(hex63, &r, NULL), 0);
    image_ref_free(r);
    r = NULL;
    _cleanup_free_ char *hex65 = xasprintf("%sa", HEX64);
    assert_int_equal(image_ref_parse(hex65, &r, NULL), 0);
    image_ref_free(r);
}

static void test_digest_is_valid(void **state)
{
    assert_true(digest_is_valid(D256));
    assert_true(digest_is_valid(D512));
    assert_false(digest_is_valid(NULL));
    assert_false(digest_is_valid(""));
    assert_false(digest_is_valid(HEX64));
    assert_false(digest_is_valid("sha256:"));
    assert_false(digest_is_valid("sha256:" HEX128));
    assert_false(digest_is_valid("sha512:" HEX64));
    assert_false(digest_is_valid("sha256:" HEX64 "0"));
    assert_false(digest_is_valid("sha256:abc"));
    assert_false(digest_is_valid("md5:" HEX64));
    assert_false(digest_is_valid("SHA256:" HEX64));
    assert_false(
        digest_is_valid("sha256:CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB"));
    assert_false(digest_is_valid("sha256:" HEX64 "\n"));
    assert_false(digest_is_valid(" sha256:" HEX64));
}

/* ret is written only on success, and freeing NULL is a no-op. */
static void test_ownership(void **state)
{
    struct image_ref *sentinel = (struct image_ref *)&sentinel;
    struct image_ref *r = sentinel;
    assert_int_equal(image_ref_parse("Bad", &r, NULL), -EINVAL);
    assert_ptr_equal(r, sentinel);
    assert_int_equal(image_ref_parse(NULL, &r, NULL), -EINVAL);
    assert_ptr_equal(r, sentinel);
    image_ref_free(NULL);

    _cleanup_(image_ref_freep) struct image_ref *ok = NULL;
    assert_int_equal(image_ref_parse("alpine:3.19", &ok, NULL), 0);
    assert_string_equal(ok->path, "library/alpine");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),     cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_lengths),   cmocka_unit_test(test_digest_is_valid),
        cmocka_unit_test(test_ownership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
