#include "error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

const char *berth_strerror(int errnum, char *buf, size_t len)
{
    const char *s = strerror_r(errnum, buf, len);
    if (s != buf) {
        snprintf(buf, len, "%s", s);
    }
    /* Docker and runc print errno text in lowercase; so do we. */
    if (buf[0] && isupper((unsigned char)buf[0]) && !isupper((unsigned char)buf[1])) {
        buf[0] = (char)tolower((unsigned char)buf[0]);
    }
    return buf;
}

int berth_error_vset(struct berth_error **err, int errnum, int with_strerror, const char *fmt,
                     va_list ap)
{
    if (errnum <= 0) {
        errnum = EIO;
    }
    if (!err || *err) {
        return -errnum;
    }
    char *msg = xvasprintf(fmt, ap);
    if (with_strerror) {
        char buf[128];
        char *full = xasprintf("%s: %s", msg, berth_strerror(errnum, buf, sizeof(buf)));
        free(msg);
        msg = full;
    }
    struct berth_error *e = xmalloc(sizeof(*e));
    e->code = errnum;
    e->msg = msg;
    *err = e;
    return -errnum;
}

int berth_error_set(struct berth_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = berth_error_vset(err, errnum, 0, fmt, ap);
    va_end(ap);
    return r;
}

int berth_error_sys(struct berth_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = berth_error_vset(err, errnum, 1, fmt, ap);
    va_end(ap);
    return r;
}

int berth_error_prefix(struct berth_error **err, const char *fmt, ...)
{
    if (!err || !*err) {
        return -EIO;
    }
    va_list ap;
    va_start(ap, fmt);
    char *ctx = xvasprintf(fmt, ap);
    va_end(ap);
    char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
    free(ctx);
    free((*err)->msg);
    (*err)->msg = msg;
    return -(*err)->code;
}

void berth_error_pass(struct berth_error **err, struct berth_error *e)
{
    if (err && !*err) {
        *err = e;
    } else {
        berth_error_free(e);
    }
}

void berth_error_free(struct berth_error *e)
{
    if (!e) {
        return;
    }
    free(e->msg);
    free(e);
}
