/* error.h - the one error type of berth.
 *
 * Fallible functions return >= 0 on success and -errno on failure, and take a
 * last parameter `struct berth_error **err` that may be NULL. Setting an error
 * and returning is one call:
 *
 *     return berth_error_sys(err, errno, "open '%s'", path);
 *
 * Callers add context on the way up with berth_error_prefix(), so the user
 * reads "create 'c1': mount 'proc': permission denied". Only front ends print.
 * An error already set is never overwritten by a later berth_error_set(): the
 * innermost cause wins, outer layers only prefix it.
 */
#ifndef BERTH_BASIC_ERROR_H
#define BERTH_BASIC_ERROR_H

#include <stdarg.h>

#include "macro.h"

struct berth_error {
    int code;  /* positive errno value describing the class of failure */
    char *msg; /* full human-readable message, context first */
};

/* Set *err (if err and *err is unset) to a message; returns -errnum.
 * errnum <= 0 is normalised to EIO so a failure can never read as success. */
int berth_error_set(struct berth_error **err, int errnum, const char *fmt, ...) _printf_(3, 4);

/* Like berth_error_set, with ": <strerror(errnum)>" appended: for syscall failures. */
int berth_error_sys(struct berth_error **err, int errnum, const char *fmt, ...) _printf_(3, 4);

int berth_error_vset(struct berth_error **err, int errnum, int with_strerror, const char *fmt,
                     va_list ap) _printf_(4, 0);

/* Prepend "<context>: " to an existing error; returns -code (or -EIO if unset). */
int berth_error_prefix(struct berth_error **err, const char *fmt, ...) _printf_(2, 3);

/* Return the lowercase strerror text ("no such file or directory"). */
const char *berth_strerror(int errnum, char *buf, size_t len);

void berth_error_free(struct berth_error *e);
/* Hand e to the caller's err when it asked for one and has none yet, else
 * free it: for an error kept aside while deciding whether it matters. */
void berth_error_pass(struct berth_error **err, struct berth_error *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct berth_error *, berth_error_free)
#define _cleanup_error_ _cleanup_(berth_error_freep)

#endif
