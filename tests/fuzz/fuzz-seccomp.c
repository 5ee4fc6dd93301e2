/* Fuzz target: compiling untrusted linux.seccomp profiles (never loaded). */
#include <stdint.h>
#include <stdlib.h>

#include "libberth/common/json-util.h"
#include "libberth/runtime/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    struct berth_error *e = NULL;
    if (json_parse_buf((const char *)data, size, 1u << 20, &doc, &e) < 0) {
        berth_error_free(e);
        return 0;
    }
    struct seccomp_program *p = NULL;
    if (seccomp_program_compile(doc, &p, &e) < 0) {
        berth_error_free(e);
    } else {
        seccomp_program_free(p);
    }
    json_decref(doc);
    return 0;
}
