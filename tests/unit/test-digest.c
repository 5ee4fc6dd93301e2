/* Unit tests of common/digest.h: FIPS 180-4 vectors through both the
 * libcrypto and the portable path, streams fed in odd chunk sizes, the
 * small-input path that never loads libcrypto, and BERTH_DIGEST=portable. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/sha256.h"
#include "libberth/common/digest.h"

/* The stream tests cross DIGEST_SMALL_MAX many times over. */
#define BIG_LEN ((size_t)(1 << 20) + 13)

static bool crypto_loaded(void)
{
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
    if (h) {
        dlclose(h);
    }
    return h != NULL;
}

static bool crypto_available(void)
{
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        dlclose(h);
    }
    return h != NULL;
}

static void hash_str(const void *data, size_t len, size_t chunk, char out[DIGEST_STR_SIZE],
                     bool *ret_openssl)
{
    _cleanup_(digest_freep) struct digest *d = digest_sha256_new();
    const uint8_t *p = data;
    for (size_t off = 0; off < len;) {
        size_t n = len - off < chunk ? len - off : chunk;
        digest_update(d, p + off, n);
        off += n;
    }
    assert_int_equal(digest_final_str(d, out), 0);
    if (ret_openssl) {
        *ret_openssl = digest_used_openssl(d);
    }
}

/* Runs first, before this process created any digest: the variable is
 * read once per process, so the child is the process that sees it. */
static void test_env_portable(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("BERTH_DIGEST", "portable", 1);
        uint8_t *big = calloc(1, BIG_LEN);
        struct digest *d = digest_sha256_new();
        digest_update(d, big, BIG_LEN);
        uint8_t want[32], got[32];
        sha256(big, BIG_LEN, want);
        int ok = digest_final(d, got) == 0 && memcmp(want, got, 32) == 0 &&
                 !digest_used_openssl(d) && !crypto_loaded();
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The point of the module: a small digest (a config, a manifest) and a
 * process that never hashes much never map libcrypto. */
static void test_small_never_loads_crypto(void **state)
{
    (void)state;
    assert_false(crypto_loaded());
    static uint8_t buf[DIGEST_SMALL_MAX];
    memset(buf, 'x', sizeof(buf));
    char s[DIGEST_STR_SIZE];
    bool used = true;
    hash_str(buf, sizeof(buf), 4097, s, &used);
    assert_false(used);
    assert_false(crypto_loaded());
    uint8_t md[32];
    sha256(buf, sizeof(buf), md);
    _cleanup_(digest_freep) struct digest *d = digest_sha256_new();
    digest_update(d, buf, sizeof(buf));
    uint8_t got[32];
    assert_int_equal(digest_final(d, got), 0);
    assert_memory_equal(md, got, 32);
    assert_false(crypto_loaded());
}

static const struct {
    const char *msg;
    const char *hex;
} fips[] = {
    {"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
     "qrsmnopqrstnopqrstu",
     "sha256:cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

/* The FIPS 180-4 examples, and a million 'a's, which goes past
 * DIGEST_SMALL_MAX and so through libcrypto unless forced portable. */
static void check_vectors(bool portable)
{
    digest_force_portable(portable);
    char s[DIGEST_STR_SIZE];
    for (size_t i = 0; i < sizeof(fips) / sizeof(fips[0]); i++) {
        hash_str(fips[i].msg, strlen(fips[i].msg), 7, s, NULL);
        assert_string_equal(s, fips[i].hex);
    }
    char *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    bool used = false;
    hash_str(a, 1000000, 997, s, &used);
    assert_string_equal(s,
                        "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
    if (portable) {
        assert_false(used);
    } else if (crypto_available()) {
        assert_true(used);
    }
    digest_force_portable(false);
}

static void test_vectors_openssl(void **state)
{
    (void)state;
    if (!crypto_available()) {
        skip(); /* libssl3 not installed: only the portable path exists */
    }
    check_vectors(false);
    assert_true(crypto_loaded());
}

static void test_vectors_portable(void **state)
{
    (void)state;
    check_vectors(true);
}

/* A stream fed in chunks that straddle SHA-256's 64-byte blocks and the
 * small-input limit in every way equals the one-shot portable digest. */
static void check_chunks(bool portable)
{
    uint8_t *big = malloc(BIG_LEN);
    assert_non_null(big);
    uint32_t x = 0x12345678;
    for (size_t i = 0; i < BIG_LEN; i++) {
        x = x * 1103515245 + 12345;
        big[i] = (uint8_t)(x >> 16);
    }
    uint8_t md[32];
    sha256(big, BIG_LEN, md);
    static const char hex[] = "0123456789abcdef";
    char want[DIGEST_STR_SIZE] = "sha256:";
    for (size_t i = 0; i < 32; i++) {
        want[7 + 2 * i] = hex[md[i] >> 4];
        want[8 + 2 * i] = hex[md[i] & 0xf];
    }
    want[71] = '\0';

    digest_force_portable(portable);
    static const size_t chunks[] = {
        1, 63, 64, 65, 4097, DIGEST_SMALL_MAX - 1, DIGEST_SMALL_MAX, DIGEST_SMALL_MAX + 1, BIG_LEN};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        char got[DIGEST_STR_SIZE];
        bool used = !portable;
        hash_str(big, BIG_LEN, chunks[i], got, &used);
        assert_string_equal(got, want);
        assert_true(used == (!portable && crypto_available()));
    }
    /* Mixed sizes, the first ones filling the small buffer unevenly. */
    static const size_t mix[] = {0, 1, 4095, 3, 65536, 63, 64, 65, 4097, 131072, 7};
    _cleanup_(digest_freep) struct digest *d = digest_sha256_new();
    size_t off = 0;
    for (size_t i = 0; off < BIG_LEN; i++) {
        size_t n = mix[i % (sizeof(mix) / sizeof(mix[0]))];
        n = n < BIG_LEN - off ? n : BIG_LEN - off;
        digest_update(d, big + off, n);
        off += n;
    }
    char got[DIGEST_STR_SIZE];
    assert_int_equal(digest_final_str(d, got), 0);
    assert_string_equal(got, want);
    /* Every length around the small limit, as one update and as two. */
    for (size_t len = DIGEST_SMALL_MAX - 2; len <= DIGEST_SMALL_MAX + 2; len++) {
        sha256(big, len, md);
        uint8_t one[32], two[32];
        _cleanup_(digest_freep) struct digest *d1 = digest_sha256_new();
        digest_update(d1, big, len);
        assert_int_equal(digest_final(d1, one), 0);
        _cleanup_(digest_freep) struct digest *d2 = digest_sha256_new();
        digest_update(d2, big, len / 2);
        digest_update(d2, big + len / 2, len - len / 2);
        assert_int_equal(digest_final(d2, two), 0);
        assert_memory_equal(one, md, 32);
        assert_memory_equal(two, md, 32);
    }
    digest_force_portable(false);
    free(big);
}

static void test_chunks_openssl(void **state)
{
    (void)state;
    if (!crypto_available()) {
        skip();
    }
    check_chunks(false);
}

static void test_chunks_portable(void **state)
{
    (void)state;
    check_chunks(true);
}

/* A digest dropped before its end (a failed pull) frees cleanly, in
 * every state. */
static void test_free_unfinished(void **state)
{
    (void)state;
    digest_free(NULL);
    struct digest *d = digest_sha256_new();
    digest_free(d);
    d = digest_sha256_new();
    digest_update(d, "abc", 3);
    digest_free(d);
    uint8_t *big = calloc(1, BIG_LEN);
    assert_non_null(big);
    d = digest_sha256_new();
    digest_update(d, big, BIG_LEN);
    digest_free(d);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* These two first: they check the process before any big digest. */
        cmocka_unit_test(test_env_portable),     cmocka_unit_test(test_small_never_loads_crypto),
        cmocka_unit_test(test_vectors_portable), cmocka_unit_test(test_vectors_openssl),
        cmocka_unit_test(test_chunks_portable),  cmocka_unit_test(test_chunks_openssl),
        cmocka_unit_test(test_free_unfinished),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
