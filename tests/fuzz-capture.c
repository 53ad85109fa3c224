/*
 * fuzz-capture.c: libFuzzer target for the capture reader and everything it
 * feeds (the model's record decoding, line tables) and for the reports
 * built from what it accepts.  Build with ./configure --enable-fuzzing
 * CC=clang; run tests/fuzz-capture [corpus].
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "capture.h"
#include "report.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capture_info	 info;
	struct profile		*pf;
	struct report		 r;
	char			*cause = NULL;
	FILE			*f, *sink;

	memset(&info, 0, sizeof info);
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		/* Raw records, as inside a chunk: reaches the decoders past CRC and zlib. */
		pf = profile_create();
		if (capture_apply_chunk(pf, data + 1, size - 1, &info) != 0 && pf->nprocs == 0) {
			profile_free(pf);
			return 0;
		}
	} else {
		if ((f = fmemopen((void *)(data + 1), size - 1, "rb")) == NULL)
			return 0;
		pf = capture_load_stream(f, "fuzz", &info, &cause);
		fclose(f);
		free(cause);
		if (pf == NULL)
			return 0;
	}
	sink = fopen("/dev/null", "w");
	cause = NULL;
	if (sink != NULL && report_build(&r, pf, 0, REPORT_VIEW_PEAK, &cause) == 0) {
		report_text(&r, sink);
		report_json(&r, sink);
		report_free(&r);
	}
	free(cause);
	if (sink != NULL)
		fclose(sink);
	profile_free(pf);
	return 0;
}
