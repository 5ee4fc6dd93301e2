/* terminal.h - the CLI side of an attached container or exec: raw mode,
 * window size, Docker's detach keys, and the loop that relays stdio.
 *
 * Raw mode: terminal_raw_enter() saves the terminal's state once and
 * registers an atexit() restore; terminal_session_run() also catches
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT (forwarding them with sig_proxy) so
 * that no signal leaves the user's terminal raw.
 *
 * Detach keys (Docker's syntax): a comma-separated list of keys, each a
 * single character or "ctrl-<c>" with <c> one of a-z @ [ \ ] ^ _; ""
 * means the default "ctrl-p,ctrl-q". Bytes that start the sequence are held
 * back until it either completes (detach: they are dropped) or breaks (they
 * are sent on), as Docker's escape proxy does.
 */
#ifndef BERTH_CLI_TERMINAL_H
#define BERTH_CLI_TERMINAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"

#define TERMINAL_DETACH_KEYS_DEFAULT "ctrl-p,ctrl-q"
#define TERMINAL_DETACH_KEYS_MAX 16

struct detach_keys {
    uint8_t seq[TERMINAL_DETACH_KEYS_MAX];
    size_t len, matched;
};
/* -EINVAL "Invalid detach keys (<spec>) provided" for a bad spec. */
int detach_keys_parse(const char *spec, struct detach_keys *ret, struct berth_error **err);
/* Filter n input bytes into out (room for n + TERMINAL_DETACH_KEYS_MAX);
 * returns how many to forward; *detached once the sequence completed. */
size_t detach_keys_filter(struct detach_keys *k, const uint8_t *in, size_t n, uint8_t *out,
                          bool *detached);

/* Put fd (a tty) in raw mode; a no-op returning false when it is not one. */
bool terminal_raw_enter(int fd);
/* Restore what terminal_raw_enter changed (idempotent). */
void terminal_restore(void);
/* The size of fd's terminal; false when it is not one. */
bool terminal_size(int fd, unsigned short *rows, unsigned short *cols);

/* One attached session. Exactly one output source: sock (the monitor's
 * attach protocol, monitor.h), master (an exec's pty), or out_fd/err_fd
 * (an exec's pipes, then pid is the process to wait for). */
struct terminal_session {
    int sock, master, in_fd, out_fd, err_fd;
    pid_t pid;                /* exec: reaped here; 0 for sock */
    bool forward_stdin;       /* our stdin to the container */
    bool tty;                 /* raw mode on our stdin, SIGWINCH -> resize */
    bool sig_proxy;           /* forward signals with signal(); else they end the session */
    struct detach_keys *keys; /* NULL: no detaching */
    /* Called with our terminal's size at start and on SIGWINCH (sock only;
     * a master is resized directly). */
    void (*resize)(void *ctx, unsigned short rows, unsigned short cols);
    void (*signal)(void *ctx, int sig);
    void *ctx;
};

enum terminal_end {
    TERMINAL_EXITED,   /* *ret_code is the process's exit code */
    TERMINAL_DETACHED, /* the detach keys were typed */
    TERMINAL_LOST,     /* the stream ended without an exit status */
    TERMINAL_SIGNALED, /* a signal ended it (no sig_proxy): *ret_code 128+sig */
};
enum terminal_end terminal_session_run(struct terminal_session *s, int *ret_code);

struct store;
/* A session on container id's attach socket (sock, closed here): resizes
 * go to its monitor (container_resize), proxied signals to the container
 * (container_kill). */
enum terminal_end terminal_attach_container(struct store *st, const char *id, int sock, bool tty,
                                            bool forward_stdin, bool sig_proxy,
                                            struct detach_keys *keys, int *ret_code);

#endif
