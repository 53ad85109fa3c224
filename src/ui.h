/*
 * ui.h: the terminal, as the dashboard's screens see it.  ui.c is the only
 * file that includes curses (htop's CRT.c); the widgets (ui-table.c,
 * ui-spark.c, ui-help.c) and screens (top.c, top-live.c) draw through
 * these calls with roles, not curses colours, so NO_COLOR and terminals
 * without colour only change ui.c.
 */

#ifndef MEMPROF_UI_H
#define MEMPROF_UI_H

#include <stddef.h>
#include <stdint.h>

/* What a piece of text is; ui.c maps each role to colours and attributes. */
enum ui_role {
	UI_NORMAL,
	UI_TITLE,	/* the screen's first line */
	UI_HEADER,	/* a table's column titles */
	UI_SORTED,	/* the title of the sort column */
	UI_SELECTED,	/* the selected row */
	UI_DIM,		/* secondary text, ids, "--" */
	UI_GOOD,	/* low use */
	UI_WARN,	/* > 70% of a limit, pressure */
	UI_CRIT,	/* > 90% of a limit, OOM kills */
	UI_GRAPH,	/* sparklines and bars */
	UI_KEY,		/* a key in the footer ("F1") */
	UI_KEYTEXT,	/* what it does ("Help") */
	UI_BOX,		/* overlay frames */
	UI_INPUT,	/* the filter being typed */
	UI_NROLES
};

/* Keys beyond plain characters (plain ones are their byte value, < 256). */
enum {
	UI_KEY_NONE = -1,	/* timed out */
	UI_KEY_DATA = -2,	/* the extra fd became readable */
	UI_KEY_DATA2 = -3,	/* the second extra fd became readable */
	UI_KEY_RESIZE = 0x1000,
	UI_KEY_UP,
	UI_KEY_DOWN,
	UI_KEY_LEFT,
	UI_KEY_RIGHT,
	UI_KEY_PGUP,
	UI_KEY_PGDN,
	UI_KEY_HOME,
	UI_KEY_END,
	UI_KEY_ENTER,
	UI_KEY_ESC,
	UI_KEY_BACKSPACE,
	UI_KEY_F1,
	UI_KEY_F3,
	UI_KEY_F5,
	UI_KEY_F6,
	UI_KEY_F10,
	UI_KEY_INTR		/* SIGINT/SIGTERM/SIGHUP: quit */
};

/* The smallest screen the dashboard draws on; smaller gets a message. */
#define UI_MIN_COLS	50
#define UI_MIN_LINES	12

int	 ui_start(char **);
void	 ui_stop(void);
int	 ui_active(void);
int	 ui_cols(void);
int	 ui_lines(void);
int	 ui_color(void);
int	 ui_utf8(void);
int	 ui_wait(int, int);
int	 ui_wait2(int, int, int);
void	 ui_erase(void);
void	 ui_flush(void);
int	 ui_put(int, int, int, enum ui_role, const char *);
void	 ui_fill(int, int, int, enum ui_role);
void	 ui_bar(int, int, int, double, enum ui_role);
void	 ui_blocks(int, int, const uint8_t *, size_t, int, enum ui_role);
void	 ui_box(int, int, int, int, const char *);
void	 ui_too_small(void);

/* ui-spark.c */
void	 ui_spark_levels(const uint64_t *, size_t, uint64_t, int, uint8_t *, size_t);
void	 ui_spark_draw(int, int, int, int, const uint64_t *, size_t, uint64_t);

/* ui-table.c */
struct ui_column {
	const char	*title;
	int		 width;		/* 0: takes what is left */
	int		 right;
	int		 priority;	/* higher: hidden first when narrow */
};

struct ui_table {
	const struct ui_column	*cols;
	int			 ncols;
	int			 sort;		/* column index, -1: none */
	int			 desc;
	size_t			 nrows;
	size_t			 sel;
	size_t			 top;
	int			 shown[32];	/* visible columns, left to right */
	int			 width[32];
	int			 nshown;
	int			 flex_want;	/* widest text of the flexible column */
};

/* Fill buf with a cell; set *role to colour it (UI_NORMAL by default). */
typedef void	ui_table_cell_cb(void *, size_t, int, char *, size_t, enum ui_role *);

void	 ui_table_layout(struct ui_table *, int);
void	 ui_table_scroll(struct ui_table *, int);
int	 ui_table_key(struct ui_table *, int, int);
void	 ui_table_draw(struct ui_table *, int, int, int, int, ui_table_cell_cb *, void *);

/* ui-help.c */
void	 ui_help_draw(const char *const *, const char *);

#endif /* MEMPROF_UI_H */
