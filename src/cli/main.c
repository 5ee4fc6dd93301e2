/* main.c - the one berth binary: argv[0] or the first word picks the front end.
 *
 *   berth-runtime ...    the runc-compatible OCI runtime
 *   berth runtime ...    the same
 *   berth ...            the Docker-compatible CLI
 */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "runtime-cli/runtime-cli.h"

static int usage(FILE *f)
{
    fprintf(f, "Usage:  berth [OPTIONS] COMMAND\n\n"
               "A fast, daemonless, Docker-compatible container engine\n\n"
               "Commands:\n"
               "  runtime     Run the OCI runtime (runc-compatible; also installed as "
               "berth-runtime)\n"
               "  version     Show the berth version information\n");
    return f == stderr ? 125 : 0;
}

int main(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (streq(self, "berth-runtime")) {
        return runtime_cli_main(argc, argv);
    }
    if (argc >= 2 && streq(argv[1], "runtime")) {
        argv[1] = argv[0];
        return runtime_cli_main(argc - 1, argv + 1);
    }
    if (argc >= 2 &&
        (streq(argv[1], "version") || streq(argv[1], "--version") || streq(argv[1], "-v"))) {
        printf("berth version %s\n", BERTH_VERSION);
        return 0;
    }
    if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help"))) {
        return usage(stdout);
    }
    if (argc >= 2) {
        fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", argv[1]);
        return 125;
    }
    return usage(stderr);
}
