/* archive.h - images to and from tar archives: save, load, import.
 *
 * save: images (names or ids) as one tar stream, in `docker save`'s legacy
 * format (manifest.json [{Config, RepoTags, Layers}], repositories,
 * <config-hex>.json, <layer-id>/{VERSION,json,layer.tar}; a layer already
 * written is a symlink to the first copy, as Docker 20.10 does) or as an
 * OCI layout (oci-layout, index.json, blobs/sha256/<hex>). A name without a
 * tag ("busybox") saves every tag of that repository, a tag saves that tag,
 * an id saves the image without tags (RepoTags null), as Docker does. Layer
 * bytes come from the stored layer blobs: docker archives carry the
 * uncompressed diff (decompressed on the fly, and checked against the
 * diff_id on the way), OCI archives the blob as stored. An image whose layer
 * has no stored blob cannot be saved (-ENOTSUP): a tar remade from the
 * layer directory would not match the config's diff_ids.
 *
 * load: a docker-archive (Docker's and podman's, plain or gzip/zstd
 * compressed, including Docker 25's manifest.json + blobs/ layout) or an OCI
 * layout archive. The archive is read once, as a stream: every file that is
 * not archive metadata is written to the blob store while its digest (and,
 * for a compressed layer, its uncompressed digest) is computed. Then every
 * reference is checked: OCI descriptors against the blobs' digests and
 * sizes, every layer's uncompressed digest against the config's
 * rootfs.diff_ids. Only then are the missing layers unpacked (from the
 * stored blobs, with layer.h, each under its chain-id lock, once) and the
 * images recorded (image_record_add). Any failure removes every blob and
 * layer this load added: the store is left as it was. Blobs the archive
 * carried that no recorded image uses (legacy metadata, other platforms) are
 * removed at the end.
 *
 * import: a root filesystem tarball (plain, gzip or zstd) as a one-layer
 * image: the stream is stored as the layer blob as given, unpacked, and a
 * config is written with the --change instructions applied (CMD,
 * ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL, in
 * Dockerfile syntax: JSON or shell form, quoted words), the platform, and
 * the message as comment and history.
 *
 * commit (import with a parent, for `berth commit`): the layer goes on top
 * of the parent image's layers (chain ids continued, the layer unpacked
 * once under its lock); the config is the parent's document with the
 * "config" object replaced by the one given (the container's merged
 * config), the --change instructions applied on top, diff_ids and history
 * extended by one entry (created_by, author, comment), and "author" set.
 *
 * Layer bytes are streamed, never held whole in memory; metadata files and
 * configs are capped (8 MiB), entries and layers counted and capped.
 */
#ifndef BERTH_IMAGE_ARCHIVE_H
#define BERTH_IMAGE_ARCHIVE_H

#include <jansson.h>
#include <stdbool.h>

#include "basic/error.h"
#include "libberth/store/store.h"

enum image_archive_format {
    IMAGE_ARCHIVE_DOCKER, /* "docker-archive", the default */
    IMAGE_ARCHIVE_OCI,    /* "oci-archive" */
};

/* "docker-archive" or "oci-archive" (also "docker", "oci"); -EINVAL otherwise. */
int image_archive_format_parse(const char *s, enum image_archive_format *ret,
                               struct berth_error **err);

/* Write the images that names[0..n) name to fd (a pipe or file). */
int image_save(struct store *s, char *const *names, size_t n, enum image_archive_format format,
               int fd, struct berth_error **err);
/* The same into path, atomically: a temp file beside it, fsync, rename;
 * nothing is left at path on failure. */
int image_save_file(struct store *s, char *const *names, size_t n, enum image_archive_format format,
                    const char *path, struct berth_error **err);

/* One line of what a load did, as Docker prints it: what is "Loaded image"
 * (value "busybox:latest"), "Loaded image ID" (value "sha256:.."), or
 * "renamed" (value the old image id a loaded tag was taken from, tag in
 * extra: Docker prints "The image busybox:latest already exists, renaming
 * the old one with ID sha256:.. to empty string"). */
typedef void (*image_load_cb)(const char *what, const char *value, const char *extra,
                              void *userdata);
int image_load(struct store *s, int fd, image_load_cb cb, void *userdata, struct berth_error **err);

struct image_import_options {
    char *const *changes;   /* Dockerfile instructions, may be NULL */
    const char *message;    /* -m; NULL: "Imported from <source>" */
    const char *source;     /* for the default message: a file name or "-" */
    const char *platform;   /* "os/arch[/variant]"; NULL: the host's */
    const char *repository; /* REPOSITORY[:TAG] to tag the image with, or NULL */
    /* commit only (parent non-NULL): */
    const char *parent;     /* image id the layer goes on */
    json_t *config;         /* the new "config" object (copied); NULL: the parent's */
    const char *author;     /* -a */
    const char *created_by; /* the history entry's created_by */
};
/* Import the rootfs tar read from fd; *ret_id is "sha256:<hex>". */
int image_import(struct store *s, int fd, const struct image_import_options *o, char **ret_id,
                 struct berth_error **err);

#endif
