/* Unit tests of manifests, indexes and image configs: the documents real
 * registries serve (Docker Hub's busybox, BuildKit indexes with attestation
 * entries), the platform an index resolves to, and the exact message for each
 * malformed document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/error.h"
#include "basic/strv.h"
#include "libberth/image/manifest.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

#define D_AMD64 "sha256:db142d433cdde11f10ae479dbf92f3b13d693fd1c91053da9979728cceb1dc68"
#define D_ARM64 "sha256:2d4ee6d2bd1d2b5f7b8e4a5a6c5d6a5e0e0d9a9a8f0d2a3c8b5e6a7d1c2b3a4f"
#define D_ARMV7 "sha256:3e5ce9a1b8a3dc7b4c4f0b3b9e5f3a1d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"
#define D_ARMV6 "sha256:4f6df0b2c9b4ed8c5d5a1c4c0f6a4b2e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b40"
#define D_ATT1 "sha256:5a7ea1c3dac5fe9d6e6b2d5d1a7b5c3f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c51"
#define D_ATT2 "sha256:6b8fb2d4ebd6af0e7f7c3e6e2b8c6d4a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d62"
#define D_CONFIG "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"
#define D_LAYER "sha256:3f4d90098f5b5a6f6a76e9d217da85aa39b2081e30fa1f7d287138d6e7bf0ad7"
#define D_DIFF "sha256:65014c70e84b6817fe1e3fd8e9a4c2ba1c1ee6f8c37b0a7a80ddb9e8e9de1ef2"

/* Docker Hub's busybox:latest index as BuildKit pushes it: images for four
 * platforms and their attestation manifests ("unknown/unknown"). The first
 * entry is an attestation on purpose: it must never be chosen. */
static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_ATT1 "\",\"size\":839,"
    "\"annotations\":{\"vnd.docker.reference.digest\":\"" D_AMD64 "\","
    "\"vnd.docker.reference.type\":\"attestation-manifest\"},"
    "\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_AMD64 "\",\"size\":610,"
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_ARMV6 "\",\"size\":610,"
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_ARMV7 "\",\"size\":610,"
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_ARM64 "\",\"size\":610,"
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_ATT2 "\",\"size\":839,"
    "\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}"
    "],\"annotations\":{\"org.opencontainers.image.created\":\"2024-09-26T21:31:42Z\"}}";

/* Docker's manifest list; arm64 without a variant, as many lists have it. */
static const char docker_list[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\",\"manifests\":["
    "{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"size\":528,\"digest\":\"" D_AMD64 "\","
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"size\":528,\"digest\":\"" D_ARM64 "\","
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"size\":528,\"digest\":\"" D_ARMV7 "\","
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"size\":1357,\"digest\":\"" D_ATT1 "\","
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.version\":\"10.0.17763.1\"}}"
    "]}";

static const char oci_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"" D_CONFIG "\",\"size\":372},"
    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
    "\"digest\":\"" D_LAYER "\",\"size\":2152262},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
    "\"digest\":\"" D_DIFF "\",\"size\":0}],"
    "\"annotations\":{\"org.opencontainers.image.url\":\"https://github.com/docker-library/"
    "busybox\"}}";

static const char docker_manifest[] =
    "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"" MT_DOCKER_MANIFEST "\",\n"
    "   \"config\": {\n      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
    "      \"size\": 1457,\n      \"digest\": \"" D_CONFIG "\"\n   },\n"
    "   \"layers\": [\n      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "         \"size\": 2152262,\n         \"digest\": \"" D_LAYER "\"\n      }\n   ]\n}";

static int parse(const char *doc, const char *ct, struct manifest **m, struct berth_error **err)
{
    return manifest_parse(doc, strlen(doc), ct, m, err);
}

/* Parse a document that must fail with errno `code` and a message
 * containing `want`. */
static void expect_fail(const char *doc, const char *ct, int code, const char *want)
{
    struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    int r = parse(doc, ct, &m, &err);
    if (r >= 0) {
        fail_msg("parsed, expected '%s'", want);
    }
    assert_int_equal(r, -code);
    assert_null(m);
    assert_non_null(err);
    if (!strstr(err->msg, want)) {
        fail_msg("message '%s' does not contain '%s'", err->msg, want);
    }
}

static void test_oci_index(void **state)
{
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(parse(oci_index, MT_OCI_INDEX, &m, &err), 0);
    assert_int_equal(m->kind, MANIFEST_INDEX);
    assert_string_equal(m->media_type, MT_OCI_INDEX);
    assert_int_equal(m->n_manifests, 6);
    assert_string_equal(m->manifests[1].digest, D_AMD64);
    assert_int_equal(m->manifests[1].size, 610);
    assert_string_equal(m->manifests[1].os, "linux");
    assert_string_equal(m->manifests[1].architecture, "amd64");
    assert_null(m->manifests[1].variant);
    assert_string_equal(m->manifests[4].variant, "v8");
    assert_non_null(m->annotations);
    assert_string_equal(
        json_string_value(json_object_get(m->annotations, "org.opencontainers.image.created")),
        "2024-09-26T21:31:42Z");
}

static void test_docker_list(void **state)
{
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    /* Parameters of the Content-Type and its case do not matter. */
    assert_int_equal(parse(docker_list,
                           "Application/vnd.docker.distribution.manifest.list.v2+json; "
                           "charset=utf-8",
                           &m, &err),
                     0);
    assert_int_equal(m->kind, MANIFEST_INDEX);
    assert_string_equal(m->media_type, MT_DOCKER_LIST);
    assert_int_equal(m->n_manifests, 4);
    assert_string_equal(m->manifests[0].media_type, MT_DOCKER_MANIFEST);
    assert_string_equal(m->manifests[3].os, "windows");
    assert_null(m->annotations);
}

static void test_oci_manifest(void **state)
{
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(parse(oci_manifest, MT_OCI_MANIFEST, &m, &err), 0);
    assert_int_equal(m->kind, MANIFEST_IMAGE);
    assert_string_equal(m->media_type, MT_OCI_MANIFEST);
    assert_string_equal(m->config.media_type, "application/vnd.oci.image.config.v1+json");
    assert_string_equal(m->config.digest, D_CONFIG);
    assert_int_equal(m->config.size, 372);
    assert_int_equal(m->n_layers, 2);
    assert_string_equal(m->layers[0].media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_string_equal(m->layers[0].digest, D_LAYER);
    assert_int_equal(m->layers[0].size, 2152262);
    assert_int_equal(m->layers[1].size, 0);
    assert_int_equal(m->n_manifests, 0);
    assert_non_null(m->annotations);
}

static void test_docker_manifest(void **state)
{
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(parse(docker_manifest, MT_DOCKER_MANIFEST, &m, &err), 0);
    assert_int_equal(m->kind, MANIFEST_IMAGE);
    assert_string_equal(m->media_type, MT_DOCKER_MANIFEST);
    assert_string_equal(m->config.media_type, "application/vnd.docker.container.image.v1+json");
    assert_int_equal(m->config.size, 1457);
    assert_int_equal(m->n_layers, 1);
    assert_string_equal(m->layers[0].media_type,
                        "application/vnd.docker.image.rootfs.diff.tar.gzip");
}

/* With no Content-Type (or a generic one) the document's own mediaType
 * decides; with neither, the fields do. */
static void test_inference(void **state)
{
    struct {
        const char *doc, *ct, *want;
        enum manifest_kind kind;
    } cases[] = {
        {docker_manifest, NULL, MT_DOCKER_MANIFEST, MANIFEST_IMAGE},
        {docker_list, "application/json", MT_DOCKER_LIST, MANIFEST_INDEX},
        {oci_index, "", MT_OCI_INDEX, MANIFEST_INDEX},
        {"{\"schemaVersion\":2,\"manifests\":[]}", NULL, MT_OCI_INDEX, MANIFEST_INDEX},
        {"{\"schemaVersion\":2,\"manifests\":[]}", "application/octet-stream", MT_OCI_INDEX,
         MANIFEST_INDEX},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":"
         "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D_CONFIG "\",\"size\":1},"
         "\"layers\":[]}",
         NULL, MT_OCI_MANIFEST, MANIFEST_IMAGE},
        {"{\"schemaVersion\":2,\"config\":{\"mediaType\":"
         "\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" D_CONFIG "\","
         "\"size\":1},\"layers\":[]}",
         NULL, MT_DOCKER_MANIFEST, MANIFEST_IMAGE},
        /* The served type speaks when the document is silent. */
        {"{\"schemaVersion\":2,\"manifests\":[]}", MT_DOCKER_LIST, MT_DOCKER_LIST, MANIFEST_INDEX},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = parse(cases[i].doc, cases[i].ct, &m, &err);
        if (r < 0) {
            fail_msg("case %zu: %s", i, err->msg);
        }
        assert_string_equal(m->media_type, cases[i].want);
        assert_int_equal(m->kind, cases[i].kind);
    }
}

static void test_media_type_errors(void **state)
{
    expect_fail(docker_manifest, MT_OCI_MANIFEST, EINVAL,
                "manifest: mediaType '" MT_DOCKER_MANIFEST
                "' does not match the served type '" MT_OCI_MANIFEST "'");
    /* An image served as an index must not be read as one. */
    expect_fail(oci_manifest, MT_OCI_INDEX, EINVAL, "does not match the served type");
    expect_fail(oci_manifest, "application/x", EINVAL,
                "manifest: unsupported media type 'application/x'");
    expect_fail("{\"schemaVersion\":2,\"mediaType\":\"application/x\",\"manifests\":[]}", NULL,
                EINVAL, "manifest: unsupported media type 'application/x'");
    expect_fail("{\"schemaVersion\":2}", NULL, EINVAL, "manifest: cannot determine the media type");
    expect_fail("{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}", NULL, EINVAL,
                "manifest: ambiguous document");
    expect_fail("{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[],"
                "\"layers\":[]}",
                NULL, EINVAL, "manifest: an index must not have config or layers");
    /* A Helm chart is a valid OCI artifact but not a container image. */
    expect_fail("{\"schemaVersion\":2,\"config\":{\"mediaType\":"
                "\"application/vnd.cncf.helm.config.v1+json\",\"digest\":\"" D_CONFIG "\","
                "\"size\":1},\"layers\":[]}",
                NULL, EINVAL,
                "manifest: config.mediaType: unsupported config media type "
                "'application/vnd.cncf.helm.config.v1+json'");
    expect_fail("{\"schemaVersion\":2,\"config\":{\"mediaType\":"
                "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D_CONFIG "\","
                "\"size\":1},\"layers\":[{\"mediaType\":\"text/html\",\"digest\":\"" D_LAYER
                "\",\"size\":1}]}",
                NULL, EINVAL, "manifest: layers[0].mediaType: unsupported layer type 'text/html'");
}

static void test_schema_versions(void **state)
{
    static const char schema1[] =
        "{\"schemaVersion\":1,\"name\":\"library/busybox\",\"tag\":\"1.0\","
        "\"architecture\":\"amd64\",\"fsLayers\":[{\"blobSum\":\"" D_LAYER "\"}],"
        "\"history\":[{\"v1Compatibility\":\"{}\"}]}";
    const char *want = "manifest schema 1 is not supported (deprecated by Docker)";
    expect_fail(schema1, NULL, EINVAL, want);
    expect_fail(schema1, "application/vnd.docker.distribution.manifest.v1+prettyjws", EINVAL, want);
    expect_fail(schema1, "application/json", EINVAL, want);
    expect_fail("{\"schemaVersion\":3,\"manifests\":[]}", NULL, EINVAL,
                "manifest: schemaVersion: unsupported version 3");
    expect_fail("{\"manifests\":[]}", NULL, EINVAL,
                "manifest: schemaVersion: required field missing");
    expect_fail("{\"schemaVersion\":\"2\",\"manifests\":[]}", NULL, EINVAL,
                "manifest: schemaVersion: expected an integer");
    expect_fail("[2]", NULL, EINVAL, "manifest: expected a JSON object");
    expect_fail("{\"schemaVersion\":2,", NULL, EINVAL, "manifest: invalid JSON");
}

#define INDEX_WITH(entry)                                                                          \
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[" entry "]}"
#define IMAGE_WITH_LAYER(layer)                                                                    \
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"        \
    "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D_CONFIG "\",\"size\":1},"        \
    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D_LAYER  \
    "\",\"size\":5}," layer "]}"

static void test_descriptor_errors(void **state)
{
    expect_fail(IMAGE_WITH_LAYER("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                 "\"digest\":\"sha256:xyz\",\"size\":1}"),
                NULL, EINVAL, "manifest: layers[1].digest: invalid digest 'sha256:xyz'");
    /* Uppercase hex, a short hash and an unknown algorithm are all refused:
     * the digest becomes a blob path. */
    expect_fail(IMAGE_WITH_LAYER(
                    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
                    "\"sha256:DB142D433CDDE11F10AE479DBF92F3B13D693FD1C91053DA9979728CCEB1DC68\","
                    "\"size\":1}"),
                NULL, EINVAL, "manifest: layers[1].digest: invalid digest 'sha256:DB142D");
    expect_fail(IMAGE_WITH_LAYER("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                 "\"digest\":\"md5:d41d8cd98f00b204e9800998ecf8427e\",\"size\":1}"),
                NULL, EINVAL, "layers[1].digest: invalid digest 'md5:");
    expect_fail(IMAGE_WITH_LAYER("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                 "\"digest\":\"sha256:../../../etc/passwd\",\"size\":1}"),
                NULL, EINVAL, "layers[1].digest: invalid digest");
    expect_fail(IMAGE_WITH_LAYER("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                 "\"digest\":\"" D_LAYER "\",\"size\":-1}"),
                NULL, EINVAL, "manifest: layers[1].size: negative size -1");
    expect_fail(IMAGE_WITH_LAYER("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                 "\"digest\":\"" D_LAYER "\",\"size\":1.5}"),
                NULL, EINVAL, "manifest: layers[1].size: expected an integer");
    expect_fail(IMAGE_WITH_LAYER("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                 "\"digest\":\"" D_LAYER "\"}"),
                NULL, EINVAL, "manifest: layers[1].size: required field missing");
    expect_fail(IMAGE_WITH_LAYER("{\"digest\":\"" D_LAYER "\",\"size\":1}"), NULL, EINVAL,
                "manifest: layers[1].mediaType: required field missing");
    expect_fail(IMAGE_WITH_LAYER("\"" D_LAYER "\""), NULL, EINVAL,
                "manifest: layers[1]: expected an object");
    expect_fail(INDEX_WITH("{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:1\","
                           "\"size\":1}"),
                NULL, EINVAL, "manifest: manifests[0].digest: invalid digest 'sha256:1'");
    expect_fail(INDEX_WITH("{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_AMD64 "\","
                           "\"size\":1,\"platform\":{\"os\":\"linux\"}}"),
                NULL, EINVAL, "manifest: manifests[0].platform.architecture: required field");
    expect_fail(INDEX_WITH("{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_AMD64 "\","
                           "\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":7}}"),
                NULL, EINVAL, "manifest: manifests[0].platform.architecture: expected a string");
    expect_fail(INDEX_WITH("{\"mediaType\":\"not a type\",\"digest\":\"" D_AMD64 "\",\"size\":1}"),
                NULL, EINVAL, "manifest: manifests[0].mediaType: invalid media type 'not a type'");
    expect_fail("{\"schemaVersion\":2,\"manifests\":{}}", NULL, EINVAL,
                "manifest: manifests: expected an array");
    expect_fail("{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":1}}", NULL, EINVAL,
                "manifest: annotations.a: expected a string");
}

static void test_size_caps(void **state)
{
    /* One byte over the cap is refused before parsing. */
    size_t n = MANIFEST_MAX + 1;
    char *big = xmalloc(n);
    memset(big, ' ', n);
    struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(manifest_parse(big, n, NULL, &m, &err), -EFBIG);
    assert_string_equal(err->msg, "manifest larger than 4194304 bytes");
    assert_null(m);
    free(big);

    /* Exactly the layer limit parses; one more does not. */
    for (size_t count = MANIFEST_MAX_LAYERS; count <= MANIFEST_MAX_LAYERS + 1; count++) {
        _cleanup_free_ char *layers = xstrdup("");
        for (size_t i = 0; i < count; i++) {
            char *next = xasprintf("%s%s{\"mediaType\":\"application/vnd.oci.image.layer.v1."
                                   "tar+gzip\",\"digest\":\"%s\",\"size\":%zu}",
                                   layers, i ? "," : "", D_LAYER, i);
            free(layers);
            layers = next;
        }
        _cleanup_free_ char *doc = xasprintf(
            "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
            "v1+json\",\"digest\":\"%s\",\"size\":1},\"layers\":[%s]}",
            D_CONFIG, layers);
        if (count == MANIFEST_MAX_LAYERS) {
            _cleanup_(manifest_freep) struct manifest *ok = NULL;
            _cleanup_error_ struct berth_error *e2 = NULL;
            assert_int_equal(parse(doc, NULL, &ok, &e2), 0);
            assert_int_equal(ok->n_layers, MANIFEST_MAX_LAYERS);
        } else {
            expect_fail(doc, NULL, EINVAL, "manifest: too many layers (129, the limit is 128)");
        }
    }

    /* Deep nesting is refused before jansson recurses into it. */
    char deep[400];
    size_t k = (size_t)snprintf(deep, sizeof(deep), "{\"schemaVersion\":2,\"annotations\":");
    for (int i = 0; i < 100; i++) {
        deep[k++] = '[';
    }
    deep[k] = '\0';
    expect_fail(deep, NULL, EINVAL, "manifest: document nested deeper than");
}

static const char *select_digest(const struct manifest *m, const char *platform)
{
    const struct descriptor *d = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    int r = manifest_select_platform(m, platform, &d, &err);
    if (r < 0) {
        fail_msg("select '%s': %s", platform, err->msg);
    }
    return d->digest;
}

static void expect_no_match(const struct manifest *m, const char *platform, int code,
                            const char *want)
{
    const struct descriptor *d = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(manifest_select_platform(m, platform, &d, &err), -code);
    assert_null(d);
    assert_string_equal(err->msg, want);
}

static void test_select_oci(void **state)
{
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(parse(oci_index, MT_OCI_INDEX, &m, &err), 0);

    /* The attestation entry comes first and is skipped. */
    assert_string_equal(select_digest(m, "linux/amd64"), D_AMD64);
    assert_string_equal(select_digest(m, "amd64"), D_AMD64);
    assert_string_equal(select_digest(m, "LINUX/AMD64"), D_AMD64);
    assert_string_equal(select_digest(m, "linux/x86_64"), D_AMD64);
    assert_string_equal(select_digest(m, "linux/arm64"), D_ARM64);
    assert_string_equal(select_digest(m, "linux/arm64/v8"), D_ARM64);
    assert_string_equal(select_digest(m, "linux/aarch64"), D_ARM64);
    /* arm without a variant means v7, as in Docker. */
    assert_string_equal(select_digest(m, "linux/arm"), D_ARMV7);
    assert_string_equal(select_digest(m, "linux/arm/v7"), D_ARMV7);
    assert_string_equal(select_digest(m, "linux/arm/v6"), D_ARMV6);
    assert_string_equal(select_digest(m, "linux/arm/7"), D_ARMV7);

    expect_no_match(m, "linux/s390x", ENOENT,
                    "no matching manifest for linux/s390x in the manifest list entries");
    /* arm/v5 cannot run v6 or v7 binaries. */
    expect_no_match(m, "linux/arm/v5", ENOENT,
                    "no matching manifest for linux/arm/v5 in the manifest list entries");
    expect_no_match(m, "windows/amd64", ENOENT,
                    "no matching manifest for windows/amd64 in the manifest list entries");
    /* Attestations are never selected, even when asked for. */
    expect_no_match(m, "unknown/unknown", ENOENT,
                    "no matching manifest for unknown/unknown in the manifest list entries");
}

static void test_select_docker_list(void **state)
{
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(parse(docker_list, NULL, &m, &err), 0);
    /* An arm64 entry without a variant serves arm64/v8 requests. */
    assert_string_equal(select_digest(m, "linux/arm64/v8"), D_ARM64);
    assert_string_equal(select_digest(m, "linux/arm64"), D_ARM64);
    assert_string_equal(select_digest(m, "arm64"), D_ARM64);
    assert_string_equal(select_digest(m, "windows/amd64"), D_ATT1);
    /* No v6 entry: a v7 image cannot run on v6. */
    expect_no_match(m, "linux/arm/v6", ENOENT,
                    "no matching manifest for linux/arm/v6 in the manifest list entries");
    /* A v8 request on arm (32-bit) falls back to v7. */
    assert_string_equal(select_digest(m, "linux/arm/v8"), D_ARMV7);
    expect_no_match(m, "linux/ppc64le", ENOENT,
                    "no matching manifest for linux/ppc64le in the manifest list entries");
}

static void test_select_first_match_and_missing(void **state)
{
    _cleanup_(manifest_freep) struct manifest *m = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    /* Two amd64 entries: the first wins. An entry without platform and one
     * with an unknown media type are never picked. */
    static const char doc[] = INDEX_WITH(
        "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_ATT2 "\",\"size\":1},"
        "{\"mediaType\":\"application/vnd.example.sbom+json\",\"digest\":\"" D_ATT1 "\",\"size\":1,"
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
        "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_AMD64 "\",\"size\":1,"
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
        "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_ARMV7 "\",\"size\":1,"
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
        "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_ARM64 "\",\"size\":1,"
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}}");
    assert_int_equal(parse(doc, NULL, &m, &err), 0);
    assert_int_equal(m->n_manifests, 5);
    assert_null(m->manifests[0].os);
    assert_string_equal(select_digest(m, "linux/amd64"), D_AMD64);
    /* amd64/v3 hardware runs baseline amd64 images. */
    assert_string_equal(select_digest(m, "linux/amd64/v3"), D_AMD64);
    /* arm64/v9 runs v8 images. */
    assert_string_equal(select_digest(m, "linux/arm64/v9"), D_ARM64);
    expect_no_match(m, "linux/arm64/v7", ENOENT,
                    "no matching manifest for linux/arm64/v7 in the manifest list entries");
}

static void test_select_errors(void **state)
{
    _cleanup_(manifest_freep) struct manifest *idx = NULL;
    _cleanup_(manifest_freep) struct manifest *img = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(parse(oci_index, NULL, &idx, &err), 0);
    assert_int_equal(parse(oci_manifest, NULL, &img, &err), 0);

    static const char *const junk[] = {
        "",
        "/",
        "linux/",
        "/amd64",
        "linux//amd64",
        "linux/amd64/v8/x",
        "linux/am d64",
        "linux/amd64;rm",
        "linux/../amd64/x/y",
    };
    for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
        const struct descriptor *d = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        assert_int_equal(manifest_select_platform(idx, junk[i], &d, &e), -EINVAL);
        _cleanup_free_ char *want =
            xasprintf("invalid platform '%s': expected os/arch[/variant]", junk[i]);
        assert_string_equal(e->msg, want);
    }
    expect_no_match(img, "linux/amd64", EINVAL, "not a manifest index");

    /* "linux" alone means the host's architecture. */
    const struct descriptor *d1 = NULL, *d2 = NULL;
    assert_int_equal(manifest_select_platform(idx, "linux", &d1, NULL) < 0,
                     manifest_select_platform(idx, NULL, &d2, NULL) < 0);
    assert_ptr_equal(d1, d2);
}

static void test_platform_host(void **state)
{
    const char *p = platform_host();
    assert_non_null(p);
    assert_true(strncmp(p, "linux/", 6) == 0);
#if defined(__x86_64__)
    assert_string_equal(p, "linux/amd64");
#elif defined(__aarch64__)
    assert_string_equal(p, "linux/arm64/v8");
#endif
}

/* busybox's config as Docker Hub serves it, with container_config and
 * history trimmed. */
static const char busybox_config[] =
    "{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:"
    "/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"sh\"],\"Entrypoint\":null,"
    "\"WorkingDir\":\"\",\"User\":\"\",\"Labels\":null,\"OnBuild\":null},"
    "\"created\":\"2024-09-26T21:31:42Z\",\"history\":[{\"created\":\"2024-09-26T21:31:42Z\","
    "\"created_by\":\"BusyBox 1.37.0 (glibc), Debian 12\"}],\"os\":\"linux\","
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D_DIFF "\"]}}";

static void test_config_busybox(void **state)
{
    _cleanup_(image_config_freep) struct image_config *c = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(image_config_parse(busybox_config, strlen(busybox_config), &c, &err), 0);
    assert_string_equal(c->architecture, "amd64");
    assert_string_equal(c->os, "linux");
    assert_null(c->variant);
    assert_string_equal(c->created, "2024-09-26T21:31:42Z");
    assert_null(c->author);
    assert_int_equal(strv_length(c->env), 1);
    assert_string_equal(strv_env_get(c->env, "PATH"),
                        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    assert_null(c->entrypoint);
    assert_int_equal(strv_length(c->cmd), 1);
    assert_string_equal(c->cmd[0], "sh");
    assert_string_equal(c->working_dir, "");
    assert_null(c->labels);
    assert_null(c->exposed_ports);
    assert_int_equal(c->n_diff_ids, 1);
    assert_string_equal(c->diff_ids[0], D_DIFF);
    assert_null(c->diff_ids[1]);
    assert_int_equal(json_array_size(c->history), 1);
    assert_non_null(c->json);
}

static void test_config_full(void **state)
{
    static const char doc[] =
        "{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\",\"author\":\"ops\","
        "\"config\":{\"User\":\"101:101\",\"Env\":[\"A=1\",\"EMPTY=\"],\"Entrypoint\":[],"
        "\"Cmd\":\"nginx -g daemon off;\",\"WorkingDir\":\"/srv\","
        "\"ExposedPorts\":{\"80/tcp\":{},\"443/tcp\":{}},\"Volumes\":{\"/data\":{}},"
        "\"Labels\":{\"maintainer\":\"NGINX\"},\"StopSignal\":\"SIGQUIT\","
        "\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"],\"Interval\":30000000000}},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D_DIFF "\",\"" D_LAYER "\"]}}";
    _cleanup_(image_config_freep) struct image_config *c = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(image_config_parse(doc, strlen(doc), &c, &err), 0);
    assert_string_equal(c->variant, "v8");
    assert_string_equal(c->author, "ops");
    assert_string_equal(c->user, "101:101");
    assert_string_equal(strv_env_get(c->env, "EMPTY"), "");
    /* [] is kept apart from null: it clears an inherited entrypoint. */
    assert_non_null(c->entrypoint);
    assert_int_equal(strv_length(c->entrypoint), 0);
    /* Docker's strslice accepts a lone string. */
    assert_int_equal(strv_length(c->cmd), 1);
    assert_string_equal(c->cmd[0], "nginx -g daemon off;");
    assert_string_equal(c->working_dir, "/srv");
    assert_int_equal(strv_length(c->exposed_ports), 2);
    assert_true(strv_contains(c->exposed_ports, "80/tcp"));
    assert_true(strv_contains(c->exposed_ports, "443/tcp"));
    assert_int_equal(strv_length(c->volumes), 1);
    assert_string_equal(c->volumes[0], "/data");
    assert_string_equal(json_string_value(json_object_get(c->labels, "maintainer")), "NGINX");
    assert_string_equal(c->stop_signal, "SIGQUIT");
    assert_non_null(json_object_get(c->healthcheck, "Test"));
    assert_int_equal(c->n_diff_ids, 2);
}

static void test_config_minimal(void **state)
{
    /* No config object, or a null one, is an empty config. */
    static const char *const docs[] = {
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
        "\"diff_ids\":[]}}",
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":null,"
        "\"rootfs\":{\"type\":\"layers\"}}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
        _cleanup_(image_config_freep) struct image_config *c = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        assert_int_equal(image_config_parse(docs[i], strlen(docs[i]), &c, &err), 0);
        assert_null(c->env);
        assert_null(c->entrypoint);
        assert_null(c->cmd);
        assert_null(c->user);
        assert_int_equal(c->n_diff_ids, 0);
        assert_non_null(c->diff_ids);
    }
}

static void expect_config_fail(const char *doc, int code, const char *want)
{
    struct image_config *c = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(image_config_parse(doc, strlen(doc), &c, &err), -code);
    assert_null(c);
    if (!strstr(err->msg, want)) {
        fail_msg("message '%s' does not contain '%s'", err->msg, want);
    }
}

#define ROOTFS "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"

static void test_config_errors(void **state)
{
    expect_config_fail("{\"config\":{\"Env\":[\"A=1\",2]}," ROOTFS "}", EINVAL,
                       "image config: config.Env[1]: expected a string");
    expect_config_fail("{\"config\":{\"Env\":[\"A=1\",\"NOVALUE\"]}," ROOTFS "}", EINVAL,
                       "image config: config.Env[1]: expected KEY=value, got 'NOVALUE'");
    expect_config_fail("{\"config\":{\"Env\":[\"=x\"]}," ROOTFS "}", EINVAL,
                       "config.Env[0]: expected KEY=value");
    expect_config_fail("{\"config\":{\"Env\":\"A=1\"}," ROOTFS "}", EINVAL,
                       "config.Env: expected an array");
    expect_config_fail("{\"config\":{\"Entrypoint\":[\"sh\",1]}," ROOTFS "}", EINVAL,
                       "config.Entrypoint[1]: expected a string");
    expect_config_fail("{\"config\":{\"Cmd\":{}}," ROOTFS "}", EINVAL,
                       "config.Cmd: expected an array");
    expect_config_fail("{\"config\":{\"User\":0}," ROOTFS "}", EINVAL,
                       "config.User: expected a string");
    expect_config_fail("{\"config\":{\"ExposedPorts\":[\"80/tcp\"]}," ROOTFS "}", EINVAL,
                       "config.ExposedPorts: expected an object");
    expect_config_fail("{\"config\":{\"Labels\":{\"a\":1}}," ROOTFS "}", EINVAL,
                       "config.Labels.a: expected a string");
    expect_config_fail("{\"config\":[]," ROOTFS "}", EINVAL, "config: expected an object");
    expect_config_fail("{\"architecture\":64," ROOTFS "}", EINVAL,
                       "architecture: expected a string");
    expect_config_fail("{\"os\":\"linux\"}", EINVAL, "image config: rootfs: required field");
    expect_config_fail("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:abc\"]}}", EINVAL,
                       "image config: rootfs.diff_ids[0]: invalid digest 'sha256:abc'");
    expect_config_fail("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[1]}}", EINVAL,
                       "rootfs.diff_ids[0]: expected a string");
    expect_config_fail("{\"rootfs\":{\"type\":\"overlay\"}}", EINVAL,
                       "rootfs.type: unsupported type 'overlay'");
    expect_config_fail("{\"history\":{}," ROOTFS "}", EINVAL, "history: expected an array");
    expect_config_fail("[]", EINVAL, "image config: expected a JSON object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oci_index),
        cmocka_unit_test(test_docker_list),
        cmocka_unit_test(test_oci_manifest),
        cmocka_unit_test(test_docker_manifest),
        cmocka_unit_test(test_inference),
        cmocka_unit_test(test_media_type_errors),
        cmocka_unit_test(test_schema_versions),
        cmocka_unit_test(test_descriptor_errors),
        cmocka_unit_test(test_size_caps),
        cmocka_unit_test(test_select_oci),
        cmocka_unit_test(test_select_docker_list),
        cmocka_unit_test(test_select_first_match_and_missing),
        cmocka_unit_test(test_select_errors),
        cmocka_unit_test(test_platform_host),
        cmocka_unit_test(test_config_busybox),
        cmocka_unit_test(test_config_full),
        cmocka_unit_test(test_config_minimal),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
