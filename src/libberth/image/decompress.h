/* decompress.h - streaming decompression of layer blobs.
 *
 * A pull feeds each layer's compressed bytes, as they arrive from the
 * network (or from a stored blob), into a decompressor; the plain tar it
 * produces goes to an output callback (which hashes it for the diff_id and
 * writes it to the unpacker). The format is detected from the first bytes:
 * gzip (1f 8b; multi-member streams are one stream, as gzip(1) treats them),
 * zstd (28 b5 2f fd; multiple frames and skippable frames), anything else is
 * passed through as plain tar. The gzip implementation is chosen by
 * measurement (bench/decompress.sh, figures in docs/performance.md): the
 * libraries are dlopen()ed on first use so that berth's start, the runtime's
 * hot path, does not load them. Output is capped by max_out (decompression
 * bombs: -EFBIG "layer exceeds N bytes uncompressed"). A stream that ends
 * early is -EPIPE "unexpected end of compressed data"; corrupt data -EBADMSG
 * with the library's reason; trailing garbage after the last gzip member is
 * an error too.
 *
 * Calling order: decompressor_new -> decompressor_feed* -> decompressor_finish
 * -> decompressor_free (free alone discards). Not thread-safe per object;
 * independent objects may be used from different threads.
 */
#ifndef BERTH_IMAGE_DECOMPRESS_H
#define BERTH_IMAGE_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

enum compression { COMPRESSION_UNKNOWN, COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_ZSTD };

/* Receives decompressed bytes; returns < 0 (err set) to abort. */
typedef int (*decompress_out_cb)(const void *data, size_t len, void *userdata,
                                 struct berth_error **err);

struct decompressor;

/* max_out: 0 for the default (64 GiB). */
int decompressor_new(decompress_out_cb out, void *userdata, uint64_t max_out,
                     struct decompressor **ret, struct berth_error **err);
int decompressor_feed(struct decompressor *d, const void *data, size_t len,
                      struct berth_error **err);
/* End of input: flushes; errors if the compressed stream was incomplete. */
int decompressor_finish(struct decompressor *d, struct berth_error **err);
/* Detected format (COMPRESSION_UNKNOWN before the first bytes). */
enum compression decompressor_format(const struct decompressor *d);
uint64_t decompressor_total_out(const struct decompressor *d);
void decompressor_free(struct decompressor *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct decompressor *, decompressor_free)

#endif
