/*
 * memprof.h: declarations shared by the controller's files (the memprof
 * binary).  The agent never includes this; it shares only wire.h.
 *
 * Each subcommand lives in its own cmd-NAME.c and exports one
 * `const struct cmd_entry`; cmd.c lists them in cmd_table[] and dispatches.
 * Subcommands return an exit status: their own failures as enum cmd_retval,
 * `run` the profiled command's status.
 */

#ifndef MEMPROF_H
#define MEMPROF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MEMPROF_NAME	"memprof"

/* Documented exit statuses of memprof's own outcomes. */
enum cmd_retval {
	CMD_RETURN_OK = 0,
	CMD_RETURN_ERROR = 1,		/* memprof itself failed */
	CMD_RETURN_USAGE = 2,		/* bad command line */
};

struct cmd_entry {
	const char	*name;
	const char	*args;		/* usage after the name, e.g. "[OPTIONS] CAPTURE" */
	const char	*summary;	/* one line for `memprof --help` */
	const char	*help;		/* option list for `memprof help NAME` */
	int		(*exec)(const struct cmd_entry *, int, char **);
};

/* cmd.c */
extern const struct cmd_entry *cmd_table[];
const struct cmd_entry *cmd_find(const char *);
int	cmd_dispatch(int, char **);
void	cmd_print_help(const struct cmd_entry *, FILE *);
int	cmd_usage_error(const struct cmd_entry *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	cmd_usage_cause(const struct cmd_entry *, char *);
int	cmd_not_built(const struct cmd_entry *, const char *);
struct option;
int	cmd_option_error(const struct cmd_entry *, int, char **,
	    const struct option *);
void	cmd_print_usage(FILE *);

/* cmd-*.c */
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_attach_entry;
extern const struct cmd_entry cmd_report_entry;
extern const struct cmd_entry cmd_top_entry;
extern const struct cmd_entry cmd_stats_entry;
extern const struct cmd_entry cmd_exporter_entry;
extern const struct cmd_entry cmd_help_entry;

/* log.c */
extern const char *log_progname;
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	log_set_cleanup(void (*)(void));

/* xmalloc.c */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));
int	xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* parse.c */
int	parse_size(const char *, uint64_t *, char **);
int	parse_seconds(const char *, double *, char **);
int	parse_pid(const char *, int *, char **);
int	parse_listen(const char *, char **, int *, char **);

/* agent-path.c */
char	*agent_path_find(char **);

#endif /* MEMPROF_H */
