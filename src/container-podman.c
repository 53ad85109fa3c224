/*
 * container-podman.c: Podman container names from containers/storage.
 *
 * Podman keeps no daemon; its containers' names live in the storage
 * library's ROOT/overlay-containers/containers.json, an array of
 * {"id", "names": [...], "metadata": "<JSON in a string>"} where the
 * metadata string holds "image-name".  Rootful storage is
 * /var/lib/containers/storage; rootless is ~/.local/share/containers/
 * storage of the user whose user@UID.service holds the cgroup.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "monitor.h"

/* Take the image name out of the metadata string, if it is there. */
static void
container_podman_image(const char *obj, size_t olen, struct container_info *ci)
{
	char	*meta, image[512];
	size_t	 size = olen + 1;

	meta = xmalloc(size);
	if (json_get_string(obj, olen, "metadata", meta, size) == 0 &&
	    json_get_string(meta, strlen(meta), "image-name", image, sizeof image) == 0) {
		free(ci->image);
		ci->image = xstrdup(image);
	}
	free(meta);
}

/* Name a Podman container from containers.json.  0, or -1 with ci->error. */
int
container_podman_resolve(const struct container_paths *paths, struct container_info *ci)
{
	const char	*obj;
	char		*root, *path, *text, name[256];
	size_t		 len, olen;
	int		 rc = -1;

	if (ci->rootless)
		root = container_user_root(ci->owner, ".local/share/containers/storage");
	else
		root = xstrdup(paths->podman_root);
	if (root == NULL) {
		ci->error = ENOENT;
		return -1;
	}
	xasprintf(&path, "%s/overlay-containers/containers.json", root);
	free(root);
	text = container_read_file(path, &len);
	ci->error = errno;
	free(path);
	if (text == NULL)
		return -1;
	ci->error = ENOENT;
	if (json_array_find(text, len, "id", ci->id, &obj, &olen) == 0 &&
	    json_get_string(obj, olen, "names", name, sizeof name) == 0) {
		free(ci->name);
		ci->name = xstrdup(name);
		container_podman_image(obj, olen, ci);
		ci->error = 0;
		rc = 0;
	}
	free(text);
	return rc;
}
