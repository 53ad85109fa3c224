/*
 * ui-help.c: the help overlay (`?` or F1), a framed box over the
 * dashboard listing the keys, the way htop and tmux show theirs.  The
 * caller gives the lines ("key<TAB>what it does") so each screen lists its
 * own keys; the box shrinks to the screen and says how to close it.
 */

#include <string.h>

#include "memprof.h"
#include "ui.h"

/* Draw the help box with lines and a title, centred. */
void
ui_help_draw(const char *const *lines, const char *title)
{
	const char	*tab;
	int		 n, i, w = 0, h, y, x, len;
	char		 key[32];

	for (n = 0; lines[n] != NULL; n++) {
		len = (int)strlen(lines[n]) + 8;
		if (len > w)
			w = len;
	}
	w += 4;
	h = n + 4;
	if (w > ui_cols())
		w = ui_cols();
	if (h > ui_lines())
		h = ui_lines();
	y = (ui_lines() - h) / 2;
	x = (ui_cols() - w) / 2;
	ui_box(y, x, h, w, title);
	for (i = 0; i < n && i < h - 4; i++) {
		tab = strchr(lines[i], '\t');
		if (tab == NULL) {
			ui_put(y + 1 + i, x + 2, w - 4, UI_WARN, lines[i]);
			continue;
		}
		len = (int)(tab - lines[i]);
		if (len >= (int)sizeof key)
			len = (int)sizeof key - 1;
		memcpy(key, lines[i], (size_t)len);
		key[len] = '\0';
		ui_put(y + 1 + i, x + 2, 12, UI_KEY, key);
		ui_put(y + 1 + i, x + 15, w - 17, UI_NORMAL, tab + 1);
	}
	ui_put(y + h - 2, x + 2, w - 4, UI_DIM, "Press any key to close this help.");
}
