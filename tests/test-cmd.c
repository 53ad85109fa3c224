/*
 * test-cmd.c: unit tests for the command table (cmd.c): every pinned
 * subcommand is there, has help, and usage mistakes return status 2.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "memprof.h"

static void
test_table_has_contract_commands(void **state)
{
	static const char *pinned[] = {
		"run", "attach", "report", "top", "stats", "exporter", "help"
	};
	size_t	i;

	for (i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
		const struct cmd_entry *e = cmd_find(pinned[i]);

		assert_non_null(e);
		assert_string_equal(e->name, pinned[i]);
		assert_non_null(e->summary);
		assert_non_null(e->args);
		assert_non_null(e->exec);
	}
	assert_null(cmd_find("bogus"));
	assert_null(cmd_find("ru"));
}

/* Run a command line through the dispatcher and return its status. */
static int
dispatch(int argc, const char **argv)
{
	char	*copy[16];
	int	 i;

	for (i = 0; i < argc; i++)
		copy[i] = (char *)argv[i];
	copy[argc] = NULL;
	return cmd_dispatch(argc, copy);
}

static void
test_usage_errors(void **state)
{
	const char	*bogus[] = { "bogus" };
	const char	*run_none[] = { "run" };
	const char	*run_flag[] = { "run", "--frobnicate", "python3" };
	const char	*run_both[] = { "run", "--exact", "--sample-every", "1M", "true" };
	const char	*run_size[] = { "run", "--sample-every", "lots", "true" };
	const char	*run_noarg[] = { "run", "--sample-every" };
	const char	*attach_nopid[] = { "attach" };
	const char	*report_none[] = { "report" };
	const char	*report_fmt[] = { "report", "--format", "docx", "x.mprof" };
	const char	*stats_fmt[] = { "stats", "--format", "xml" };
	const char	*help_bogus[] = { "help", "bogus" };

	assert_int_equal(dispatch(1, bogus), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(1, run_none), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(3, run_flag), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(5, run_both), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(4, run_size), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(2, run_noarg), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(1, attach_nopid), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(1, report_none), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(4, report_fmt), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(3, stats_fmt), CMD_RETURN_USAGE);
	assert_int_equal(dispatch(2, help_bogus), CMD_RETURN_USAGE);
}

static void
test_help_succeeds(void **state)
{
	const struct cmd_entry	**e;

	for (e = cmd_table; *e != NULL; e++) {
		const char	*argv[] = { (*e)->name, "--help" };

		if (strcmp((*e)->name, "help") == 0)
			continue;
		assert_int_equal(dispatch(2, argv), CMD_RETURN_OK);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_has_contract_commands),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help_succeeds),
	};

	return cmocka_run_group_tests_name("cmd", tests, NULL, NULL);
}
