/* push.h - push a local image to a registry.
 *
 * name is resolved as `docker push` does: a reference (normalised, default
 * tag "latest"; a digest reference is refused) that must name a local tag,
 * else -ENOENT "An image does not exist locally with the tag: <repo>". With
 * all_tags the name is a repository without a tag and every local tag of it
 * is pushed, one after another.
 *
 * Per tag: every layer blob, then the config blob, then the manifest under
 * the tag. Layers go a few at a time (opts.parallel); each one is first
 * checked with HEAD in the target repository ("Layer already exists"), then
 * mounted from another repository of the same registry that it was pulled
 * from or pushed to (the repo digests of the images that contain it: "Mounted from
 * library/x"), else uploaded from the blob store (one PUT up to
 * chunk_size, POST + PATCH chunks above it). The config blob goes the same
 * way (HEAD, mount, upload), without events, as Docker shows none.
 *
 * A layer whose stored blob is the plain diff tar (load and import keep
 * layers as given) is first gzipped into a new blob, and the layer record
 * is changed to name it (same diff_id: same tar), as `docker push`
 * compresses such layers; the plain blob is removed when nothing else
 * names it, and the next push reuses the gzip blob. This happens on the
 * calling thread before any upload, so it stays even when the push then
 * fails. A layer with no stored blob at all: -ENOTSUP naming the layer (a
 * tar remade from the layer directory would not match the diff_id).
 *
 * The manifest: the one the image was pulled with when it is stored, names
 * the image's config and exactly its stored layer blobs; else a new one
 * built from the records, in the flavour the image was pulled as (OCI or
 * Docker schema 2; Docker schema 2 when unknown). After the manifest is
 * put, the repo digest "<repo>@<digest>" is recorded on the image (as
 * Docker adds RepoDigests after a push), so later pushes can mount from it.
 * Apart from the compression above, a failure changes nothing in the local
 * store (the repo digest is recorded only once the manifest is accepted).
 *
 * Errors: "push '<name>': layer 3d24ee258efc: denied: ..." (registry.h's
 * causes, prefixed with the image and the step).
 */
#ifndef BERTH_IMAGE_PUSH_H
#define BERTH_IMAGE_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "libberth/image/registry.h"
#include "libberth/store/store.h"

enum push_event_kind {
    PUSH_EV_REPOSITORY, /* "The push refers to repository [<detail>]", once per push */
    PUSH_EV_PREPARING,  /* "Preparing" (every layer, top first) */
    PUSH_EV_WAITING,    /* "Waiting": queued behind the parallel limit */
    PUSH_EV_PUSHING,    /* current/total bytes sent */
    PUSH_EV_PUSHED,     /* "Pushed" */
    PUSH_EV_EXISTS,     /* "Layer already exists" */
    PUSH_EV_MOUNTED,    /* "Mounted from <detail>" (repository path) */
    PUSH_EV_DIGEST,     /* "<detail>: digest: <digest> size: <total>" (detail = tag) */
};

struct push_event {
    enum push_event_kind kind;
    const char *id;     /* 12 hex of the layer's diff_id (as docker shows), or NULL */
    const char *detail; /* see the kinds */
    const char *digest; /* PUSH_EV_DIGEST: the manifest digest */
    uint64_t current, total;
};

/* Called under a lock: never from two threads at once. */
typedef void (*push_progress_cb)(const struct push_event *ev, void *userdata);

struct push_options {
    const struct registry_options *registry;
    bool all_tags;       /* push every local tag of the repository */
    unsigned parallel;   /* layers at once; 0: 3 */
    uint64_t chunk_size; /* larger blobs go in chunks of this size; 0: 16 MiB */
    push_progress_cb progress;
    void *userdata;
};

struct push_result {
    char *digest; /* manifest digest of the (last) tag pushed */
    char *name;   /* full normalised reference pushed; the repository with all_tags */
};
void push_result_release(struct push_result *r);

int image_push(struct store *s, const char *name, const struct push_options *opts,
               struct push_result *ret, struct berth_error **err);

#endif
