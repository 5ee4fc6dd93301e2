/* runtime-cli.h - entry point of the `berth-runtime` front end. */
#ifndef BERTH_RUNTIME_CLI_H
#define BERTH_RUNTIME_CLI_H

/* argv[0] is the program name; returns the process exit code. */
int runtime_cli_main(int argc, char **argv);

#endif
