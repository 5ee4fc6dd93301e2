/* unit-json.h - JSON test input for the unit tests (include after cmocka.h).
 *
 * J("{'a': 1}"): a JSON document written with single quotes for
 * readability (each ' becomes "); a malformed one fails the test. */
#ifndef BERTH_TESTS_UNIT_JSON_H
#define BERTH_TESTS_UNIT_JSON_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static inline json_t *J(const char *text)
{
    char *s = strdup(text);
    if (!s) {
        fail_msg("out of memory");
    }
    for (char *p = s; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    json_error_t je;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
    if (!j) {
        fail_msg("bad test JSON: %s: %s", je.text, s);
    }
    free(s);
    return j;
}

#endif
