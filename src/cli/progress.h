/* progress.h - Docker's pull/push progress display (the docker CLI's
 * jsonmessage.DisplayJSONMessagesStream), for `pull` and `push`.
 *
 * Two kinds of lines, as in Docker's JSON message stream:
 *   - messages: progress_message(p, id, text) prints "<id>: <text>" (or just
 *     "<text>" when id is NULL) on a line of its own. It also ends the block
 *     of per-layer lines: later statuses start a new block, as docker does
 *     between the tags of `pull -a`.
 *     pull: "latest: Pulling from library/busybox" (id "latest"),
 *           "Digest: sha256:...", "Status: Downloaded newer image for x:y";
 *     push: "The push refers to repository [docker.io/library/x]",
 *           "latest: digest: sha256:... size: 528".
 *   - per-id statuses: progress_status(p, id, "Pulling fs layer") and
 *     progress_bytes(p, id, "Downloading", current, total). id is the 12-hex
 *     short digest. On a terminal every id owns one line, redrawn in place
 *     (ANSI cursor up/erase line/cursor down, exactly the sequences docker
 *     writes) with a bar "[=====>    ]  1.049MB/2.145MB 3s" (the bar only
 *     when the terminal is wider than 110 columns, as docker). Not a
 *     terminal: statuses print as plain "<id>: <status>" lines and byte
 *     updates print nothing (docker drops them too).
 *     pull statuses: "Pulling fs layer", "Already exists", "Downloading"
 *     (bytes), "Verifying Checksum", "Download complete", "Extracting"
 *     (bytes), "Pull complete".
 *     push statuses: "Preparing", "Waiting", "Pushing" (bytes), "Pushed",
 *     "Layer already exists", "Mounted from library/x".
 *
 * Sizes are go-units HumanSize (4 significant digits, decimal: "2.145MB").
 * Byte updates on a terminal are redrawn at most every 100 ms per id (the
 * last one, current == total, always). Every call takes an internal lock:
 * push and pull may report from several threads. All output goes to the FILE
 * given to progress_new (stdout for pull/push), flushed after each call.
 */
#ifndef BERTH_CLI_PROGRESS_H
#define BERTH_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "basic/macro.h"

enum progress_mode {
    PROGRESS_AUTO,     /* terminal if isatty(fileno(out)), else plain */
    PROGRESS_PLAIN,    /* lines, no bars, no cursor movement */
    PROGRESS_TERMINAL, /* bars redrawn in place */
    PROGRESS_QUIET,    /* nothing at all (-q) */
};

struct progress;

struct progress *progress_new(FILE *out, enum progress_mode mode);
void progress_free(struct progress *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct progress *, progress_free)

/* Whether output redraws in place (the mode chosen after PROGRESS_AUTO). */
int progress_is_terminal(const struct progress *p);

/* A line of its own; id may be NULL. Ends the current block of id lines. */
void progress_message(struct progress *p, const char *id, const char *fmt, ...) _printf_(3, 4);

/* A status without byte counts for id ("Pull complete", "Pushed"). */
void progress_status(struct progress *p, const char *id, const char *status);

/* A status with bytes (total 0 when unknown): a bar on a terminal,
 * nothing otherwise. */
void progress_bytes(struct progress *p, const char *id, const char *status, uint64_t current,
                    uint64_t total);

/* go-units HumanSize: "2.145MB" (malloc'd). */
char *progress_human_size(double bytes);

#endif
