/*
 * log.c: the controller's messages to the user.  Every message is one line
 * on stderr starting with "memprof: ".  fatal/fatalx first run the cleanup
 * hook (the dashboard registers one that gives the terminal back), then exit
 * with status 1.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"

const char	*log_progname = MEMPROF_NAME;
static void	(*log_cleanup)(void);

/* Set the function fatal() calls before printing (NULL to clear). */
void
log_set_cleanup(void (*fn)(void))
{
	log_cleanup = fn;
}

/* Print "memprof: MESSAGE[: strerror]" on stderr. */
static void __attribute__((format(printf, 3, 0)))
log_vprint(int with_errno, int saved_errno, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", log_progname);
	vfprintf(stderr, fmt, ap);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(saved_errno));
	fputc('\n', stderr);
}

/* Warn with the current errno appended. */
void
log_warn(const char *fmt, ...)
{
	int	saved_errno = errno;
	va_list	ap;

	va_start(ap, fmt);
	log_vprint(1, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

/* Warn without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vprint(0, 0, fmt, ap);
	va_end(ap);
}

/* Restore the terminal, print the message with errno appended, exit 1. */
void
fatal(const char *fmt, ...)
{
	int	saved_errno = errno;
	va_list	ap;

	if (log_cleanup != NULL)
		log_cleanup();
	va_start(ap, fmt);
	log_vprint(1, saved_errno, fmt, ap);
	va_end(ap);
	exit(CMD_RETURN_ERROR);
}

/* Restore the terminal, print the message, exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	if (log_cleanup != NULL)
		log_cleanup();
	va_start(ap, fmt);
	log_vprint(0, 0, fmt, ap);
	va_end(ap);
	exit(CMD_RETURN_ERROR);
}
