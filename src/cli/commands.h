/*
 * commands.h: the subcommands of the certgate program. Each lives in its own
 * file (cmd_<name>.c), takes the arguments after its name (argv[0] is the
 * subcommand name) and returns the process exit status:
 *   0 success / accepted, 1 rejected (verify) or failed, 2 usage or input error.
 */
#ifndef CG_CLI_COMMANDS_H
#define CG_CLI_COMMANDS_H

int cg_cmd_serve(int argc, char **argv);
int cg_cmd_verify(int argc, char **argv);
int cg_cmd_store(int argc, char **argv);
int cg_cmd_pki(int argc, char **argv);
int cg_cmd_config(int argc, char **argv);

#endif
