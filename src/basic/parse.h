/* parse.h - strict number, size and duration parsing.
 * All functions reject empty strings, trailing garbage and overflow with -EINVAL/-ERANGE. */
#ifndef BERTH_BASIC_PARSE_H
#define BERTH_BASIC_PARSE_H

#include <stdint.h>

int parse_int64(const char *s, int64_t *ret);
int parse_uint64(const char *s, uint64_t *ret);
int parse_int(const char *s, int *ret);
/* Sizes as Docker takes them: "1024", "512k", "64m", "1g" (binary units, b/k/m/g/t/p,
 * optional trailing "b"/"ib", case-insensitive). */
int parse_size(const char *s, int64_t *ret);
/* Durations as Go's time.ParseDuration: "1h30m", "1.5s", "300ms", "10us", "0". Nanoseconds. */
int parse_duration(const char *s, int64_t *ret_ns);

#endif
