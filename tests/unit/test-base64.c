/* Unit tests of basic/base64.h: RFC 4648 section 10 vectors both ways,
 * binary round trips of every length, and malformed input rejected. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "basic/base64.h"

static const struct {
    const char *plain, *b64;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
    /* Docker's "auth" member: base64("user:secret"). */
    {"user:p@ss/w+rd", "dXNlcjpwQHNzL3crcmQ="},
};

static void test_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t n = strlen(rfc4648[i].plain);
        char out[64];
        memset(out, '#', sizeof(out));
        assert_int_equal(base64_encoded_len(n), strlen(rfc4648[i].b64));
        base64_encode(rfc4648[i].plain, n, out);
        assert_string_equal(out, rfc4648[i].b64);
    }
}

static void test_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const char *in = rfc4648[i].b64;
        uint8_t out[64];
        size_t len = 999;
        assert_int_equal(base64_decode(in, strlen(in), out, &len), 0);
        assert_int_equal(len, strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, len);
    }
    /* Line breaks are skipped, as Go's StdEncoding does (a hand-edited
     * config.json that Docker reads). */
    uint8_t out[16];
    size_t len = 0;
    assert_int_equal(base64_decode("dXNl\r\ncjpw\nYXNz\n", 16, out, &len), 0);
    assert_int_equal(len, 9);
    assert_memory_equal(out, "user:pass", 9);
}

/* Every byte value and every length modulo 3, including NUL and 0xff. */
static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t data[300];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(255 - i);
    }
    for (size_t len = 0; len <= sizeof(data); len++) {
        char enc[4 * (sizeof(data) / 3 + 1) + 1];
        base64_encode(data, len, enc);
        assert_int_equal(strlen(enc), base64_encoded_len(len));
        uint8_t dec[sizeof(data) + 3];
        size_t n = 0;
        assert_int_equal(base64_decode(enc, strlen(enc), dec, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, data, len);
    }
}

static void test_reject(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zg",                  /* unpadded */
        "Zg=",                 /* short padding */
        "Zm9vY",               /* length not a multiple of 4 */
        "Zg==Zg==",            /* padding before the end */
        "Z===",                /* three '=' */
        "====",                /* padding only */
        "=Zg=",                /* '=' first */
        "Zm=v",                /* '=' inside the last group */
        "Zm9\n",               /* a line break does not count */
        " Zm9",                /* leading space */
        "Zm9vYmF\r\n", "Zm9-", /* URL-safe alphabet is not this one */
        "Zm9_",        "Zm9v Zm9v", "Zm\x80v",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t out[32];
        size_t n = 12345;
        assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out, &n), -EINVAL);
        assert_int_equal(n, 12345); /* untouched on failure */
    }
    /* An embedded NUL is not the alphabet either. */
    uint8_t out[8];
    size_t n = 0;
    assert_int_equal(base64_decode("Zm\0v", 4, out, &n), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_reject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
