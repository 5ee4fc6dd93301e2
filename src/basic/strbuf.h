/* strbuf.h - a growable, always NUL-terminated byte buffer.
 *
 * struct strbuf sb = STRBUF_INIT; ... strbuf_release(&sb);
 * strbuf_detach() hands the bytes to the caller and resets the buffer.
 */
#ifndef BERTH_BASIC_STRBUF_H
#define BERTH_BASIC_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "macro.h"

struct strbuf {
    char *buf;
    size_t len;
    size_t alloc;
};

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) _printf_(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) _printf_(2, 0);
void strbuf_reset(struct strbuf *sb);
/* The contents, never NULL (an empty buffer yields ""). */
const char *strbuf_str(const struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *ret_len);
void strbuf_release(struct strbuf *sb);
#define _cleanup_strbuf_ _cleanup_(strbuf_release)

#endif
