/*
 * container-k8s.c: names for containerd (Kubernetes, nerdctl) and CRI-O
 * containers from the OCI bundle each runtime writes before it starts the
 * container.
 *
 * containerd's shim v2 keeps the bundle at
 * ROOT/io.containerd.runtime.v2.task/<namespace>/<id>/config.json (the v1
 * shim at io.containerd.runtime.v1.linux/...); the CRI plugin puts the
 * Kubernetes names in its annotations (io.kubernetes.cri.container-name,
 * sandbox-name, sandbox-namespace, container-type), nerdctl its own
 * "nerdctl/name".  CRI-O writes ROOT/overlay-containers/<id>/userdata/
 * config.json with io.kubernetes.container.name, pod.name and
 * pod.namespace.  A Kubernetes container is named POD/CONTAINER; a pod's
 * sandbox ("pause") container POD/POD, as kubelet's dockershim did.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "monitor.h"

/* Annotation keys of one runtime. */
struct container_k8s_keys {
	const char	*container;
	const char	*pod;
	const char	*namespace;
	const char	*type;		/* "sandbox" or "container" */
	const char	*image;
	const char	*plain;		/* a name outside Kubernetes */
};

static const struct container_k8s_keys container_k8s_cri = {
	"annotations|io.kubernetes.cri.container-name",
	"annotations|io.kubernetes.cri.sandbox-name",
	"annotations|io.kubernetes.cri.sandbox-namespace",
	"annotations|io.kubernetes.cri.container-type",
	"annotations|io.kubernetes.cri.image-name",
	"annotations|nerdctl/name",
};

static const struct container_k8s_keys container_k8s_crio = {
	"annotations|io.kubernetes.container.name",
	"annotations|io.kubernetes.pod.name",
	"annotations|io.kubernetes.pod.namespace",
	"annotations|io.kubernetes.cri-o.ContainerType",
	"annotations|io.kubernetes.cri-o.ImageName",
	NULL,
};

/* Fill names from an OCI config.json's annotations; -1 if none name it. */
static int
container_k8s_parse(const char *text, size_t len, const struct container_k8s_keys *k,
    struct container_info *ci)
{
	char	cname[256], pod[256], ns[256], type[32], image[512];

	if (json_get_string(text, len, k->pod, pod, sizeof pod) == 0) {
		if (json_get_string(text, len, k->type, type, sizeof type) == 0 &&
		    strcmp(type, "sandbox") == 0) {
			ci->sandbox = 1;
			snprintf(cname, sizeof cname, "POD");
		} else if (json_get_string(text, len, k->container, cname, sizeof cname) != 0)
			snprintf(cname, sizeof cname, "%.12s", ci->id);
		free(ci->pod);
		ci->pod = xstrdup(pod);
		if (json_get_string(text, len, k->namespace, ns, sizeof ns) == 0) {
			free(ci->namespace);
			ci->namespace = xstrdup(ns);
		}
		free(ci->name);
		xasprintf(&ci->name, "%s/%s", pod, cname);
	} else if (k->plain != NULL &&
	    json_get_string(text, len, k->plain, cname, sizeof cname) == 0) {
		free(ci->name);
		ci->name = xstrdup(cname);
	} else
		return -1;
	if (json_get_string(text, len, k->image, image, sizeof image) == 0) {
		free(ci->image);
		ci->image = xstrdup(image);
	}
	return 0;
}

/* Look for <id>/config.json in each namespace directory under DIR. */
static char *
container_k8s_find_bundle(const char *dir, const char *id, size_t *len, int *error)
{
	struct dirent	*de;
	DIR		*d;
	char		*path, *text = NULL;

	if ((d = opendir(dir)) == NULL) {
		if (*error == 0 || errno == EACCES)
			*error = errno;
		return NULL;
	}
	while (text == NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		xasprintf(&path, "%s/%s/%s/config.json", dir, de->d_name, id);
		text = container_read_file(path, len);
		if (text == NULL && errno != ENOENT)
			*error = errno;
		free(path);
	}
	closedir(d);
	if (text == NULL && *error == 0)
		*error = ENOENT;
	return text;
}

/*
 * Name a containerd container (Kubernetes, nerdctl) from its bundle's
 * annotations.  Returns 0, or -1 with ci->error.
 */
int
container_k8s_resolve(const struct container_paths *paths, struct container_info *ci)
{
	static const char	*shims[] = {
		"io.containerd.runtime.v2.task", "io.containerd.runtime.v1.linux"
	};
	char			*dir, *text = NULL;
	size_t			 len, i;
	int			 error = 0, rc = -1;

	for (i = 0; i < sizeof shims / sizeof shims[0] && text == NULL; i++) {
		xasprintf(&dir, "%s/%s", paths->containerd_root, shims[i]);
		text = container_k8s_find_bundle(dir, ci->id, &len, &error);
		free(dir);
	}
	if (text != NULL) {
		rc = container_k8s_parse(text, len, &container_k8s_cri, ci);
		error = rc == 0 ? 0 : EINVAL;
		free(text);
	}
	ci->error = error;
	return rc;
}

/* Name a CRI-O container from its userdata/config.json.  0, or -1 with ci->error. */
int
container_crio_resolve(const struct container_paths *paths, struct container_info *ci)
{
	char	*path, *text;
	size_t	 len;
	int	 rc = -1;

	xasprintf(&path, "%s/overlay-containers/%s/userdata/config.json", paths->crio_root,
	    ci->id);
	text = container_read_file(path, &len);
	ci->error = errno;
	free(path);
	if (text != NULL) {
		rc = container_k8s_parse(text, len, &container_k8s_crio, ci);
		ci->error = rc == 0 ? 0 : EINVAL;
		free(text);
	}
	return rc;
}
