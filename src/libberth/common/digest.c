/* digest.c - streaming SHA-256, libcrypto on first big use (see digest.h). */
#include "libberth/common/digest.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "basic/alloc.h"
#include "basic/log.h"
#include "basic/sha256.h"
#include "libberth/common/dl.h"

#define CRYPTO_SYMBOLS(X)                                                                          \
    X(EVP_MD_fetch)                                                                                \
    X(EVP_MD_CTX_new)                                                                              \
    X(EVP_MD_CTX_free)                                                                             \
    X(EVP_DigestInit_ex)                                                                           \
    X(EVP_DigestUpdate)                                                                            \
    X(EVP_DigestFinal_ex)

DEFINE_DL_LIB(crypto, CRYPTO_SYMBOLS, "libcrypto.so.3", "libssl3")

enum digest_mode {
    DIGEST_SMALL,    /* input buffered, not hashed yet */
    DIGEST_OPENSSL,  /* streaming through libcrypto */
    DIGEST_PORTABLE, /* streaming through basic/sha256.h */
};

struct digest {
    enum digest_mode mode;
    bool failed;        /* libcrypto returned an error */
    bool used_openssl;  /* for digest_used_openssl() */
    bool portable_only; /* forced portable when created */
    uint8_t *buf;       /* DIGEST_SMALL: the input so far */
    size_t n_buf, alloc;
    EVP_MD_CTX *ctx;
    struct sha256 sw;
};

static atomic_bool force_portable;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static bool env_portable;

static void env_read_once(void)
{
    const char *e = getenv("BERTH_DIGEST");
    env_portable = e && streq(e, "portable");
}

/* SHA-256 is fetched once per process: an implicit fetch by EVP_sha256()
 * at every init would search the provider's tables each time. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;

static void md_fetch_once(void)
{
    _cleanup_error_ struct berth_error *e = NULL;
    if (crypto_load(&e) < 0) {
        log_debug("sha256 in portable C: %s", e->msg);
        return;
    }
    md_sha256 = crypto.EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!md_sha256) {
        log_debug("sha256 in portable C: libcrypto has no SHA256");
    }
}

void digest_force_portable(bool on)
{
    atomic_store(&force_portable, on);
}

struct digest *digest_sha256_new(void)
{
    pthread_once(&env_once, env_read_once);
    struct digest *d = xcalloc(1, sizeof(*d));
    d->mode = DIGEST_SMALL;
    d->portable_only = env_portable || atomic_load(&force_portable);
    return d;
}

/* The input outgrew DIGEST_SMALL_MAX: start streaming, feeding it what was
 * buffered. */
static void digest_go_big(struct digest *d)
{
    if (!d->portable_only) {
        pthread_once(&md_once, md_fetch_once);
    }
    if (!d->portable_only && md_sha256) {
        d->ctx = crypto.EVP_MD_CTX_new();
        if (d->ctx && crypto.EVP_DigestInit_ex(d->ctx, md_sha256, NULL) == 1) {
            d->mode = DIGEST_OPENSSL;
            d->used_openssl = true;
            if (d->n_buf > 0 && crypto.EVP_DigestUpdate(d->ctx, d->buf, d->n_buf) != 1) {
                d->failed = true;
            }
        } else {
            /* Nothing hashed yet: the portable code can still take over. */
            crypto.EVP_MD_CTX_free(d->ctx);
            d->ctx = NULL;
        }
    }
    if (d->mode != DIGEST_OPENSSL) {
        d->mode = DIGEST_PORTABLE;
        sha256_init(&d->sw);
        sha256_update(&d->sw, d->buf, d->n_buf);
    }
    free(d->buf);
    d->buf = NULL;
    d->n_buf = d->alloc = 0;
}

void digest_update(struct digest *d, const void *data, size_t len)
{
    if (len == 0) {
        return;
    }
    if (d->mode == DIGEST_SMALL) {
        if (len <= DIGEST_SMALL_MAX - d->n_buf) {
            if (d->n_buf + len > d->alloc) {
                size_t a = d->alloc ? d->alloc * 2 : 4096;
                while (a < d->n_buf + len) {
                    a *= 2;
                }
                d->alloc = a < DIGEST_SMALL_MAX ? a : DIGEST_SMALL_MAX;
                d->buf = xrealloc(d->buf, d->alloc);
            }
            memcpy(d->buf + d->n_buf, data, len);
            d->n_buf += len;
            return;
        }
        digest_go_big(d);
    }
    if (d->mode == DIGEST_OPENSSL) {
        if (crypto.EVP_DigestUpdate(d->ctx, data, len) != 1) {
            d->failed = true;
        }
    } else {
        sha256_update(&d->sw, data, len);
    }
}

int digest_final(struct digest *d, uint8_t out[32])
{
    switch (d->mode) {
    case DIGEST_SMALL:
        sha256(d->buf, d->n_buf, out);
        break;
    case DIGEST_OPENSSL: {
        unsigned int n = 0;
        if (crypto.EVP_DigestFinal_ex(d->ctx, out, &n) != 1 || n != 32) {
            d->failed = true;
        }
        break;
    }
    case DIGEST_PORTABLE:
        sha256_final(&d->sw, out);
        break;
    }
    return d->failed ? -EIO : 0;
}

int digest_final_str(struct digest *d, char out[DIGEST_STR_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t md[32];
    int r = digest_final(d, md);
    if (r < 0) {
        return r;
    }
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[7 + 2 * i + 1] = hex[md[i] & 0xf];
    }
    out[7 + 64] = '\0';
    return 0;
}

bool digest_used_openssl(const struct digest *d)
{
    return d->used_openssl;
}

void digest_free(struct digest *d)
{
    if (!d) {
        return;
    }
    if (d->ctx) {
        crypto.EVP_MD_CTX_free(d->ctx);
    }
    free(d->buf);
    free(d);
}
