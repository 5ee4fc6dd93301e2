/* cmd-health.c - `berth container-health ID [--root R --runroot RR]`: one
 * health check of a running container, run by its monitor every Interval
 * (health.h). Hidden: not for users, so it prints nothing on success. */
#include <stdio.h>
#include <string.h>

#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/container/health.h"

int cmd_container_health(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        return 2;
    }
    /* The monitor passes the store's paths after the id. */
    for (int i = 2; i + 1 < argc; i += 2) {
        if (streq(argv[i], "--root")) {
            cli->store_opts.root = argv[i + 1];
        } else if (streq(argv[i], "--runroot")) {
            cli->store_opts.runroot = argv[i + 1];
        }
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0 || container_health_run(s, argv[1], &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}
