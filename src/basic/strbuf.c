#include "strbuf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

void strbuf_grow(struct strbuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->alloc) {
        return;
    }
    size_t n = sb->alloc ? sb->alloc : 64;
    while (n < sb->len + extra + 1) {
        n *= 2;
    }
    sb->buf = xrealloc(sb->buf, n);
    sb->alloc = n;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
    strbuf_grow(sb, len);
    memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addc(struct strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    /* gcc's -Wformat-truncation assumes a NULL fmt is possible under UBSan. */
    if (!fmt) {
        va_end(cp);
        return;
    }
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n <= 0) {
        return;
    }
    strbuf_grow(sb, (size_t)n);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->buf) {
        sb->buf[0] = '\0';
    }
}

const char *strbuf_str(const struct strbuf *sb)
{
    return sb->buf ? sb->buf : "";
}

char *strbuf_detach(struct strbuf *sb, size_t *ret_len)
{
    if (!sb->buf) {
        strbuf_grow(sb, 0);
        sb->buf[0] = '\0';
    }
    char *b = sb->buf;
    if (ret_len) {
        *ret_len = sb->len;
    }
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
    return b;
}

void strbuf_release(struct strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
}
