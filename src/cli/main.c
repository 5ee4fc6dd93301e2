/* main.c - the one berth binary: argv[0] or the first word picks the front end.
 *
 *   berth-runtime ...    the runc-compatible OCI runtime
 *   berth runtime ...    the same
 *   berth [GLOBAL FLAGS] COMMAND ...   the Docker-compatible CLI (cli.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/opts.h"
#include "basic/strv.h"
#include "cli/cli.h"
#include "runtime-cli/runtime-cli.h"

static int set_log_level(const char *level)
{
    static const struct {
        const char *name;
        enum log_level level;
    } levels[] = {
        {"debug", LOG_LEVEL_DEBUG}, {"info", LOG_LEVEL_INFO},   {"warn", LOG_LEVEL_WARN},
        {"error", LOG_LEVEL_ERROR}, {"fatal", LOG_LEVEL_ERROR},
    };
    for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
        if (streq(level, levels[i].name)) {
            log_set_level(levels[i].level);
            return 0;
        }
    }
    fprintf(stderr, "Unable to parse logging level: %s\n", level);
    return -EINVAL;
}

static int cli_main(int argc, char **argv)
{
    struct cli cli = {0};
    bool debug = false, version = false, help = false;
    const char *log_level = NULL;
    const struct opt_def defs[] = {
        {"root", 0, OPT_STRING, &cli.store_opts.root, NULL, NULL},
        {"runroot", 0, OPT_STRING, &cli.store_opts.runroot, NULL, NULL},
        {"storage-driver", 's', OPT_STRING, &cli.store_opts.driver, NULL, NULL},
        {"insecure-registry", 0, OPT_LIST, &cli.insecure, NULL, NULL},
        {"registry-mirror", 0, OPT_LIST, &cli.mirrors, NULL, NULL},
        {"certs-dir", 0, OPT_STRING, &cli.registry_opts.certs_dir, NULL, NULL},
        {"debug", 'D', OPT_BOOL, &debug, NULL, NULL},
        {"log-level", 'l', OPT_STRING, &log_level, NULL, NULL},
        {"version", 'v', OPT_BOOL, &version, NULL, NULL},
        {"help", 'h', OPT_BOOL, &help, NULL, NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_error_ struct berth_error *err = NULL;
    _cleanup_strv_free_ char **args = NULL;
    if (opts_parse(defs, argc - 1, argv + 1, 0, &args, &err) < 0) {
        fprintf(stderr, "%s\nSee 'berth --help'.\n", err->msg);
        return 125;
    }
    if (log_level && set_log_level(log_level) < 0) {
        return 125;
    }
    if (debug) {
        log_set_level(LOG_LEVEL_DEBUG);
    }
    /* Debug output of processes nobody watches (a monitor's exit handler,
     * whose stdio is /dev/null) goes to this file; they inherit it. */
    const char *debug_log = getenv("BERTH_DEBUG_LOG");
    if (debug_log && *debug_log && log_set_file(debug_log) >= 0) {
        log_set_level(LOG_LEVEL_DEBUG);
    }
    log_trace_point("cli: flags parsed");
    if (version) {
        printf("berth version %s\n", BERTH_VERSION);
        return 0;
    }
    if (help) {
        char *h[] = {(char *)"--help", NULL};
        return cli_dispatch(&cli, 1, h);
    }
    cli.registry_opts.insecure = cli.insecure;
    cli.registry_opts.mirrors = cli.mirrors;
    int code = cli_dispatch(&cli, (int)strv_length(args), args);
    store_free(cli.store);
    strv_free(cli.insecure);
    strv_free(cli.mirrors);
    fflush(stdout);
    return code;
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
    return cli_main(argc, argv);
}
