/* health.h - Docker's container health checks.
 *
 * The check is Healthcheck from the ContainerCreate body over the image's
 * (a body field left empty or zero takes the image's): Test ["NONE"] (no
 * check), ["CMD", args...] or ["CMD-SHELL", "command"] (run by /bin/sh
 * -c), Interval, Timeout, StartPeriod in nanoseconds (Docker's defaults
 * 30 s, 30 s, 0) and Retries (default 3).
 *
 * Who runs it: the container's monitor stub has a timer of Interval
 * (monitor.h, argv "health interval"); each tick, unless the previous
 * check still runs, it forks and execs `berth container-health <id>`,
 * which calls container_health_run(): one check, run inside the container
 * with the runtime's exec, killed after Timeout, and the result merged into
 * <root>/containers/<id>/health.json (written atomically: a reader sees the
 * old or the new file). Docker's rules: exit code 0 is healthy (streak
 * back to 0); anything else (or the timeout, exit code -1) adds to
 * FailingStreak unless the container is still in its StartPeriod, and
 * Retries failures in a row make it unhealthy. Log keeps the last 5
 * results {Start, End, ExitCode, Output (at most 4096 bytes)}.
 *
 * Each start of the container starts a new history: the file records the
 * StartedAt of the run it belongs to, and a file from an earlier run reads
 * as {Status "starting", FailingStreak 0, Log []}.
 */
#ifndef BERTH_CONTAINER_HEALTH_H
#define BERTH_CONTAINER_HEALTH_H

#include <jansson.h>
#include <stdint.h>

#include "basic/error.h"
#include "libberth/container/containers.h"
#include "libberth/store/store.h"

#define HEALTH_DEFAULT_INTERVAL_NS (30LL * 1000000000LL)
#define HEALTH_DEFAULT_TIMEOUT_NS (30LL * 1000000000LL)
#define HEALTH_DEFAULT_RETRIES 3
#define HEALTH_LOG_MAX 5
#define HEALTH_OUTPUT_MAX 4096

struct container_healthcheck {
    char **test; /* the full Test array; NULL or ["NONE"]: no check */
    int64_t interval_ns, timeout_ns, start_period_ns;
    int retries;
};
void container_healthcheck_release(struct container_healthcheck *h);

/* The effective check of a container (body over image). 0 with h->test
 * NULL when the container has none. */
int container_healthcheck_get(struct store *s, const struct container_record *c,
                              struct container_healthcheck *ret, struct berth_error **err);

/* Milliseconds between checks for the monitor; 0: no check. */
uint64_t container_health_interval_ms(struct store *s, const struct container_record *c);

/* Run one check now and record it (the `berth container-health` command). */
int container_health_run(struct store *s, const char *id, struct berth_error **err);

/* Docker's State.Health object {Status, FailingStreak, Log} for the run
 * that started at started_at, or NULL when the container has no check. */
json_t *container_health_json(struct store *s, const struct container_record *c,
                              const char *started_at);

/* "healthy", "unhealthy", "starting" or NULL (no check): what `ps` shows
 * and filters on. Returns a static string. */
const char *container_health_status(struct store *s, const struct container_record *c,
                                    const char *started_at);

#endif
