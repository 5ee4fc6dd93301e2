/* reference.h - image references, parsed and normalised exactly as Docker does.
 *
 * "busybox"                 -> docker.io/library/busybox:latest
 * "user/app:v1"             -> docker.io/user/app:v1
 * "localhost:5000/a/b@sha256:<hex>" keeps its domain, no tag
 * "index.docker.io/x"       -> docker.io/library/x:latest
 * The first path component is a domain when it contains '.' or ':' or is
 * "localhost" (distribution/reference's rule). Repository names are
 * lowercase components separated by '/', each [a-z0-9]+ joined by '.', '_',
 * '__' or runs of '-'; at most 255 bytes. Tags match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
 * Digests are "<algorithm>:<hex>", sha256 with exactly 64 lowercase hex
 * digits (sha512: 128). A name that is 64 hex characters alone is refused
 * (it would read as an image id). Errors use Docker's words:
 * "invalid reference format", "invalid reference format: repository name
 * must be lowercase".
 */
#ifndef BERTH_IMAGE_REFERENCE_H
#define BERTH_IMAGE_REFERENCE_H

#include <stdbool.h>

#include "basic/error.h"

#define DOCKER_DOMAIN "docker.io"

struct image_ref {
    char *domain; /* "docker.io", "localhost:5000", "quay.io" */
    char *path;   /* "library/busybox" */
    char *tag;    /* "latest" when neither tag nor digest was given; NULL with a bare digest */
    char *digest; /* "sha256:<hex>" or NULL */
};

int image_ref_parse(const char *s, struct image_ref **ret, struct berth_error **err);
/* "docker.io/library/busybox:latest", "...@sha256:..", "...:tag@sha256:..". */
char *image_ref_string(const struct image_ref *r);
/* As Docker shows it: "busybox:latest", "user/app:v1", "quay.io/a/b:c". */
char *image_ref_familiar(const struct image_ref *r);
/* "docker.io/library/busybox" and its familiar form "busybox". */
char *image_ref_repository(const struct image_ref *r);
char *image_ref_familiar_repository(const struct image_ref *r);
/* "sha256:<64 lowercase hex>" (or sha512 with 128). */
bool digest_is_valid(const char *digest);
void image_ref_free(struct image_ref *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct image_ref *, image_ref_free)

#endif
