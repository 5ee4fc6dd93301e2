/* cli.c - the command table of the Docker-compatible CLI and the helpers
 * its commands share (see cli.h). */
#include "cli.h"

#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fd-util.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "basic/units.h"
#include "libberth/common/json-util.h"
#include "libberth/common/template.h"
#include "cli/commands.h"

/* Management groups: "berth image" alone prints the group's commands. */
static const char *const groups[] = {"container", "image", "network", "volume", NULL};

const struct cli_command cli_commands[] = {
    {"version", "", "Show the berth version information", cmd_version},
    {"images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", cmd_images},
    {"image ls", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", cmd_images},
    {"image list", "[OPTIONS] [REPOSITORY[:TAG]]", NULL, cmd_images},
    {"rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", cmd_rmi},
    {"image rm", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", cmd_rmi},
    {"image remove", "[OPTIONS] IMAGE [IMAGE...]", NULL, cmd_rmi},
    {"tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", cmd_tag},
    {"image tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", cmd_tag},
    {"inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on objects",
     cmd_image_inspect},
    {"image inspect", "[OPTIONS] IMAGE [IMAGE...]",
     "Display detailed information on one or more images", cmd_image_inspect},
    {"history", "[OPTIONS] IMAGE", "Show the history of an image", cmd_history},
    {"image history", "[OPTIONS] IMAGE", "Show the history of an image", cmd_history},
    {"image prune", "[OPTIONS]", "Remove unused images", cmd_image_prune},
    {"pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", cmd_pull},
    {"image pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", cmd_pull},
    {"push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", cmd_push},
    {"image push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", cmd_push},
    {"login", "[OPTIONS] [SERVER]", "Log in to a registry", cmd_login},
    {"logout", "[SERVER]", "Log out from a registry", cmd_logout},
    {"save", "[OPTIONS] IMAGE [IMAGE...]",
     "Save one or more images to a tar archive (streamed to STDOUT by default)", cmd_save},
    {"image save", "[OPTIONS] IMAGE [IMAGE...]",
     "Save one or more images to a tar archive (streamed to STDOUT by default)", cmd_save},
    {"load", "[OPTIONS]", "Load an image from a tar archive or STDIN", cmd_load},
    {"image load", "[OPTIONS]", "Load an image from a tar archive or STDIN", cmd_load},
    {"import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
     "Import the contents from a tarball to create a filesystem image", cmd_import},
    {"image import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
     "Import the contents from a tarball to create a filesystem image", cmd_import},
    {"run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Run a command in a new container", cmd_run},
    {"container run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Run a command in a new container",
     cmd_run},
    {"create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", cmd_create},
    {"container create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container",
     cmd_create},
    {"start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers",
     cmd_start},
    {"container start", "[OPTIONS] CONTAINER [CONTAINER...]",
     "Start one or more stopped containers", cmd_start},
    {"stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", cmd_stop},
    {"container stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
     cmd_stop},
    {"kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", cmd_kill},
    {"container kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
     cmd_kill},
    {"rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", cmd_rm},
    {"container rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", cmd_rm},
    {"wait", "CONTAINER [CONTAINER...]",
     "Block until one or more containers stop, then print their exit codes", cmd_wait},
    {"container wait", "CONTAINER [CONTAINER...]",
     "Block until one or more containers stop, then print their exit codes", cmd_wait},
    {"ps", "[OPTIONS]", "List containers", cmd_ps},
    {"container ls", "[OPTIONS]", "List containers", cmd_ps},
    {"container list", "[OPTIONS]", NULL, cmd_ps},
    {"container ps", "[OPTIONS]", NULL, cmd_ps},
    {"logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", cmd_logs},
    {"container logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", cmd_logs},
    {"container inspect", "[OPTIONS] CONTAINER [CONTAINER...]",
     "Display detailed information on one or more containers", cmd_image_inspect},
    {"pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
     cmd_pause},
    {"container pause", "CONTAINER [CONTAINER...]",
     "Pause all processes within one or more containers", cmd_pause},
    {"unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers",
     cmd_unpause},
    {"container unpause", "CONTAINER [CONTAINER...]",
     "Unpause all processes within one or more containers", cmd_unpause},
    {"restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
     cmd_restart},
    {"container restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
     cmd_restart},
    {"rename", "CONTAINER NEW_NAME", "Rename a container", cmd_rename},
    {"container rename", "CONTAINER NEW_NAME", "Rename a container", cmd_rename},
    {"top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container", cmd_top},
    {"container top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container",
     cmd_top},
    {"port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
     "List port mappings or a specific mapping for the container", cmd_port},
    {"container port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
     "List port mappings or a specific mapping for the container", cmd_port},
    {"update", "[OPTIONS] CONTAINER [CONTAINER...]",
     "Update configuration of one or more containers", cmd_update},
    {"container update", "[OPTIONS] CONTAINER [CONTAINER...]",
     "Update configuration of one or more containers", cmd_update},
    {"container prune", "[OPTIONS]", "Remove all stopped containers", cmd_container_prune},
    {"cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-",
     "Copy files/folders between a container and the local filesystem", cmd_cp},
    {"container cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-",
     "Copy files/folders between a container and the local filesystem", cmd_cp},
    {"diff", "CONTAINER", "Inspect changes to files or directories on a container's filesystem",
     cmd_diff},
    {"container diff", "CONTAINER",
     "Inspect changes to files or directories on a container's filesystem", cmd_diff},
    {"export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive",
     cmd_export},
    {"container export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive",
     cmd_export},
    {"commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
     "Create a new image from a container's changes", cmd_commit},
    {"container commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
     "Create a new image from a container's changes", cmd_commit},
    {"exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Run a command in a running container",
     cmd_exec},
    {"container exec", "[OPTIONS] CONTAINER COMMAND [ARG...]",
     "Run a command in a running container", cmd_exec},
    {"attach", "[OPTIONS] CONTAINER",
     "Attach local standard input, output, and error streams to a running container", cmd_attach},
    {"container attach", "[OPTIONS] CONTAINER",
     "Attach local standard input, output, and error streams to a running container", cmd_attach},
    {"container-exited", "ID STATUS", NULL, cmd_container_exited},
    {"container-health", "ID", NULL, cmd_container_health},
    {"dns", "[--runroot DIR]", NULL, cmd_dns},
    {"system boot", "[OPTIONS]", NULL, cmd_system_boot},
    {"stats", "[OPTIONS] [CONTAINER...]",
     "Display a live stream of container(s) resource usage statistics", cmd_stats},
    {"container stats", "[OPTIONS] [CONTAINER...]",
     "Display a live stream of container(s) resource usage statistics", cmd_stats},
    {"network create", "[OPTIONS] NETWORK", "Create a network", cmd_network_create},
    {"network ls", "[OPTIONS]", "List networks", cmd_network_ls},
    {"network list", "[OPTIONS]", NULL, cmd_network_ls},
    {"network inspect", "[OPTIONS] NETWORK [NETWORK...]",
     "Display detailed information on one or more networks", cmd_network_inspect},
    {"network rm", "NETWORK [NETWORK...]", "Remove one or more networks", cmd_network_rm},
    {"network connect", "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network",
     cmd_network_connect},
    {"network disconnect", "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network",
     cmd_network_disconnect},
    {"system check", "[OPTIONS]", "Reclaim network state left by crashed containers",
     cmd_system_check},
    {"system reset", "[OPTIONS]", "Remove every container, image, network and volume of the store",
     cmd_system_reset},
    {"network remove", "NETWORK [NETWORK...]", NULL, cmd_network_rm},
    {"network prune", "[OPTIONS]", "Remove all unused networks", cmd_network_prune},
    {"volume create", "[OPTIONS] [VOLUME]", "Create a volume", cmd_volume_create},
    {"volume ls", "[OPTIONS]", "List volumes", cmd_volume_ls},
    {"volume list", "[OPTIONS]", NULL, cmd_volume_ls},
    {"volume inspect", "[OPTIONS] VOLUME [VOLUME...]",
     "Display detailed information on one or more volumes", cmd_volume_inspect},
    {"volume rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", cmd_volume_rm},
    {"volume remove", "[OPTIONS] VOLUME [VOLUME...]", NULL, cmd_volume_rm},
    {"volume prune", "[OPTIONS]", "Remove unused local volumes", cmd_volume_prune},
    {"volume export", "[OPTIONS] VOLUME", "Write a volume's contents as a tar archive",
     cmd_volume_export},
    {"volume import", "[OPTIONS] VOLUME FILE|-", "Replace a volume's contents with a tar archive",
     cmd_volume_import},
    {NULL, NULL, NULL, NULL},
};

static size_t path_words(const char *path)
{
    return strchr(path, ' ') ? 2 : 1;
}

static bool path_matches(const char *path, int argc, char **argv)
{
    const char *sp = strchr(path, ' ');
    if (!sp) {
        return streq(path, argv[0]);
    }
    return argc >= 2 && strlen(argv[0]) == (size_t)(sp - path) &&
           strneq(path, argv[0], (size_t)(sp - path)) && streq(sp + 1, argv[1]);
}

static int usage(FILE *f, const char *group)
{
    fprintf(f, "\nUsage:  berth %s COMMAND\n\n", group ? group : "[OPTIONS]");
    if (!group) {
        fprintf(f,
                "A fast, daemonless, Docker-compatible container engine\n\n"
                "Options:\n"
                "      --root string               Persistent state (default \"/var/lib/berth\")\n"
                "      --runroot string            Runtime state (default \"/run/berth\")\n"
                "      --storage-driver string     overlay or vfs (default: as the store was "
                "made, else overlay when available)\n"
                "      --insecure-registry list    Registries reached over plain HTTP or "
                "unverified TLS\n"
                "      --registry-mirror list      Mirrors tried first for docker.io pulls\n"
                "      --certs-dir string          Per-registry certificates (default "
                "\"/etc/docker/certs.d\")\n"
                "  -D, --debug                     Enable debug output\n"
                "  -l, --log-level string          Set the logging level (\"debug\", "
                "\"info\", \"warn\", \"error\") (default \"warn\")\n\n");
    }
    fprintf(f, "Commands:\n");
    if (!group) {
        fprintf(f, "  %-10s  %s\n", "runtime",
                "Run the OCI runtime (runc-compatible; also installed as berth-runtime)");
    }
    for (const struct cli_command *c = cli_commands; c->path; c++) {
        if (!c->summary) {
            continue;
        }
        const char *sp = strchr(c->path, ' ');
        if (group ? !(sp && strneq(c->path, group, strlen(group)) && c->path[strlen(group)] == ' ')
                  : sp != NULL) {
            continue;
        }
        fprintf(f, "  %-10s  %s\n", sp && group ? sp + 1 : c->path, c->summary);
    }
    if (!group) {
        fprintf(f, "\nManagement Commands:\n");
        for (size_t i = 0; groups[i]; i++) {
            fprintf(f, "  %-10s  Manage %ss\n", groups[i], groups[i]);
        }
    }
    fprintf(f, "\nRun 'berth %s%sCOMMAND --help' for more information on a command.\n",
            group ? group : "", group ? " " : "");
    return f == stderr ? 1 : 0;
}

int cli_dispatch(struct cli *cli, int argc, char **argv)
{
    if (argc < 1 || streq(argv[0], "help") || streq(argv[0], "--help") || streq(argv[0], "-h")) {
        return usage(argc < 1 ? stderr : stdout, NULL);
    }
    for (const struct cli_command *c = cli_commands; c->path; c++) {
        if (path_matches(c->path, argc, argv)) {
            size_t skip = path_words(c->path) - 1;
            cli->cmd = c;
            return c->fn(cli, argc - (int)skip, argv + skip);
        }
    }
    for (size_t i = 0; groups[i]; i++) {
        if (streq(argv[0], groups[i])) {
            if (argc == 1 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                return usage(argc == 1 ? stderr : stdout, groups[i]);
            }
            fprintf(stderr, "berth: '%s %s' is not a berth command.\nSee 'berth %s --help'\n",
                    argv[0], argv[1], argv[0]);
            return 1;
        }
    }
    fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", argv[0]);
    return 1;
}

int cli_store(struct cli *cli, struct store **ret, struct berth_error **err)
{
    if (!cli->store) {
        int r = store_open(&cli->store_opts, &cli->store, err);
        if (r < 0) {
            return r;
        }
    }
    *ret = cli->store;
    return 0;
}

static void print_cmd_usage(FILE *f, const struct cli_command *cmd, const struct opt_def *defs)
{
    fprintf(f, "\nUsage:  berth %s %s\n\n%s\n", cmd->path, cmd->usage,
            cmd->summary ? cmd->summary : "");
    bool any = false;
    for (const struct opt_def *d = defs; d && d->name; d++) {
        any |= d->help != NULL;
    }
    if (any) {
        fprintf(f, "\nOptions:\n");
        fflush(f);
        opts_usage(defs, fileno(f));
    }
}

static bool defines_short_h(const struct opt_def *defs)
{
    for (const struct opt_def *d = defs; d && d->name; d++) {
        if (d->shortc == 'h') {
            return true;
        }
    }
    return false;
}

int cli_parse(struct cli *cli, const struct opt_def *defs, int argc, char **argv, size_t min_args,
              size_t max_args, char ***ret_args)
{
    const struct cli_command *cmd = cli->cmd;
    static const struct opt_def none[] = {{NULL, 0, 0, NULL, NULL, NULL}};
    if (!defs) {
        defs = none;
    }
    for (int i = 1; i < argc && !streq(argv[i], "--"); i++) {
        if (streq(argv[i], "--help") || (streq(argv[i], "-h") && !defines_short_h(defs))) {
            print_cmd_usage(stdout, cmd, defs);
            return -1;
        }
    }
    _cleanup_error_ struct berth_error *err = NULL;
    char **args = NULL;
    if (opts_parse(defs, argc - 1, argv + 1, OPTS_INTERSPERSED, &args, &err) < 0) {
        fprintf(stderr, "%s\nSee 'berth %s --help'.\n", err->msg, cmd->path);
        return 125;
    }
    size_t n = strv_length(args);
    const char *what = NULL;
    size_t count = 0;
    if (n < min_args) {
        what = min_args == max_args ? "exactly" : "at least";
        count = min_args;
    } else if (n > max_args) {
        what = max_args == 0 ? "no" : min_args == max_args ? "exactly" : "at most";
        count = max_args;
    }
    if (what) {
        if (streq(what, "no")) {
            fprintf(stderr, "\"berth %s\" accepts no arguments.\n", cmd->path);
        } else {
            fprintf(stderr, "\"berth %s\" requires %s %zu argument%s.\n", cmd->path, what, count,
                    count == 1 ? "" : "s");
        }
        fprintf(stderr, "See 'berth %s --help'.\n", cmd->path);
        print_cmd_usage(stderr, cmd, NULL);
        strv_free(args);
        return 1;
    }
    *ret_args = args;
    return 0;
}

int cli_for_each(struct cli *cli, char **args, bool print, cli_each_fn fn, void *ud)
{
    struct berth_error *err = NULL;
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    int code = 0;
    STRV_FOREACH(a, args)
    {
        err = NULL;
        if (fn(s, *a, ud, &err) < 0) {
            cli_fail(err, 1);
            code = 1;
        } else if (print) {
            printf("%s\n", *a);
        }
    }
    return code;
}

int cli_inspect(struct cli *cli, const char *format, char **args, cli_inspect_fn get, void *ud)
{
    struct berth_error *err = NULL;
    _cleanup_(template_freep) struct template *t = NULL;
    if (format && *format && template_parse(format, NULL, &t, &err) < 0) {
        return cli_fail(err, 1);
    }
    struct store *s;
    if (cli_store(cli, &s, &err) < 0) {
        return cli_fail(err, 1);
    }
    _cleanup_json_ json_t *all = json_array();
    struct strbuf out = STRBUF_INIT;
    int code = 0;
    STRV_FOREACH(name, args)
    {
        err = NULL;
        json_t *j = NULL;
        if (get(s, *name, ud, &j, &err) < 0) {
            code = cli_fail(err, 1);
            continue;
        }
        if (!t) {
            json_array_append_new(all, j);
            continue;
        }
        int r = template_execute(t, j, &out, &err);
        json_decref(j);
        if (r < 0) {
            code = cli_fail(err, 1);
            break;
        }
        strbuf_addc(&out, '\n');
    }
    if (t) {
        fwrite(strbuf_str(&out), 1, out.len, stdout);
    } else {
        cli_print_json(all);
    }
    strbuf_release(&out);
    return code;
}

int cli_archive_open(struct cli *cli, const char *output, struct store **ret)
{
    struct berth_error *err = NULL;
    /* A tar on a terminal helps nobody (Docker's words). */
    if ((!output || streq(output, "-")) && isatty(STDOUT_FILENO)) {
        berth_error_set(&err, EINVAL,
                        "cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return cli_fail(err, 1);
    }
    return cli_store(cli, ret, &err) < 0 ? cli_fail(err, 1) : 0;
}

int cli_write_archive(struct cli *cli, const char *output, mode_t mode, const char *name,
                      cli_archive_fn write)
{
    struct berth_error *err = NULL;
    bool to_stdout = !output || streq(output, "-");
    struct store *s;
    int code = cli_archive_open(cli, output, &s);
    if (code) {
        return code;
    }
    if (to_stdout) {
        return write(s, name, STDOUT_FILENO, &err) < 0 ? cli_fail(err, 1) : 0;
    }
    _cleanup_free_ char *tmp = xasprintf("%s.berth-tmp-XXXXXX", output);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        berth_error_sys(&err, errno, "create '%s'", output);
        return cli_fail(err, 1);
    }
    int r = write(s, name, fd, &err);
    if (r >= 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, output) < 0)) {
        r = berth_error_sys(&err, errno, "write '%s'", output);
    }
    if (r < 0) {
        unlink(tmp);
        return cli_fail(err, 1);
    }
    return 0;
}

bool cli_confirm(const char *warning)
{
    fprintf(stdout, "%s\nAre you sure you want to continue? [y/N] ", warning);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof(line), stdin)) {
        return false;
    }
    /* Docker's: "y" or "yes", any case, surrounding blanks ignored. */
    char *a = line;
    while (*a == ' ' || *a == '\t') {
        a++;
    }
    size_t n = strlen(a);
    while (n && strchr(" \t\r\n", a[n - 1])) {
        a[--n] = '\0';
    }
    return strcasecmp(a, "y") == 0 || strcasecmp(a, "yes") == 0;
}

int cli_fail(struct berth_error *err, int code)
{
    fprintf(stderr, "Error: %s\n", err && err->msg ? err->msg : "unknown error");
    berth_error_free(err);
    return code;
}

void cli_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(4) | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

long long cli_parse_time(const char *rfc3339)
{
    return rfc3339_parse(rfc3339);
}

char *cli_human_size(double bytes)
{
    return human_size(bytes, 3);
}

char *cli_human_duration_ago(long long seconds)
{
    _cleanup_free_ char *d = human_duration(seconds);
    return xasprintf("%s ago", d);
}
