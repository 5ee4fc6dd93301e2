/* base64.h - base64 (RFC 4648 section 4, the standard alphabet, padded).
 *
 * For Docker's credentials: the "auth" member of config.json and the HTTP
 * Basic header are base64("user:secret") with '=' padding, as Go's
 * base64.StdEncoding writes them.
 *
 * Decoding is strict, as Go's StdEncoding (what Docker reads "auth" with):
 * CR and LF anywhere are skipped; what is left must be a multiple of 4
 * characters of the alphabet with one or two final '=' at most; spaces and
 * other characters are refused. The unused low bits of the last character
 * before the padding are ignored. The decoded length excludes the padding.
 */
#ifndef BERTH_BASIC_BASE64_H
#define BERTH_BASIC_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters base64_encode() writes for n bytes, without the NUL. */
size_t base64_encoded_len(size_t n);

/* Write the encoding of in[0..n) and a NUL to out, which holds
 * base64_encoded_len(n) + 1 bytes. */
void base64_encode(const void *in, size_t n, char *out);

/* Decode in[0..n) into out, which holds at least 3 * (n / 4) bytes; the
 * number of bytes decoded goes to *ret_len. -EINVAL on malformed input
 * (then out holds garbage the caller should wipe if it was secret),
 * -ENOMEM. */
int base64_decode(const char *in, size_t n, uint8_t *out, size_t *ret_len);

#endif
