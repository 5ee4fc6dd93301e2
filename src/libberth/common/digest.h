/* digest.h - streaming SHA-256 of blobs and layers, libcrypto loaded on first use.
 *
 * Why not link libcrypto: linked, libcrypto.so.3 costs every berth process
 * ~0.5 ms at start-up (its relocations, and its constructor's cpuid probing,
 * which traps to the hypervisor on a VM), `berth run --rm` and `berth
 * --version` included, although only pulls, imports, loads, pushes and
 * commits of big data need its fast (SHA-NI/AVX2) SHA-256. So libcrypto is
 * dlopen()ed (common/dl.h) the first time a digest grows past
 * DIGEST_SMALL_MAX bytes; smaller inputs are buffered and hashed with the
 * portable basic/sha256.h at the end, since loading and initialising
 * OpenSSL 3 (about 1 ms) costs more than hashing 64 KiB in portable C.
 *
 * Fallback: when libcrypto.so.3 cannot be loaded (or refuses to set up
 * SHA-256), the portable code hashes everything: slower, same result. A pull
 * never fails for lack of OpenSSL. BERTH_DIGEST=portable in the environment
 * (read once per process) forces the portable path, for tests and for
 * comparing the two; digest_force_portable() does the same from a test.
 *
 * Calling order: digest_sha256_new(), digest_update() any number of times,
 * digest_final() or digest_final_str() once, digest_free(). Allocation
 * failures abort, as xmalloc. A digest is used by one thread at a time;
 * different digests may be used from different threads.
 */
#ifndef BERTH_COMMON_DIGEST_H
#define BERTH_COMMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

/* Inputs up to this size never load libcrypto. */
#define DIGEST_SMALL_MAX (64 * 1024)

/* "sha256:" + 64 hex digits + NUL. */
#define DIGEST_STR_SIZE 72

struct digest;

struct digest *digest_sha256_new(void);
void digest_update(struct digest *d, const void *data, size_t len);
/* The 32-byte digest. -EIO if libcrypto reported a failure on the way (it
 * has no reason to for SHA-256; callers treat it as a failed hash). */
int digest_final(struct digest *d, uint8_t out[32]);
/* The same as "sha256:<64 lowercase hex>". */
int digest_final_str(struct digest *d, char out[DIGEST_STR_SIZE]);
void digest_free(struct digest *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct digest *, digest_free)

/* Which code hashed d so far: true once it went through libcrypto. For
 * tests and debug logs. */
bool digest_used_openssl(const struct digest *d);

/* Tests: force (or stop forcing) the portable path for digests created
 * afterwards; BERTH_DIGEST=portable is the same for a whole process. */
void digest_force_portable(bool on);

#endif
