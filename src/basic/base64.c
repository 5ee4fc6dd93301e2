/* base64.c - strict RFC 4648 base64 (see base64.h). */
#include "base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t n)
{
    return 4 * ((n + 2) / 3);
}

void base64_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    size_t i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = '=';
    }
    *out = '\0';
}

/* 0-63, or -1 for anything outside the alphabet ('=' included). */
static int value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* The strict decoder, on input without line breaks. */
static int decode_plain(const char *in, size_t n, uint8_t *out, size_t *ret_len)
{
    if (n % 4 != 0) {
        return -EINVAL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int pad = 0;
        if (last && in[i + 3] == '=') {
            pad = in[i + 2] == '=' ? 2 : 1;
        }
        int v[4];
        for (int k = 0; k < 4 - pad; k++) {
            v[k] = value(in[i + k]);
            if (v[k] < 0) {
                return -EINVAL;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
        if (pad < 2) {
            w |= (uint32_t)v[2] << 6;
        }
        if (pad < 1) {
            w |= (uint32_t)v[3];
        }
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2) {
            out[o++] = (uint8_t)(w >> 8);
        }
        if (pad < 1) {
            out[o++] = (uint8_t)w;
        }
    }
    *ret_len = o;
    return 0;
}

int base64_decode(const char *in, size_t n, uint8_t *out, size_t *ret_len)
{
    size_t breaks = 0;
    for (size_t i = 0; i < n; i++) {
        breaks += in[i] == '\r' || in[i] == '\n';
    }
    if (breaks == 0) {
        return decode_plain(in, n, out, ret_len);
    }
    /* Go's StdEncoding, which Docker decodes "auth" with, skips CR and LF
     * anywhere: so does this. */
    char *plain = malloc(n - breaks + 1);
    if (!plain) {
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '\r' && in[i] != '\n') {
            plain[k++] = in[i];
        }
    }
    int r = decode_plain(plain, k, out, ret_len);
    free(plain);
    return r;
}
