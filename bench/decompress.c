/* decompress.c - bench/decompress.sh's driver: gzip decompression throughput
 * of one blob, loaded into memory first so the disk is not measured.
 *
 *   decompress MODE FILE [REPS] [CHUNK]
 *
 * MODE:
 *   berth       berth's streaming decompressor (libberth's decompress.c, as a
 *               pull runs it; BERTH_GZIP=zlib|isal picks the library)
 *   zlib        zlib's inflate() directly, streaming
 *   isal        isa-l's isal_inflate() directly, streaming (single member)
 *   libdeflate  libdeflate_gzip_decompress() on the whole buffer (needs the
 *               whole member and its whole output in memory: not streaming)
 *   sha256      OpenSSL SHA-256 of FILE as it is (the cost of verifying a
 *               digest per byte; a pull hashes the blob and its tar)
 * Streaming modes are fed CHUNK bytes at a time (default 16384, curl's
 * default write size) into a 256 KiB output buffer that is then discarded.
 * Prints one line: "MODE in_bytes out_bytes median_seconds in_MB/s out_MB/s"
 * (MB = 10^6 bytes), the median of REPS (default 5) runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "libberth/image/decompress.h"

#define OUT_SIZE (256 * 1024)

static uint8_t outbuf[OUT_SIZE];

static void die(const char *msg)
{
    fprintf(stderr, "decompress: %s\n", msg);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *load(const char *path, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        die(strerror(errno));
    uint8_t *p = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    if (!p)
        die("out of memory");
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, p + n, (size_t)st.st_size - n);
        if (r <= 0)
            die("short read");
        n += (size_t)r;
    }
    close(fd);
    *ret_len = n;
    return p;
}

static int sink(const void *data, size_t len, void *userdata, struct berth_error **err)
{
    (void)data;
    (void)err;
    *(uint64_t *)userdata += len;
    return 0;
}

static uint64_t run_berth(const uint8_t *in, size_t len, size_t chunk)
{
    uint64_t out = 0;
    struct berth_error *err = NULL;
    struct decompressor *d = NULL;
    if (decompressor_new(sink, &out, 0, &d, &err) < 0)
        die(err ? err->msg : "decompressor_new");
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (decompressor_feed(d, in + off, n, &err) < 0)
            die(err ? err->msg : "decompressor_feed");
    }
    if (decompressor_finish(d, &err) < 0)
        die(err ? err->msg : "decompressor_finish");
    decompressor_free(d);
    return out;
}

/* Multi-member aware, as gzip(1) and berth are. */
static uint64_t run_zlib(const uint8_t *in, size_t len, size_t chunk)
{
    z_stream z = {0};
    uint64_t out = 0;
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        die("inflateInit2");
    for (size_t off = 0; off < len;) {
        size_t n = len - off < chunk ? len - off : chunk;
        z.next_in = (Bytef *)(uintptr_t)(in + off);
        z.avail_in = (uInt)n;
        while (z.avail_in > 0) {
            z.next_out = outbuf;
            z.avail_out = OUT_SIZE;
            int r = inflate(&z, Z_NO_FLUSH);
            out += OUT_SIZE - z.avail_out;
            if (r == Z_STREAM_END) {
                inflateReset(&z);
            } else if (r != Z_OK && r != Z_BUF_ERROR) {
                die("zlib: corrupt data");
            } else if (r == Z_BUF_ERROR || z.avail_out != 0) {
                break;
            }
        }
        off += n - z.avail_in;
        if (z.avail_in == n)
            die("zlib: no progress");
    }
    inflateEnd(&z);
    return out;
}

static uint64_t run_isal(const uint8_t *in, size_t len, size_t chunk)
{
    static struct inflate_state s;
    uint64_t out = 0;
    isal_inflate_init(&s);
    s.crc_flag = ISAL_GZIP;
    for (size_t off = 0; off < len && s.block_state != ISAL_BLOCK_FINISH;) {
        size_t n = len - off < chunk ? len - off : chunk;
        s.next_in = (uint8_t *)(uintptr_t)(in + off);
        s.avail_in = (uint32_t)n;
        do {
            s.next_out = outbuf;
            s.avail_out = OUT_SIZE;
            if (isal_inflate(&s) != ISAL_DECOMP_OK)
                die("isal: corrupt data");
            out += OUT_SIZE - s.avail_out;
        } while (s.avail_out == 0 && s.block_state != ISAL_BLOCK_FINISH);
        off += n - s.avail_in;
    }
    if (s.block_state != ISAL_BLOCK_FINISH)
        die("isal: truncated");
    return out;
}

static uint64_t run_libdeflate(const uint8_t *in, size_t len)
{
    static uint8_t *big;
    static size_t big_len;
    /* ISIZE: the uncompressed size mod 2^32, enough for these layers */
    size_t want = (size_t)in[len - 4] | (size_t)in[len - 3] << 8 | (size_t)in[len - 2] << 16 |
                  (size_t)in[len - 1] << 24;
    if (big_len < want + 1) {
        free(big);
        big_len = want + 1;
        big = malloc(big_len);
        if (!big)
            die("out of memory");
    }
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t got = 0;
    if (libdeflate_gzip_decompress(d, in, len, big, big_len, &got) != LIBDEFLATE_SUCCESS)
        die("libdeflate: failed (multi-member or > 4 GiB?)");
    libdeflate_free_decompressor(d);
    return got;
}

static uint64_t run_sha256(const uint8_t *in, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, in, len);
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    return len;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        die("usage: decompress berth|zlib|isal|libdeflate|sha256 FILE [REPS] [CHUNK]");
    const char *mode = argv[1];
    int reps = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
    size_t chunk = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 16384;
    if (reps < 1 || reps > 100 || chunk < 1)
        die("bad REPS or CHUNK");
    size_t len;
    uint8_t *in = load(argv[2], &len);
    double t[100];
    uint64_t out = 0;
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        if (!strcmp(mode, "berth"))
            out = run_berth(in, len, chunk);
        else if (!strcmp(mode, "zlib"))
            out = run_zlib(in, len, chunk);
        else if (!strcmp(mode, "isal"))
            out = run_isal(in, len, chunk);
        else if (!strcmp(mode, "libdeflate"))
            out = run_libdeflate(in, len);
        else if (!strcmp(mode, "sha256"))
            out = run_sha256(in, len);
        else
            die("unknown MODE");
        t[i] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof(t[0]), cmp_double);
    double med = reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
    printf("%s %zu %llu %.4f %.1f %.1f\n", mode, len, (unsigned long long)out, med, len / med / 1e6,
           (double)out / med / 1e6);
    free(in);
    return 0;
}
