/*
 * fuzz-parse.c: libFuzzer target for the command-line value parsers.
 * Build with ./configure --enable-fuzzing CC=clang; run tests/fuzz-parse.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s, *cause = NULL, *host = NULL;
	uint64_t	 v;
	double		 d;
	int		 i;

	s = xstrndup((const char *)data, size);
	if (parse_size(s, &v, &cause) != 0)
		free(cause);
	cause = NULL;
	if (parse_seconds(s, &d, &cause) != 0)
		free(cause);
	cause = NULL;
	if (parse_pid(s, &i, &cause) != 0)
		free(cause);
	cause = NULL;
	if (parse_listen(s, &host, &i, &cause) != 0)
		free(cause);
	else
		free(host);
	free(s);
	return 0;
}
