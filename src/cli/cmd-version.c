/* cmd-version.c - `berth version`: Docker's layout (a Client and a Server
 * section, or --format over the same document). berth has no daemon: the
 * "server" is the same program, which works on the store directly; its
 * section says so rather than name a daemon that is not there. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/common/json-util.h"

#define API_VERSION "1.41"

static const char *go_arch(const char *machine)
{
    static const struct {
        const char *uname, *go;
    } map[] = {{"x86_64", "amd64"},   {"aarch64", "arm64"},   {"i686", "386"},
               {"armv7l", "arm"},     {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
               {"riscv64", "riscv64"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (streq(machine, map[i].uname)) {
            return map[i].go;
        }
    }
    return machine;
}

int cmd_version(struct cli *cli, int argc, char **argv)
{
    const char *format = NULL;
    const struct opt_def defs[] = {
        {"format", 'f', OPT_STRING, &format, "Format the output using the given Go template", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 0, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct utsname u;
    uname(&u);
    const char *arch = go_arch(u.machine);
    _cleanup_json_ json_t *doc = json_pack(
        "{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s}}", "Client", "Platform",
        "berth", "Version", BERTH_VERSION, "ApiVersion", API_VERSION, "DefaultAPIVersion",
        API_VERSION, "Os", "linux", "Arch", arch, "Context", "default", "Server", "Version",
        BERTH_VERSION, "ApiVersion", API_VERSION, "MinAPIVersion", "1.12", "Os", "linux", "Arch",
        arch, "KernelVersion", u.release, "Daemon", "none: the CLI works on the store directly");
    if (format && *format) {
        json_t *rows = json_array();
        json_array_append(rows, doc);
        int code = cli_print_rows(format, format, NULL, rows);
        json_decref(rows);
        return code;
    }
    printf("Client:\n"
           " Version:           %s\n"
           " API version:       %s\n"
           " OS/Arch:           linux/%s\n"
           " Context:           default\n"
           "\n"
           "Server: berth (no daemon: the CLI works on the store directly)\n"
           " Engine:\n"
           "  Version:          %s\n"
           "  API version:      %s (minimum version 1.12)\n"
           "  OS/Arch:          linux/%s\n"
           "  Kernel Version:   %s\n",
           BERTH_VERSION, API_VERSION, arch, BERTH_VERSION, API_VERSION, arch, u.release);
    return 0;
}
