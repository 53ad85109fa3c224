/*
 * memprof.c: main.  Reads the few top-level options (--version, --help),
 * then hands the rest of the command line to the subcommand in cmd_table.
 */

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "memprof.h"

int
main(int argc, char **argv)
{
	setlocale(LC_ALL, "");

	if (argc < 2) {
		cmd_print_usage(stderr);
		return CMD_RETURN_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("%s %s\n", MEMPROF_NAME, PACKAGE_VERSION);
		return CMD_RETURN_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cmd_print_usage(stdout);
		return CMD_RETURN_OK;
	}
	if (argv[1][0] == '-')
		return cmd_usage_error(NULL, "unknown option '%s'", argv[1]);
	return cmd_dispatch(argc - 1, argv + 1);
}
