/*
 * container-docker.c: Docker container names from dockerd's own files.
 *
 * dockerd keeps each container's state in DATA_ROOT/containers/<id>/
 * config.v2.json ("Name" with a leading '/', "Config"."Image"), rewritten
 * on every state change; reading it needs no daemon and no API.  Rootless
 * Docker keeps the same tree under ~/.local/share/docker of the user whose
 * user@UID.service holds the cgroup.  Only when the files cannot be read
 * (not root, or a moved data-root) is the API socket asked, with one
 * short HTTP/1.0 request per container, once.
 */

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"

/* The API answer for one container is a few KiB; more than this is not one. */
#define DOCKER_API_MAX	(1024 * 1024)

/* Take Name and Config.Image from a container's JSON (file or API). */
static int
container_docker_parse(const char *text, size_t len, struct container_info *ci)
{
	char	name[256], image[512];

	if (json_get_string(text, len, "Name", name, sizeof name) != 0 || name[0] == '\0')
		return -1;
	free(ci->name);
	ci->name = xstrdup(name[0] == '/' ? name + 1 : name);
	if (json_get_string(text, len, "Config|Image", image, sizeof image) == 0) {
		free(ci->image);
		ci->image = xstrdup(image);
	}
	return 0;
}

/* Send one request on a connected socket and read the whole answer. */
static char *
container_docker_http(int fd, const char *id, size_t *len)
{
	char	*req, *buf;
	size_t	 size = 65536, got = 0;
	ssize_t	 n;

	/* HTTP/1.0: the daemon answers without chunking and closes. */
	xasprintf(&req, "GET /containers/%s/json HTTP/1.0\r\nHost: docker\r\n\r\n", id);
	n = write(fd, req, strlen(req));
	free(req);
	if (n <= 0)
		return NULL;
	buf = xmalloc(size);
	while ((n = read(fd, buf + got, size - got - 1)) > 0) {
		got += (size_t)n;
		if (got == size - 1) {
			if (size >= DOCKER_API_MAX)
				break;
			size *= 2;
			buf = xrealloc(buf, size);
		}
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* Ask the Docker API socket for a container's name; -1 with errno. */
static int
container_docker_api(const char *sock, struct container_info *ci)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { 1, 0 };	/* a busy daemon must not stall a refresh */
	char			*buf, *body;
	size_t			 len;
	int			 fd, rc = -1;

	if (sock == NULL || *sock == '\0' || strlen(sock) >= sizeof sun.sun_path) {
		errno = ENOENT;
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sock, strlen(sock));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		return -1;
	}
	buf = container_docker_http(fd, ci->id, &len);
	close(fd);
	if (buf == NULL)
		return -1;
	errno = ENOENT;
	if (strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0 &&
	    (body = strstr(buf, "\r\n\r\n")) != NULL) {
		body += 4;
		rc = container_docker_parse(body, len - (size_t)(body - buf), ci);
	}
	free(buf);
	return rc;
}

/*
 * Name a Docker container from DATA_ROOT/containers/<id>/config.v2.json,
 * or the API socket when the file cannot be read.  Returns 0 or -1 with
 * ci->error (EACCES: needs root or the docker group).
 */
int
container_docker_resolve(const struct container_paths *paths, struct container_info *ci)
{
	char	*root, *path, *text;
	size_t	 len;
	int	 rc = -1, error;

	if (ci->rootless)
		root = container_user_root(ci->owner, ".local/share/docker");
	else
		root = xstrdup(paths->docker_root);
	if (root == NULL) {
		ci->error = ENOENT;
		return -1;
	}
	xasprintf(&path, "%s/containers/%s/config.v2.json", root, ci->id);
	free(root);
	text = container_read_file(path, &len);
	error = errno;
	free(path);
	if (text != NULL) {
		rc = container_docker_parse(text, len, ci);
		error = EINVAL;
		free(text);
	}
	if (rc != 0 && !ci->rootless && container_docker_api(paths->docker_socket, ci) == 0)
		rc = 0;
	ci->error = rc == 0 ? 0 : error;
	return rc;
}
