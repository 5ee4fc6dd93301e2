/* decompress.c - streaming gzip/zstd decompression of layer blobs.
 *
 * Every compression library is dlopen()ed the first time a stream of its
 * format shows up, for the same reason as libarchive in layer.c: linked, they
 * would load at every start of berth, the runtime's hot path included.
 *
 * gzip goes through isa-l's igzip when libisal.so.2 is present and through
 * zlib otherwise: bench/decompress.sh measured igzip at 2.15x zlib's
 * throughput on real layer data (docs/performance.md, "Layer decompression").
 * isa-l's streaming inflate does not follow gzip member boundaries by itself
 * and, when it parses a gzip header itself, needs the whole header in one
 * call (intel/isa-l#224), so with isa-l we parse member headers here and let
 * it inflate the deflate data and verify the trailer (ISAL_GZIP_NO_HDR_VER).
 * zlib parses the header itself and stops at the end of each member
 * (inflate() returns Z_STREAM_END); the next member, if any, must start with
 * the gzip magic right after it, anything else is trailing garbage.
 *
 * libdeflate, the fastest of the three on whole buffers, has no streaming
 * interface: it needs a member's compressed and uncompressed bytes in memory
 * at once, i.e. a whole layer, often gigabytes. It is not used.
 */
#include "decompress.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>
#if HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#endif

#include "basic/alloc.h"
#include "libberth/common/dl.h"
#include "basic/log.h"

#define ZLIB_SONAME "libz.so.1"
#define ZSTD_SONAME "libzstd.so.1"
#define ISAL_SONAME "libisal.so.2"
#define DEFAULT_MAX_OUT (64ULL << 30)
/* Output is decompressed into this buffer and handed to the callback from it. */
#define OUT_BUF_SIZE (256 * 1024)
/* The libraries count input in 32-bit fields: larger feeds go in pieces. */
#define MAX_CHUNK (1U << 30)

#define GZIP_ID1 0x1f
#define GZIP_ID2 0x8b
#define GZIP_CM_DEFLATE 8
#define GZIP_FHCRC 0x02
#define GZIP_FEXTRA 0x04
#define GZIP_FNAME 0x08
#define GZIP_FCOMMENT 0x10
#define GZIP_FRESERVED 0xe0

/* Each library's functions, resolved once on first use (layer.c's pattern). */
#define ZLIB_SYMBOLS(X)                                                                            \
    X(inflateInit2_)                                                                               \
    X(inflate)                                                                                     \
    X(inflateReset)                                                                                \
    X(inflateEnd)

#define ZSTD_SYMBOLS(X)                                                                            \
    X(ZSTD_createDCtx)                                                                             \
    X(ZSTD_freeDCtx)                                                                               \
    X(ZSTD_decompressStream)                                                                       \
    X(ZSTD_isError)                                                                                \
    X(ZSTD_getErrorName)                                                                           \
    X(ZSTD_getErrorCode)

#define ISAL_SYMBOLS(X)                                                                            \
    X(isal_inflate_init)                                                                           \
    X(isal_inflate_reset)                                                                          \
    X(isal_inflate)                                                                                \
    X(crc32_gzip_refl)

DEFINE_DL_LIB(zl, ZLIB_SYMBOLS, ZLIB_SONAME, "zlib1g")
DEFINE_DL_LIB(zs, ZSTD_SYMBOLS, ZSTD_SONAME, "libzstd1")
#if HAVE_ISAL
DEFINE_DL_LIB(isal, ISAL_SYMBOLS, ISAL_SONAME, "libisal2")
#else
static int isal_load(struct berth_error **err)
{
    return berth_error_set(err, ELIBACC, "berth was built without isa-l support");
}
#endif

enum gzip_impl { GZIP_AUTO, GZIP_ZLIB, GZIP_ISAL };

/* Where a gzip stream is: between members (waiting for the magic), in a
 * member's header (isa-l only: zlib parses its own), or in its body. */
enum gz_state { GZ_MAGIC, GZ_HEADER, GZ_BODY };

enum gzh_stage { GZH_FIXED, GZH_XLEN, GZH_EXTRA, GZH_NAME, GZH_COMMENT, GZH_HCRC, GZH_DONE };

/* RFC 1952 member header, parsed a byte at a time if need be. */
struct gz_header {
    enum gzh_stage stage;
    uint8_t buf[10]; /* the fixed part, then XLEN or the header CRC16 */
    size_t n;        /* bytes in buf */
    uint8_t flags;
    uint32_t skip; /* FEXTRA bytes still to skip */
    uint32_t crc;  /* CRC32 of the header so far, for FHCRC */
};

struct decompressor {
    decompress_out_cb out;
    void *userdata;
    uint64_t max_out, total_out;
    enum compression format;
    int failed; /* the first error returned, repeated by later calls */
    bool finished;
    uint8_t head[4]; /* first bytes, held back until they identify the format */
    size_t n_head;
    uint8_t *buf; /* OUT_BUF_SIZE */

    /* gzip */
    enum gzip_impl gzip_impl;
    enum gz_state gz;
    uint8_t magic[2];
    size_t n_magic;
    uint64_t members; /* completed */
    z_stream *z;
    struct inflate_state *is;
    struct gz_header hdr;

    /* zstd */
    ZSTD_DCtx *zd;
    size_t zret; /* last ZSTD_decompressStream() result: 0 at a frame boundary */
};

static int gzip_impl_from_env(enum gzip_impl *ret, struct berth_error **err)
{
    /* Read at each decompressor_new(), not once per process, so that the
     * unit tests can run every implementation in one process. */
    const char *e = secure_getenv("BERTH_GZIP");
    if (!e || !*e) {
        *ret = GZIP_AUTO;
    } else if (streq(e, "zlib")) {
        *ret = GZIP_ZLIB;
    } else if (streq(e, "isal")) {
        *ret = GZIP_ISAL;
    } else {
        return berth_error_set(err, EINVAL, "BERTH_GZIP='%s': expected 'zlib' or 'isal'", e);
    }
    return 0;
}

int decompressor_new(decompress_out_cb out, void *userdata, uint64_t max_out,
                     struct decompressor **ret, struct berth_error **err)
{
    enum gzip_impl impl = GZIP_AUTO;
    int r = gzip_impl_from_env(&impl, err);
    if (r < 0) {
        return r;
    }
    struct decompressor *d = xcalloc(1, sizeof(*d));
    d->out = out;
    d->userdata = userdata;
    d->max_out = max_out ? max_out : DEFAULT_MAX_OUT;
    d->format = COMPRESSION_UNKNOWN;
    d->gzip_impl = impl;
    *ret = d;
    return 0;
}

void decompressor_free(struct decompressor *d)
{
    if (!d) {
        return;
    }
    if (d->z) {
        zl.inflateEnd(d->z);
        free(d->z);
    }
    free(d->is);
    if (d->zd) {
        zs.ZSTD_freeDCtx(d->zd);
    }
    free(d->buf);
    free(d);
}

enum compression decompressor_format(const struct decompressor *d)
{
    return d->format;
}

uint64_t decompressor_total_out(const struct decompressor *d)
{
    return d->total_out;
}

/* Hand n decompressed bytes to the callback, within max_out. */
static int emit(struct decompressor *d, const void *data, size_t n, struct berth_error **err)
{
    if (n == 0) {
        return 0;
    }
    if (n > d->max_out - d->total_out) {
        return berth_error_set(err, EFBIG, "layer exceeds %" PRIu64 " bytes uncompressed",
                               d->max_out);
    }
    int r = d->out(data, n, d->userdata, err);
    if (r < 0) {
        return berth_error_set(err, -r, "output of decompressed data failed");
    }
    d->total_out += n;
    return 0;
}

static int truncated(struct berth_error **err)
{
    return berth_error_set(err, EPIPE, "unexpected end of compressed data");
}

/* The format the first n bytes identify: UNKNOWN while they are a proper
 * prefix of some magic (more bytes decide), NONE when they match none. A
 * zstd stream may begin with a skippable frame (magic 0x184D2A5?). */
static enum compression detect(const uint8_t *h, size_t n)
{
    static const struct {
        uint8_t bytes[4], mask[4];
        size_t len;
        enum compression format;
    } magics[] = {
        {{GZIP_ID1, GZIP_ID2}, {0xff, 0xff}, 2, COMPRESSION_GZIP},
        {{0x28, 0xb5, 0x2f, 0xfd}, {0xff, 0xff, 0xff, 0xff}, 4, COMPRESSION_ZSTD},
        {{0x50, 0x2a, 0x4d, 0x18}, {0xf0, 0xff, 0xff, 0xff}, 4, COMPRESSION_ZSTD},
    };
    bool undecided = false;
    for (size_t m = 0; m < ARRAY_SIZE(magics); m++) {
        size_t i = 0;
        while (i < n && i < magics[m].len && (h[i] & magics[m].mask[i]) == magics[m].bytes[i]) {
            i++;
        }
        if (i == magics[m].len) {
            return magics[m].format;
        }
        if (i == n) {
            undecided = true;
        }
    }
    return undecided ? COMPRESSION_UNKNOWN : COMPRESSION_NONE;
}

/* zlib: inflate as much of p as this member holds. */
static int zlib_body(struct decompressor *d, const uint8_t *p, size_t len, size_t *ret_used,
                     bool *ret_end, struct berth_error **err)
{
    z_stream *z = d->z;
    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)len;
    *ret_end = false;
    for (;;) {
        z->next_out = d->buf;
        z->avail_out = OUT_BUF_SIZE;
        int zr = zl.inflate(z, Z_NO_FLUSH);
        int r = emit(d, d->buf, OUT_BUF_SIZE - z->avail_out, err);
        if (r < 0) {
            return r;
        }
        if (zr == Z_STREAM_END) {
            *ret_end = true;
            break;
        }
        if (zr == Z_BUF_ERROR) { /* no progress possible: needs input */
            break;
        }
        if (zr == Z_MEM_ERROR) {
            return berth_error_set(err, ENOMEM, "zlib: out of memory");
        }
        if (zr != Z_OK) {
            return berth_error_set(err, EBADMSG, "corrupt gzip data: %s",
                                   z->msg ? z->msg : "invalid data");
        }
        if (z->avail_in == 0 && z->avail_out != 0) {
            break;
        }
    }
    *ret_used = len - z->avail_in;
    return 0;
}

#if HAVE_ISAL
static const char *isal_strerror(int r)
{
    switch (r) {
    case ISAL_INVALID_BLOCK:
        return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
        return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
        return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER:
        return "invalid gzip trailer";
    case ISAL_UNSUPPORTED_METHOD:
        return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
        return "incorrect data check";
    case ISAL_NEED_DICT:
        return "preset dictionary required";
    default:
        return "invalid data";
    }
}

/* isa-l: inflate as much of p as this member holds. At the end of a member,
 * isa-l may have read up to 8 bytes past it into its bit buffer (read_in);
 * they are the start of what follows and are returned in ret_tail (with
 * ret_used counting them as used). */
static int isal_body(struct decompressor *d, const uint8_t *p, size_t len, size_t *ret_used,
                     bool *ret_end, uint8_t ret_tail[static 8], size_t *ret_n_tail,
                     struct berth_error **err)
{
    struct inflate_state *s = d->is;
    s->next_in = (uint8_t *)p;
    s->avail_in = (uint32_t)len;
    *ret_end = false;
    *ret_n_tail = 0;
    for (;;) {
        uint32_t in_before = s->avail_in;
        s->next_out = d->buf;
        s->avail_out = OUT_BUF_SIZE;
        int ir = isal.isal_inflate(s);
        size_t n = OUT_BUF_SIZE - s->avail_out;
        int r = emit(d, d->buf, n, err);
        if (r < 0) {
            return r;
        }
        if (ir < 0 || ir == ISAL_NEED_DICT) {
            return berth_error_set(err, EBADMSG, "corrupt gzip data: %s", isal_strerror(ir));
        }
        if (s->block_state == ISAL_BLOCK_FINISH) {
            *ret_end = true;
            /* Whole bytes only: the trailer ends on a byte boundary. */
            size_t nt = (size_t)s->read_in_length / 8;
            for (size_t i = 0; i < nt && i < 8; i++) {
                ret_tail[i] = (uint8_t)(s->read_in >> (8 * i));
            }
            *ret_n_tail = nt < 8 ? nt : 8;
            break;
        }
        if ((s->avail_in == 0 && s->avail_out != 0) || (n == 0 && s->avail_in == in_before)) {
            break;
        }
    }
    *ret_used = len - s->avail_in;
    return 0;
}

static void gz_header_begin(struct decompressor *d)
{
    d->hdr = (struct gz_header){.stage = GZH_FIXED, .n = 2};
    d->hdr.buf[0] = GZIP_ID1;
    d->hdr.buf[1] = GZIP_ID2;
    d->hdr.crc = isal.crc32_gzip_refl(0, d->hdr.buf, 2);
}

/* The stage after `done` given the header flags (RFC 1952 field order). */
static enum gzh_stage gz_header_next(uint8_t flags, enum gzh_stage done)
{
    if (done < GZH_XLEN && (flags & GZIP_FEXTRA)) {
        return GZH_XLEN;
    }
    if (done < GZH_NAME && (flags & GZIP_FNAME)) {
        return GZH_NAME;
    }
    if (done < GZH_COMMENT && (flags & GZIP_FCOMMENT)) {
        return GZH_COMMENT;
    }
    if (done < GZH_HCRC && (flags & GZIP_FHCRC)) {
        return GZH_HCRC;
    }
    return GZH_DONE;
}

/* Consume header bytes of the current member; returns how many were used
 * (all of len unless the header ended first) or -errno. */
static ssize_t gz_header_parse(struct decompressor *d, const uint8_t *p, size_t len,
                               struct berth_error **err)
{
    struct gz_header *h = &d->hdr;
    size_t used = 0;
    while (used < len && h->stage != GZH_DONE) {
        const uint8_t *q = p + used;
        size_t avail = len - used, take = 0;
        switch (h->stage) {
        case GZH_FIXED:
        case GZH_XLEN:
        case GZH_HCRC: {
            size_t want = h->stage == GZH_FIXED ? 10 : 2;
            take = want - h->n < avail ? want - h->n : avail;
            memcpy(h->buf + h->n, q, take);
            h->n += take;
            if (h->n < want) {
                break;
            }
            if (h->stage == GZH_FIXED) {
                if (h->buf[2] != GZIP_CM_DEFLATE) {
                    return berth_error_set(err, EBADMSG,
                                           "corrupt gzip data: unknown compression method");
                }
                if (h->buf[3] & GZIP_FRESERVED) {
                    return berth_error_set(err, EBADMSG,
                                           "corrupt gzip data: unknown header flags set");
                }
                h->flags = h->buf[3];
            } else if (h->stage == GZH_XLEN) {
                h->skip = h->buf[0] | (uint32_t)h->buf[1] << 8;
            } else if ((h->buf[0] | (uint32_t)h->buf[1] << 8) != (h->crc & 0xffff)) {
                return berth_error_set(err, EBADMSG, "corrupt gzip data: header crc mismatch");
            }
            break;
        }
        case GZH_EXTRA:
            take = h->skip < avail ? h->skip : avail;
            h->skip -= (uint32_t)take;
            break;
        case GZH_NAME:
        case GZH_COMMENT: {
            const uint8_t *nul = memchr(q, 0, avail);
            take = nul ? (size_t)(nul - q) + 1 : avail;
            break;
        }
        case GZH_DONE:
            break;
        }
        if (h->stage != GZH_HCRC) {
            h->crc = isal.crc32_gzip_refl(h->crc, q, take);
        }
        used += take;

        bool stage_done;
        switch (h->stage) {
        case GZH_FIXED:
        case GZH_XLEN:
        case GZH_HCRC:
            stage_done = h->n == (h->stage == GZH_FIXED ? 10u : 2u);
            break;
        case GZH_EXTRA:
            stage_done = h->skip == 0;
            break;
        default: /* NAME, COMMENT */
            stage_done = take > 0 && q[take - 1] == 0;
            break;
        }
        if (stage_done) {
            h->stage = h->stage == GZH_XLEN && h->skip > 0 ? GZH_EXTRA
                                                           : gz_header_next(h->flags, h->stage);
            h->n = 0;
        }
    }
    return (ssize_t)used;
}

#endif

static int gz_member_begin(struct decompressor *d, struct berth_error **err)
{
#if HAVE_ISAL
    if (d->gzip_impl == GZIP_ISAL) {
        isal.isal_inflate_reset(d->is);
        d->is->crc_flag = ISAL_GZIP_NO_HDR_VER;
        d->is->hist_bits = 0;
        gz_header_begin(d);
        d->gz = GZ_HEADER;
        return 0;
    }
#endif
    if (zl.inflateReset(d->z) != Z_OK) {
        return berth_error_set(err, EIO, "zlib: inflateReset failed");
    }
    /* zlib parses the whole header, magic included. */
    size_t used;
    bool end;
    int r = zlib_body(d, d->magic, 2, &used, &end, err);
    if (r < 0) {
        return r;
    }
    d->gz = GZ_BODY;
    return 0;
}

/* Inflate the current member's body with whichever library runs it. */
static int gz_body(struct decompressor *d, const uint8_t *p, size_t len, size_t *ret_used,
                   bool *ret_end, uint8_t ret_tail[static 8], size_t *ret_n_tail,
                   struct berth_error **err)
{
    *ret_n_tail = 0;
#if HAVE_ISAL
    if (d->gzip_impl == GZIP_ISAL) {
        return isal_body(d, p, len, ret_used, ret_end, ret_tail, ret_n_tail, err);
    }
#endif
    return zlib_body(d, p, len, ret_used, ret_end, err);
}

static int feed_gzip(struct decompressor *d, const uint8_t *p, size_t len, struct berth_error **err)
{
    while (len > 0) {
        switch (d->gz) {
        case GZ_MAGIC: {
            d->magic[d->n_magic++] = *p++;
            len--;
            if (d->magic[d->n_magic - 1] != (d->n_magic == 1 ? GZIP_ID1 : GZIP_ID2)) {
                /* gzip(1) warns and ignores this; docker's Go reader fails. */
                return berth_error_set(err, EBADMSG, "trailing garbage after gzip data");
            }
            if (d->n_magic == 2) {
                d->n_magic = 0;
                int r = gz_member_begin(d, err);
                if (r < 0) {
                    return r;
                }
            }
            break;
        }
        case GZ_HEADER: {
#if HAVE_ISAL
            ssize_t n = gz_header_parse(d, p, len, err);
            if (n < 0) {
                return (int)n;
            }
            p += n;
            len -= (size_t)n;
            if (d->hdr.stage == GZH_DONE) {
                d->gz = GZ_BODY;
            }
#endif
            break;
        }
        case GZ_BODY: {
            size_t used = 0, n_tail = 0;
            uint8_t tail[8];
            bool end;
            int r = gz_body(d, p, len, &used, &end, tail, &n_tail, err);
            if (r < 0) {
                return r;
            }
            p += used;
            len -= used;
            if (end) {
                d->members++;
                d->gz = GZ_MAGIC;
                /* At most 8 bytes, too few to hold a whole member (20 at
                 * least): this recursion ends at the next level. */
                r = feed_gzip(d, tail, n_tail, err);
                if (r < 0) {
                    return r;
                }
            }
            break;
        }
        }
    }
    return 0;
}

static int zstd_run(struct decompressor *d, const uint8_t *p, size_t len, struct berth_error **err)
{
    ZSTD_inBuffer in = {.src = p, .size = len};
    for (;;) {
        ZSTD_outBuffer out = {.dst = d->buf, .size = OUT_BUF_SIZE};
        size_t zr = zs.ZSTD_decompressStream(d->zd, &out, &in);
        if (zs.ZSTD_isError(zr)) {
            if (zs.ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation) {
                return berth_error_set(err, ENOMEM, "zstd: out of memory");
            }
            return berth_error_set(err, EBADMSG, "corrupt zstd data: %s", zs.ZSTD_getErrorName(zr));
        }
        d->zret = zr;
        int r = emit(d, d->buf, out.pos, err);
        if (r < 0) {
            return r;
        }
        /* A full output buffer may leave data inside zstd: call again,
         * unless the frame just ended (zr == 0: decoded and fully flushed;
         * another call would start a new frame and lose that fact). */
        if (in.pos == in.size && (out.pos < out.size || zr == 0)) {
            return 0;
        }
    }
}

static int start_format(struct decompressor *d, struct berth_error **err)
{
    int r;
    switch (d->format) {
    case COMPRESSION_GZIP:
        if (d->gzip_impl != GZIP_ZLIB) {
            r = isal_load(d->gzip_impl == GZIP_ISAL ? err : NULL);
            if (r < 0 && d->gzip_impl == GZIP_ISAL) {
                return r;
            }
            d->gzip_impl = r < 0 ? GZIP_ZLIB : GZIP_ISAL;
        }
#if HAVE_ISAL
        if (d->gzip_impl == GZIP_ISAL) {
            d->is = xmalloc(sizeof(*d->is));
            isal.isal_inflate_init(d->is);
        }
#endif
        if (d->gzip_impl == GZIP_ZLIB) {
            r = zl_load(err);
            if (r < 0) {
                return r;
            }
            d->z = xcalloc(1, sizeof(*d->z));
            if (zl.inflateInit2_(d->z, 16 + MAX_WBITS, ZLIB_VERSION, (int)sizeof(z_stream)) !=
                Z_OK) {
                free(d->z);
                d->z = NULL;
                return berth_error_set(err, ELIBBAD, "%s: inflateInit2 failed", ZLIB_SONAME);
            }
        }
        log_debug("gzip layer: decompressing with %s",
                  d->gzip_impl == GZIP_ISAL ? ISAL_SONAME : ZLIB_SONAME);
        d->gz = GZ_MAGIC;
        break;
    case COMPRESSION_ZSTD:
        r = zs_load(err);
        if (r < 0) {
            return r;
        }
        d->zd = zs.ZSTD_createDCtx();
        if (!d->zd) {
            return berth_error_set(err, ENOMEM, "zstd: cannot create decompression context");
        }
        break;
    default:
        return 0;
    }
    d->buf = xmalloc(OUT_BUF_SIZE);
    return 0;
}

static int feed_format(struct decompressor *d, const uint8_t *p, size_t len,
                       struct berth_error **err)
{
    switch (d->format) {
    case COMPRESSION_GZIP:
        return feed_gzip(d, p, len, err);
    case COMPRESSION_ZSTD:
        return zstd_run(d, p, len, err);
    default:
        return emit(d, p, len, err);
    }
}

static int feed(struct decompressor *d, const uint8_t *p, size_t len, struct berth_error **err)
{
    if (d->format == COMPRESSION_UNKNOWN) {
        while (len > 0 && d->format == COMPRESSION_UNKNOWN) {
            d->head[d->n_head++] = *p++;
            len--;
            d->format = detect(d->head, d->n_head);
        }
        if (d->format == COMPRESSION_UNKNOWN) {
            return 0;
        }
        int r = start_format(d, err);
        if (r < 0) {
            return r;
        }
        r = feed_format(d, d->head, d->n_head, err);
        if (r < 0) {
            return r;
        }
    }
    while (len > 0) {
        size_t n = len < MAX_CHUNK ? len : MAX_CHUNK;
        int r = feed_format(d, p, n, err);
        if (r < 0) {
            return r;
        }
        p += n;
        len -= n;
    }
    return 0;
}

static int check_usable(struct decompressor *d, struct berth_error **err)
{
    if (d->failed) {
        return berth_error_set(err, -d->failed, "decompression failed earlier");
    }
    if (d->finished) {
        return berth_error_set(err, EINVAL, "decompressor already finished");
    }
    return 0;
}

int decompressor_feed(struct decompressor *d, const void *data, size_t len,
                      struct berth_error **err)
{
    int r = check_usable(d, err);
    if (r < 0) {
        return r;
    }
    r = feed(d, data, len, err);
    if (r < 0) {
        d->failed = r;
    }
    return r;
}

static int finish(struct decompressor *d, struct berth_error **err)
{
    if (d->format == COMPRESSION_UNKNOWN) {
        /* Fewer bytes than any magic: plain data (or an empty layer). */
        d->format = COMPRESSION_NONE;
        return emit(d, d->head, d->n_head, err);
    }
    switch (d->format) {
    case COMPRESSION_GZIP:
        if (d->gz == GZ_BODY) {
            /* Let the library flush what it holds: the member must end. */
            size_t used, n_tail;
            uint8_t tail[8];
            bool end;
            int r = gz_body(d, NULL, 0, &used, &end, tail, &n_tail, err);
            if (r < 0) {
                return r;
            }
            if (!end) {
                return truncated(err);
            }
            d->members++;
            d->gz = GZ_MAGIC;
            r = feed_gzip(d, tail, n_tail, err);
            if (r < 0) {
                return r;
            }
        }
        if (d->gz != GZ_MAGIC || d->n_magic > 0) {
            return truncated(err);
        }
        return 0;
    case COMPRESSION_ZSTD:
        /* zstd_run drained every output on the last feed; calling it again
         * with no input would only ask for the next frame header (and make
         * zret non-zero at a clean end). */
        return d->zret == 0 ? 0 : truncated(err);
    default:
        return 0;
    }
}

int decompressor_finish(struct decompressor *d, struct berth_error **err)
{
    int r = check_usable(d, err);
    if (r < 0) {
        return r;
    }
    d->finished = true;
    r = finish(d, err);
    if (r < 0) {
        d->failed = r;
    }
    return r;
}
