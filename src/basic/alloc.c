#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static _noreturn_ void oom(void)
{
    static const char msg[] = "berth: out of memory\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom();
    }
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p) {
        oom();
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        oom();
    }
    return p;
}

void *xgrow(void *p, size_t size, size_t nmemb, size_t *alloc)
{
    if (nmemb < *alloc) {
        return p;
    }
    size_t n = *alloc ? *alloc * 2 : 8;
    if (n <= nmemb) {
        n = nmemb + 1;
    }
    if (n > SIZE_MAX / size) {
        oom();
    }
    p = xrealloc(p, n * size);
    *alloc = n;
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        oom();
    }
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p) {
        oom();
    }
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) {
        oom();
    }
    return s;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}
