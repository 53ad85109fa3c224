/*
 * cmd-help.c: `memprof help [COMMAND]`, the help of memprof or of one command.
 */

#include <stdio.h>

#include "memprof.h"

static int	cmd_help_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.args = "[COMMAND]",
	.summary = "Show the help of memprof or of one command.",
	.help = NULL,
	.exec = cmd_help_exec,
};

/* Print the general help, or one command's. */
static int
cmd_help_exec(const struct cmd_entry *self, int argc, char **argv)
{
	const struct cmd_entry	*e;

	if (argc < 2) {
		cmd_print_usage(stdout);
		return CMD_RETURN_OK;
	}
	if (argc > 2)
		return cmd_usage_error(self, "too many arguments");
	e = cmd_find(argv[1]);
	if (e == NULL)
		return cmd_usage_error(NULL, "unknown command '%s'", argv[1]);
	cmd_print_help(e, stdout);
	return CMD_RETURN_OK;
}
