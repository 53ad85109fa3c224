/*
 * json-scan.c: find a few values in the container runtimes' JSON files
 * (Docker's config.v2.json, OCI config.json annotations, Podman's
 * containers.json) without building a tree.
 *
 * A lookup walks the text once along a path of object keys
 * ("Config|Image"), skipping every other value; nothing is allocated.
 * Input is untrusted: every step is bounds-checked, nesting is capped, and
 * malformed text gives -1 with EINVAL (a missing key gives ENOENT).
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "monitor.h"

/* Deeper nesting than this is refused: it keeps recursion bounded on hostile input. */
#define JSON_MAX_DEPTH	64

struct json_cur {
	const char	*p;
	const char	*end;
};

static int	json_skip_value(struct json_cur *, int);

/* Skip white space. */
static void
json_ws(struct json_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* Skip a string at c->p (which must be '"'); sets *s and *n to its raw contents. */
static int
json_skip_string(struct json_cur *c, const char **s, size_t *n)
{
	const char	*start;

	if (c->p >= c->end || *c->p != '"')
		return -1;
	start = ++c->p;
	while (c->p < c->end && *c->p != '"') {
		if (*c->p == '\\') {
			if (++c->p >= c->end)
				return -1;
		} else if ((unsigned char)*c->p < 0x20)
			return -1;
		c->p++;
	}
	if (c->p >= c->end)
		return -1;
	if (s != NULL) {
		*s = start;
		*n = (size_t)(c->p - start);
	}
	c->p++;
	return 0;
}

/* Skip an object or array at c->p. */
static int
json_skip_container(struct json_cur *c, int depth)
{
	char	close = *c->p == '{' ? '}' : ']';
	int	first = 1;

	c->p++;
	for (;;) {
		json_ws(c);
		if (c->p >= c->end)
			return -1;
		if (*c->p == close) {
			c->p++;
			return 0;
		}
		if (!first) {
			if (*c->p != ',')
				return -1;
			c->p++;
			json_ws(c);
		}
		first = 0;
		if (close == '}') {
			if (json_skip_string(c, NULL, NULL) != 0)
				return -1;
			json_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return -1;
			c->p++;
			json_ws(c);
		}
		if (json_skip_value(c, depth + 1) != 0)
			return -1;
	}
}

/* Skip any value at c->p. */
static int
json_skip_value(struct json_cur *c, int depth)
{
	if (depth > JSON_MAX_DEPTH || c->p >= c->end)
		return -1;
	switch (*c->p) {
	case '"':
		return json_skip_string(c, NULL, NULL);
	case '{':
	case '[':
		return json_skip_container(c, depth);
	default:
		/* A number, true, false or null: a run of these characters. */
		if (*c->p == '\0' || strchr("-0123456789tfnrueals.E+", *c->p) == NULL)
			return -1;
		while (c->p < c->end && strchr("-0123456789truefalsn.eE+", *c->p) != NULL &&
		    *c->p != '\0')
			c->p++;
		return 0;
	}
}

/* With c->p at '{', move c->p to the value of KEY (len klen); -1 with errno. */
static int
json_find_key(struct json_cur *c, const char *key, size_t klen)
{
	const char	*s;
	size_t		 n;
	int		 first = 1;

	if (c->p >= c->end || *c->p != '{')
		return (errno = ENOENT), -1;	/* the path goes through a non-object */
	c->p++;
	for (;;) {
		json_ws(c);
		if (c->p < c->end && *c->p == '}')
			return (errno = ENOENT), -1;
		if (!first) {
			if (c->p >= c->end || *c->p != ',')
				return (errno = EINVAL), -1;
			c->p++;
			json_ws(c);
		}
		first = 0;
		if (json_skip_string(c, &s, &n) != 0)
			return (errno = EINVAL), -1;
		json_ws(c);
		if (c->p >= c->end || *c->p != ':')
			return (errno = EINVAL), -1;
		c->p++;
		json_ws(c);
		if (n == klen && memcmp(s, key, n) == 0)
			return 0;
		if (json_skip_value(c, 1) != 0)
			return (errno = EINVAL), -1;
	}
}

/*
 * Move to the value at PATH, keys separated by '|' ("Config|Image"), from
 * the top-level object.  Not '.' or '/': OCI annotation keys are full of
 * both ("io.kubernetes.cri.container-name", "nerdctl/name").
 */
static int
json_find_path(struct json_cur *c, const char *path)
{
	const char	*dot;

	json_ws(c);
	for (;;) {
		dot = strchr(path, '|');
		if (json_find_key(c, path, dot != NULL ? (size_t)(dot - path) : strlen(path)) != 0)
			return -1;
		if (dot == NULL)
			return 0;
		path = dot + 1;
	}
}

/* Append one code point as UTF-8; returns bytes written or 0 if it does not fit. */
static size_t
json_put_utf8(char *o, size_t room, unsigned cp)
{
	if (cp < 0x80 && room >= 1) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800 && room >= 2) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp >= 0x800 && room >= 3) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	return 0;
}

/* Unescape a raw JSON string into out (NUL-terminated); -1 with EINVAL/ERANGE. */
static int
json_unescape(const char *s, size_t n, char *out, size_t size)
{
	static const char	 from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char		*esc, *end = s + n;
	size_t			 o = 0, w;
	unsigned		 cp;
	char			 hex[5];

	while (s < end) {
		if (size - o < 4)
			return (errno = ERANGE), -1;
		if (*s != '\\') {
			out[o++] = *s++;
			continue;
		}
		if (++s >= end)
			return (errno = EINVAL), -1;
		if (*s == 'u') {
			if (end - s < 5 || strspn(s + 1, "0123456789abcdefABCDEF") < 4)
				return (errno = EINVAL), -1;
			memcpy(hex, s + 1, 4);
			hex[4] = '\0';
			cp = (unsigned)strtoul(hex, NULL, 16);
			/* Surrogate halves are not characters alone: show them as '?'. */
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = '?';
			if (cp == 0 || (w = json_put_utf8(out + o, size - o - 1, cp)) == 0)
				return (errno = EINVAL), -1;
			o += w;
			s += 5;
			continue;
		}
		if ((esc = strchr(from, *s)) == NULL || *s == '\0')
			return (errno = EINVAL), -1;
		out[o++] = to[esc - from];
		s++;
	}
	out[o] = '\0';
	return 0;
}

/*
 * Find the string at PATH ("Config|Image") in the JSON text and copy it
 * unescaped into out; if the value is an array, its first element is
 * taken (Podman's "names").  Returns 0, or -1 with ENOENT (absent or not
 * a string), EINVAL (malformed) or ERANGE (too long for out).
 */
int
json_get_string(const char *text, size_t len, const char *path, char *out, size_t size)
{
	struct json_cur	 c = { text, text + len };
	const char	*s;
	size_t		 n;

	if (size == 0 || json_find_path(&c, path) != 0)
		return -1;
	if (c.p < c.end && *c.p == '[') {
		c.p++;
		json_ws(&c);
	}
	if (c.p >= c.end || *c.p != '"')
		return (errno = ENOENT), -1;
	if (json_skip_string(&c, &s, &n) != 0)
		return (errno = EINVAL), -1;
	return json_unescape(s, n, out, size);
}

/* Find the integer at PATH; -1 with ENOENT or EINVAL. */
int
json_get_int(const char *text, size_t len, const char *path, long long *out)
{
	struct json_cur	 c = { text, text + len };
	char		 num[24], *end;
	size_t		 n;

	if (json_find_path(&c, path) != 0)
		return -1;
	n = 0;
	while (c.p + n < c.end && n < sizeof num - 1 && strchr("-0123456789", c.p[n]) != NULL &&
	    c.p[n] != '\0')
		n++;
	if (n == 0)
		return (errno = ENOENT), -1;
	memcpy(num, c.p, n);
	num[n] = '\0';
	errno = 0;
	*out = strtoll(num, &end, 10);
	if (*end != '\0' || errno != 0)
		return (errno = EINVAL), -1;
	return 0;
}

/*
 * In a top-level array of objects, find the object whose string KEY
 * equals VALUE; return its extent in *obj and *olen.  -1 with ENOENT or
 * EINVAL.
 */
int
json_array_find(const char *text, size_t len, const char *key, const char *value,
    const char **obj, size_t *olen)
{
	struct json_cur	 c = { text, text + len }, o;
	char		 buf[256];
	int		 first = 1;

	json_ws(&c);
	if (c.p >= c.end || *c.p != '[')
		return (errno = EINVAL), -1;
	c.p++;
	for (;;) {
		json_ws(&c);
		if (c.p < c.end && *c.p == ']')
			return (errno = ENOENT), -1;
		if (!first) {
			if (c.p >= c.end || *c.p != ',')
				return (errno = EINVAL), -1;
			c.p++;
			json_ws(&c);
		}
		first = 0;
		o = c;
		if (json_skip_value(&c, 1) != 0)
			return (errno = EINVAL), -1;
		if (*o.p == '{' && json_get_string(o.p, (size_t)(c.p - o.p), key, buf,
		    sizeof buf) == 0 && strcmp(buf, value) == 0) {
			*obj = o.p;
			*olen = (size_t)(c.p - o.p);
			return 0;
		}
	}
}
