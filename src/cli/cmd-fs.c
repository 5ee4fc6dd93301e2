/* cmd-fs.c - `berth cp`, `diff`, `export` and `commit` (and their
 * "container ..." forms): a container's files from the outside
 * (libberth/container/fs.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strv.h"
#include "cli/commands.h"
#include "libberth/container/fs.h"

/* Docker's splitCpArg: an absolute path or one starting with "." is local;
 * else "CONTAINER:PATH" when there is a colon. */
static bool split_cp_arg(const char *arg, char **ret_container, const char **ret_path)
{
    const char *colon = strchr(arg, ':');
    if (arg[0] == '/' || arg[0] == '.' || !colon) {
        *ret_container = NULL;
        *ret_path = arg;
        return false;
    }
    *ret_container = xstrndup(arg, (size_t)(colon - arg));
    *ret_path = colon + 1;
    return true;
}

int cmd_cp(struct cli *cli, int argc, char **argv)
{
    bool archive = false, follow = false;
    const struct opt_def defs[] = {
        {"archive", 'a', OPT_BOOL, &archive, "Archive mode (copy all uid/gid information)", NULL},
        {"follow-link", 'L', OPT_BOOL, &follow, "Always follow symbol link in SRC_PATH", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 2, 2, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    _cleanup_free_ char *src_ctr = NULL, *dst_ctr = NULL;
    const char *src, *dst;
    split_cp_arg(args[0], &src_ctr, &src);
    split_cp_arg(args[1], &dst_ctr, &dst);
    if (src_ctr && dst_ctr) {
        berth_error_set(&err, EINVAL, "copying between containers is not supported");
        return cli_fail(err, 1);
    }
    if (!src_ctr && !dst_ctr) {
        berth_error_set(&err, EINVAL, "must specify at least one container source");
        return cli_fail(err, 1);
    }
    if ((src_ctr && !*src_ctr) || (dst_ctr && !*dst_ctr)) {
        berth_error_set(&err, EINVAL, "empty container name");
        return cli_fail(err, 1);
    }
    if (!*src || !*dst) {
        berth_error_set(&err, EINVAL, "filepath cannot be empty");
        return cli_fail(err, 1);
    }
    unsigned flags = (archive ? CONTAINER_CP_ARCHIVE : 0) | (follow ? CONTAINER_CP_FOLLOW : 0);
    if (src_ctr && streq(dst, "-") && isatty(STDOUT_FILENO)) {
        berth_error_set(&err, EINVAL,
                        "cowardly refusing to write a tar to a terminal. Redirect the output");
        return cli_fail(err, 1);
    }
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    if (src_ctr) {
        bool to_stdout = streq(dst, "-");
        r = container_cp_from(s, src_ctr, src, to_stdout ? NULL : dst, STDOUT_FILENO, flags, &err);
    } else {
        bool from_stdin = streq(src, "-");
        r = container_cp_to(s, from_stdin ? NULL : src, STDIN_FILENO, dst_ctr, dst, flags, &err);
    }
    if (r < 0) {
        return cli_fail(err, 1);
    }
    return 0;
}

int cmd_diff(struct cli *cli, int argc, char **argv)
{
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, NULL, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct container_change *c = NULL;
    size_t n = 0;
    if (container_diff(s, args[0], &c, &n, &err) < 0) {
        return cli_fail(err, 1);
    }
    for (size_t i = 0; i < n; i++) {
        printf("%c %s\n", c[i].kind, c[i].path);
    }
    container_changes_free(c, n);
    return 0;
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
    const char *output = NULL;
    const struct opt_def defs[] = {
        {"output", 'o', OPT_STRING, &output, "Write to a file, instead of STDOUT", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 1, &args);
    if (r) {
        return r < 0 ? 0 : r;
    }
    return cli_write_archive(cli, output, 0644, args[0], container_export);
}

int cmd_commit(struct cli *cli, int argc, char **argv)
{
    char **changes = NULL;
    const char *message = NULL, *author = NULL;
    bool pause = true;
    const struct opt_def defs[] = {
        {"author", 'a', OPT_STRING, &author,
         "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")", NULL},
        {"change", 'c', OPT_LIST, &changes, "Apply Dockerfile instruction to the created image",
         NULL},
        {"message", 'm', OPT_STRING, &message, "Commit message", NULL},
        {"pause", 'p', OPT_BOOL, &pause, "Pause container during commit (default true)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL},
    };
    _cleanup_strv_free_ char **args = NULL;
    int r = cli_parse(cli, defs, argc, argv, 1, 2, &args);
    _cleanup_strv_free_ char **changes_owned = changes;
    if (r) {
        return r < 0 ? 0 : r;
    }
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct container_commit_options o = {
        .changes = changes,
        .message = message,
        .author = author,
        .repository = args[1],
        .pause = pause,
    };
    _cleanup_free_ char *id = NULL;
    if (container_commit(s, args[0], &o, &id, &err) < 0) {
        return cli_fail(err, 1);
    }
    printf("%s\n", id);
    return 0;
}
