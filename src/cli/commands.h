/* commands.h - the command functions of the Docker-compatible CLI, one
 * cmd-<name>.c each, listed in cli_commands[] (cli.c). Each gets argv
 * starting at its own name and returns the exit code (cli.h). */
#ifndef BERTH_CLI_COMMANDS_H
#define BERTH_CLI_COMMANDS_H

#include "cli/cli.h"

int cmd_version(struct cli *cli, int argc, char **argv);
int cmd_images(struct cli *cli, int argc, char **argv);
int cmd_rmi(struct cli *cli, int argc, char **argv);
int cmd_tag(struct cli *cli, int argc, char **argv);
int cmd_image_inspect(struct cli *cli, int argc, char **argv);
int cmd_history(struct cli *cli, int argc, char **argv);
int cmd_image_prune(struct cli *cli, int argc, char **argv);
int cmd_pull(struct cli *cli, int argc, char **argv);
int cmd_push(struct cli *cli, int argc, char **argv);
int cmd_login(struct cli *cli, int argc, char **argv);
int cmd_logout(struct cli *cli, int argc, char **argv);
int cmd_save(struct cli *cli, int argc, char **argv);
int cmd_load(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);

int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_create(struct cli *cli, int argc, char **argv);
int cmd_start(struct cli *cli, int argc, char **argv);
int cmd_stop(struct cli *cli, int argc, char **argv);
int cmd_kill(struct cli *cli, int argc, char **argv);
int cmd_rm(struct cli *cli, int argc, char **argv);
int cmd_wait(struct cli *cli, int argc, char **argv);
int cmd_ps(struct cli *cli, int argc, char **argv);
int cmd_logs(struct cli *cli, int argc, char **argv);
int cmd_container_exited(struct cli *cli, int argc, char **argv);
int cmd_pause(struct cli *cli, int argc, char **argv);
int cmd_unpause(struct cli *cli, int argc, char **argv);
int cmd_restart(struct cli *cli, int argc, char **argv);
int cmd_rename(struct cli *cli, int argc, char **argv);
int cmd_top(struct cli *cli, int argc, char **argv);
int cmd_port(struct cli *cli, int argc, char **argv);
int cmd_update(struct cli *cli, int argc, char **argv);
int cmd_container_prune(struct cli *cli, int argc, char **argv);
int cmd_container_health(struct cli *cli, int argc, char **argv);
int cmd_stats(struct cli *cli, int argc, char **argv);
int cmd_system_boot(struct cli *cli, int argc, char **argv);
int cmd_cp(struct cli *cli, int argc, char **argv);
int cmd_diff(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_commit(struct cli *cli, int argc, char **argv);
int cmd_exec(struct cli *cli, int argc, char **argv);
int cmd_attach(struct cli *cli, int argc, char **argv);
int cmd_dns(struct cli *cli, int argc, char **argv);
int cmd_network_create(struct cli *cli, int argc, char **argv);
int cmd_network_ls(struct cli *cli, int argc, char **argv);
int cmd_network_inspect(struct cli *cli, int argc, char **argv);
int cmd_network_rm(struct cli *cli, int argc, char **argv);
int cmd_network_prune(struct cli *cli, int argc, char **argv);
int cmd_network_connect(struct cli *cli, int argc, char **argv);
int cmd_network_disconnect(struct cli *cli, int argc, char **argv);
int cmd_system_check(struct cli *cli, int argc, char **argv);
int cmd_system_reset(struct cli *cli, int argc, char **argv);

int cmd_volume_create(struct cli *cli, int argc, char **argv);
int cmd_volume_ls(struct cli *cli, int argc, char **argv);
int cmd_volume_inspect(struct cli *cli, int argc, char **argv);
int cmd_volume_rm(struct cli *cli, int argc, char **argv);
int cmd_volume_prune(struct cli *cli, int argc, char **argv);
int cmd_volume_export(struct cli *cli, int argc, char **argv);
int cmd_volume_import(struct cli *cli, int argc, char **argv);
#endif
