/* cmd-version.c - `berth version`. */
#include <stdio.h>

#include "basic/strv.h"
#include "cli/commands.h"

int cmd_version(struct cli *cli, int argc, char **argv)
{
    char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    strv_free(args);
    printf("berth version %s\n", BERTH_VERSION);
    return 0;
}
