/* cmd-push.c - `berth push` / `berth image push`: Docker's flags and output. */
#include <stdio.h>

#include "basic/alloc.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "libberth/image/push.h"

static void on_event(const struct push_event *ev, void *userdata)
{
    struct progress *p = userdata;
    switch (ev->kind) {
    case PUSH_EV_REPOSITORY:
        progress_message(p, NULL, "The push refers to repository [%s]", ev->detail);
        break;
    case PUSH_EV_PREPARING:
        progress_status(p, ev->id, "Preparing");
        break;
    case PUSH_EV_WAITING:
        progress_status(p, ev->id, "Waiting");
        break;
    case PUSH_EV_PUSHING:
        progress_bytes(p, ev->id, "Pushing", ev->current, ev->total);
        break;
    case PUSH_EV_PUSHED:
        progress_status(p, ev->id, "Pushed");
        break;
    case PUSH_EV_EXISTS:
        progress_status(p, ev->id, "Layer already exists");
        break;
    case PUSH_EV_MOUNTED: {
        _cleanup_free_ char *s = xasprintf("Mounted from %s", ev->detail);
        progress_status(p, ev->id, s);
        break;
    }
    case PUSH_EV_DIGEST:
        progress_message(p, NULL, "%s: digest: %s size: %llu", ev->detail, ev->digest,
                         (unsigned long long)ev->total);
        break;
    }
}

int cmd_push(struct cli *cli, int argc, char **argv)
{
    bool all_tags = false, quiet = false;
    const struct opt_def defs[] = {
        {"all-tags", 'a', OPT_BOOL, &all_tags, "Push all tags of an image to the repository", NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "Suppress verbose output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s = NULL;
    r = cli_store(cli, &s, &err);
    if (r < 0) {
        return cli_fail(err, 1);
    }
    _cleanup_(progress_freep) struct progress *p =
        progress_new(stdout, quiet ? PROGRESS_QUIET : PROGRESS_AUTO);
    struct push_options opts = {
        .registry = &cli->registry_opts,
        .all_tags = all_tags,
        .progress = on_event,
        .userdata = p,
    };
    struct push_result res = {0};
    r = image_push(s, args[0], &opts, &res, &err);
    if (r < 0) {
        return cli_fail(err, 1);
    }
    if (quiet) {
        printf("%s\n", res.name);
    }
    push_result_release(&res);
    return 0;
}
