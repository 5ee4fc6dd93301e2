/* opts.h - table-driven command-line flags for every front end.
 *
 * Two dialects, because berth answers to two kinds of callers:
 *  - OPTS_GO: Go's flag package, as runc is driven by containerd, podman and
 *    dockerd: "-flag", "--flag", "-flag=v", "--flag v", bools "--flag=false".
 *  - default: POSIX/pflag, as the docker CLI: "-abc" bundles, "-p8080:80",
 *    "--flag=v", "--flag v".
 * Parsing stops at the first positional argument unless OPTS_INTERSPERSED;
 * "--" always ends the flags. Positionals are returned as a new strv.
 */
#ifndef BERTH_BASIC_OPTS_H
#define BERTH_BASIC_OPTS_H

#include <stdbool.h>

#include "error.h"

enum opt_type {
    OPT_BOOL,   /* bool *        */
    OPT_STRING, /* const char ** (points into argv) */
    OPT_LIST,   /* char ***      (strv, repeated flags append) */
    OPT_INT,    /* int *         */
};

enum opts_flags {
    OPTS_GO = 1 << 0,
    OPTS_INTERSPERSED = 1 << 1,
};

struct opt_def {
    const char *name; /* long name without dashes ("bundle"), NULL ends the table */
    char shortc;      /* single-letter alias or 0 */
    enum opt_type type;
    void *dest;
    const char *help; /* one line for --help; NULL hides the flag */
    bool *seen;       /* optional: set when the flag appears */
};

/* Parse argv[0..argc) (argv[0] is a flag or positional, not the program name).
 * Unknown flags fail with "unknown flag: --x". */
int opts_parse(const struct opt_def *defs, int argc, char **argv, unsigned flags, char ***ret_args,
               struct berth_error **err);
/* Append "  -b, --bundle string   help" lines for visible flags. */
void opts_usage(const struct opt_def *defs, int fd);

#endif
