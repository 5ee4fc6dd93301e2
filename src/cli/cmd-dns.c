/* cmd-dns.c - the hidden `berth dns` mode: the embedded resolver process
 * (net/dns-server.h), started by dns_ensure_running(), never by users.
 *   berth dns [--runroot R]                        run the server
 *   berth dns update --records FILE [--runroot R]  replace the records and
 *       reload (tests and repair; the engine calls dns_records_update). */
#include <fcntl.h>
#include <string.h>

#include "basic/macro.h"
#include "cli/commands.h"
#include "libberth/common/json-util.h"
#include "libberth/net/dns-server.h"
#include "libberth/store/store.h"

int cmd_dns(struct cli *cli, int argc, char **argv)
{
    const char *runroot = cli->store_opts.runroot ? cli->store_opts.runroot : STORE_DEFAULT_RUNROOT;
    const char *records = NULL;
    bool update = argc >= 2 && streq(argv[1], "update");
    for (int i = update ? 2 : 1; i < argc; i++) {
        if (streq(argv[i], "--runroot") && i + 1 < argc) {
            runroot = argv[++i];
        } else if (streq(argv[i], "--records") && i + 1 < argc) {
            records = argv[++i];
        } else {
            fprintf(stderr, "berth dns: unexpected argument '%s'\n", argv[i]);
            return 125;
        }
    }
    struct berth_error *err = NULL;
    if (!update) {
        if (dns_server_run(runroot, &err) < 0) {
            return cli_fail(err, 1);
        }
        return 0;
    }
    if (!records) {
        fprintf(stderr, "berth dns update: --records FILE required\n");
        return 125;
    }
    json_t *doc = NULL;
    if (json_load_file_at(AT_FDCWD, records, 16u << 20, &doc, &err) < 0 ||
        dns_records_replace(runroot, doc, &err) < 0) {
        json_decref(doc);
        return cli_fail(err, 1);
    }
    json_decref(doc);
    return 0;
}
