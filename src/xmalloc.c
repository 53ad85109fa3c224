/*
 * xmalloc.c: allocation wrappers for the controller that never return NULL.
 * Running out of memory in the controller is fatal: there is nothing useful
 * left to do, and every caller is spared a check.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"

/* malloc that exits on failure; xmalloc(0) returns a unique pointer. */
void *
xmalloc(size_t size)
{
	void	*p;

	p = malloc(size == 0 ? 1 : size);
	if (p == NULL)
		fatal("xmalloc: %zu bytes", size);
	return p;
}

/* calloc that exits on failure or overflow. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	p = calloc(nmemb, size);
	if (p == NULL)
		fatal("xcalloc: %zu x %zu bytes", nmemb, size);
	return p;
}

/* realloc that exits on failure. */
void *
xrealloc(void *ptr, size_t size)
{
	return xreallocarray(ptr, 1, size);
}

/* reallocarray that exits on failure or overflow. */
void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*p;
	size_t	 total;

	if (__builtin_mul_overflow(nmemb, size, &total))
		fatalx("xreallocarray: %zu x %zu bytes overflows", nmemb, size);
	p = realloc(ptr, total == 0 ? 1 : total);
	if (p == NULL)
		fatal("xreallocarray: %zu bytes", total);
	return p;
}

/* strdup that exits on failure. */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* strndup that exits on failure. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	p = strndup(s, n);
	if (p == NULL)
		fatal("xstrndup");
	return p;
}

/* asprintf that exits on failure; returns the length. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return n;
}

/* vasprintf that exits on failure; returns the length. */
int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int	n;

	n = vasprintf(ret, fmt, ap);
	if (n < 0 || *ret == NULL)
		fatal("xvasprintf");
	return n;
}
