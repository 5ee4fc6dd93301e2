/* alloc.h - allocation that cannot fail.
 *
 * Out-of-memory aborts the process with a message: berth never tries to limp
 * on without memory. Sizes that come from input must be capped by the caller
 * before they reach these functions.
 */
#ifndef BERTH_BASIC_ALLOC_H
#define BERTH_BASIC_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

#include "macro.h"

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow an array of nmemb elements of size `size` by at least one element,
 * doubling capacity; *alloc tracks the capacity. Overflow aborts. */
void *xgrow(void *p, size_t size, size_t nmemb, size_t *alloc);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

#endif
