/* cmd-login.c - `berth login` and `berth logout`, with Docker's flags,
 * prompts and messages. Credentials are checked against the registry
 * (GET /v2/ with them, through the token server if it has one) before
 * anything is stored (auth.h), so a wrong password leaves the file as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/image/auth.h"
#include "libberth/image/registry.h"

#define SECRET_MAX 65536

/* "https://host:port/v1/" -> "host:port"; Docker Hub's names -> "docker.io". */
static char *server_domain(const char *server)
{
    const char *p = server;
    if (strncasecmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strncasecmp(p, "http://", 7) == 0) {
        p += 7;
    }
    char *d = xstrndup(p, strcspn(p, "/"));
    if (streq(d, "index.docker.io") || streq(d, "registry-1.docker.io")) {
        free(d);
        d = xstrdup("docker.io");
    }
    return d;
}

/* Docker shows the Hub as its index URL. */
static const char *server_display(const char *domain)
{
    return streq(domain, "docker.io") ? "https://index.docker.io/v1/" : domain;
}

static char *read_line(FILE *f, bool echo)
{
    struct termios old, quiet;
    bool restore = false;
    if (!echo && isatty(fileno(f)) && tcgetattr(fileno(f), &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        restore = tcsetattr(fileno(f), TCSAFLUSH, &quiet) == 0;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (restore) {
        tcsetattr(fileno(f), TCSAFLUSH, &old);
        fputc('\n', stdout);
    }
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    return line;
}

int cmd_login(struct cli *cli, int argc, char **argv)
{
    const char *user = NULL, *password = NULL;
    bool password_stdin = false;
    const struct opt_def defs[] = {
        {"password", 'p', OPT_STRING, &password, "Password", NULL},
        {"password-stdin", 0, OPT_BOOL, &password_stdin, "Take the password from stdin", NULL},
        {"username", 'u', OPT_STRING, &user, "Username", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 0, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    if (password && password_stdin) {
        berth_error_set(&err, EINVAL, "--password and --password-stdin are mutually exclusive");
        return cli_fail(err, 1);
    }
    if (password_stdin && !user) {
        berth_error_set(&err, EINVAL, "Must provide --username with --password-stdin");
        return cli_fail(err, 1);
    }
    if (password) {
        fprintf(stderr,
                "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    }
    _cleanup_free_ char *domain = server_domain(args && args[0] ? args[0] : "docker.io");
    _cleanup_free_ char *user_buf = NULL;
    char *secret = NULL;
    if (password_stdin) {
        size_t len = 0;
        r = read_fd_full(STDIN_FILENO, SECRET_MAX, &secret, &len, &err);
        if (r < 0) {
            return cli_fail(err, 1);
        }
        /* Docker trims the trailing newline(s) of what was piped in. */
        while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r')) {
            secret[--len] = '\0';
        }
    } else if (password) {
        secret = xstrdup(password);
    }
    if (!user || !secret) {
        if (!isatty(STDIN_FILENO)) {
            auth_secret_free(secret);
            berth_error_set(&err, ENOTTY,
                            "Cannot perform an interactive login from a non TTY "
                            "device");
            return cli_fail(err, 1);
        }
        if (!user) {
            printf("Username: ");
            fflush(stdout);
            user = user_buf = read_line(stdin, true);
        }
        if (user && !secret) {
            printf("Password: ");
            fflush(stdout);
            secret = read_line(stdin, false);
        }
    }
    if (!user || !*user) {
        auth_secret_free(secret);
        berth_error_set(&err, EINVAL, "Username is required");
        return cli_fail(err, 1);
    }
    if (!secret || !*secret) {
        auth_secret_free(secret);
        berth_error_set(&err, EINVAL, "Password is required");
        return cli_fail(err, 1);
    }
    struct registry_options o = cli->registry_opts;
    o.username = user;
    o.password = secret;
    _cleanup_(registry_freep) struct registry *reg = NULL;
    r = registry_new(domain, &o, &reg, &err);
    if (r >= 0) {
        r = registry_ping(reg, &err);
    }
    if (r >= 0) {
        r = auth_set(domain, user, secret, &err);
    }
    auth_secret_free(secret);
    if (r < 0) {
        berth_error_prefix(&err, "login '%s'", domain);
        return cli_fail(err, 1);
    }
    printf("Login Succeeded\n");
    return 0;
}

int cmd_logout(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 0, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    _cleanup_free_ char *domain = server_domain(args && args[0] ? args[0] : "docker.io");
    struct berth_error *err = NULL;
    r = auth_remove(domain, &err);
    if (r == -ENOENT) {
        berth_error_free(err);
        printf("Not logged in to %s\n", server_display(domain));
        return 0;
    }
    if (r < 0) {
        return cli_fail(err, 1);
    }
    printf("Removing login credentials for %s\n", server_display(domain));
    return 0;
}
