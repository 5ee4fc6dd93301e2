/* Unit tests of layer decompression: every gzip implementation and zstd give
 * back exactly the bytes that were compressed, however the input is split,
 * and a damaged or oversized stream is refused with the documented errno.
 * Test data is made here with zlib and libzstd themselves. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "libberth/image/decompress.h"

struct buf {
    uint8_t *data;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_release(struct buf *b)
{
    free(b->data);
    *b = (struct buf){0};
}

/* Output sink; fails with -ENOSPC once `fail_at` bytes would be exceeded. */
struct sink {
    struct buf out;
    size_t fail_at;
    unsigned calls;
};

static int sink_cb(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    struct sink *s = userdata;
    assert_true(len > 0);
    s->calls++;
    if (s->fail_at && s->out.len + len > s->fail_at) {
        return berth_error_set(err, ENOSPC, "sink full");
    }
    buf_add(&s->out, data, len);
    return 0;
}

/* Deterministic test content: text-like runs and random bytes, so that
 * deflate makes several blocks of every kind. */
static uint8_t *make_data(size_t len, uint32_t seed)
{
    static const char *const words[] = {"usr/", "bin/",    "lib/",  "share/", "\0\0\0\0", "ELF",
                                        "root", "0000644", "ustar", "\n",     " ",        "x86_64"};
    uint8_t *p = xmalloc(len ? len : 1);
    uint32_t x = seed * 2654435761u + 1;
    size_t i = 0;
    while (i < len) {
        x = x * 1103515245u + 12345u;
        if ((x >> 16) % 4 == 0) {
            p[i++] = (uint8_t)(x >> 24);
        } else {
            const char *w = words[(x >> 16) % ARRAY_SIZE(words)];
            size_t wl = w[0] ? strlen(w) : 4;
            for (size_t k = 0; k < wl && i < len; k++) {
                p[i++] = (uint8_t)w[k];
            }
        }
    }
    return p;
}

/* Append one gzip member of data to b (zlib deflate with a gzip wrapper). */
static void gzip_member(struct buf *b, const void *data, size_t len, int level, gz_header *hdr)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    if (hdr) {
        assert_int_equal(deflateSetHeader(&z, hdr), Z_OK);
    }
    size_t cap = deflateBound(&z, len) + 256;
    uint8_t *out = xmalloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    buf_add(b, out, cap - z.avail_out);
    deflateEnd(&z);
    free(out);
}

static void zstd_frame(struct buf *b, const void *data, size_t len, bool checksum)
{
    size_t cap = ZSTD_compressBound(len);
    uint8_t *out = xmalloc(cap);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    assert_non_null(c);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum)));
    size_t n = ZSTD_compress2(c, out, cap, data, len);
    assert_false(ZSTD_isError(n));
    buf_add(b, out, n);
    ZSTD_freeCCtx(c);
    free(out);
}

static void zstd_skippable(struct buf *b, uint8_t nibble, const char *payload)
{
    uint32_t n = (uint32_t)strlen(payload);
    uint8_t h[8] = {(uint8_t)(0x50 | nibble),
                    0x2a,
                    0x4d,
                    0x18,
                    (uint8_t)n,
                    (uint8_t)(n >> 8),
                    (uint8_t)(n >> 16),
                    (uint8_t)(n >> 24)};
    buf_add(b, h, sizeof(h));
    buf_add(b, payload, n);
}

/* Decompress in by pieces of `chunk` bytes (0: all at once). Returns the
 * result of the first failing call, or of finish. */
static int run(const void *in, size_t len, size_t chunk, uint64_t max_out, struct sink *s,
               enum compression *ret_format, struct berth_error **e)
{
    struct decompressor *d = NULL;
    int r = decompressor_new(sink_cb, s, max_out, &d, e);
    if (r < 0) {
        return r;
    }
    assert_int_equal(decompressor_format(d), COMPRESSION_UNKNOWN);
    const uint8_t *p = in;
    size_t left = len;
    while (left > 0 && r >= 0) {
        size_t n = chunk && chunk < left ? chunk : left;
        r = decompressor_feed(d, p, n, e);
        p += n;
        left -= n;
    }
    if (r >= 0) {
        r = decompressor_finish(d, e);
    }
    if (r >= 0) {
        assert_int_equal(decompressor_total_out(d), s->out.len);
    }
    if (ret_format) {
        *ret_format = decompressor_format(d);
    }
    decompressor_free(d);
    return r;
}

/* Decompressing `in` gives `want`, however the input is split. */
static void assert_roundtrip(const struct buf *in, const void *want, size_t want_len,
                             enum compression format)
{
    static const size_t chunks[] = {0, 1, 2, 3, 7, 8, 9, 13, 4096, 65536};
    for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
        if (chunks[i] > 0 && chunks[i] < 9 && in->len > 300000) {
            continue; /* small pieces: on small inputs only, for time */
        }
        struct sink s = {0};
        struct berth_error *e = NULL;
        enum compression f;
        int r = run(in->data, in->len, chunks[i], 0, &s, &f, &e);
        if (r < 0) {
            fail_msg("chunk %zu: %d %s", chunks[i], r, e ? e->msg : "");
        }
        assert_int_equal(f, format);
        assert_int_equal(s.out.len, want_len);
        if (want_len) {
            assert_memory_equal(s.out.data, want, want_len);
        }
        buf_release(&s.out);
    }
}

/* Decompressing in fails with errno `code` and a message containing `msg`,
 * whether fed at once or a byte at a time. */
static void assert_fails(const void *in, size_t len, uint64_t max_out, int code, const char *msg)
{
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        struct sink s = {0};
        struct berth_error *e = NULL;
        int r = run(in, len, chunk, max_out, &s, NULL, &e);
        if (r != -code) {
            fail_msg("len %zu chunk %zu: want %d got %d (%s)", len, chunk, -code, r,
                     e ? e->msg : "no error");
        }
        assert_non_null(e);
        if (msg && !strstr(e->msg, msg)) {
            fail_msg("error '%s' does not contain '%s'", e->msg, msg);
        }
        berth_error_free(e);
        buf_release(&s.out);
    }
}

static bool isal_available(void)
{
    void *h = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        dlclose(h);
    }
    return h != NULL;
}

/* Gzip tests run once per implementation; the prestate names it. */
static int gzip_setup(void **state)
{
    const char *impl = *state;
    assert_int_equal(setenv("BERTH_GZIP", impl, 1), 0);
    return 0;
}

static int gzip_teardown(void **state)
{
    unsetenv("BERTH_GZIP");
    return 0;
}

static void skip_if_missing(void **state)
{
    if (streq((const char *)*state, "isal") && !isal_available()) {
        skip();
    }
}

static void test_gzip_single(void **state)
{
    skip_if_missing(state);
    size_t n = 3 << 20;
    uint8_t *data = make_data(n, 1);
    struct buf gz = {0};
    gzip_member(&gz, data, n, 6, NULL);
    assert_roundtrip(&gz, data, n, COMPRESSION_GZIP);
    buf_release(&gz);

    /* Stored (level 0) and best-compression blocks, small enough to go a
     * byte at a time. */
    for (int level = 0; level <= 9; level += 9) {
        gzip_member(&gz, data, 100000, level, NULL);
        assert_roundtrip(&gz, data, 100000, COMPRESSION_GZIP);
        buf_release(&gz);
    }
    free(data);
}

static void test_gzip_multi_member(void **state)
{
    skip_if_missing(state);
    size_t n = 200000;
    uint8_t *data = make_data(n, 2);
    /* Members of 0, 1, 70000 and the rest, as `cat a.gz b.gz` makes them. */
    struct buf gz = {0};
    gzip_member(&gz, data, 0, 6, NULL);
    gzip_member(&gz, data, 1, 6, NULL);
    gzip_member(&gz, data + 1, 70000, 1, NULL);
    gzip_member(&gz, data + 70001, n - 70001, 9, NULL);
    assert_roundtrip(&gz, data, n, COMPRESSION_GZIP);

    /* Random splits, to put the member ends everywhere in a piece. */
    srand(42);
    for (int round = 0; round < 200; round++) {
        struct sink s = {0};
        struct berth_error *e = NULL;
        struct decompressor *d = NULL;
        assert_int_equal(decompressor_new(sink_cb, &s, 0, &d, &e), 0);
        size_t off = 0;
        while (off < gz.len) {
            size_t k = (size_t)rand() % (round % 2 ? 20 : 5000) + 1;
            k = k < gz.len - off ? k : gz.len - off;
            assert_int_equal(decompressor_feed(d, gz.data + off, k, &e), 0);
            off += k;
        }
        assert_int_equal(decompressor_finish(d, &e), 0);
        assert_int_equal(s.out.len, n);
        assert_memory_equal(s.out.data, data, n);
        decompressor_free(d);
        buf_release(&s.out);
    }
    buf_release(&gz);
    free(data);
}

static void test_gzip_header_fields(void **state)
{
    skip_if_missing(state);
    uint8_t *data = make_data(5000, 3);
    static uint8_t extra[] = {'A', 'B', 3, 0, 'x', 'y', 'z'};
    gz_header h = {
        .extra = extra,
        .extra_len = sizeof(extra),
        .name = (Bytef *)"layer.tar",
        .comment = (Bytef *)"a comment",
        .hcrc = 1,
    };
    struct buf gz = {0};
    gzip_member(&gz, data, 5000, 6, &h);
    gzip_member(&gz, data, 5000, 6, &h);
    uint8_t *twice = xmalloc(10000);
    memcpy(twice, data, 5000);
    memcpy(twice + 5000, data, 5000);
    assert_roundtrip(&gz, twice, 10000, COMPRESSION_GZIP);

    /* The header CRC16 follows the 10 + 2 + 7 + 10 + 10 header bytes. */
    size_t hcrc = 10 + 2 + sizeof(extra) + strlen("layer.tar") + 1 + strlen("a comment") + 1;
    gz.data[hcrc] ^= 0x01;
    assert_fails(gz.data, gz.len, 0, EBADMSG, "header crc mismatch");
    buf_release(&gz);
    free(twice);
    free(data);
}

static void test_gzip_truncated(void **state)
{
    skip_if_missing(state);
    uint8_t *data = make_data(3000, 4);
    gz_header h = {.name = (Bytef *)"n", .hcrc = 1};
    struct buf gz = {0};
    gzip_member(&gz, data, 3000, 6, &h);
    /* Every cut, from right after the magic to one byte short. */
    for (size_t len = 2; len < gz.len; len++) {
        assert_fails(gz.data, len, 0, EPIPE, "unexpected end of compressed data");
    }
    /* A second member cut short is as truncated as a first one. */
    size_t one = gz.len;
    gzip_member(&gz, data, 3000, 6, NULL);
    for (size_t len = one + 1; len < gz.len; len += 97) {
        assert_fails(gz.data, len, 0, EPIPE, "unexpected end of compressed data");
    }
    buf_release(&gz);
    free(data);
}

static void test_gzip_corrupt(void **state)
{
    skip_if_missing(state);
    uint8_t *data = make_data(50000, 5);
    struct buf gz = {0};
    gzip_member(&gz, data, 50000, 6, NULL);
    uint8_t *bad = xmalloc(gz.len);

    /* The CRC32 and ISIZE of the trailer. */
    for (size_t at = gz.len - 8; at < gz.len; at += 4) {
        memcpy(bad, gz.data, gz.len);
        bad[at] ^= 0x55;
        assert_fails(bad, gz.len, 0, EBADMSG, "corrupt gzip data");
    }
    /* Block type 3 (reserved) in the first block header. */
    memcpy(bad, gz.data, gz.len);
    bad[10] |= 0x06;
    assert_fails(bad, gz.len, 0, EBADMSG, "corrupt gzip data");
    /* Compression method other than deflate; reserved flag bits. */
    memcpy(bad, gz.data, gz.len);
    bad[2] = 7;
    assert_fails(bad, gz.len, 0, EBADMSG, "corrupt gzip data");
    memcpy(bad, gz.data, gz.len);
    bad[3] = 0x20;
    assert_fails(bad, gz.len, 0, EBADMSG, "corrupt gzip data");
    /* Flipped bits inside the compressed data: never accepted. */
    for (size_t at = 100; at < gz.len - 8; at += gz.len / 7) {
        memcpy(bad, gz.data, gz.len);
        bad[at] ^= 0x10;
        struct sink s = {0};
        struct berth_error *e = NULL;
        int r = run(bad, gz.len, 0, 0, &s, NULL, &e);
        if (r != -EBADMSG && r != -EPIPE) {
            fail_msg("flip at %zu: got %d", at, r);
        }
        berth_error_free(e);
        buf_release(&s.out);
    }
    free(bad);
    buf_release(&gz);
    free(data);
}

static void test_gzip_trailing_garbage(void **state)
{
    skip_if_missing(state);
    uint8_t *data = make_data(20000, 6);
    struct buf gz = {0};
    gzip_member(&gz, data, 20000, 6, NULL);
    size_t len = gz.len;
    static const char *const tails[] = {"garbage", "\0\0\0\0\0\0\0\0\0\0\0\0", "\x1f\x8c"};
    static const size_t tail_lens[] = {7, 12, 2};
    for (size_t i = 0; i < ARRAY_SIZE(tails); i++) {
        gz.len = len;
        buf_add(&gz, tails[i], tail_lens[i]);
        assert_fails(gz.data, gz.len, 0, EBADMSG, "trailing garbage after gzip data");
    }
    /* Half a magic at the end is the start of a member that never came. */
    gz.len = len;
    buf_add(&gz, "\x1f", 1);
    assert_fails(gz.data, gz.len, 0, EPIPE, "unexpected end");
    buf_release(&gz);
    free(data);
}

static void test_gzip_max_out(void **state)
{
    skip_if_missing(state);
    size_t n = 1 << 20;
    uint8_t *zeros = xcalloc(1, n);
    struct buf gz = {0};
    gzip_member(&gz, zeros, n, 9, NULL);
    assert_true(gz.len < 2000); /* a bomb, in miniature */
    assert_fails(gz.data, gz.len, n - 1, EFBIG, "layer exceeds 1048575 bytes uncompressed");

    struct sink s = {0};
    struct berth_error *e = NULL;
    assert_int_equal(run(gz.data, gz.len, 0, n, &s, NULL, &e), 0);
    assert_int_equal(s.out.len, n);
    buf_release(&s.out);
    buf_release(&gz);
    free(zeros);
}

static void test_gzip_parity(void **state)
{
    /* Both implementations agree with each other on a stream with many
     * members and output buffers' worth of each. */
    if (!isal_available()) {
        skip();
    }
    size_t n = 2 << 20;
    uint8_t *data = make_data(n, 7);
    struct buf gz = {0};
    for (size_t off = 0; off < n; off += n / 4) {
        gzip_member(&gz, data + off, n / 4, 1 + (int)(off % 9), NULL);
    }
    struct buf outs[2] = {{0}};
    const char *impls[] = {"zlib", "isal"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(setenv("BERTH_GZIP", impls[i], 1), 0);
        struct sink s = {0};
        struct berth_error *e = NULL;
        assert_int_equal(run(gz.data, gz.len, 16384, 0, &s, NULL, &e), 0);
        outs[i] = s.out;
    }
    unsetenv("BERTH_GZIP");
    assert_int_equal(outs[0].len, n);
    assert_int_equal(outs[1].len, n);
    assert_memory_equal(outs[0].data, data, n);
    assert_memory_equal(outs[1].data, data, n);
    buf_release(&outs[0]);
    buf_release(&outs[1]);
    buf_release(&gz);
    free(data);
}

static void test_gzip_impl_env(void **state)
{
    struct decompressor *d = NULL;
    struct berth_error *e = NULL;
    assert_int_equal(setenv("BERTH_GZIP", "pigz", 1), 0);
    assert_int_equal(decompressor_new(sink_cb, NULL, 0, &d, &e), -EINVAL);
    assert_null(d);
    assert_non_null(strstr(e->msg, "BERTH_GZIP='pigz'"));
    berth_error_free(e);
    unsetenv("BERTH_GZIP");

    /* Unset: the default implementation, whichever is installed. */
    uint8_t *data = make_data(10000, 8);
    struct buf gz = {0};
    gzip_member(&gz, data, 10000, 6, NULL);
    assert_roundtrip(&gz, data, 10000, COMPRESSION_GZIP);
    buf_release(&gz);
    free(data);
}

static void test_zstd_single(void **state)
{
    size_t n = 3 << 20;
    uint8_t *data = make_data(n, 9);
    struct buf zs = {0};
    zstd_frame(&zs, data, n, false);
    assert_roundtrip(&zs, data, n, COMPRESSION_ZSTD);
    buf_release(&zs);

    zstd_frame(&zs, data, 100000, true);
    assert_roundtrip(&zs, data, 100000, COMPRESSION_ZSTD);
    buf_release(&zs);
    free(data);
}

static void test_zstd_multi_frame(void **state)
{
    size_t n = 150000;
    uint8_t *data = make_data(n, 10);
    /* Skippable frames first, between and last; an empty frame. */
    struct buf zs = {0};
    zstd_skippable(&zs, 0x0, "estargz-like metadata");
    zstd_frame(&zs, data, 50000, true);
    zstd_skippable(&zs, 0xf, "");
    zstd_frame(&zs, data, 0, false);
    zstd_frame(&zs, data + 50000, n - 50000, false);
    zstd_skippable(&zs, 0x7, "trailer");
    assert_roundtrip(&zs, data, n, COMPRESSION_ZSTD);
    buf_release(&zs);
    free(data);
}

static void test_zstd_errors(void **state)
{
    uint8_t *data = make_data(30000, 11);
    struct buf zs = {0};
    zstd_frame(&zs, data, 30000, true);
    for (size_t len = 4; len < zs.len; len += (len < 64 ? 1 : 61)) {
        assert_fails(zs.data, len, 0, EPIPE, "unexpected end of compressed data");
    }
    /* A cut inside a skippable frame, too. */
    size_t one = zs.len;
    zstd_skippable(&zs, 0, "metadata");
    assert_fails(zs.data, one + 6, 0, EPIPE, "unexpected end");

    uint8_t *bad = xmalloc(one);
    memcpy(bad, zs.data, one);
    bad[one - 1] ^= 0x01; /* content checksum */
    assert_fails(bad, one, 0, EBADMSG, "corrupt zstd data");
    memcpy(bad, zs.data, one);
    bad[4] |= 0x08; /* reserved bit of the frame header descriptor */
    assert_fails(bad, one, 0, EBADMSG, "corrupt zstd data");
    free(bad);

    zs.len = one;
    buf_add(&zs, "garbage!", 8);
    assert_fails(zs.data, zs.len, 0, EBADMSG, "corrupt zstd data");

    uint8_t *zeros = xcalloc(1, 1 << 20);
    buf_release(&zs);
    zstd_frame(&zs, zeros, 1 << 20, false);
    assert_fails(zs.data, zs.len, 1000, EFBIG, "layer exceeds 1000 bytes uncompressed");
    free(zeros);
    buf_release(&zs);
    free(data);
}

static void test_plain(void **state)
{
    uint8_t *data = make_data(300000, 12);
    memcpy(data, "etc/\0", 5); /* as a tar begins: a name */
    struct buf in = {0};
    buf_add(&in, data, 300000);
    assert_roundtrip(&in, data, 300000, COMPRESSION_NONE);
    buf_release(&in);

    /* Shorter than any magic, or a magic's first bytes only: plain. */
    static const char *const shorts[] = {"x", "\x1f", "\x28\xb5", "\x28\xb5\x2f", "ab"};
    for (size_t i = 0; i < ARRAY_SIZE(shorts); i++) {
        buf_add(&in, shorts[i], strlen(shorts[i]));
        assert_roundtrip(&in, shorts[i], strlen(shorts[i]), COMPRESSION_NONE);
        buf_release(&in);
    }
    /* Near misses of a magic. */
    buf_add(&in, "\x1f\x8c rest", 7);
    assert_roundtrip(&in, "\x1f\x8c rest", 7, COMPRESSION_NONE);
    buf_release(&in);
    buf_add(&in, "\x28\xb5\x2f\xfe rest", 9);
    assert_roundtrip(&in, "\x28\xb5\x2f\xfe rest", 9, COMPRESSION_NONE);
    buf_release(&in);

    assert_fails(data, 300000, 299999, EFBIG, "layer exceeds 299999 bytes");
    free(data);
}

static void test_empty(void **state)
{
    struct sink s = {0};
    struct berth_error *e = NULL;
    enum compression f;
    assert_int_equal(run("", 0, 0, 0, &s, &f, &e), 0);
    assert_int_equal(f, COMPRESSION_NONE);
    assert_int_equal(s.out.len, 0);
    assert_int_equal(s.calls, 0);
    assert_null(e);

    /* Empty feeds change nothing. */
    struct decompressor *d = NULL;
    assert_int_equal(decompressor_new(sink_cb, &s, 0, &d, &e), 0);
    assert_int_equal(decompressor_feed(d, "", 0, &e), 0);
    assert_int_equal(decompressor_format(d), COMPRESSION_UNKNOWN);
    assert_int_equal(decompressor_feed(d, "\x28", 1, &e), 0);
    assert_int_equal(decompressor_format(d), COMPRESSION_UNKNOWN);
    assert_int_equal(decompressor_feed(d, "\xb5\x2f\xfd", 3, &e), 0);
    assert_int_equal(decompressor_format(d), COMPRESSION_ZSTD);
    decompressor_free(d); /* without finish: discards */
}

static void test_callback_error_sticks(void **state)
{
    uint8_t *data = make_data(1 << 20, 13);
    struct buf gz = {0};
    gzip_member(&gz, data, 1 << 20, 6, NULL);
    struct sink s = {.fail_at = 1000};
    struct berth_error *e = NULL;
    struct decompressor *d = NULL;
    assert_int_equal(decompressor_new(sink_cb, &s, 0, &d, &e), 0);
    assert_int_equal(decompressor_feed(d, gz.data, gz.len, &e), -ENOSPC);
    assert_string_equal(e->msg, "sink full");
    berth_error_free(e);
    e = NULL;
    /* Later calls repeat the failure instead of carrying on. */
    assert_int_equal(decompressor_feed(d, gz.data, 10, &e), -ENOSPC);
    berth_error_free(e);
    e = NULL;
    assert_int_equal(decompressor_finish(d, &e), -ENOSPC);
    berth_error_free(e);
    decompressor_free(d);
    buf_release(&s.out);

    /* Feeding after finish is a caller's bug, refused. */
    struct sink s2 = {0};
    e = NULL;
    assert_int_equal(decompressor_new(sink_cb, &s2, 0, &d, &e), 0);
    assert_int_equal(decompressor_feed(d, gz.data, gz.len, &e), 0);
    assert_int_equal(decompressor_finish(d, &e), 0);
    assert_int_equal(decompressor_feed(d, "x", 1, &e), -EINVAL);
    berth_error_free(e);
    decompressor_free(d);
    buf_release(&s2.out);
    buf_release(&gz);
    free(data);
}

#define GZ(fn, impl)                                                                               \
    {                                                                                              \
        .name = #fn " (" impl ")", .test_func = fn, .setup_func = gzip_setup,                      \
        .teardown_func = gzip_teardown, .initial_state = (void *)impl                              \
    }
#define GZ_BOTH(name) GZ(name, "zlib"), GZ(name, "isal")

int main(void)
{
    const struct CMUnitTest tests[] = {
        GZ_BOTH(test_gzip_single),
        GZ_BOTH(test_gzip_multi_member),
        GZ_BOTH(test_gzip_header_fields),
        GZ_BOTH(test_gzip_truncated),
        GZ_BOTH(test_gzip_corrupt),
        GZ_BOTH(test_gzip_trailing_garbage),
        GZ_BOTH(test_gzip_max_out),
        cmocka_unit_test(test_gzip_parity),
        cmocka_unit_test(test_gzip_impl_env),
        cmocka_unit_test(test_zstd_single),
        cmocka_unit_test(test_zstd_multi_frame),
        cmocka_unit_test(test_zstd_errors),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_callback_error_sticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
