/* cmd-inspect.c - `berth inspect` (containers first, then images),
 * `image inspect`, `container inspect`, and `berth history`. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/common/template.h"
#include "libberth/container/lifecycle.h"
#include "libberth/image/images.h"
#include "libberth/net/networks.h"
#include "libberth/volume/volumes.h"

#define HISTORY_TABLE "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

static int load_image(struct store *s, const char *name, struct image_info **ret,
                      struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    int r = image_resolve(s, name, &id, err);
    return r < 0 ? r : image_get(s, id, ret, err);
}

struct inspect_ctx {
    const char *type; /* NULL: any */
    bool generic;     /* `inspect`, `container inspect`: containers too */
};

static bool wants(const struct inspect_ctx *x, const char *type)
{
    return !x->type || streq(x->type, type);
}

/* Docker's generic inspect looks for a container, an image, a network, then
 * a volume: "No such object: x" when nothing has that name; with --type
 * (and `image inspect`) the type's own message. */
static int inspect_one(struct store *s, const char *name, void *ud, json_t **ret,
                       struct berth_error **err)
{
    const struct inspect_ctx *x = ud;
    if (x->generic && wants(x, "container") && container_inspect_json(s, name, ret, NULL) >= 0) {
        return 0;
    }
    if (x->type && streq(x->type, "container")) {
        return berth_error_set(err, ENOENT, "No such container: %s", name);
    }
    struct berth_error *e = NULL;
    if (wants(x, "image")) {
        _cleanup_(image_info_freep) struct image_info *i = NULL;
        int r = load_image(s, name, &i, &e);
        if (r >= 0) {
            *ret = image_inspect_json(s, i);
            return 0;
        }
        if (x->type || r != -ENOENT) {
            if (err) {
                *err = e;
            } else {
                berth_error_free(e);
            }
            return r;
        }
        berth_error_free(TAKE_PTR(e));
    }
    if (wants(x, "network")) {
        _cleanup_(network_freep) struct network *n = NULL;
        int r = network_get(s, name, &n, x->type ? err : NULL);
        if (r >= 0) {
            return network_inspect(s, n, ret, err);
        }
        if (x->type) {
            return r;
        }
    }
    if (wants(x, "volume")) {
        _cleanup_(volume_freep) struct volume *v = NULL;
        int r = volume_get(s, name, &v, x->type ? err : NULL);
        if (r >= 0) {
            *ret = volume_inspect_json(v);
            return 0;
        }
        if (x->type) {
            return r;
        }
    }
    return berth_error_set(err, ENOENT, "No such object: %s", name);
}

int cmd_image_inspect(struct cli *cli, int argc, char **argv)
{
    const char *format = NULL, *type = NULL;
    bool size = false;
    bool generic = streq(cli->cmd->path, "inspect");
    const struct opt_def defs[] = {
        {"format", 'f', OPT_STRING, &format, "Format the output using the given Go template", NULL},
        {"size", 's', OPT_BOOL, &size,
         generic ? "Display total file sizes if the type is container" : NULL, NULL},
        {"type", 0, OPT_STRING, &type, generic ? "Return JSON for specified type" : NULL, NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct inspect_ctx x = {.type = type, .generic = generic};
    /* `image inspect` and `container inspect` are the generic inspect with
     * the type fixed: one loop, one output path. */
    if (streq(cli->cmd->path, "image inspect")) {
        x.type = "image";
    } else if (streq(cli->cmd->path, "container inspect")) {
        x.type = "container";
        x.generic = true;
    }
    if (x.type && !streq(x.type, "image") && !streq(x.type, "container") &&
        !streq(x.type, "volume") && !streq(x.type, "network")) {
        struct berth_error *err = NULL;
        berth_error_set(&err, EINVAL, "\"%s\" is not a valid value for --type", x.type);
        return cli_fail(err, 1);
    }
    return cli_inspect(cli, format, args, inspect_one, &x);
}

/* Docker's formatter.Ellipsis for ASCII text: at most n characters, the
 * last one "…" when cut. */
static char *ellipsis(const char *s, size_t n)
{
    if (strlen(s) <= n) {
        return xstrdup(s);
    }
    return xasprintf("%.*s…", (int)(n - 1), s);
}

int cmd_history(struct cli *cli, int argc, char **argv)
{
    bool human = true, no_trunc = false, quiet = false;
    const char *format = NULL;
    const struct opt_def defs[] = {
        {"format", 0, OPT_STRING, &format, "Pretty-print images using a Go template", NULL},
        {"human", 'H', OPT_BOOL, &human,
         "Print sizes and dates in human readable format (default true)", NULL},
        {"no-trunc", 0, OPT_BOOL, &no_trunc, "Don't truncate output", NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "Only show image IDs", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    _cleanup_(image_info_freep) struct image_info *i = NULL;
    if (cli_store(cli, &s, &err) < 0 || load_image(s, args[0], &i, &err) < 0) {
        return cli_fail(err, 1);
    }
    json_t *history = i->config ? i->config->history : NULL;
    size_t n = json_is_array(history) ? json_array_size(history) : 0;
    /* Oldest first, each non-empty entry taking the next layer. */
    json_t *rows = json_array();
    size_t layer = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *h = json_array_get(history, k);
        bool empty = json_is_true(json_object_get(h, "empty_layer"));
        int64_t size = 0;
        if (!empty && layer < i->n_layers) {
            size = i->layers[layer++].size;
        }
        const char *created = json_string_value(json_object_get(h, "created"));
        const char *by = json_string_value(json_object_get(h, "created_by"));
        const char *comment = json_string_value(json_object_get(h, "comment"));
        _cleanup_free_ char *by_flat = xstrdup(by ? by : "");
        for (char *p = by_flat; *p; p++) {
            if (*p == '\t') {
                *p = ' ';
            }
        }
        time_t t = cli_parse_time(created);
        _cleanup_free_ char *since = cli_human_duration_ago((long long)(time(NULL) - t));
        char at[64];
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
        _cleanup_free_ char *by_shown = no_trunc ? xstrdup(by_flat) : ellipsis(by_flat, 45);
        _cleanup_free_ char *hsize =
            human ? cli_human_size((double)size) : xasprintf("%lld", (long long)size);
        json_t *o = json_object();
        json_object_set_new(o, "Comment", json_string(comment ? comment : ""));
        json_object_set_new(o, "CreatedAt", json_string(at));
        json_object_set_new(o, "CreatedBy", json_string(by_shown));
        json_object_set_new(o, "CreatedSince", json_string(human ? since : at));
        json_object_set_new(o, "ID", json_string("<missing>"));
        json_object_set_new(o, "Size", json_string(hsize));
        json_array_insert_new(rows, 0, o);
    }
    if (json_array_size(rows) > 0) {
        const char *hex = strchr(i->id, ':') ? strchr(i->id, ':') + 1 : i->id;
        _cleanup_free_ char *id = no_trunc ? xstrdup(i->id) : xstrndup(hex, 12);
        json_object_set_new(json_array_get(rows, 0), "ID", json_string(id));
    }
    json_t *headers = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "IMAGE", "CreatedSince",
                                "CREATED", "CreatedAt", "CREATED AT", "CreatedBy", "CREATED BY",
                                "Size", "SIZE", "Comment", "COMMENT");
    int code = cli_print_rows(quiet ? "{{.ID}}" : format, HISTORY_TABLE, headers, rows);
    json_decref(headers);
    json_decref(rows);
    return code;
}
