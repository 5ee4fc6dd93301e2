/* Fuzz target: config.json parsing and validation (untrusted bundles). */
#include <stdint.h>
#include <stdlib.h>

#include "libberth/common/json-util.h"
#include "libberth/runtime/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    struct berth_error *e = NULL;
    if (json_parse_buf((const char *)data, size, OCI_CONFIG_MAX, &doc, &e) < 0) {
        berth_error_free(e);
        return 0;
    }
    struct oci_spec *s = NULL;
    if (oci_spec_parse(doc, "/bundle", &s, &e) < 0) {
        berth_error_free(e);
    } else {
        oci_spec_free(s);
    }
    json_decref(doc);
    return 0;
}
