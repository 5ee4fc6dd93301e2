/* cmd-import.c - `berth import` / `image import`: a rootfs tarball (file or
 * "-") as a one-layer image (image_import, archive.h); prints its id. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/image/archive.h"

int cmd_import(struct cli *cli, int argc, char **argv)
{
    char **changes = NULL;
    const char *message = NULL, *platform = NULL;
    const struct opt_def defs[] = {
        {"change", 'c', OPT_LIST, &changes, "Apply Dockerfile instruction to the created image",
         NULL},
        {"message", 'm', OPT_STRING, &message, "Set commit message for imported image", NULL},
        {"platform", 0, OPT_STRING, &platform, "Set platform if server is multi-platform capable",
         NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    _cleanup_strv_free_ char **changes_owned = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 2, &args);
    changes_owned = changes;
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    const char *src = args[0];
    if (strneq(src, "http://", 7) || strneq(src, "https://", 8)) {
        berth_error_set(&err, ENOTSUP,
                        "importing from a URL is not supported: download it and "
                        "import the file");
        return cli_fail(err, 1);
    }
    _cleanup_close_ int fd = -1;
    if (!streq(src, "-")) {
        fd = open(src, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            berth_error_sys(&err, errno, "open %s", src);
            return cli_fail(err, 1);
        }
    }
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct image_import_options o = {
        .changes = changes,
        .message = message,
        .source = src,
        .platform = platform,
        .repository = args[1],
    };
    _cleanup_free_ char *id = NULL;
    if (image_import(s, fd >= 0 ? fd : STDIN_FILENO, &o, &id, &err) < 0) {
        return cli_fail(err, 1);
    }
    printf("%s\n", id);
    return 0;
}
