#include "hexid.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "alloc.h"

int random_bytes(void *buf, size_t nbytes, struct berth_error **err)
{
    uint8_t *p = buf;
    while (nbytes > 0) {
        ssize_t n = getrandom(p, nbytes, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return berth_error_sys(err, errno, "getrandom");
        }
        p += n;
        nbytes -= (size_t)n;
    }
    return 0;
}

int random_hex(char *out, size_t nbytes, struct berth_error **err)
{
    _cleanup_free_ uint8_t *b = xmalloc(nbytes ? nbytes : 1);
    int r = random_bytes(b, nbytes, err);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < nbytes; i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
    out[2 * nbytes] = '\0';
    return 0;
}

bool is_hex(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) {
            return false;
        }
    }
    return true;
}
