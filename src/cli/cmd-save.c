/* cmd-save.c - `berth save` / `image save`: images to a tar archive, on
 * stdout or atomically into -o FILE (image_save, archive.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/image/archive.h"

int cmd_save(struct cli *cli, int argc, char **argv)
{
    const char *output = NULL, *format = NULL;
    const struct opt_def defs[] = {
        {"output", 'o', OPT_STRING, &output, "Write to a file, instead of STDOUT", NULL},
        {"format", 0, OPT_STRING, &format,
         "Archive format: docker-archive (default) or oci-archive", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, CLI_ANY, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    enum image_archive_format fmt = IMAGE_ARCHIVE_DOCKER;
    if (format && image_archive_format_parse(format, &fmt, &err) < 0) {
        return cli_fail(err, 125);
    }
    bool to_stdout = !output || streq(output, "-");
    struct store *s;
    int code = cli_archive_open(cli, output, &s);
    if (code) {
        return code;
    }
    size_t n = strv_length(args);
    if (to_stdout) {
        r = image_save(s, args, n, fmt, STDOUT_FILENO, &err);
    } else {
        r = image_save_file(s, args, n, fmt, output, &err);
    }
    if (r < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}
