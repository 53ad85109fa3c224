/*
 * cmd.c: the command table and what every subcommand shares: finding a
 * command by name, printing its help, and turning command-line mistakes
 * into one-line usage errors (exit status 2) that point at the help.
 */

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"

const struct cmd_entry *cmd_table[] = {
	&cmd_run_entry,
	&cmd_attach_entry,
	&cmd_report_entry,
	&cmd_top_entry,
	&cmd_stats_entry,
	&cmd_exporter_entry,
	&cmd_help_entry,
	NULL
};

/* Find a command by its exact name; NULL if there is none. */
const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry	**e;

	for (e = cmd_table; *e != NULL; e++) {
		if (strcmp((*e)->name, name) == 0)
			return *e;
	}
	return NULL;
}

/* Print a command's usage line, summary and options. */
void
cmd_print_help(const struct cmd_entry *e, FILE *fp)
{
	fprintf(fp, "Usage: %s %s %s\n\n%s\n", MEMPROF_NAME, e->name, e->args, e->summary);
	if (e->help != NULL && *e->help != '\0')
		fprintf(fp, "\n%s", e->help);
	fprintf(fp, "\nSee memprof(1) for details.\n");
}

/* Print "memprof: NAME: MESSAGE (see 'memprof help NAME')" and return CMD_RETURN_USAGE. */
int
cmd_usage_error(const struct cmd_entry *e, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (e != NULL)
		fprintf(stderr, "%s: %s: %s (see '%s help %s')\n", MEMPROF_NAME, e->name, msg,
		    MEMPROF_NAME, e->name);
	else
		fprintf(stderr, "%s: %s (see '%s --help')\n", MEMPROF_NAME, msg, MEMPROF_NAME);
	free(msg);
	return CMD_RETURN_USAGE;
}

/* Print a parser's message (and free it) as a usage error; returns CMD_RETURN_USAGE. */
int
cmd_usage_cause(const struct cmd_entry *e, char *cause)
{
	int	rc = cmd_usage_error(e, "%s", cause);

	free(cause);
	return rc;
}

/*
 * Turn getopt_long's '?' or ':' into a usage error.  Needs the option
 * string to start with ':' (or "+:") so that a missing argument is told
 * apart from an unknown option.
 */
int
cmd_option_error(const struct cmd_entry *e, int ch, char **argv, const struct option *longopts)
{
	const char		*arg = argv[optind - 1];
	const struct option	*o;

	if (ch == ':') {
		if (optopt != 0 && strncmp(arg, "--", 2) != 0)
			return cmd_usage_error(e, "option '-%c' needs an argument", optopt);
		for (o = longopts; o != NULL && o->name != NULL; o++) {
			if (o->val == optopt && optopt != 0)
				return cmd_usage_error(e, "option '--%s' needs an argument", o->name);
		}
		return cmd_usage_error(e, "option '%s' needs an argument", arg);
	}
	if (optopt != 0 && strncmp(arg, "--", 2) != 0)
		return cmd_usage_error(e, "unknown option '-%c'", optopt);
	return cmd_usage_error(e, "unknown option '%s'", arg);
}

/* Say that a command exists but is not built yet, and return CMD_RETURN_ERROR. */
int
cmd_not_built(const struct cmd_entry *e, const char *issue)
{
	fprintf(stderr, "%s: %s: not built yet in this version (%s)\n", MEMPROF_NAME, e->name, issue);
	return CMD_RETURN_ERROR;
}

/* Print the top-level help: usage and the list of commands. */
void
cmd_print_usage(FILE *fp)
{
	const struct cmd_entry	**e;

	fprintf(fp,
	    "Usage: %s COMMAND [OPTIONS] [ARG...]\n"
	    "       %s --version | --help | help COMMAND\n\n"
	    "Memory profiler for Python programs and monitor for containers.\n\n"
	    "Commands:\n", MEMPROF_NAME, MEMPROF_NAME);
	for (e = cmd_table; *e != NULL; e++)
		fprintf(fp, "  %-10s %s\n", (*e)->name, (*e)->summary);
	fprintf(fp,
	    "\nRun '%s help COMMAND' for a command's options; see memprof(1).\n"
	    "Exit status: 0 success, 1 memprof failed, 2 usage error; 'run' exits\n"
	    "with the profiled command's status (128+N if it was killed by signal N).\n",
	    MEMPROF_NAME);
}

/* Run the subcommand named by argv[0]; argv[0] is the command's name. */
int
cmd_dispatch(int argc, char **argv)
{
	const struct cmd_entry	*e;

	e = cmd_find(argv[0]);
	if (e == NULL)
		return cmd_usage_error(NULL, "unknown command '%s'", argv[0]);
	optind = 0;	/* GNU getopt: reinitialise for the subcommand's argv */
	return e->exec(e, argc, argv);
}
