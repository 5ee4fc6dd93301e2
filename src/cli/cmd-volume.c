/* cmd-volume.c - `volume create|ls|inspect|rm|prune` as Docker's CLI, and
 * berth's `volume export|import` (backup and restore, which Docker leaves
 * to hand-made tar containers). Each calls one function of
 * libberth/volume/volumes.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/common/json-util.h"
#include "libberth/common/template.h"
#include "libberth/volume/volumes.h"

#define VOLUME_TABLE "table {{.Driver}}\t{{.Name}}"

/* "k=v" flags (-l, -o) into an object; a flag without '=' has the empty
 * value for labels (Docker's), and is an error for options. */
static int kv_object(char **list, bool need_value, const char *what, json_t **ret,
                     struct berth_error **err)
{
    json_t *o = json_object();
    STRV_FOREACH(kv, list)
    {
        const char *eq = strchr(*kv, '=');
        if ((!eq && need_value) || eq == *kv) {
            json_decref(o);
            return berth_error_set(err, EINVAL, "invalid argument \"%s\" for \"%s\" flag", *kv,
                                   what);
        }
        _cleanup_free_ char *k = eq ? xstrndup(*kv, (size_t)(eq - *kv)) : xstrdup(*kv);
        json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
    }
    *ret = o;
    return 0;
}

int cmd_volume_create(struct cli *cli, int argc, char **argv)
{
    const char *name = NULL, *driver = "local";
    _cleanup_strv_free_ char **labels = NULL, **opts = NULL;
    const struct opt_def defs[] = {
        {"driver", 'd', OPT_STRING, &driver, "Specify volume driver name", NULL},
        {"label", 'l', OPT_LIST, &labels, "Set metadata for a volume", NULL},
        {"name", 0, OPT_STRING, &name, "Specify volume name", NULL},
        {"opt", 'o', OPT_LIST, &opts, "Set driver specific options", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    if (args[0] && name && !streq(args[0], name)) {
        berth_error_set(&err, EINVAL,
                        "conflicting options: either specify --name or provide positional arg, "
                        "not both");
        return cli_fail(err, 1);
    }
    if (args[0]) {
        name = args[0];
    }
    _cleanup_json_ json_t *lj = NULL, *oj = NULL;
    if (kv_object(labels, false, "--label", &lj, &err) < 0 ||
        kv_object(opts, true, "--opt", &oj, &err) < 0) {
        return cli_fail(err, 125);
    }
    struct store *s;
    _cleanup_(volume_freep) struct volume *v = NULL;
    struct volume_create_opts o = {.name = name, .driver = driver, .labels = lj, .options = oj};
    if (cli_store(cli, &s, &err) < 0 || volume_create(s, &o, &v, NULL, &err) < 0) {
        return cli_fail(err, 1);
    }
    printf("%s\n", v->name);
    return 0;
}

/* Labels as Docker's formatter joins them: "k=v,k2=v2" (sorted here, so
 * the output is stable). */
static char *labels_text(json_t *labels)
{
    _cleanup_strv_free_ char **l = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        strv_consume(&l, xasprintf("%s=%s", k, json_string_value(v) ? json_string_value(v) : ""));
    }
    if (!l) {
        return xstrdup("");
    }
    size_t n = strv_length(l);
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(l[j - 1], l[j]) > 0; j--) {
            char *t = l[j];
            l[j] = l[j - 1];
            l[j - 1] = t;
        }
    }
    return strv_join(l, ",");
}

struct ls_filter {
    char **names, **drivers, **labels;
    int dangling; /* -1 any, 0 in use only, 1 unused only */
};

static void ls_filter_release(struct ls_filter *f)
{
    strv_free(f->names);
    strv_free(f->drivers);
    strv_free(f->labels);
}

static int parse_ls_filters(char **filters, struct ls_filter *f, struct berth_error **err)
{
    *f = (struct ls_filter){.dangling = -1};
    STRV_FOREACH(t, filters)
    {
        const char *eq = strchr(*t, '=');
        if (!eq) {
            return berth_error_set(err, EINVAL, "bad format of filter (expected name=value)");
        }
        size_t kl = (size_t)(eq - *t);
        const char *val = eq + 1;
        if (kl == 4 && strneq(*t, "name", 4)) {
            strv_push(&f->names, val);
        } else if (kl == 6 && strneq(*t, "driver", 6)) {
            strv_push(&f->drivers, val);
        } else if ((kl == 5 && strneq(*t, "label", 5)) || (kl == 6 && strneq(*t, "label!", 6))) {
            strv_push(&f->labels, *t);
        } else if (kl == 8 && strneq(*t, "dangling", 8)) {
            if (streq(val, "true") || streq(val, "1")) {
                f->dangling = 1;
            } else if (streq(val, "false") || streq(val, "0")) {
                f->dangling = 0;
            } else {
                return berth_error_set(
                    err, EINVAL, "invalid filter 'dangling=%s': must be 'true' or 'false'", val);
            }
        } else {
            return berth_error_set(err, EINVAL, "invalid filter '%.*s'", (int)kl, *t);
        }
    }
    return volume_label_terms_check(f->labels, err);
}

static bool any_substring(char **list, const char *s)
{
    STRV_FOREACH(p, list)
    {
        if (strstr(s, *p)) {
            return true;
        }
    }
    return false;
}

static bool ls_selected(struct store *s, const struct ls_filter *f, struct volume *v)
{
    if (f->names && !any_substring(f->names, v->name)) {
        return false;
    }
    if (f->drivers && !strv_contains(f->drivers, v->driver)) {
        return false;
    }
    if (!volume_labels_match(v->labels, f->labels)) {
        return false;
    }
    if (f->dangling >= 0) {
        _cleanup_strv_free_ char **users = NULL;
        bool unused = volume_users(s, v->name, &users, NULL) >= 0 && !(users && users[0]);
        if (unused != (f->dangling == 1)) {
            return false;
        }
    }
    return true;
}

/* The docker CLI lists volumes in natural name order ("db2" before "db10"). */
static int by_name(const void *a, const void *b)
{
    return str_natural_cmp((*(struct volume *const *)a)->name, (*(struct volume *const *)b)->name);
}

int cmd_volume_ls(struct cli *cli, int argc, char **argv)
{
    bool quiet = false;
    const char *format = NULL;
    _cleanup_strv_free_ char **filters = NULL;
    const struct opt_def defs[] = {
        {"filter", 'f', OPT_LIST, &filters, "Provide filter values (e.g. 'dangling=true')", NULL},
        {"format", 0, OPT_STRING, &format, "Format output using a custom template", NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "Only display volume names", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct ls_filter f;
    if (parse_ls_filters(filters, &f, &err) < 0) {
        ls_filter_release(&f);
        return cli_fail(err, 1);
    }
    struct store *s;
    struct volume **l = NULL;
    size_t n = 0;
    if (cli_store(cli, &s, &err) < 0 || volume_list(s, &l, &n, &err) < 0) {
        ls_filter_release(&f);
        return cli_fail(err, 1);
    }
    qsort(l, n, sizeof(*l), by_name);
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!ls_selected(s, &f, l[i])) {
            continue;
        }
        _cleanup_free_ char *lt = labels_text(l[i]->labels);
        json_array_append_new(
            rows, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Name", l[i]->name, "Driver",
                            l[i]->driver, "Mountpoint", l[i]->mountpoint, "Labels", lt, "Scope",
                            "local", "Links", "N/A", "Size", "N/A", "CreatedAt", l[i]->created));
    }
    json_t *headers =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Name", "VOLUME NAME", "Driver", "DRIVER",
                  "Mountpoint", "MOUNTPOINT", "Labels", "LABELS", "Scope", "SCOPE", "Links",
                  "LINKS", "Size", "SIZE", "CreatedAt", "CREATED");
    int code = cli_print_rows(quiet ? "{{.Name}}" : format, VOLUME_TABLE, headers, rows);
    json_decref(headers);
    json_decref(rows);
    volume_list_free(l, n);
    ls_filter_release(&f);
    return code;
}

static int inspect_one(struct store *s, const char *name, void *ud, json_t **ret,
                       struct berth_error **err)
{
    (void)ud;
    _cleanup_(volume_freep) struct volume *v = NULL;
    int r = volume_get(s, name, &v, err);
    if (r >= 0) {
        *ret = volume_inspect_json(v);
    }
    return r;
}

int cmd_volume_inspect(struct cli *cli, int argc, char **argv)
{
    const char *format = NULL;
    const struct opt_def defs[] = {
        {"format", 'f', OPT_STRING, &format, "Format output using a custom template", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    return cli_inspect(cli, format, args, inspect_one, NULL);
}

static int rm_one(struct store *s, const char *name, void *ud, struct berth_error **err)
{
    return volume_remove(s, name, *(bool *)ud, err);
}

int cmd_volume_rm(struct cli *cli, int argc, char **argv)
{
    bool force = false;
    const struct opt_def defs[] = {
        {"force", 'f', OPT_BOOL, &force, "Force the removal of one or more volumes", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    return cli_for_each(cli, args, true, rm_one, &force);
}

int cmd_volume_prune(struct cli *cli, int argc, char **argv)
{
    bool all = false, force = false;
    _cleanup_strv_free_ char **filters = NULL;
    const struct opt_def defs[] = {
        {"all", 'a', OPT_BOOL, &all, "Remove all unused volumes, not just anonymous ones", NULL},
        {"filter", 0, OPT_LIST, &filters, "Provide filter values (e.g. 'label=<label>')", NULL},
        {"force", 'f', OPT_BOOL, &force, "Do not prompt for confirmation", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    STRV_FOREACH(t, filters)
    {
        /* Docker's prune takes "all=true" as a filter too */
        if (streq(*t, "all=true") || streq(*t, "all=1")) {
            all = true;
        } else if (!strneq(*t, "label=", 6) && !strneq(*t, "label!=", 7)) {
            const char *eq = strchr(*t, '=');
            berth_error_set(&err, EINVAL, "invalid filter '%.*s'",
                            eq ? (int)(eq - *t) : (int)strlen(*t), *t);
            return cli_fail(err, 1);
        }
    }
    _cleanup_strv_free_ char **labels = NULL;
    STRV_FOREACH(t, filters)
    {
        if (strneq(*t, "label", 5)) {
            strv_push(&labels, *t);
        }
    }
    if (volume_label_terms_check(labels, &err) < 0) {
        return cli_fail(err, 1);
    }
    const char *warning =
        all ? "WARNING! This will remove all local volumes not used by at least one container."
            : "WARNING! This will remove anonymous local volumes not used by at least one "
              "container.";
    if (!force && !cli_confirm(warning)) {
        return 0;
    }
    struct store *s;
    _cleanup_strv_free_ char **removed = NULL;
    uint64_t reclaimed = 0;
    struct volume_prune_opts o = {.all = all, .labels = labels};
    if (cli_store(cli, &s, &err) < 0 || volume_prune(s, &o, &removed, &reclaimed, &err) < 0) {
        return cli_fail(err, 1);
    }
    if (removed && removed[0]) {
        printf("Deleted Volumes:\n");
        STRV_FOREACH(n, removed)
        {
            printf("%s\n", *n);
        }
        printf("\n");
    }
    _cleanup_free_ char *human = cli_human_size((double)reclaimed);
    printf("Total reclaimed space: %s\n", human);
    return 0;
}

int cmd_volume_export(struct cli *cli, int argc, char **argv)
{
    const char *output = NULL;
    const struct opt_def defs[] = {
        {"output", 'o', OPT_STRING, &output, "Write to a file, instead of STDOUT", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    /* 0600: a volume's files can be secrets whatever their own modes */
    return cli_write_archive(cli, output, 0600, args[0], volume_export);
}

int cmd_volume_import(struct cli *cli, int argc, char **argv)
{
    bool force = false;
    const struct opt_def defs[] = {
        {"force", 'f', OPT_BOOL, &force, "Replace the contents of a non-empty volume", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 2, 2, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    _cleanup_close_ int fd = -1;
    if (streq(args[1], "-")) {
        if (isatty(STDIN_FILENO)) {
            berth_error_set(&err, EINVAL,
                            "requested load from stdin, but stdin is empty (a terminal)");
            return cli_fail(err, 1);
        }
    } else {
        fd = open(args[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            berth_error_sys(&err, errno, "open '%s'", args[1]);
            return cli_fail(err, 1);
        }
    }
    struct store *s;
    if (cli_store(cli, &s, &err) < 0 ||
        volume_import(s, args[0], fd >= 0 ? fd : STDIN_FILENO, force, &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}
