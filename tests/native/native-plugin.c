/*
 * native-plugin.c: a shared library that native-alloc dlopens after start,
 * so its code is mapped after the hello (the collector must notice the
 * unknown addresses and read the maps again).  plugin_alloc_chunk
 * allocates 4 MiB in 4 blocks of 1 MiB.
 */

#include <stdlib.h>
#include <string.h>

#define PLUGIN_COUNT	4
#define PLUGIN_SIZE	(1024 * 1024)

void	*plugin_keep[PLUGIN_COUNT];

/* Allocate one block. */
__attribute__((noinline)) void *
plugin_alloc_chunk(int i)
{
	plugin_keep[i] = malloc(PLUGIN_SIZE);
	if (plugin_keep[i] != NULL)
		memset(plugin_keep[i], 2, 64);
	return plugin_keep[i];
}

/* The entry point native-alloc calls. */
void *
plugin_alloc(void)
{
	int	i;

	for (i = 0; i < PLUGIN_COUNT; i++) {
		if (plugin_alloc_chunk(i) == NULL)
			return NULL;
	}
	return plugin_keep[0];
}
