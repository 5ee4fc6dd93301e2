/* cmd-boot.c - `berth system boot [--print-unit]`: after a reboot, start
 * every container whose restart policy asks for it (container_boot), and
 * print each one started, as Docker's daemon does at its start. With
 * --print-unit, print a systemd unit that runs it at boot with this
 * store's paths instead. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/container/lifecycle.h"

int cmd_system_boot(struct cli *cli, int argc, char **argv)
{
    bool print_unit = false;
    const struct opt_def defs[] = {
        {"print-unit", 0, OPT_BOOL, &print_unit, "Print a systemd unit that runs this at boot",
         NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    if (print_unit) {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        printf("[Unit]\n"
               "Description=Start berth containers with a restart policy\n"
               "Wants=network-online.target\n"
               "After=network-online.target local-fs.target\n"
               "\n"
               "[Service]\n"
               "Type=oneshot\n"
               "RemainAfterExit=yes\n"
               "ExecStart=%s --root %s --runroot %s system boot\n"
               "\n"
               "[Install]\n"
               "WantedBy=multi-user.target\n",
               n > 0 ? exe : "berth", s->root, s->runroot);
        return 0;
    }
    struct container_record **list = NULL;
    size_t ln = 0;
    if (container_record_list(s, &list, &ln, &err) < 0) {
        return cli_fail(err, 1);
    }
    int code = 0;
    for (size_t i = ln; i-- > 0;) { /* oldest first */
        bool started = false;
        if (container_boot(s, list[i]->id, &started, &err) < 0) {
            fprintf(stderr, "Error: start '%s': %s\n", list[i]->name,
                    err && err->msg ? err->msg : "failed");
            berth_error_free(err);
            err = NULL;
            code = 1;
        } else if (started) {
            printf("%s\n", list[i]->name);
        }
    }
    container_record_list_free(list, ln);
    return code;
}
