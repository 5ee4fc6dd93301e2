#include "strv.h"

#include <string.h>

#include "alloc.h"
#include "strbuf.h"

size_t strv_length(char *const *v)
{
    size_t n = 0;
    while (v && v[n]) {
        n++;
    }
    return n;
}

void strv_consume(char ***v, char *s)
{
    size_t n = strv_length(*v);
    *v = xrealloc(*v, (n + 2) * sizeof(char *));
    (*v)[n] = s;
    (*v)[n + 1] = NULL;
}

void strv_push(char ***v, const char *s)
{
    strv_consume(v, xstrdup(s));
}

char **strv_copy(char *const *v)
{
    size_t n = strv_length(v);
    char **c = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        c[i] = xstrdup(v[i]);
    }
    return c;
}

bool strv_contains(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++) {
        if (streq(v[i], s)) {
            return true;
        }
    }
    return false;
}

long strv_env_find(char *const *v, const char *key, size_t keylen)
{
    for (size_t i = 0; v && v[i]; i++) {
        if (strneq(v[i], key, keylen) && v[i][keylen] == '=') {
            return (long)i;
        }
    }
    return -1;
}

void strv_env_set(char ***v, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    size_t keylen = eq ? (size_t)(eq - assignment) : strlen(assignment);
    long i = strv_env_find(*v, assignment, keylen);
    if (i >= 0) {
        free((*v)[i]);
        (*v)[i] = xstrdup(assignment);
        return;
    }
    strv_push(v, assignment);
}

const char *strv_env_get(char *const *v, const char *key)
{
    long i = strv_env_find(v, key, strlen(key));
    return i >= 0 ? v[i] + strlen(key) + 1 : NULL;
}

char **strv_split(const char *s, const char *sep)
{
    char **v = xcalloc(1, sizeof(char *));
    size_t seplen = strlen(sep);
    const char *p = s;
    for (;;) {
        const char *e = seplen ? strstr(p, sep) : NULL;
        if (!e) {
            strv_push(&v, p);
            break;
        }
        strv_consume(&v, xstrndup(p, (size_t)(e - p)));
        p = e + seplen;
    }
    return v;
}

char *strv_join(char *const *v, const char *sep)
{
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; v && v[i]; i++) {
        if (i) {
            strbuf_adds(&sb, sep);
        }
        strbuf_adds(&sb, v[i]);
    }
    return strbuf_detach(&sb, NULL);
}

void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++) {
        free(v[i]);
    }
    free(v);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int str_natural_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (is_digit(*a) && is_digit(*b)) {
            const char *za = a, *zb = b;
            while (*a == '0') {
                a++;
            }
            while (*b == '0') {
                b++;
            }
            const char *da = a, *db = b;
            while (is_digit(*a)) {
                a++;
            }
            while (is_digit(*b)) {
                b++;
            }
            /* A longer run without leading zeros is a bigger number. */
            if (a - da != b - db) {
                return a - da < b - db ? -1 : 1;
            }
            int c = strncmp(da, db, (size_t)(a - da));
            if (c) {
                return c;
            }
            if (da - za != db - zb) {
                return da - za < db - zb ? -1 : 1;
            }
            continue;
        }
        if (*a != *b) {
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        }
        a++, b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}
