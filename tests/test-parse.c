/*
 * test-parse.c: unit tests for the command-line value parsers (parse.c).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memprof.h"

/* Parse s as a size and return it; fail the test if it is rejected. */
static uint64_t
size_ok(const char *s)
{
	uint64_t	 v = 0;
	char		*cause = NULL;

	if (parse_size(s, &v, &cause) != 0)
		fail_msg("parse_size(%s) rejected: %s", s, cause);
	return v;
}

/* Assert that s is rejected as a size, with a message that quotes it. */
static void
size_bad(const char *s)
{
	uint64_t	 v = 0;
	char		*cause = NULL;

	assert_int_equal(parse_size(s, &v, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, s));
	free(cause);
}

static void
test_size_units(void **state)
{
	assert_int_equal(size_ok("1"), 1);
	assert_int_equal(size_ok("512"), 512);
	assert_int_equal(size_ok("64K"), 64 * 1024);
	assert_int_equal(size_ok("64k"), 64 * 1024);
	assert_int_equal(size_ok("64KiB"), 64 * 1024);
	assert_int_equal(size_ok("1M"), 1024 * 1024);
	assert_int_equal(size_ok("3mb"), 3 * 1024 * 1024);
	assert_int_equal(size_ok("2G"), 2ULL << 30);
	assert_int_equal(size_ok("100B"), 100);
}

static void
test_size_rejects(void **state)
{
	size_bad("");
	size_bad("K");
	size_bad("-1");
	size_bad("1.5M");
	size_bad("12Q");
	size_bad("1 M");
	size_bad("0");
	size_bad("0K");
	size_bad("99999999999999999999");
	size_bad("17179869184G");	/* 2^34 GiB = 2^64 bytes */
}

static void
test_seconds(void **state)
{
	double	 v;
	char	*cause = NULL;

	assert_int_equal(parse_seconds("2", &v, &cause), 0);
	assert_true(v == 2.0);
	assert_int_equal(parse_seconds("0.25", &v, &cause), 0);
	assert_true(v == 0.25);
	assert_int_equal(parse_seconds("0", &v, &cause), -1);
	free(cause);
	assert_int_equal(parse_seconds("-1", &v, &cause), -1);
	free(cause);
	assert_int_equal(parse_seconds("abc", &v, &cause), -1);
	free(cause);
	assert_int_equal(parse_seconds("nan", &v, &cause), -1);
	free(cause);
	assert_int_equal(parse_seconds("1e12", &v, &cause), -1);
	free(cause);
	assert_int_equal(parse_seconds("", &v, &cause), -1);
	free(cause);
}

static void
test_pid(void **state)
{
	int	 pid;
	char	*cause = NULL;

	assert_int_equal(parse_pid("1", &pid, &cause), 0);
	assert_int_equal(pid, 1);
	assert_int_equal(parse_pid("4194304", &pid, &cause), 0);
	assert_int_equal(pid, 4194304);
	assert_int_equal(parse_pid("0", &pid, &cause), -1);
	free(cause);
	assert_int_equal(parse_pid("-5", &pid, &cause), -1);
	free(cause);
	assert_int_equal(parse_pid("12x", &pid, &cause), -1);
	free(cause);
	assert_int_equal(parse_pid("99999999999", &pid, &cause), -1);
	free(cause);
	assert_int_equal(parse_pid(" 7", &pid, &cause), -1);
	free(cause);
}

static void
test_listen(void **state)
{
	char	*host = NULL, *cause = NULL;
	int	 port = 0;

	assert_int_equal(parse_listen("127.0.0.1:9464", &host, &port, &cause), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9464);
	free(host);
	assert_int_equal(parse_listen(":80", &host, &port, &cause), 0);
	assert_string_equal(host, "");
	free(host);
	assert_int_equal(parse_listen("[::1]:9000", &host, &port, &cause), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9000);
	free(host);
	assert_int_equal(parse_listen("localhost", &host, &port, &cause), -1);
	free(cause);
	assert_int_equal(parse_listen("::1:80", &host, &port, &cause), -1);
	free(cause);
	assert_int_equal(parse_listen("a:0", &host, &port, &cause), -1);
	free(cause);
	assert_int_equal(parse_listen("a:65536", &host, &port, &cause), -1);
	free(cause);
	assert_int_equal(parse_listen("a:", &host, &port, &cause), -1);
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_units),
		cmocka_unit_test(test_size_rejects),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_pid),
		cmocka_unit_test(test_listen),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
