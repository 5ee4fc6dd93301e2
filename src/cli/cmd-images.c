/* cmd-images.c - `berth images` / `image ls`: one row per repository and
 * tag, as Docker's image formatter makes them (an untagged image is one
 * "<none>" row; with --digests a tag shows each digest of its repository),
 * with Docker's filters and --format fields. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/image/images.h"
#include "libberth/image/reference.h"

#define IMAGES_TABLE "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
#define IMAGES_TABLE_DIGESTS                                                                       \
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

struct images_filter {
    int dangling; /* -1 any, 0 tagged only, 1 dangling only */
    char **references;
    char **labels;
    time_t before, since; /* 0: unset; compared with the created time */
    bool has_before, has_since;
};

/* "2021-03-04 05:06:07 +0000 UTC", Go's time.String() of a UTC time as
 * Docker prints CreatedAt. */
static char *created_at(time_t t)
{
    char buf[64];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    return xstrdup(buf);
}

static int image_created_time(struct store *s, const char *name, time_t *ret,
                              struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    _cleanup_(image_info_freep) struct image_info *i = NULL;
    int r = image_resolve(s, name, &id, err);
    if (r >= 0) {
        r = image_get(s, id, &i, err);
    }
    if (r < 0) {
        return r;
    }
    *ret = cli_parse_time(i->created);
    return 0;
}

static int parse_filters(struct store *s, char **filters, struct images_filter *f,
                         struct berth_error **err)
{
    f->dangling = -1;
    STRV_FOREACH(fp, filters)
    {
        const char *eq = strchr(*fp, '=');
        if (!eq) {
            return berth_error_set(err, EINVAL, "bad format of filter (expected name=value): '%s'",
                                   *fp);
        }
        _cleanup_free_ char *key = xstrndup(*fp, (size_t)(eq - *fp));
        const char *v = eq + 1;
        if (streq(key, "dangling")) {
            if (streq(v, "true") || streq(v, "1")) {
                f->dangling = 1;
            } else if (streq(v, "false") || streq(v, "0")) {
                f->dangling = 0;
            } else {
                return berth_error_set(err, EINVAL, "Invalid filter 'dangling=%s'", v);
            }
        } else if (streq(key, "reference")) {
            strv_push(&f->references, v);
        } else if (streq(key, "label")) {
            strv_push(&f->labels, v);
        } else if (streq(key, "before") || streq(key, "since")) {
            time_t t;
            int r = image_created_time(s, v, &t, err);
            if (r < 0) {
                return r;
            }
            if (streq(key, "before")) {
                f->before = t, f->has_before = true;
            } else {
                f->since = t, f->has_since = true;
            }
        } else {
            return berth_error_set(err, EINVAL, "Invalid filter '%s'", key);
        }
    }
    return 0;
}

static bool label_matches(const struct image_info *i, const char *want)
{
    json_t *labels = i->config ? i->config->labels : NULL;
    const char *eq = strchr(want, '=');
    _cleanup_free_ char *key = eq ? xstrndup(want, (size_t)(eq - want)) : xstrdup(want);
    json_t *v = json_is_object(labels) ? json_object_get(labels, key) : NULL;
    if (!v) {
        return false;
    }
    return !eq || (json_is_string(v) && streq(json_string_value(v), eq + 1));
}

/* Docker matches reference filters and the positional argument against
 * the familiar name, with and without the tag, by path.Match globbing. */
static bool reference_matches(const char *familiar_repo, const char *tag, const char *pattern)
{
    if (fnmatch(pattern, familiar_repo, FNM_PATHNAME) == 0) {
        return true;
    }
    if (!tag) {
        return false;
    }
    _cleanup_free_ char *full = xasprintf("%s:%s", familiar_repo, tag);
    return fnmatch(pattern, full, FNM_PATHNAME) == 0;
}

struct name_split {
    char *repo; /* familiar repository */
    char *tag;  /* or digest, for repo digests */
};

static bool split_name(const char *name, bool digest, struct name_split *ret)
{
    _cleanup_(image_ref_freep) struct image_ref *ref = NULL;
    if (image_ref_parse(name, &ref, NULL) < 0) {
        return false;
    }
    ret->repo = image_ref_familiar_repository(ref);
    ret->tag = xstrdup(digest ? (ref->digest ? ref->digest : "") : (ref->tag ? ref->tag : ""));
    return true;
}

struct row_ctx {
    json_t *rows;
    bool no_trunc, show_digests;
    char **patterns; /* positional REPOSITORY[:TAG] and reference filters: all must match */
};

static bool patterns_match(char **patterns, const char *repo, const char *tag)
{
    STRV_FOREACH(p, patterns)
    {
        if (!reference_matches(repo, tag, *p)) {
            return false;
        }
    }
    return true;
}

static void add_row(struct row_ctx *c, const struct image_info *i, const char *repo,
                    const char *tag, const char *digest)
{
    json_t *o = json_object();
    time_t created = cli_parse_time(i->created);
    _cleanup_free_ char *since = cli_human_duration_ago((long long)(time(NULL) - created));
    _cleanup_free_ char *at = created_at(created);
    _cleanup_free_ char *size = cli_human_size((double)i->size);
    const char *hex = strchr(i->id, ':') ? strchr(i->id, ':') + 1 : i->id;
    _cleanup_free_ char *id = c->no_trunc ? xstrdup(i->id) : xstrndup(hex, 12);
    /* Members in sorted order: {{json .}} prints them so, as Go does. */
    json_object_set_new(o, "Containers", json_string("N/A"));
    json_object_set_new(o, "CreatedAt", json_string(at));
    json_object_set_new(o, "CreatedSince", json_string(since));
    json_object_set_new(o, "Digest", json_string(digest));
    json_object_set_new(o, "ID", json_string(id));
    json_object_set_new(o, "Repository", json_string(repo));
    json_object_set_new(o, "SharedSize", json_string("N/A"));
    json_object_set_new(o, "Size", json_string(size));
    json_object_set_new(o, "Tag", json_string(tag));
    json_object_set_new(o, "UniqueSize", json_string("N/A"));
    json_object_set_new(o, "VirtualSize", json_string(size));
    json_array_append_new(c->rows, o);
}

/* The rows of one image (Docker's cli/command/formatter/image.go). */
static void image_rows(struct row_ctx *c, const struct image_info *i)
{
    size_t n_tags = strv_length(i->tags), n_dig = strv_length(i->digests);
    struct name_split *tags = xcalloc(n_tags + 1, sizeof(*tags));
    struct name_split *digs = xcalloc(n_dig + 1, sizeof(*digs));
    bool *dig_used = xcalloc(n_dig + 1, sizeof(bool));
    for (size_t k = 0; k < n_tags; k++) {
        split_name(i->tags[k], false, &tags[k]);
    }
    for (size_t k = 0; k < n_dig; k++) {
        split_name(i->digests[k], true, &digs[k]);
    }
    size_t added = 0;
    for (size_t k = 0; k < n_tags; k++) {
        if (!tags[k].repo) {
            continue;
        }
        bool any_digest = false;
        for (size_t d = 0; d < n_dig; d++) {
            if (digs[d].repo && streq(digs[d].repo, tags[k].repo)) {
                dig_used[d] = true;
                if (c->show_digests) {
                    any_digest = true;
                    if (patterns_match(c->patterns, tags[k].repo, tags[k].tag)) {
                        add_row(c, i, tags[k].repo, tags[k].tag, digs[d].tag);
                    }
                    added++;
                }
            }
        }
        if (!any_digest) {
            if (patterns_match(c->patterns, tags[k].repo, tags[k].tag)) {
                add_row(c, i, tags[k].repo, tags[k].tag, "<none>");
            }
            added++;
        }
    }
    for (size_t d = 0; d < n_dig; d++) {
        if (!digs[d].repo || dig_used[d]) {
            continue;
        }
        if (patterns_match(c->patterns, digs[d].repo, NULL)) {
            add_row(c, i, digs[d].repo, "<none>", c->show_digests ? digs[d].tag : "");
        }
        added++;
        /* Docker shows one row per repository when digests are hidden. */
        for (size_t e = d + 1; e < n_dig && !c->show_digests; e++) {
            if (digs[e].repo && streq(digs[e].repo, digs[d].repo)) {
                dig_used[e] = true;
            }
        }
    }
    if (added == 0 && !c->patterns) {
        add_row(c, i, "<none>", "<none>", "<none>");
    }
    for (size_t k = 0; k < n_tags; k++) {
        free(tags[k].repo), free(tags[k].tag);
    }
    for (size_t k = 0; k < n_dig; k++) {
        free(digs[k].repo), free(digs[k].tag);
    }
    free(tags), free(digs), free(dig_used);
}

static bool image_selected(const struct images_filter *f, const struct image_info *i)
{
    bool dangling = i->tags[0] == NULL;
    if (f->dangling == 1 && !dangling) {
        return false;
    }
    if (f->dangling == 0 && dangling) {
        return false;
    }
    STRV_FOREACH(l, f->labels)
    {
        if (!label_matches(i, *l)) {
            return false;
        }
    }
    time_t created = cli_parse_time(i->created);
    if (f->has_before && created >= f->before) {
        return false;
    }
    if (f->has_since && created <= f->since) {
        return false;
    }
    return true;
}

int cmd_images(struct cli *cli, int argc, char **argv)
{
    bool all = false, quiet = false, digests = false, no_trunc = false;
    const char *format = NULL;
    _cleanup_strv_free_ char **filters = NULL;
    const struct opt_def defs[] = {
        {"all", 'a', OPT_BOOL, &all, "Show all images (default hides intermediate images)", NULL},
        {"digests", 0, OPT_BOOL, &digests, "Show digests", NULL},
        {"filter", 'f', OPT_LIST, &filters, "Filter output based on conditions provided", NULL},
        {"format", 0, OPT_STRING, &format, "Pretty-print images using a Go template", NULL},
        {"no-trunc", 0, OPT_BOOL, &no_trunc, "Don't truncate output", NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "Only show image IDs", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    struct images_filter f = {0};
    r = cli_store(cli, &s, &err);
    if (r >= 0) {
        r = parse_filters(s, filters, &f, &err);
    }
    struct image_info **list = NULL;
    size_t n = 0;
    if (r >= 0) {
        r = image_list(s, &list, &n, &err);
    }
    if (r < 0) {
        strv_free(f.references), strv_free(f.labels);
        return cli_fail(err, 1);
    }
    struct row_ctx c = {.rows = json_array(), .no_trunc = no_trunc, .show_digests = digests};
    c.patterns = strv_copy(f.references);
    if (args[0]) {
        /* The positional is a reference: "busybox" matches every tag of it,
         * "busybox:1.36" that tag. */
        strv_push(&c.patterns, args[0]);
    }
    if (c.patterns && !c.patterns[0]) {
        strv_free(c.patterns);
        c.patterns = NULL;
    }
    for (size_t k = 0; k < n; k++) {
        if (image_selected(&f, list[k])) {
            image_rows(&c, list[k]);
        }
    }
    if (digests && (!format || !*format)) {
        format = IMAGES_TABLE_DIGESTS;
    }
    if (quiet) {
        format = "{{.ID}}";
    }
    json_t *headers = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Repository",
                                "REPOSITORY", "Tag", "TAG", "ID", "IMAGE ID", "Digest", "DIGEST",
                                "CreatedSince", "CREATED", "CreatedAt", "CREATED AT", "Size",
                                "SIZE", "Containers", "CONTAINERS", "SharedSize", "SHARED SIZE",
                                "UniqueSize", "UNIQUE SIZE", "VirtualSize", "VIRTUAL SIZE");
    int code = cli_print_rows(format, IMAGES_TABLE, headers, c.rows);
    json_decref(headers);
    json_decref(c.rows);
    strv_free(c.patterns);
    strv_free(f.references), strv_free(f.labels);
    image_info_list_free(list, n);
    return code;
}
