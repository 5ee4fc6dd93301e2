/* hexid.h - the random hex ids berth gives containers, networks, endpoints
 * and anonymous volumes (64 hex, as Docker's), and the check for them. */
#ifndef BERTH_BASIC_HEXID_H
#define BERTH_BASIC_HEXID_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* nbytes random bytes (getrandom, blocking until the pool is ready) into
 * buf. */
int random_bytes(void *buf, size_t nbytes, struct berth_error **err);
/* nbytes random bytes as 2 * nbytes lowercase hex digits and a NUL in out. */
int random_hex(char *out, size_t nbytes, struct berth_error **err);
/* s is min to max lowercase hex digits. */
bool is_hex(const char *s, size_t min, size_t max);

#endif
