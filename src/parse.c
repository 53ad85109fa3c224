/*
 * parse.c: parsers for command-line values (sizes, durations, pids,
 * listen addresses).  Each returns 0 and stores the value, or -1 and a
 * message in *cause (caller frees) that names what was wrong, so the
 * subcommand can print it once as a usage error.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "memprof.h"

/*
 * Parse a size: digits with an optional binary suffix K, M or G (KiB, MiB,
 * GiB and KB, MB, GB are read the same way, case-insensitive) or B.  Zero and
 * values that overflow 64 bits are rejected.
 */
int
parse_size(const char *s, uint64_t *out, char **cause)
{
	static const struct {
		const char	*suffix;
		unsigned	 shift;
	} units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
	};
	const char	*p = s;
	uint64_t	 v = 0;
	size_t		 i;

	if (!isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			goto big;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(p, units[i].suffix) != 0)
			continue;
		if (units[i].shift != 0 && v > (UINT64_MAX >> units[i].shift))
			goto big;
		v <<= units[i].shift;
		if (v == 0) {
			xasprintf(cause, "size must be greater than zero: %s", s);
			return -1;
		}
		*out = v;
		return 0;
	}
bad:
	xasprintf(cause, "invalid size '%s' (expected a number with an optional K, M or G suffix)", s);
	return -1;
big:
	xasprintf(cause, "size too large: %s", s);
	return -1;
}

/* Parse a positive number of seconds, fractions allowed ("0.5"), at most a year. */
int
parse_seconds(const char *s, double *out, char **cause)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) ||
	    isspace((unsigned char)*s)) {
		xasprintf(cause, "invalid number of seconds '%s'", s);
		return -1;
	}
	/* A year bounds the value so that conversions to ns cannot overflow. */
	if (v <= 0 || v > 366.0 * 24 * 3600) {
		xasprintf(cause, "seconds out of range: %s", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Parse a process id: a decimal integer from 1 to INT_MAX. */
int
parse_pid(const char *s, int *out, char **cause)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v <= 0 || v > INT_MAX ||
	    !isdigit((unsigned char)*s)) {
		xasprintf(cause, "invalid pid '%s'", s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/*
 * Parse ADDR:PORT, [ADDR6]:PORT or :PORT (all addresses).  *host is
 * allocated ("" for all addresses); the port must be 1-65535.
 */
int
parse_listen(const char *s, char **host, int *port, char **cause)
{
	const char	*colon, *h = s;
	size_t		 hlen;
	char		*end;
	long		 v;

	colon = strrchr(s, ':');
	if (colon == NULL)
		goto bad;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		h = s + 1;
		hlen -= 2;
	} else if (memchr(s, ':', hlen) != NULL)
		goto bad;	/* a bare IPv6 address needs brackets */
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 65535 ||
	    !isdigit((unsigned char)colon[1]))
		goto bad;
	*host = xstrndup(h, hlen);
	*port = (int)v;
	return 0;
bad:
	xasprintf(cause, "invalid listen address '%s' (expected ADDR:PORT)", s);
	return -1;
}
