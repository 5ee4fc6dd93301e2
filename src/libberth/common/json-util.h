/* json-util.h - typed, path-reporting accessors over jansson objects.
 *
 * Every accessor names the field it rejects ("process.user.uid: expected an
 * unsigned 32-bit integer"), so schema errors point at the exact place in the
 * document. A missing optional key leaves *ret untouched and returns 0; a
 * missing required key is an error. Strings returned point into the json_t
 * and live as long as it.
 */
#ifndef BERTH_JSON_UTIL_H
#define BERTH_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"

/* jansson (>= 2.9) provides json_decrefp. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Nesting deeper than this is refused before any allocation (deep-JSON bombs). */
#define BERTH_JSON_MAX_DEPTH 64

/* Parse a document from memory, enforcing a size cap and nesting depth. */
int json_parse_buf(const char *buf, size_t len, size_t max, json_t **ret, struct berth_error **err);
int json_load_file_at(int dirfd, const char *path, size_t max, json_t **ret,
                      struct berth_error **err);

int jget_obj(json_t *o, const char *where, const char *key, bool required, json_t **ret,
             struct berth_error **err);
int jget_arr(json_t *o, const char *where, const char *key, bool required, json_t **ret,
             struct berth_error **err);
int jget_str(json_t *o, const char *where, const char *key, bool required, const char **ret,
             struct berth_error **err);
int jget_bool(json_t *o, const char *where, const char *key, bool *ret, struct berth_error **err);
int jget_i64(json_t *o, const char *where, const char *key, bool required, int64_t *ret,
             struct berth_error **err);
int jget_u64(json_t *o, const char *where, const char *key, bool required, uint64_t *ret,
             struct berth_error **err);
int jget_u32(json_t *o, const char *where, const char *key, bool required, uint32_t *ret,
             struct berth_error **err);
/* An array of strings into a new strv (NULL when absent and optional). */
int jget_strv(json_t *o, const char *where, const char *key, bool required, char ***ret,
              struct berth_error **err);
/* Present and not JSON null. */
bool jhas(json_t *o, const char *key);
/* Serialise compactly; the caller frees. */
char *json_dump_compact(const json_t *j);

#endif
