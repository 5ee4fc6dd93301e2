#include "json-util.h"

#include <fcntl.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strv.h"

/* Measure nesting depth without recursion: jansson itself recurses, so a
 * deeply nested document must be refused before it reaches json_loadb. */
static bool depth_ok(const char *buf, size_t len)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > BERTH_JSON_MAX_DEPTH) {
                return false;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

int json_parse_buf(const char *buf, size_t len, size_t max, json_t **ret, struct berth_error **err)
{
    if (len > max) {
        return berth_error_set(err, EFBIG, "document larger than %zu bytes", max);
    }
    if (!depth_ok(buf, len)) {
        return berth_error_set(err, EINVAL, "document nested deeper than %d levels",
                               BERTH_JSON_MAX_DEPTH);
    }
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        return berth_error_set(err, EINVAL, "invalid JSON at line %d column %d: %s", je.line,
                               je.column, je.text);
    }
    *ret = j;
    return 0;
}

int json_load_file_at(int dirfd, const char *path, size_t max, json_t **ret,
                      struct berth_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_file_at(dirfd, path, max, &buf, &len, err);
    if (r < 0) {
        return r;
    }
    r = json_parse_buf(buf, len, max, ret, err);
    if (r < 0) {
        return berth_error_prefix(err, "%s", path);
    }
    return 0;
}

bool jhas(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v && !json_is_null(v);
}

static json_t *get(json_t *o, const char *where, const char *key, bool required, int *r,
                   struct berth_error **err)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    *r = 0;
    if ((!v || json_is_null(v)) && required) {
        *r = berth_error_set(err, EINVAL, "%s%s%s: required field missing", where,
                             *where ? "." : "", key);
    }
    return v && !json_is_null(v) ? v : NULL;
}

static int type_err(struct berth_error **err, const char *where, const char *key, const char *what)
{
    return berth_error_set(err, EINVAL, "%s%s%s: expected %s", where, *where ? "." : "", key, what);
}

int jget_obj(json_t *o, const char *where, const char *key, bool required, json_t **ret,
             struct berth_error **err)
{
    int r;
    json_t *v = get(o, where, key, required, &r, err);
    if (!v) {
        return r;
    }
    if (!json_is_object(v)) {
        return type_err(err, where, key, "an object");
    }
    *ret = v;
    return 0;
}

int jget_arr(json_t *o, const char *where, const char *key, bool required, json_t **ret,
             struct berth_error **err)
{
    int r;
    json_t *v = get(o, where, key, required, &r, err);
    if (!v) {
        return r;
    }
    if (!json_is_array(v)) {
        return type_err(err, where, key, "an array");
    }
    *ret = v;
    return 0;
}

int jget_str(json_t *o, const char *where, const char *key, bool required, const char **ret,
             struct berth_error **err)
{
    int r;
    json_t *v = get(o, where, key, required, &r, err);
    if (!v) {
        return r;
    }
    if (!json_is_string(v)) {
        return type_err(err, where, key, "a string");
    }
    *ret = json_string_value(v);
    return 0;
}

int jget_bool(json_t *o, const char *where, const char *key, bool *ret, struct berth_error **err)
{
    int r;
    json_t *v = get(o, where, key, false, &r, err);
    if (!v) {
        return r;
    }
    if (!json_is_boolean(v)) {
        return type_err(err, where, key, "a boolean");
    }
    *ret = json_is_true(v);
    return 0;
}

int jget_i64(json_t *o, const char *where, const char *key, bool required, int64_t *ret,
             struct berth_error **err)
{
    int r;
    json_t *v = get(o, where, key, required, &r, err);
    if (!v) {
        return r;
    }
    if (!json_is_integer(v)) {
        return type_err(err, where, key, "an integer");
    }
    *ret = json_integer_value(v);
    return 0;
}

int jget_u64(json_t *o, const char *where, const char *key, bool required, uint64_t *ret,
             struct berth_error **err)
{
    int r;
    json_t *v = get(o, where, key, required, &r, err);
    if (!v) {
        return r;
    }
    /* jansson stores integers as long long: values above INT64_MAX (runc
     * allows uint64 limits) arrive as reals; accept exact non-negative ones. */
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *ret = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 &&
        json_real_value(v) <= 18446744073709551615.0) {
        double d = json_real_value(v);
        *ret = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
        return 0;
    }
    return type_err(err, where, key, "an unsigned integer");
}

int jget_u32(json_t *o, const char *where, const char *key, bool required, uint32_t *ret,
             struct berth_error **err)
{
    int r;
    json_t *v = get(o, where, key, required, &r, err);
    if (!v) {
        return r;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX) {
        return type_err(err, where, key, "an unsigned 32-bit integer");
    }
    *ret = (uint32_t)json_integer_value(v);
    return 0;
}

int jget_strv(json_t *o, const char *where, const char *key, bool required, char ***ret,
              struct berth_error **err)
{
    json_t *a = NULL;
    int r = jget_arr(o, where, key, required, &a, err);
    if (r < 0 || !a) {
        return r;
    }
    char **v = xcalloc(json_array_size(a) + 1, sizeof(char *));
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e)) {
            strv_free(v);
            return berth_error_set(err, EINVAL, "%s%s%s[%zu]: expected a string", where,
                                   *where ? "." : "", key, i);
        }
        v[i] = xstrdup(json_string_value(e));
    }
    *ret = v;
    return 0;
}

char *json_dump_compact(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        s = xstrdup("null");
    }
    return s;
}
