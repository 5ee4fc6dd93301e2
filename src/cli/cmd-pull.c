/* cmd-pull.c - `berth pull` / `berth image pull`: image_pull() with the
 * output of `docker pull` (progress.h draws it).
 *
 * Docker prints "Already exists" lines only when something is downloaded:
 * an image that is up to date shows just its digest and status. pull.c
 * reports every layer in order, so "Already exists" lines are held back
 * until a layer needs work, and dropped when the image was up to date.
 */
#include <stdio.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "libberth/image/pull.h"
#include "libberth/image/reference.h"

struct pull_view {
    struct progress *pr;
    const char *ref_id; /* "latest" or the digest */
    char **held;        /* "Already exists" ids not shown yet */
};

static void flush_held(struct pull_view *v)
{
    for (char **h = v->held; h && *h; h++) {
        progress_status(v->pr, *h, "Already exists");
    }
    strv_free(TAKE_PTR(v->held));
}

static void on_pull_event(const struct pull_event *ev, void *userdata)
{
    struct pull_view *v = userdata;
    if (ev->kind != PULL_EV_EXISTS && ev->kind != PULL_EV_PULLING) {
        flush_held(v);
    }
    switch (ev->kind) {
    case PULL_EV_PULLING:
        progress_message(v->pr, v->ref_id, "Pulling from %s", ev->id);
        break;
    case PULL_EV_EXISTS:
        strv_push(&v->held, ev->id);
        break;
    case PULL_EV_WAITING:
        progress_status(v->pr, ev->id, "Pulling fs layer");
        break;
    case PULL_EV_DOWNLOADING:
        progress_bytes(v->pr, ev->id, "Downloading", ev->current, ev->total);
        break;
    case PULL_EV_VERIFYING:
        progress_status(v->pr, ev->id, "Verifying Checksum");
        break;
    case PULL_EV_DOWNLOADED:
        progress_status(v->pr, ev->id, "Download complete");
        break;
    case PULL_EV_EXTRACTING:
        progress_bytes(v->pr, ev->id, "Extracting", ev->current, ev->total);
        break;
    case PULL_EV_COMPLETE:
        progress_status(v->pr, ev->id, "Pull complete");
        break;
    }
}

/* Docker says "Using default tag" when the name has neither tag nor digest. */
static bool names_tag_or_digest(const char *name)
{
    const char *last = strrchr(name, '/');
    last = last ? last + 1 : name;
    return strchr(last, ':') || strchr(last, '@');
}

int cli_pull_image(struct cli *cli, const char *name, const char *platform, bool quiet, FILE *out,
                   struct berth_error **err)
{
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    int r = image_ref_parse(name, &ref, err);
    if (r < 0) {
        return r;
    }
    struct store *s = NULL;
    r = cli_store(cli, &s, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(progress_freep) struct progress *pr =
        progress_new(out, quiet ? PROGRESS_QUIET : PROGRESS_AUTO);
    struct pull_view view = {.pr = pr, .ref_id = ref->digest ? ref->digest : ref->tag};
    if (!names_tag_or_digest(name)) {
        progress_message(pr, NULL, "Using default tag: %s", ref->tag);
    }
    struct pull_options o = {
        .platform = platform,
        .registry = &cli->registry_opts,
        .progress = on_pull_event,
        .userdata = &view,
    };
    struct pull_result res = {0};
    r = image_pull(s, name, &o, &res, err);
    if (r < 0) {
        strv_free(view.held);
        return r;
    }
    if (res.up_to_date) {
        strv_free(TAKE_PTR(view.held));
    } else {
        flush_held(&view);
    }
    _cleanup_free_ char *familiar = image_ref_familiar(ref);
    progress_message(pr, NULL, "Digest: %s", res.digest);
    progress_message(pr, NULL, "Status: %s for %s",
                     res.up_to_date ? "Image is up to date" : "Downloaded newer image", familiar);
    if (out == stdout) {
        printf("%s\n", res.name);
    }
    pull_result_release(&res);
    return 0;
}

int cmd_pull(struct cli *cli, int argc, char **argv)
{
    bool quiet = false, all_tags = false, no_trust = false;
    const char *platform = NULL;
    const struct opt_def defs[] = {
        {"all-tags", 'a', OPT_BOOL, &all_tags, "Download all tagged images in the repository",
         NULL},
        {"disable-content-trust", 0, OPT_BOOL, &no_trust, "Skip image verification (default true)",
         NULL},
        {"platform", 0, OPT_STRING, &platform, "Set platform if server is multi-platform capable",
         NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "Suppress verbose output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    if (all_tags) {
        berth_error_set(&err, ENOTSUP, "--all-tags is not supported");
        return cli_fail(err, 1);
    }
    r = cli_pull_image(cli, args[0], platform, quiet, stdout, &err);
    return r < 0 ? cli_fail(err, 1) : 0;
}
