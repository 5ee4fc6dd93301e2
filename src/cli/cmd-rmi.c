/* cmd-rmi.c - `berth rmi` / `image rm` and `image prune`: Docker's untag
 * semantics live in image_remove (images.h); this prints what it did. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/image/images.h"

/* rmi prints "Untagged: x" / "Deleted: sha256:.." as it goes. */
static void print_removed(const char *what, const char *value, _unused_ void *userdata)
{
    printf("%s: %s\n", what, value);
}

/* prune ("untagged: x", "deleted: sha256:..") lists under a header printed
 * only when something went, as Docker does: collected first. */
static void collect_removed(const char *what, const char *value, void *userdata)
{
    strbuf_addf(userdata, "%s: %s\n", what, value);
}

int cmd_rmi(struct cli *cli, int argc, char **argv)
{
    bool force = false, no_prune = false;
    const struct opt_def defs[] = {
        {"force", 'f', OPT_BOOL, &force, "Force removal of the image", NULL},
        {"no-prune", 0, OPT_BOOL, &no_prune, "Do not delete untagged parents", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    int code = 0;
    STRV_FOREACH(name, args)
    {
        err = NULL;
        if (image_remove(s, *name, force, print_removed, NULL, &err) < 0) {
            cli_fail(err, 1);
            code = 1;
        }
    }
    return code;
}

int cmd_image_prune(struct cli *cli, int argc, char **argv)
{
    bool all = false, force = false;
    _cleanup_strv_free_ char **filters = NULL;
    const struct opt_def defs[] = {
        {"all", 'a', OPT_BOOL, &all, "Remove all unused images, not just dangling ones", NULL},
        {"filter", 0, OPT_LIST, &filters, "Provide filter values (e.g. 'until=<timestamp>')", NULL},
        {"force", 'f', OPT_BOOL, &force, "Do not prompt for confirmation", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    if (filters && filters[0]) {
        struct berth_error *err = NULL;
        berth_error_set(&err, EINVAL, "image prune: filters are not supported yet ('%s')",
                        filters[0]);
        return cli_fail(err, 1);
    }
    const char *warning =
        all ? "WARNING! This will remove all images without at least one container associated "
              "to them."
            : "WARNING! This will remove all dangling images.";
    if (!force && !cli_confirm(warning)) {
        return 0;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct strbuf removed = STRBUF_INIT;
    uint64_t reclaimed = 0;
    r = image_prune(s, all, collect_removed, &removed, &reclaimed, &err);
    if (removed.len > 0) {
        printf("Deleted Images:\n%s\n", strbuf_str(&removed));
    }
    strbuf_release(&removed);
    if (r < 0) {
        return cli_fail(err, 1);
    }
    _cleanup_free_ char *human = cli_human_size((double)reclaimed);
    printf("Total reclaimed space: %s\n", human);
    return 0;
}

int cmd_tag(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 2, 2, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0 || image_tag(s, args[0], args[1], &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}
