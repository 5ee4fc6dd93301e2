/* sha256.h - SHA-256 (FIPS 180-4) in portable C, for small inputs.
 *
 * Why not OpenSSL for everything: the first digest a process computes with
 * OpenSSL 3 costs 0.4-0.8 ms (configuration and provider loading), more
 * than `berth run` spends on most of its steps, and every container start
 * verifies its image's config blob. Small in-memory data (configs,
 * manifests) is hashed here; large streams (layers) go through
 * libberth/common/digest.h, which loads OpenSSL (its SHA-NI/AVX2 code is
 * several times faster per byte) once a stream passes 64 KiB.
 */
#ifndef BERTH_BASIC_SHA256_H
#define BERTH_BASIC_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t buf[64];
    size_t n_buf;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t out[32]);
void sha256(const void *data, size_t len, uint8_t out[32]);

#endif
