/* cli.h - the Docker-compatible front end: global state, the command table,
 * and the few helpers every cmd-<name>.c uses.
 *
 * main.c parses the global flags (--root, --runroot, --storage-driver,
 * --insecure-registry, --registry-mirror, --certs-dir, -D/--debug,
 * --log-level), then finds the command in the table (cli.c): a top-level
 * word ("images", "pull") or a management group and its subcommand
 * ("image ls"). The command function gets argv starting at its own name
 * (argv[0] = "pull") and returns the process exit code.
 *
 * A command parses its flags with cli_parse() (POSIX/pflag dialect,
 * interspersed, "--help" prints its usage), calls one libberth function,
 * prints what Docker prints, and on failure calls cli_fail() once. Exit
 * codes as Docker's CLI: 0, 1 for a failed operation and for a wrong number
 * of arguments, 125 for unknown flags and bad flag values.
 */
#ifndef BERTH_CLI_CLI_H
#define BERTH_CLI_CLI_H

#include <jansson.h>
#include <stdio.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>

#include "basic/error.h"
#include "basic/opts.h"
#include "libberth/image/registry.h"
#include "libberth/store/store.h"

struct cli_command;

struct cli {
    const struct cli_command *cmd; /* the command being run (set by cli_dispatch) */
    struct store_options store_opts;
    struct registry_options registry_opts;
    struct store *store; /* opened on the first cli_store() */
    char **insecure, **mirrors;
};

typedef int (*cli_cmd_fn)(struct cli *cli, int argc, char **argv);

struct cli_command {
    const char *path;    /* "images", "image ls": words as typed */
    const char *usage;   /* "[OPTIONS] [REPOSITORY[:TAG]]" */
    const char *summary; /* one line, for --help listings */
    cli_cmd_fn fn;
};

/* The table, ended by a NULL path (cli.c). */
extern const struct cli_command cli_commands[];

/* Run the command named by argv (after the global flags). */
int cli_dispatch(struct cli *cli, int argc, char **argv);

/* The store, opened once with the global options. On failure prints the
 * error and returns a negative errno (callers `return 1`... use
 * cli_store_or_fail). */
int cli_store(struct cli *cli, struct store **ret, struct berth_error **err);

#define CLI_ANY SIZE_MAX

/* Parse the current command's flags (defs may be NULL). argv[0] is the
 * command name. Returns 0 and the positionals (a strv), or an exit code > 0
 * after printing Docker's message:
 *   unknown flag / bad value: "unknown flag: --x\nSee 'berth pull --help'." (125)
 *   too few / many positionals: "\"berth pull\" requires exactly 1
 *     argument.\nSee 'berth pull --help'.\n\nUsage:  berth pull [OPTIONS] NAME..."
 *     (1); max_args CLI_ANY means no upper bound;
 *   --help (or -h unless a flag uses it): usage on stdout, returns -1: the
 *     command then returns 0. Typical use:
 *       r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
 *       if (r) return r < 0 ? 0 : r; */
int cli_parse(struct cli *cli, const struct opt_def *defs, int argc, char **argv, size_t min_args,
              size_t max_args, char ***ret_args);

/* Pull an image with docker pull's output to out (stdout for `pull`, which
 * then also prints the full name; stderr for run/create). */
int cli_pull_image(struct cli *cli, const char *name, const char *platform, bool quiet, FILE *out,
                   struct berth_error **err);

/* Run fn on every argument, as Docker's multi-container commands do: the
 * name as given on stdout after each success (print), "Error: ..." for
 * each failure, exit 1 if any failed. */
typedef int (*cli_each_fn)(struct store *s, const char *name, void *ud, struct berth_error **err);
int cli_for_each(struct cli *cli, char **args, bool print, cli_each_fn fn, void *ud);

/* The loop of every `inspect` command: get(s, name, ud, &json, err) gives
 * each argument's object; all are printed as one JSON array (Docker's), or
 * each through the --format template (format NULL or "": the array). An
 * argument that fails prints "Error: ..." and makes the exit code 1; a
 * template that fails to parse or run stops with 1. */
typedef int (*cli_inspect_fn)(struct store *s, const char *name, void *ud, json_t **ret,
                              struct berth_error **err);
int cli_inspect(struct cli *cli, const char *format, char **args, cli_inspect_fn get, void *ud);

/* What every archive writer starts with: refuse a terminal as the output
 * (output NULL or "-" is stdout), open the store. 0, or the exit code with
 * the error printed. */
int cli_archive_open(struct cli *cli, const char *output, struct store **ret);

/* The output of `export`-like commands: a tar stream from
 * write(s, name, fd, err) to stdout, or with -o FILE into a temp file
 * beside FILE (of that mode) renamed over it once whole, so a failure
 * leaves no half archive. A terminal stdout is refused as `docker save`
 * does. Returns the exit code. */
typedef int (*cli_archive_fn)(struct store *s, const char *name, int fd, struct berth_error **err);
int cli_write_archive(struct cli *cli, const char *output, mode_t mode, const char *name,
                      cli_archive_fn write);

/* Docker's prune prompt: "<warning>\nAre you sure you want to continue?
 * [y/N] "; true when the answer starts with y or Y. */
bool cli_confirm(const char *warning);

/* Print "Error: <message>" to stderr and free err; returns code. */
int cli_fail(struct berth_error *err, int code);

/* Print a JSON value as Docker's inspect does: a 4-space indented array. */
void cli_print_json(json_t *j);

/* Render rows (array of objects) with --format (Go template; "table ..."
 * with headers; NULL/"" means default_table) and print them. Returns 0 or
 * an exit code after printing the template error. */
int cli_print_rows(const char *format, const char *default_table, json_t *header_map, json_t *rows);

/* Docker's human units: "1.24MB" (units.HumanSizeWithPrecision, 3
 * significant digits, decimal), and "2 hours ago" (units.HumanDuration). */
char *cli_human_size(double bytes);
/* Unix seconds of an RFC 3339 UTC time as image configs carry ("created");
 * 0 when absent or unreadable. */
long long cli_parse_time(const char *rfc3339);
char *cli_human_duration_ago(long long seconds);

#endif
