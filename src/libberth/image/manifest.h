/* manifest.h - image manifests, indexes and configs (OCI image spec and
 * Docker image manifest v2 schema 2), parsed from untrusted registry data.
 *
 * Accepted media types: application/vnd.oci.image.index.v1+json,
 * application/vnd.oci.image.manifest.v1+json,
 * application/vnd.docker.distribution.manifest.list.v2+json,
 * application/vnd.docker.distribution.manifest.v2+json; configs
 * application/vnd.oci.image.config.v1+json and
 * application/vnd.docker.container.image.v1+json; layers: the OCI tar,
 * tar+gzip, tar+zstd (and their nondistributable variants) and Docker's
 * rootfs.diff.tar.gzip. A document whose mediaType field disagrees with the
 * type it was served as is an error; a missing mediaType is inferred from
 * schemaVersion and fields, as Docker does. Every digest is validated, sizes
 * must be non-negative, documents are capped (4 MiB), layer count capped
 * (128 by default as Docker's limit is 127+).
 */
#ifndef BERTH_IMAGE_MANIFEST_H
#define BERTH_IMAGE_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"

#define MANIFEST_MAX (4u << 20)
#define MANIFEST_MAX_LAYERS 128

enum manifest_kind { MANIFEST_INDEX, MANIFEST_IMAGE };

struct descriptor {
    char *media_type;
    char *digest;
    int64_t size;
    /* platform, for index entries */
    char *os, *architecture, *variant;
};

struct manifest {
    enum manifest_kind kind;
    char *media_type;
    /* MANIFEST_INDEX */
    struct descriptor *manifests;
    size_t n_manifests;
    /* MANIFEST_IMAGE */
    struct descriptor config;
    struct descriptor *layers;
    size_t n_layers;
    json_t *annotations;
};

/* Parse a manifest or index. content_type is the HTTP Content-Type (or NULL). */
int manifest_parse(const char *buf, size_t len, const char *content_type, struct manifest **ret,
                   struct berth_error **err);
/* Pick the entry of an index for a platform "os/arch[/variant]" (NULL: the
 * host's, e.g. linux/amd64); variants default as Docker's platform matcher
 * does (arm64 -> v8, arm -> v7). -ENOENT: "no matching manifest for
 * linux/amd64 in the manifest list entries". */
int manifest_select_platform(const struct manifest *index, const char *platform,
                             const struct descriptor **ret, struct berth_error **err);
void manifest_free(struct manifest *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manifest *, manifest_free)

/* The image config: what a container is made from. */
struct image_config {
    char *architecture, *os, *variant;
    char *created;
    char *author;
    char *user;
    char **env;
    char **entrypoint; /* NULL when unset; empty array when set to [] */
    char **cmd;
    char *working_dir;
    char **exposed_ports; /* "80/tcp" */
    char **volumes;       /* "/data" */
    json_t *labels;       /* object of strings, or NULL */
    char *stop_signal;
    json_t *healthcheck; /* Docker's Healthcheck object as given, or NULL */
    char **diff_ids;     /* rootfs.diff_ids, "sha256:..." */
    size_t n_diff_ids;
    json_t *history; /* as given */
    json_t *json;    /* the whole document */
};
int image_config_parse(const char *buf, size_t len, struct image_config **ret,
                       struct berth_error **err);
void image_config_free(struct image_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct image_config *, image_config_free)

/* The host platform as Docker names it ("linux/amd64", "linux/arm64/v8"). */
const char *platform_host(void);

#endif
