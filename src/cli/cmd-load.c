/* cmd-load.c - `berth load` / `image load`: images from a docker-archive or
 * OCI archive on stdin or -i FILE (image_load, archive.h), reported as
 * Docker reports them. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/image/archive.h"

static void print_loaded(const char *what, const char *value, const char *extra, void *userdata)
{
    bool quiet = *(bool *)userdata;
    if (streq(what, "renamed")) {
        if (!quiet) {
            printf("The image %s already exists, renaming the old one with ID %s to empty "
                   "string\n",
                   extra, value);
        }
        return;
    }
    /* Docker prints the loaded names even with -q. */
    printf("%s: %s\n", what, value);
    fflush(stdout);
}

int cmd_load(struct cli *cli, int argc, char **argv)
{
    const char *input = NULL;
    bool quiet = false;
    const struct opt_def defs[] = {
        {"input", 'i', OPT_STRING, &input, "Read from tar archive file, instead of STDIN", NULL},
        {"quiet", 'q', OPT_BOOL, &quiet, "Suppress the load output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    _cleanup_close_ int fd = -1;
    if (input && !streq(input, "-")) {
        fd = open(input, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            berth_error_sys(&err, errno, "open %s", input);
            return cli_fail(err, 1);
        }
    } else if (isatty(STDIN_FILENO)) {
        berth_error_set(&err, EINVAL, "requested load from stdin, but stdin is empty");
        return cli_fail(err, 1);
    }
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    if (image_load(s, fd >= 0 ? fd : STDIN_FILENO, print_loaded, &quiet, &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}
