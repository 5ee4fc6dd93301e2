/* create-config.h - `berth run` / `berth create` flags -> the Docker Engine
 * API's ContainerCreate request body.
 *
 * The canonical description of a container to make is the JSON body that
 * `POST /containers/create` takes in API v1.41
 * (../shared/reference/docker-engine-api-v1.41.yaml, ContainerConfig +
 * HostConfig + NetworkingConfig): the CLI turns its flags into exactly that
 * document, and the API server (a later issue) passes the client's document
 * through the same container_create() path. One code path for both.
 *
 * container_create_body_from_flags parses the run/create flags the docker
 * CLI has (the list: -d -i -t --rm --name -e --env-file -w -u
 * --entrypoint --hostname --label --label-file --restart --init --read-only
 * --cap-add --cap-drop --privileged --security-opt --device --tmpfs
 * --shm-size --ulimit --memory --memory-swap --memory-reservation --cpus
 * --cpu-shares --cpuset-cpus --pids-limit --oom-kill-disable --stop-signal
 * --stop-timeout --health-cmd --health-interval --health-timeout
 * --health-retries --health-start-period --no-healthcheck --detach-keys
 * --sig-proxy --log-driver --log-opt --add-host --dns --dns-search --platform
 * --pull --cidfile --group-add --workdir -v/--volume --mount --volumes-from -p/--publish
 * -P --network --expose), flags stop at the image name (everything after
 * it is the command), and fills:
 *   body: {"Image", "Cmd", "Entrypoint", "Env", "WorkingDir", "User",
 *          "Hostname", "Domainname", "Labels", "Tty", "OpenStdin",
 *          "StdinOnce", "AttachStdin/out/err", "StopSignal", "StopTimeout",
 *          "Healthcheck", "ExposedPorts", "Volumes",
 *          "HostConfig": {"AutoRemove", "RestartPolicy", "Init",
 *          "ReadonlyRootfs", "CapAdd", "CapDrop", "Privileged", "SecurityOpt",
 *          "Devices", "Tmpfs", "ShmSize", "Ulimits", "Memory", "MemorySwap",
 *          "MemoryReservation", "NanoCpus", "CpuShares", "CpusetCpus",
 *          "PidsLimit", "OomKillDisable", "LogConfig", "ExtraHosts", "Dns",
 *          "DnsSearch", "GroupAdd", "Binds", "Mounts", "VolumesFrom", "PortBindings",
 *          "PublishAllPorts", "NetworkMode"}, ...}
 * with Docker's field names, types and units (bytes, nano-CPUs, durations in
 * nanoseconds), omitting what was not given (Docker's defaults are applied
 * by the consumer, not here). Exceptions: "Image" and "HostConfig" (maybe
 * {}) are always present, and so are the six stream booleans (AttachStdin,
 * AttachStdout, AttachStderr, Tty, OpenStdin, StdinOnce), because their
 * defaults depend on -d/-a/-i as the docker CLI computes them. A bare
 * "-e KEY" takes KEY's value from our environment and is left out when
 * unset. The client-side options that are not part of
 * the body (detach, --rm is AutoRemove so it is in it, --name, --cidfile,
 * --platform, --pull, --sig-proxy, --detach-keys, --env-file contents are
 * folded into Env, --label-file into Labels) come back in struct
 * create_cli_opts.
 *
 * Errors are Docker's messages (exit code 125 at the front end):
 * "invalid argument \"1x\" for \"-m, --memory\" flag: invalid size: '1x'",
 * "invalid restart policy 'sometimes'", "invalid publish opts format ...",
 * "unknown flag: --x". A file named by --env-file/--label-file that cannot
 * be read names the file.
 */
#ifndef BERTH_CONTAINER_CREATE_CONFIG_H
#define BERTH_CONTAINER_CREATE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "basic/error.h"

struct create_cli_opts {
    bool detach;
    char *name;     /* NULL: generated */
    char *cidfile;  /* write the id here (refused if it exists, as Docker) */
    char *platform; /* NULL: the host's */
    char *pull;     /* "missing" (default), "always", "never" */
    bool sig_proxy; /* default true */
    char *detach_keys;
};
void create_cli_opts_release(struct create_cli_opts *o);

/* argv[0] is the first flag or the image (not the command name). */
int container_create_body_from_flags(int argc, char **argv, json_t **ret_body,
                                     struct create_cli_opts *ret_opts, struct berth_error **err);

#endif
