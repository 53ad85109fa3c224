/*
 * ui-table.c: a scrolling, sortable table, the widget under both the
 * container list and the process list.  The caller owns the data and hands
 * a cell callback; the table owns only the selection, the scroll offset
 * and which columns fit.  A narrow screen hides the columns with the
 * highest priority number first and gives what is left to the one
 * flexible column (the name), as htop does with its meters.  The sort
 * column is marked in its title (an arrow, or v/^ without UTF-8), so the
 * order is visible without colour too.
 */

#include <stdio.h>
#include <string.h>

#include "memprof.h"
#include "ui.h"

/* The flexible column never gets narrower than this... */
#define UI_TABLE_MIN_FLEX	10
/* ...and other columns are hidden to give it up to this, if its text is that wide. */
#define UI_TABLE_WANT_FLEX	32

/* Choose the columns that fit in width and their widths. */
void
ui_table_layout(struct ui_table *t, int width)
{
	int	show[32], i, total, worst, flex = -1, fmin;

	fmin = t->flex_want < UI_TABLE_WANT_FLEX ? t->flex_want : UI_TABLE_WANT_FLEX;
	if (fmin < UI_TABLE_MIN_FLEX)
		fmin = UI_TABLE_MIN_FLEX;
	for (i = 0; i < t->ncols && i < 32; i++)
		show[i] = 1;
	for (;;) {
		total = 0;
		for (i = 0; i < t->ncols; i++) {
			if (!show[i])
				continue;
			total += (t->cols[i].width ? t->cols[i].width : fmin) + 1;
		}
		if (total - 1 <= width)
			break;
		worst = -1;
		for (i = 0; i < t->ncols; i++) {
			if (show[i] && t->cols[i].priority > 0 &&
			    (worst < 0 || t->cols[i].priority >= t->cols[worst].priority))
				worst = i;
		}
		if (worst < 0)
			break;
		show[worst] = 0;
	}
	t->nshown = 0;
	for (i = 0; i < t->ncols; i++) {
		if (!show[i])
			continue;
		if (t->cols[i].width == 0)
			flex = t->nshown;
		t->width[t->nshown] = t->cols[i].width;
		t->shown[t->nshown++] = i;
	}
	if (flex >= 0)
		t->width[flex] = fmin + (width - (total - 1) > 0 ? width - (total - 1) : 0);
}

/* Keep the selection inside the rows and on screen (height rows visible). */
void
ui_table_scroll(struct ui_table *t, int height)
{
	size_t	h = height > 0 ? (size_t)height : 1;

	if (t->nrows == 0) {
		t->sel = t->top = 0;
		return;
	}
	if (t->sel >= t->nrows)
		t->sel = t->nrows - 1;
	if (t->sel < t->top)
		t->top = t->sel;
	if (t->sel >= t->top + h)
		t->top = t->sel - h + 1;
	if (t->top + h > t->nrows)
		t->top = t->nrows > h ? t->nrows - h : 0;
}

/* Move the selection for a navigation key; returns 1 if the key was one. */
int
ui_table_key(struct ui_table *t, int key, int height)
{
	size_t	page = height > 1 ? (size_t)height - 1 : 1;

	switch (key) {
	case UI_KEY_UP:
	case 'k':
		if (t->sel > 0)
			t->sel--;
		break;
	case UI_KEY_DOWN:
	case 'j':
		t->sel++;
		break;
	case UI_KEY_PGUP:
		t->sel = t->sel > page ? t->sel - page : 0;
		break;
	case UI_KEY_PGDN:
		t->sel += page;
		break;
	case UI_KEY_HOME:
	case 'g':
		t->sel = 0;
		break;
	case UI_KEY_END:
	case 'G':
		t->sel = t->nrows > 0 ? t->nrows - 1 : 0;
		break;
	default:
		return 0;
	}
	ui_table_scroll(t, height);
	return 1;
}

/*
 * Draw text in a cell of width w, right-aligned or not.  Text too long for
 * a flexible cell loses its middle, not its end: cgroup paths, pod and
 * container names differ most in their tails.
 */
static void
ui_table_cell(int y, int x, int w, int right, int flex, enum ui_role role, const char *s)
{
	char	buf[256];
	int	len = (int)strlen(s), head;

	if (flex && len > w && w >= 8 && len < (int)sizeof buf) {
		head = (w - 1) / 2;
		ui_put(y, x, head, role, s);
		ui_put(y, x + head, 1, role, ui_utf8() ? "\xe2\x80\xa6" : "~");
		snprintf(buf, sizeof buf, "%s", s + len - (w - 1 - head));
		ui_put(y, x + head + 1, w - 1 - head, role, buf);
		return;
	}
	if (right && len < w)
		ui_put(y, x + w - len, len, role, s);
	else
		ui_put(y, x, w, role, s);
}

/* Draw the title line, the sort column marked. */
static void
ui_table_header(struct ui_table *t, int y, int x, int w)
{
	const struct ui_column	*c;
	const char		*mark;
	int			 i, cx = x, len;

	ui_fill(y, x, w, UI_HEADER);
	for (i = 0; i < t->nshown && cx < x + w; i++) {
		c = &t->cols[t->shown[i]];
		len = (int)strlen(c->title);
		if (t->shown[i] == t->sort) {
			ui_fill(y, cx, t->width[i], UI_SORTED);
			mark = ui_utf8() ? (t->desc ? "\xe2\x96\xbc" : "\xe2\x96\xb2") : (t->desc ? "v" : "^");
			if (c->right)
				ui_put(y, len < t->width[i] ? cx + t->width[i] - len - 1 : cx - 1, 1,
				    UI_SORTED, mark);
			else
				ui_put(y, len < t->width[i] ? cx + len : cx + t->width[i], 1,
				    UI_SORTED, mark);
		}
		ui_table_cell(y, cx, t->width[i], c->right, 0,
		    t->shown[i] == t->sort ? UI_SORTED : UI_HEADER, c->title);
		cx += t->width[i] + 1;
	}
}

/*
 * Draw the table in h lines by w columns at (y, x): a title line, then
 * rows from the scroll offset.  cell fills each cell's text and role.
 */
void
ui_table_draw(struct ui_table *t, int y, int x, int h, int w, ui_table_cell_cb *cell,
    void *arg)
{
	enum ui_role	role;
	char		buf[256];
	size_t		row;
	int		i, line, cx;

	if (h < 1)
		return;
	ui_table_layout(t, w);
	ui_table_scroll(t, h - 1);
	ui_table_header(t, y, x, w);
	for (line = 1; line < h; line++) {
		row = t->top + (size_t)line - 1;
		if (row >= t->nrows)
			break;
		if (row == t->sel)
			ui_fill(y + line, x, w, UI_SELECTED);
		cx = x;
		for (i = 0; i < t->nshown && cx < x + w; i++) {
			role = UI_NORMAL;
			buf[0] = '\0';
			cell(arg, row, t->shown[i], buf, sizeof buf, &role);
			ui_table_cell(y + line, cx, cx + t->width[i] > x + w ? x + w - cx :
			    t->width[i], t->cols[t->shown[i]].right, t->cols[t->shown[i]].width == 0,
			    row == t->sel ? UI_SELECTED : role, buf);
			cx += t->width[i] + 1;
		}
	}
}
