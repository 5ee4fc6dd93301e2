#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"

int parse_int64(const char *s, int64_t *ret)
{
    if (!s || !*s || isspace((unsigned char)*s)) {
        return -EINVAL;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE) {
        return -ERANGE;
    }
    if (*end) {
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

int parse_uint64(const char *s, uint64_t *ret)
{
    if (!s || !isdigit((unsigned char)*s)) {
        return -EINVAL;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE) {
        return -ERANGE;
    }
    if (*end) {
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

int parse_int(const char *s, int *ret)
{
    int64_t v;
    int r = parse_int64(s, &v);
    if (r < 0) {
        return r;
    }
    if (v < INT_MIN || v > INT_MAX) {
        return -ERANGE;
    }
    *ret = (int)v;
    return 0;
}

int parse_size(const char *s, int64_t *ret)
{
    if (!s || !*s) {
        return -EINVAL;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !isdigit((unsigned char)*s)) {
        return -EINVAL;
    }
    static const char units[] = "bkmgtp";
    double mult = 1;
    if (*end) {
        const char *u = strchr(units, tolower((unsigned char)*end));
        if (!u) {
            return -EINVAL;
        }
        for (const char *p = units; p < u; p++) {
            mult *= 1024;
        }
        end++;
        if (*end && strcasecmp(end, "b") != 0 && strcasecmp(end, "ib") != 0) {
            return -EINVAL;
        }
    }
    double total = v * mult;
    if (total >= 9.2e18) {
        return -ERANGE;
    }
    *ret = (int64_t)total;
    return 0;
}

int parse_duration(const char *s, int64_t *ret_ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    if (!s || !*s) {
        return -EINVAL;
    }
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (streq(p, "0")) {
        *ret_ns = 0;
        return 0;
    }
    double total = 0;
    if (!*p) {
        return -EINVAL;
    }
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.') {
            return -EINVAL;
        }
        char *end;
        double v = strtod(p, &end);
        if (end == p) {
            return -EINVAL;
        }
        p = end;
        size_t best = 0;
        int found = -1;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0 && l > best) {
                best = l;
                found = (int)i;
            }
        }
        if (found < 0) {
            return -EINVAL;
        }
        total += v * units[found].ns;
        p += best;
    }
    if (total > 9.2e18) {
        return -ERANGE;
    }
    *ret_ns = (int64_t)(neg ? -total : total);
    return 0;
}
