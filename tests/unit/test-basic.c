/* Unit tests of src/basic: parsing, strings, option parsing, chase. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "basic/opts.h"
#include "basic/parse.h"
#include "basic/sha256.h"
#include "basic/strbuf.h"
#include "basic/strv.h"

static void test_parse_size(void **state)
{
    int64_t v;
    assert_int_equal(parse_size("1024", &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(parse_size("512k", &v), 0);
    assert_int_equal(v, 512 * 1024);
    assert_int_equal(parse_size("64m", &v), 0);
    assert_int_equal(v, 64LL << 20);
    assert_int_equal(parse_size("1G", &v), 0);
    assert_int_equal(v, 1LL << 30);
    assert_int_equal(parse_size("2gb", &v), 0);
    assert_int_equal(v, 2LL << 30);
    assert_int_equal(parse_size("1.5k", &v), 0);
    assert_int_equal(v, 1536);
    assert_int_equal(parse_size("", &v), -EINVAL);
    assert_int_equal(parse_size("12x", &v), -EINVAL);
    assert_int_equal(parse_size("-1", &v), -EINVAL);
    assert_int_equal(parse_size("m", &v), -EINVAL);
}

static void test_parse_duration(void **state)
{
    int64_t v;
    assert_int_equal(parse_duration("1h30m", &v), 0);
    assert_int_equal(v, 5400LL * 1000000000);
    assert_int_equal(parse_duration("1.5s", &v), 0);
    assert_int_equal(v, 1500000000LL);
    assert_int_equal(parse_duration("300ms", &v), 0);
    assert_int_equal(v, 300000000LL);
    assert_int_equal(parse_duration("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_duration("10", &v), -EINVAL);
    assert_int_equal(parse_duration("5 s", &v), -EINVAL);
    assert_int_equal(parse_duration("abc", &v), -EINVAL);
}

static void test_parse_ints(void **state)
{
    int64_t v;
    uint64_t u;
    int i;
    assert_int_equal(parse_int64("-42", &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(parse_int64("42a", &v), -EINVAL);
    assert_int_equal(parse_int64("99999999999999999999", &v), -ERANGE);
    assert_int_equal(parse_uint64("-1", &u), -EINVAL);
    assert_int_equal(parse_int("2147483648", &i), -ERANGE);
    assert_int_equal(parse_int(" 1", &i), -EINVAL);
}

static void test_strv(void **state)
{
    char **v = strv_split("a:b::c", ":");
    assert_int_equal(strv_length(v), 4);
    assert_string_equal(v[2], "");
    char *j = strv_join(v, ",");
    assert_string_equal(j, "a,b,,c");
    free(j);
    strv_free(v);
    char **env = NULL;
    strv_env_set(&env, "A=1");
    strv_env_set(&env, "B=2");
    strv_env_set(&env, "A=3");
    assert_int_equal(strv_length(env), 2);
    assert_string_equal(strv_env_get(env, "A"), "3");
    assert_null(strv_env_get(env, "AB"));
    strv_free(env);
}

static void test_strbuf(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    assert_string_equal(strbuf_str(&sb), "");
    for (int i = 0; i < 1000; i++) {
        strbuf_addf(&sb, "%d,", i);
    }
    assert_true(strneq(sb.buf, "0,1,2,", 6));
    assert_int_equal(sb.len, strlen(sb.buf));
    strbuf_release(&sb);
}

static void test_error_context(void **state)
{
    struct berth_error *e = NULL;
    assert_int_equal(berth_error_sys(&e, ENOENT, "open '%s'", "x"), -ENOENT);
    /* The innermost cause is kept; later sets do not overwrite it. */
    assert_int_equal(berth_error_set(&e, EINVAL, "other"), -EINVAL);
    berth_error_prefix(&e, "pull '%s'", "alpine");
    assert_string_equal(e->msg, "pull 'alpine': open 'x': no such file or directory");
    assert_int_equal(e->code, ENOENT);
    berth_error_free(e);
    assert_int_equal(berth_error_set(NULL, 0, "x"), -EIO);
}

static void test_opts_go(void **state)
{
    const char *bundle = NULL;
    bool detach = false;
    int n = 0;
    char **list = NULL, **args = NULL;
    struct opt_def defs[] = {{"bundle", 'b', OPT_STRING, &bundle, "", NULL},
                             {"detach", 'd', OPT_BOOL, &detach, "", NULL},
                             {"preserve-fds", 0, OPT_INT, &n, "", NULL},
                             {"env", 'e', OPT_LIST, &list, "", NULL},
                             {0}};
    char *argv[] = {"-bundle",
                    "/b",
                    "--detach=false",
                    "--preserve-fds=2",
                    "-e",
                    "A=1",
                    "--env",
                    "B=2",
                    "id",
                    "--not-a-flag",
                    NULL};
    assert_int_equal(opts_parse(defs, 10, argv, OPTS_GO, &args, NULL), 0);
    assert_string_equal(bundle, "/b");
    assert_false(detach);
    assert_int_equal(n, 2);
    assert_int_equal(strv_length(list), 2);
    assert_int_equal(strv_length(args), 2);
    assert_string_equal(args[0], "id");
    strv_free(list);
    strv_free(args);

    struct berth_error *e = NULL;
    char *bad[] = {"--nope", NULL};
    assert_int_equal(opts_parse(defs, 1, bad, OPTS_GO, NULL, &e), -EINVAL);
    assert_string_equal(e->msg, "unknown flag: --nope");
    berth_error_free(e);
    e = NULL;
    char *missing[] = {"--bundle", NULL};
    assert_int_equal(opts_parse(defs, 1, missing, OPTS_GO, NULL, &e), -EINVAL);
    berth_error_free(e);
}

static void test_opts_posix(void **state)
{
    bool i = false, t = false;
    const char *p = NULL;
    char **args = NULL;
    struct opt_def defs[] = {{"interactive", 'i', OPT_BOOL, &i, "", NULL},
                             {"tty", 't', OPT_BOOL, &t, "", NULL},
                             {"publish", 'p', OPT_STRING, &p, "", NULL},
                             {0}};
    char *argv[] = {"-it", "img", "-p8080:80", NULL};
    assert_int_equal(opts_parse(defs, 3, argv, OPTS_INTERSPERSED, &args, NULL), 0);
    assert_true(i && t);
    assert_string_equal(p, "8080:80");
    assert_int_equal(strv_length(args), 1);
    strv_free(args);
}

/* A root with hostile symlinks: nothing may resolve outside it. */
static char root[64];

static int chase_setup(void **state)
{
    snprintf(root, sizeof(root), "/tmp/berth-chase-XXXXXX");
    assert_non_null(mkdtemp(root));
    char p[256];
    snprintf(p, sizeof(p), "%s/etc", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/etc/inside", root);
    close(open(p, O_CREAT | O_WRONLY, 0644));
    snprintf(p, sizeof(p), "%s/abs", root);
    assert_int_equal(symlink("/etc", p), 0);
    snprintf(p, sizeof(p), "%s/up", root);
    assert_int_equal(symlink("../../../../../../etc", p), 0);
    return 0;
}

static int chase_teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void check_chase(bool fallback)
{
    chase_force_fallback(fallback);
    int rootfd = open(root, O_PATH | O_DIRECTORY);
    struct stat st;
    /* "/abs/inside" through an absolute symlink lands in root/etc, not /etc. */
    int fd = chase_open(rootfd, "/abs/inside", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    /* /etc/passwd of the host must not be reachable through either link. */
    assert_true(chase_open(rootfd, "/abs/passwd", O_RDONLY, 0) < 0);
    assert_true(chase_open(rootfd, "/up/passwd", O_RDONLY, 0) < 0);
    assert_true(chase_open(rootfd, "../../../../etc/passwd", O_RDONLY, 0) < 0);
    fd = chase_open(rootfd, "/up/inside", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chase_open(rootfd, "/abs/inside", O_RDONLY, CHASE_NO_SYMLINKS), -ELOOP);
    /* MKDIR creates missing directories inside the root only. */
    fd = chase_open(rootfd, "/abs/new/deeper", O_PATH | O_DIRECTORY, CHASE_MKDIR);
    assert_true(fd >= 0);
    close(fd);
    char p[256];
    snprintf(p, sizeof(p), "%s/etc/new/deeper", root);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(stat("/etc/new", &st), -1);
    /* MKDIR through a symlink to a directory that does not exist yet: both
     * resolvers create the target inside the root. */
    snprintf(p, sizeof(p), "%s/dl", root);
    unlink(p);
    assert_int_equal(symlink("/made-late/", p), 0);
    fd = chase_open(rootfd, "/dl/sub", O_PATH | O_DIRECTORY, CHASE_MKDIR);
    assert_true(fd >= 0);
    close(fd);
    snprintf(p, sizeof(p), "%s/made-late/sub", root);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(stat("/made-late", &st), -1);
    snprintf(p, sizeof(p), "rm -rf %s/made-late", root);
    assert_int_equal(system(p), 0);
    close(rootfd);
    chase_force_fallback(false);
}

static void test_chase_openat2(void **state)
{
    check_chase(false);
}

static void test_chase_fallback(void **state)
{
    check_chase(true);
}

static void test_atomic_write(void **state)
{
    char dir[] = "/tmp/berth-aw-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_int_equal(write_file_atomic_at(dfd, "f", "hello", 5, 0600, NULL), 0);
    char *buf = NULL;
    size_t len;
    assert_int_equal(read_file_at(dfd, "f", 100, &buf, &len, NULL), 0);
    assert_string_equal(buf, "hello");
    free(buf);
    struct berth_error *e = NULL;
    assert_int_equal(read_file_at(dfd, "f", 2, &buf, &len, &e), -EFBIG);
    berth_error_free(e);

    /* A stale temp file of ours (same pid, world-readable) must not lend its
     * mode to a 0600 file written through it. */
    char stale[64];
    snprintf(stale, sizeof(stale), "secret.tmp-%d", (int)getpid());
    int sfd = openat(dfd, stale, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(sfd >= 0);
    assert_int_equal(fchmod(sfd, 0666), 0);
    close(sfd);
    assert_int_equal(write_file_replace_at(dfd, "secret", "pw", 2, 0600, NULL), 0);
    struct stat st;
    assert_int_equal(fstatat(dfd, "secret", &st, 0), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    assert_int_equal(rm_rf_at(AT_FDCWD, dir, NULL), 0);
    close(dfd);
}

static void hex32(const uint8_t md[32], char out[65])
{
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

/* FIPS 180-4 example vectors, a million 'a's fed in odd-sized pieces, and
 * every length around the padding boundary (55, 56, 63, 64, 65 bytes)
 * against the one-shot digest of the same data fed byte by byte. */
static void test_sha256(void **state)
{
    (void)state;
    uint8_t md[32];
    char hex[65];
    sha256("", 0, md);
    hex32(md, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256("abc", 3, md);
    hex32(md, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256(m, strlen(m), md);
    hex32(md, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    struct sha256 c;
    sha256_init(&c);
    char a[997];
    memset(a, 'a', sizeof(a));
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof(a) ? left : sizeof(a);
        sha256_update(&c, a, n);
        left -= n;
    }
    sha256_final(&c, md);
    hex32(md, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    uint8_t data[130];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7 + 1);
    }
    for (size_t len = 0; len <= sizeof(data); len++) {
        uint8_t one[32], bytes[32];
        sha256(data, len, one);
        sha256_init(&c);
        for (size_t i = 0; i < len; i++) {
            sha256_update(&c, data + i, 1);
        }
        sha256_final(&c, bytes);
        assert_memory_equal(one, bytes, 32);
    }
}

/* The docker CLI's natural order for volume and network names. */
static void test_natural_cmp(void **state)
{
    (void)state;
    assert_true(str_natural_cmp("db2", "db10") < 0);
    assert_true(str_natural_cmp("db10", "db2") > 0);
    assert_true(str_natural_cmp("a", "b") < 0);
    assert_true(str_natural_cmp("abc", "abc") == 0);
    assert_true(str_natural_cmp("ab", "abc") < 0);
    assert_true(str_natural_cmp("x1y", "x01y") < 0);
    assert_true(str_natural_cmp("x01y", "x1y") > 0);
    assert_true(str_natural_cmp("v9z", "v10a") < 0);
    assert_true(str_natural_cmp("1", "a") < 0);
    assert_true(str_natural_cmp("", "a") < 0);
    assert_true(str_natural_cmp("0", "00") < 0);
    assert_true(str_natural_cmp("99999999999999999999999", "100000000000000000000000") < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_natural_cmp),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_ints),
        cmocka_unit_test(test_strv),
        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_error_context),
        cmocka_unit_test(test_opts_go),
        cmocka_unit_test(test_opts_posix),
        cmocka_unit_test_setup_teardown(test_chase_openat2, chase_setup, chase_teardown),
        cmocka_unit_test_setup_teardown(test_chase_fallback, chase_setup, chase_teardown),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
