/* pull.h - pull an image from a registry into the store.
 *
 * resolve the reference -> fetch the manifest (an index picks the platform)
 * -> fetch the config -> lock every layer's chain id in order -> download
 * the missing layers a few at a time, each streamed through its blob writer
 * (compressed digest) and a decompressor (diff_id) into an unpacker thread
 * that writes a temp layer directory -> verify both digests -> rename the
 * layers into place -> one transaction records layers, image, tag and repo
 * digest. Any failure removes what this pull added (blobs, layer dirs) and
 * leaves the store as it was.
 */
#ifndef BERTH_IMAGE_PULL_H
#define BERTH_IMAGE_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "libberth/image/registry.h"
#include "libberth/store/store.h"

enum pull_event_kind {
    PULL_EV_PULLING,     /* "latest: Pulling from library/busybox" (layer = tag or digest) */
    PULL_EV_WAITING,     /* "Pulling fs layer" */
    PULL_EV_EXISTS,      /* "Already exists" */
    PULL_EV_DOWNLOADING, /* current/total bytes */
    PULL_EV_VERIFYING,   /* "Verifying Checksum" */
    PULL_EV_DOWNLOADED,  /* "Download complete" */
    PULL_EV_EXTRACTING,  /* current/total (uncompressed so far) */
    PULL_EV_COMPLETE,    /* "Pull complete" */
};

struct pull_event {
    enum pull_event_kind kind;
    const char *id; /* 12 hex of the layer blob; for PULLING the repo path */
    const char *detail;
    uint64_t current, total;
};

/* Called with a lock held: never from two threads at once. */
typedef void (*pull_progress_cb)(const struct pull_event *ev, void *userdata);

struct pull_options {
    const char *platform; /* NULL: the host's */
    const struct registry_options *registry;
    unsigned parallel; /* layers at once; 0: 3 */
    pull_progress_cb progress;
    void *userdata;
};

struct pull_result {
    char *image_id;
    char *digest; /* manifest (or index) digest pulled */
    char *name;   /* full normalised reference */
    bool up_to_date;
};
void pull_result_release(struct pull_result *r);

int image_pull(struct store *s, const char *name, const struct pull_options *opts,
               struct pull_result *ret, struct berth_error **err);

#endif
