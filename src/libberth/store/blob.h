/* blob.h - the content-addressed blob store: <root>/blobs/sha256/<hex>.
 *
 * Blobs are immutable and verified while they stream in: a writer hashes
 * every byte (SHA-256, OpenSSL), refuses to go past the expected or maximum
 * size, and on commit checks the digest and size before an atomic rename
 * into place. A mismatch, an abort or a crash leaves nothing but a temp file
 * under <root>/blobs/tmp, which blob_store_open() removes. Two writers of the
 * same blob may race: both succeed and the blob is stored once. Digests in
 * and out are "sha256:<64 lowercase hex>". Deleting is safe only under the
 * store's GC lock (store.h): a blob written but not yet recorded looks
 * unreferenced.
 */
#ifndef BERTH_STORE_BLOB_H
#define BERTH_STORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

struct blob_store;
struct blob_writer;

/* Open (creating) <root>/blobs; removes stale temp files older than an hour. */
int blob_store_open(const char *root, struct blob_store **ret, struct berth_error **err);
void blob_store_free(struct blob_store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct blob_store *, blob_store_free)

bool blob_exists(struct blob_store *s, const char *digest);
/* Size of a stored blob, or -ENOENT. */
int64_t blob_size(struct blob_store *s, const char *digest);
/* An fd to read a blob; -ENOENT with "blob 'sha256:..' not found". */
int blob_open(struct blob_store *s, const char *digest, int *ret_fd, struct berth_error **err);
/* Read a whole blob (at most max bytes), re-verifying its digest. */
int blob_read(struct blob_store *s, const char *digest, size_t max, char **ret, size_t *ret_len,
              struct berth_error **err);

/* expected_digest may be NULL (computed), expected_size -1 (unknown);
 * max_size caps what may be written whatever the expectation. */
int blob_writer_new(struct blob_store *s, const char *expected_digest, int64_t expected_size,
                    uint64_t max_size, struct blob_writer **ret, struct berth_error **err);
int blob_writer_write(struct blob_writer *w, const void *data, size_t len,
                      struct berth_error **err);
/* Bytes written so far (for resume with HTTP Range). */
uint64_t blob_writer_offset(const struct blob_writer *w);
/* Verify, fsync, rename into place; *ret_digest (may be NULL) gets the
 * digest. The writer is consumed either way. */
int blob_writer_commit(struct blob_writer *w, char **ret_digest, struct berth_error **err);
/* Discard: removes the temp file. */
void blob_writer_free(struct blob_writer *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct blob_writer *, blob_writer_free)

/* Store a buffer; returns its digest. */
int blob_put(struct blob_store *s, const void *data, size_t len, char **ret_digest,
             struct berth_error **err);
/* Remove a blob (missing is success). */
int blob_delete(struct blob_store *s, const char *digest, struct berth_error **err);
/* Every stored digest, sorted (for garbage collection). */
int blob_list(struct blob_store *s, char ***ret, struct berth_error **err);
/* "sha256:<hex>" of a buffer into out (72 bytes incl. NUL). */
void digest_of(const void *data, size_t len, char out[72]);
/* "sha256:<hex>" of a finished SHA-256 (32 bytes) into out. */
void digest_format(const unsigned char md[32], char out[72]);

/* Read a stored blob to its end in 1 MiB blocks, handing each to fn; stops
 * at fn's first error. Not re-verified (fn usually hashes what it gets). */
typedef int (*blob_block_fn)(const void *data, size_t len, void *userdata,
                             struct berth_error **err);
int blob_stream(struct blob_store *s, const char *digest, blob_block_fn fn, void *userdata,
                struct berth_error **err);

#endif
