/* Fuzz target: manifests, indexes and image configs from registries. */
#include <stdint.h>
#include <stdlib.h>

#include "libberth/image/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_error *e = NULL;
    struct manifest *m = NULL;
    if (manifest_parse((const char *)data, size, NULL, &m, &e) < 0) {
        berth_error_free(e);
        e = NULL;
    } else {
        const struct descriptor *d = NULL;
        if (m->kind == MANIFEST_INDEX && manifest_select_platform(m, NULL, &d, &e) < 0) {
            berth_error_free(e);
            e = NULL;
        }
        manifest_free(m);
    }
    struct image_config *c = NULL;
    if (image_config_parse((const char *)data, size, &c, &e) < 0) {
        berth_error_free(e);
    } else {
        image_config_free(c);
    }
    return 0;
}
