/* monitor.h - the per-container monitor: what stays resident while a
 * container runs, and how berth talks to it.
 *
 * Why a separate freestanding program. The monitor must outlive the CLI,
 * hold the container's stdio, write its logs, serve attach, and notice its
 * exit, for days, for every running container: its resident size is the
 * engine's idle cost (issue 4: under 1 MB RSS; conmon is ~1.9 MB). A glibc
 * process is ~1.4 MB RSS before doing anything, berth itself ~3 MB. So
 * berth does the heavy work (store, runtime create) in a normal process and
 * then execs the monitor stub (monitor-stub.c: no libc, static, embedded in
 * berth like the exec stub, run from a sealed memfd). The stub's memory is
 * a few static buffers.
 *
 * Lifetime:
 *   berth start/run (CLI) -- fork, setsid, fork --> monitor (full berth):
 *       berth_runtime_create(bundle) with the container's stdio = pipes (or
 *       a pty), as the init's parent and a child subreaper;
 *       execveat(stub) with the fds and arguments below.
 *   stub: writes "R" to the ready fd (the CLI waits for it), then loops:
 *       container output -> json-file log + every attached client;
 *       attached clients' input -> container stdin;
 *       wait4() for the init (and reaps any other child: subreaper).
 *   at the init's exit: drains output, sends each client the exit frame,
 *       then execveat(berth fd, "berth", "container-exited", <id>,
 *       <wait status>, ...) — a full berth process again, which records the
 *       exit (state.json), deletes the runtime state, unmounts, applies the
 *       restart policy (starting the container again: a new stub) or, for
 *       AutoRemove, removes the container, and exits.
 * Killing the stub with SIGKILL leaves the container running without logs
 * or exit record; `ps` and `inspect` then report what the runtime state and
 * /proc say, and `rm -f` cleans up (issue 4, reliability).
 *
 * Stub arguments (argv, all decimal strings or "-" for none):
 *   argv[0]  "berth-monitor"
 *   argv[1]  container id (64 hex; used in log lines and messages)
 *   argv[2]  init pid (a child of this process)
 *   argv[3]  fd: container stdout (read end of a pipe, or the pty master)
 *   argv[4]  fd: container stderr (read end) or "-" with a tty
 *   argv[5]  fd: container stdin (write end, or the pty master) or "-"
 *   argv[6]  fd: listening unix socket for attach clients
 *   argv[7]  fd: directory of the log file, or "-" for log driver "none"
 *   argv[8]  log file name in that directory (monitor_log_name())
 *   argv[9]  log max size in bytes ("0": no rotation)
 *   argv[10] log max files (>= 1)
 *   argv[11] fd: ready pipe (write end): "R" once listening, then closed
 *   argv[12] fd: berth binary (O_PATH) for the exit handler
 *   argv[13] 1 if stdin closes after the first attached client detaches
 *            (StdinOnce), else 0
 *   argv[14] fd: bound datagram unix socket for control messages, or "-"
 *            (see "Control messages" below)
 *   argv[15] health check interval in milliseconds, "0" for none: every
 *            interval the stub forks and execs `berth container-health
 *            <id> <extra arguments>` (health.h), unless the previous
 *            check is still running; it reaps it like any other child
 *   argv[16] log format: "json-file" or "k8s-file"
 *   argv[17...] extra arguments passed through to the exit handler after
 *            the wait status (the store's --root and --runroot).
 * Every other fd is closed by the stub at start.
 *
 * Log lines (Docker's json-file driver, so `logs` and the API serve them
 * unchanged): one JSON object per line of output,
 *   {"log":"<text incl. \n>","stream":"stdout"|"stderr","time":"<RFC 3339
 *   UTC with 9 fraction digits>"}
 * a line longer than 16 KiB is split into 16 KiB pieces without "\n"
 * (Docker's partial messages); output without a final newline is flushed
 * as its own entry when the container exits or after it stalls briefly.
 * JSON escaping as Go's encoding/json does (\" \\ \n \r \t, \u00XX for
 * other control bytes, \u003c \u003e \u0026 for < > &, invalid UTF-8 as
 * \ufffd). Rotation: when the file would exceed max size, <name>.1 ..
 * <name>.<max-1> shift up and a new file starts (Docker's scheme).
 *
 * With log driver k8s-file (podman's; the CRI log format) each record is
 *   <RFC 3339 UTC time, 9 fraction digits> <stdout|stderr> <F|P> <text>\n
 * the text raw, without its newline: F closes a line, P is a piece of one
 * (the same 16 KiB split and stall flush as above) that the next record of
 * the stream continues. Rotation as for json-file.
 *
 * Attach protocol (unix stream socket; several clients at once, capped):
 * the stub sends output in Docker's multiplexed stream format (so the API
 * server can forward it unchanged): frames of an 8-byte header {stream: 1
 * stdout, 2 stderr; 3 zero bytes; uint32 big-endian length} and the
 * payload; with a tty, stream 1 only. After the container exits and its
 * output is drained, the stub sends one frame with stream 255 and a 4-byte
 * big-endian payload: the wait status (as wait4 returns it), then closes.
 * Bytes a client writes go to the container's stdin; a client's
 * shutdown(SHUT_WR) is its end of input (closes the container's stdin when
 * StdinOnce, without a tty only: a tty client that detaches leaves the
 * container's input open for the next, as Docker does). Output produced while no client is attached
 * is logged only (clients see what comes after they connect; the CLI connects before `start`). A
 * client that does not read is dropped rather than stall the container (a bounded per-client
 * buffer).
 *
 * Control messages (the datagram socket, "ctl.sock" next to attach.sock).
 * An attach client's bytes are the container's raw stdin, so nothing can
 * be told apart in that stream; a window size travels here instead. Each
 * datagram is 8 bytes: {type, 0, rows (uint16 big-endian), cols (uint16
 * big-endian), 0, 0}. Type 1 (MONITOR_CTL_RESIZE) sets the pty's window
 * size (TIOCSWINSZ on the master: the kernel sends SIGWINCH to the
 * container's foreground process group); without a tty it is ignored, as
 * are other types and sizes. Type 2 (MONITOR_CTL_HANDOFF) carries one fd
 * (SCM_RIGHTS): the read end of a pipe whose write end the sender keeps.
 * It hands the exit handling to the sender: the exit frame then has 1 in
 * its second header byte, and instead of exec'ing the exit handler the
 * stub waits on the pipe; "D" means the sender has done what
 * container-exited would (container_exited()) and the stub just exits;
 * EOF (the sender died) runs the exit handler as usual. A foreground
 * `run` uses it: it holds the store open already, so handling the exit
 * itself spares a whole berth process (about 2 ms) per run. A datagram socket needs no per-client
 * state in the stub; its file is 0600 in the 0700 bundle directory, so only the container's owner
 * can resize.
 */
#ifndef BERTH_CONTAINER_MONITOR_H
#define BERTH_CONTAINER_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"

#define MONITOR_STREAM_STDIN 0
#define MONITOR_STREAM_STDOUT 1
#define MONITOR_STREAM_STDERR 2
#define MONITOR_STREAM_EXIT 255
#define MONITOR_LOG_PARTIAL_MAX (16 * 1024)
#define MONITOR_CTL_RESIZE 1
#define MONITOR_CTL_HANDOFF 2
#define MONITOR_CTL_MSG_SIZE 8

enum monitor_log_format {
    MONITOR_LOG_JSON_FILE = 0, /* Docker's json-file */
    MONITOR_LOG_K8S_FILE = 1,  /* podman's k8s-file */
};

/* The stub program, embedded at build time (tools/bin2c.py). */
extern const unsigned char berth_monitor_stub[];
extern const size_t berth_monitor_stub_len;

/* The stub's argv as fields (see "Stub arguments" above); fds are -1 for
 * none ("-"). Every fd listed here is passed to the stub as is (its
 * close-on-exec flag is cleared); all others are closed by the stub. */
struct monitor_stub_args {
    const char *id;         /* argv[1] */
    pid_t init_pid;         /* argv[2], a child of the calling process */
    int stdout_fd;          /* argv[3], read end or pty master */
    int stderr_fd;          /* argv[4], -1 with a tty */
    int stdin_fd;           /* argv[5], write end, pty master or -1 */
    int listen_fd;          /* argv[6] */
    int log_dirfd;          /* argv[7], -1: no log (driver "none") */
    const char *log_name;   /* argv[8], a plain file name */
    uint64_t log_max_size;  /* argv[9], 0: no rotation */
    unsigned log_max_files; /* argv[10], 0 is taken as 1 */
    int ready_fd;           /* argv[11], -1: nobody waits */
    int berth_fd;           /* argv[12], O_PATH of the berth binary */
    bool stdin_once;        /* argv[13] */
    /* argv[14]; <= 2 means none: fds 0-2 are the stub's own stdio, never a
     * control socket, so a zero-initialised field is "none". */
    int ctl_fd;
    uint64_t health_interval_ms;        /* argv[15], 0: no health check */
    enum monitor_log_format log_format; /* argv[16] */
    /* argv[17]; <= 2 means none. Held until the stub exits (or execs the
     * exit handler): an fd of the container's mount namespace, so that its
     * teardown (an unmount of every mount, an RCU grace period) is not
     * part of the init's exit, which the caller waits for, nor of the
     * caller's cleanup, whose unmount would wait for it; it runs as the
     * monitor goes, after the handed-off exit is done. */
    int hold_fd;
    const char *const *extra; /* argv[18...], NULL-terminated; may be NULL */
};

/* A container's log file in <root>/containers/<id>/ for its HostConfig
 * LogConfig Type: NULL or "" (Docker's default) and "json-file":
 * "<id>-json.log"; "k8s-file": "<id>-k8s.log". NULL for "none" and any
 * other driver (create refuses those: monitor_log_driver_supported). */
char *monitor_log_name(const char *id, const char *driver, enum monitor_log_format *ret_format);
/* Whether berth has the log driver: "", json-file, k8s-file, none. */
bool monitor_log_driver_supported(const char *driver);

/* Replaces the calling process with the monitor stub, run from a sealed
 * memfd (so, like the exec stub, the resident program is not berth's
 * binary). The caller must be the init's parent (and should be a child
 * subreaper); the process's environment is passed through to the exit
 * handler. Returns only on failure (-errno). */
int monitor_exec_stub(const struct monitor_stub_args *a, struct berth_error **err);

#endif
