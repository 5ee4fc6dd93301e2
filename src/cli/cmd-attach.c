/* cmd-attach.c - `berth attach`: the running container's output from now
 * on, our stdin to it, until it exits (its code) or the detach keys
 * (Docker prints "read escape sequence" and exits 1). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "basic/strv.h"
#include "cli/commands.h"
#include "cli/terminal.h"
#include "libberth/common/json-util.h"
#include "libberth/container/containers.h"
#include "libberth/container/lifecycle.h"

int cmd_attach(struct cli *cli, int argc, char **argv)
{
    bool no_stdin = false, sig_proxy = true;
    const char *detach_keys = NULL;
    const struct opt_def defs[] = {
        {"detach-keys", 0, OPT_STRING, &detach_keys,
         "Override the key sequence for detaching a container", NULL},
        {"no-stdin", 0, OPT_BOOL, &no_stdin, "Do not attach STDIN", NULL},
        {"sig-proxy", 0, OPT_BOOL, &sig_proxy, "Proxy all received signals to the process", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct detach_keys keys;
    if (detach_keys_parse(detach_keys, &keys, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    int sock = -1;
    _cleanup_free_ char *id = NULL;
    r = container_attach(s, args[0], &sock, &id, &err);
    if (r == -EINVAL) {
        berth_error_free(err);
        err = NULL;
        berth_error_set(&err, EINVAL, "You cannot attach to a stopped container, start it first");
    }
    if (r < 0) {
        return cli_fail(err, 1);
    }
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    if (container_record_get(s, id, &c, &err) < 0) {
        close(sock);
        return cli_fail(err, 1);
    }
    bool tty = json_is_true(json_object_get(c->body, "Tty"));
    bool forward = !no_stdin && json_is_true(json_object_get(c->body, "OpenStdin"));
    if (tty && forward && !isatty(STDIN_FILENO)) {
        close(sock);
        berth_error_set(&err, ENOTTY, "the input device is not a TTY");
        return cli_fail(err, 1);
    }
    int code = -1;
    /* With a tty, signals are keys the container's terminal turns into
     * signals itself (Docker: --sig-proxy is for non-TTY mode only). */
    enum terminal_end end =
        terminal_attach_container(s, id, sock, tty, forward, sig_proxy && !tty, &keys, &code);
    if (end == TERMINAL_DETACHED) {
        fprintf(stderr, "read escape sequence\n");
        return 1;
    }
    if (end == TERMINAL_LOST) {
        int wcode = 0;
        code = container_wait(s, id, &wcode, NULL) >= 0 ? wcode : 0;
    }
    return code < 0 ? 0 : code;
}
