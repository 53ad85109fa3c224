/* late.c: a library loaded after the attach (tests/attach.sh, mode late):
 * its own calls to malloc and free go through its PLT, which the agent must
 * patch when the library appears. */
#include <stdlib.h>
#include <string.h>

static void *late_keep[16];
static unsigned int late_n;

/* Allocate 200 KB, keep the last 16 blocks. */
void
late_alloc(void)
{
	unsigned int i = late_n++ % 16;

	free(late_keep[i]);
	late_keep[i] = malloc(200000);
	if (late_keep[i] != NULL)
		memset(late_keep[i], 1, 64);
}
