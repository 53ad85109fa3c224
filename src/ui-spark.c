/*
 * ui-spark.c: sparklines, memory over time in a few lines of eighth-block
 * glyphs.  One column is one sample, the newest at the right edge, so the
 * graph scrolls left as refreshes come in and a wider screen shows a longer
 * past.  The scale is the caller's (a container's limit, or the largest
 * value shown); a value above zero always shows at least one eighth, so a
 * small container is never drawn as empty.
 */

#include <stdint.h>
#include <stdlib.h>

#include "memprof.h"
#include "ui.h"

/*
 * Scale the newest samples into out[width] heights in eighths of a cell,
 * 0..height*8, right-aligned (columns without a sample are 0).  max 0:
 * scale to the largest sample shown.
 */
void
ui_spark_levels(const uint64_t *v, size_t n, uint64_t max, int height, uint8_t *out,
    size_t width)
{
	size_t	i, skip = n > width ? n - width : 0, pad = n < width ? width - n : 0;
	int	top = height * 8, l;

	if (max == 0) {
		for (i = skip; i < n; i++) {
			if (v[i] > max)
				max = v[i];
		}
	}
	for (i = 0; i < width; i++)
		out[i] = 0;
	if (max == 0)
		return;
	for (i = skip; i < n; i++) {
		l = (int)((double)v[i] / (double)max * top + 0.5);
		if (l > top)
			l = top;
		if (l == 0 && v[i] > 0)
			l = 1;
		out[pad + (i - skip)] = (uint8_t)l;
	}
}

/* Draw a sparkline of h lines by w columns at (y, x). */
void
ui_spark_draw(int y, int x, int h, int w, const uint64_t *v, size_t n, uint64_t max)
{
	uint8_t	*level, *row;
	int	 r, c, l;

	if (w <= 0 || h <= 0 || h > 31)
		return;
	level = xmalloc((size_t)w);
	row = xmalloc((size_t)w);
	ui_spark_levels(v, n, max, h, level, (size_t)w);
	for (r = 0; r < h; r++) {
		for (c = 0; c < w; c++) {
			l = level[c] - (h - 1 - r) * 8;
			row[c] = (uint8_t)(l < 0 ? 0 : l > 8 ? 8 : l);
		}
		ui_blocks(y + r, x, row, (size_t)w, 0, UI_GRAPH);
	}
	free(level);
	free(row);
}
