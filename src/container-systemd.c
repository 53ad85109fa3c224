/*
 * container-systemd.c: names for systemd's cgroups: services, scopes and
 * slices are named by their unit, machines by their machine name.  Nothing
 * is read: systemd names a unit's cgroup after the unit, escaping bytes
 * with \xNN (systemd-escape(1)), which is undone here.  These rows appear
 * with --all; containers of other runtimes inside a scope are matched
 * before this (container.c).
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "monitor.h"

/* Undo systemd's \xNN escaping of n bytes of s into a new string. */
char *
container_systemd_unescape(const char *s, size_t n)
{
	char	*out, *o;
	size_t	 i;

	out = o = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' &&
		    isxdigit((unsigned char)s[i + 2]) && isxdigit((unsigned char)s[i + 3])) {
			char	hex[3] = { s[i + 2], s[i + 3], '\0' };
			char	c = (char)strtoul(hex, NULL, 16);

			/* A NUL or '/' cannot be part of a name: keep the escape. */
			if (c != '\0' && c != '/') {
				*o++ = c;
				i += 3;
				continue;
			}
		}
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* Does s end with suffix? */
static int
container_ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Classify a cgroup whose basename is a systemd unit (.service, .scope,
 * .slice): kind CONTAINER_SYSTEMD, id the unit, name the unescaped unit.
 * Returns the kind, CONTAINER_NONE for anything else.
 */
int
container_systemd_classify(const char *base, const char *parent, struct container_info *ci)
{
	(void)parent;
	if (!container_ends_with(base, ".service") && !container_ends_with(base, ".scope") &&
	    !container_ends_with(base, ".slice")) {
		ci->kind = CONTAINER_NONE;
		return CONTAINER_NONE;
	}
	ci->kind = CONTAINER_SYSTEMD;
	ci->id = xstrdup(base);
	ci->name = container_systemd_unescape(base, strlen(base));
	return CONTAINER_SYSTEMD;
}
