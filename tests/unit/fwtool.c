/* fwtool - drives net/firewall.h from tests/system/firewall.bats, which
 * checks the rules with real traffic between network namespaces. Test-only:
 * berth has no user-facing command for this. Prints the error and exits 1 on
 * failure.
 *   fwtool init | fini | blocked
 *   fwtool net-add|net-rm BRIDGE SUBNET4|- SUBNET6|- internal|public
 *   fwtool port-add|port-rm|port-check tcp|udp HOSTIP|- HOSTPORT[-LAST] CTRIP CTRPORT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "libberth/net/firewall.h"

static const char *opt(const char *s)
{
    return streq(s, "-") ? NULL : s;
}

static int parse_port(const char *s, struct fw_port *p)
{
    char *end;
    p->host_port = (uint16_t)strtoul(s, &end, 10);
    p->host_port_last = *end == '-' ? (uint16_t)strtoul(end + 1, NULL, 10) : 0;
    return 0;
}

int main(int argc, char **argv)
{
    struct berth_error *err = NULL;
    int r = -EINVAL;
    if (argc < 2) {
        fprintf(stderr, "usage: fwtool CMD ...\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (streq(cmd, "init")) {
        r = fw_init(&err);
    } else if (streq(cmd, "fini")) {
        r = fw_fini(&err);
        if (r >= 0) {
            printf("%s\n", r ? "deleted" : "kept");
        }
    } else if (streq(cmd, "blocked")) {
        char *where = NULL;
        r = fw_forward_blocked(&where, &err);
        if (r >= 0) {
            printf("%s\n", r ? where : "no");
        }
        free(where);
    } else if ((streq(cmd, "net-add") || streq(cmd, "net-rm")) && argc == 6) {
        struct fw_network n = {.bridge = argv[2],
                               .subnet4 = opt(argv[3]),
                               .subnet6 = opt(argv[4]),
                               .internal = streq(argv[5], "internal")};
        r = streq(cmd, "net-add") ? fw_network_add(&n, &err) : fw_network_remove(&n, &err);
    } else if ((streq(cmd, "port-add") || streq(cmd, "port-rm") || streq(cmd, "port-check")) &&
               argc == 7) {
        struct fw_port p = {.proto = streq(argv[2], "udp") ? FW_UDP : FW_TCP,
                            .host_ip = opt(argv[3]),
                            .container_ip = argv[5],
                            .container_port = (uint16_t)strtoul(argv[6], NULL, 10),
                            .endpoint = "fwtool"};
        parse_port(argv[4], &p);
        r = streq(cmd, "port-add")  ? fw_port_add(&p, &err)
            : streq(cmd, "port-rm") ? fw_port_remove(&p, &err)
                                    : fw_port_check_free(&p, &err);
    } else {
        fprintf(stderr, "fwtool: bad command\n");
        return 2;
    }
    if (r < 0) {
        fprintf(stderr, "Error: %s\n", err && err->msg ? err->msg : "failed");
        berth_error_free(err);
        return 1;
    }
    return 0;
}
