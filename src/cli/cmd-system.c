/* cmd-system.c - `berth system check`: repair what a crash left behind;
 * `berth system reset`: remove everything of the store (system.h).
 *
 * Docker has no such command; berth has no daemon to notice a killed
 * monitor, so this is where leases, veths, published ports and DNS records
 * of containers that no longer run are reclaimed (network-attach.h). Safe
 * to run at any time: running containers are left alone. */
#include <stdio.h>

#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/container/network-attach.h"
#include "libberth/container/system.h"

int cmd_system_check(struct cli *cli, int argc, char **argv)
{
    bool quiet = false;
    const struct opt_def defs[] = {
        {"quiet", 'q', OPT_BOOL, &quiet, "Print nothing when there is nothing to report", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    struct network_attach_check c = {0};
    if (cli_store(cli, &s, &err) < 0 || network_attach_check(s, &c, &err) < 0) {
        return cli_fail(err, 1);
    }
    if (!quiet || c.leases || c.links || c.containers) {
        printf("Reclaimed: %zu container(s) network state, %zu lease(s), %zu link(s)\n",
               c.containers, c.leases, c.links);
    }
    return 0;
}

int cmd_system_reset(struct cli *cli, int argc, char **argv)
{
    bool force = false;
    const struct opt_def defs[] = {
        {"force", 'f', OPT_BOOL, &force, "Do not prompt for confirmation", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    if (!force && !cli_confirm("WARNING! This will remove:\n"
                               "        - all containers\n"
                               "        - all images\n"
                               "        - all networks, and the default network's bridge\n"
                               "        - all volumes")) {
        return 0;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    cli->store = NULL; /* system_reset frees it */
    if (system_reset(s, &err) < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}
