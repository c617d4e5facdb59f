/*
 * commands.h - the `fer` subcommands. Each takes argc/argv from main (argv[1]
 * is the command name) and returns the process exit status.
 */
#ifndef FER_CLI_COMMANDS_H
#define FER_CLI_COMMANDS_H

int fer_cmd_prepare(int argc, char **argv);
int fer_cmd_train(int argc, char **argv);
int fer_cmd_eval(int argc, char **argv);
int fer_cmd_average(int argc, char **argv);
int fer_cmd_calibrate(int argc, char **argv);
int fer_cmd_report(int argc, char **argv);
int fer_cmd_detect(int argc, char **argv);
int fer_cmd_predict(int argc, char **argv);
int fer_cmd_video(int argc, char **argv);
int fer_cmd_serve(int argc, char **argv);
int fer_cmd_info(int argc, char **argv);
int fer_cmd_import(int argc, char **argv);
int fer_cmd_export(int argc, char **argv);

/* Exit statuses: 0 success, 1 failure of the work, 2 bad usage. */
#define FER_EXIT_OK    0
#define FER_EXIT_FAIL  1
#define FER_EXIT_USAGE 2

/* The command line joined with spaces into buf (for model metadata). */
void fer_cli_command_line(int argc, char **argv, char *buf, size_t len);

#endif
