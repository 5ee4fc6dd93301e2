/* strv.h - NULL-terminated arrays of owned strings (char **). */
#ifndef BERTH_BASIC_STRV_H
#define BERTH_BASIC_STRV_H

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

size_t strv_length(char *const *v);
/* Append a copy of s; *v may be NULL. */
void strv_push(char ***v, const char *s);
/* Append s, taking ownership. */
void strv_consume(char ***v, char *s);
char **strv_copy(char *const *v);
bool strv_contains(char *const *v, const char *s);
/* Index of the first entry starting with "<key>=", or -1. */
long strv_env_find(char *const *v, const char *key, size_t keylen);
/* Set "KEY=value" in an env vector, replacing an entry with the same key. */
void strv_env_set(char ***v, const char *assignment);
const char *strv_env_get(char *const *v, const char *key);
char **strv_split(const char *s, const char *sep);
/* "Natural" order, as the docker CLI sorts volume and network names
 * (sortorder.NaturalLess): runs of digits compare as numbers ("db2" <
 * "db10"), equal numbers with fewer leading zeros first; the rest
 * bytewise. <0, 0, >0 as strcmp. */
int str_natural_cmp(const char *a, const char *b);
char *strv_join(char *const *v, const char *sep);
void strv_free(char **v);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* for (char **s = l; ...): every entry of a strv that may be NULL. */
#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)

#endif
