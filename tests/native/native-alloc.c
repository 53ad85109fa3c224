/*
 * native-alloc.c: a C program with known allocating functions, for
 * tests/native.sh.  Each function is kept out of line and unclone'd so its
 * name is the one in the symbol table, and every block stays reachable from
 * a global so the compiler cannot drop the allocation.  With a plugin path
 * argument it also dlopens that library after start-up and calls its
 * allocating function (a module mapped after the hello), then lingers for
 * argv[2] milliseconds (default 300) as a service would: the collector reads
 * a process's maps when it drains the stack that needs them, which a
 * program exiting within a millisecond of its dlopen does not wait for.
 *
 * Expected, with --exact: alloc_big_buffer 16 MiB (16 x 1 MiB),
 * alloc_small_nodes 1 MiB (16384 x 64 B), plugin_alloc_chunk 4 MiB.
 */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Kept out of line and not cloned, so the symbol table has it under its own name. */
#if defined(__clang__)
#define NATIVE_NOINLINE	__attribute__((noinline))
#else
#define NATIVE_NOINLINE	__attribute__((noinline, noclone))
#endif

#define BIG_COUNT	16
#define BIG_SIZE	(1024 * 1024)
#define SMALL_COUNT	16384
#define SMALL_SIZE	64

void	*keep_big[BIG_COUNT];
void	*keep_small[SMALL_COUNT];

/* Allocate the big buffers. */
NATIVE_NOINLINE void
alloc_big_buffer(int i)
{
	keep_big[i] = malloc(BIG_SIZE);
	memset(keep_big[i], 1, 64);
}

/* Allocate one small node. */
NATIVE_NOINLINE void
alloc_small_nodes(int i)
{
	keep_small[i] = calloc(1, SMALL_SIZE);
}

/* Run the workload; argv[1], if given, is a plugin to dlopen; argv[2] the linger in ms. */
int
main(int argc, char **argv)
{
	struct timespec	 ts;
	void		*(*plugin)(void);
	void		*h;
	long		 ms;
	int		 i;

	for (i = 0; i < BIG_COUNT; i++)
		alloc_big_buffer(i);
	for (i = 0; i < SMALL_COUNT; i++)
		alloc_small_nodes(i);
	if (argc > 1) {
		if ((h = dlopen(argv[1], RTLD_NOW)) == NULL ||
		    (plugin = (void *(*)(void))dlsym(h, "plugin_alloc")) == NULL) {
			fprintf(stderr, "native-alloc: %s\n", dlerror());
			return 2;
		}
		if (plugin() == NULL)
			return 3;
		ms = argc > 2 ? atol(argv[2]) : 300;
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = ms % 1000 * 1000000L;
		nanosleep(&ts, NULL);
	}
	return keep_big[0] != NULL && keep_small[0] != NULL ? 0 : 1;
}
