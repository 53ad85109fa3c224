/*
 * ui.c: the only file that talks to curses (htop's CRT.c): start and stop
 * the screen, map roles to colours or, under NO_COLOR and on monochrome
 * terminals, to attributes alone, wait for a key or for data without
 * blocking either, and draw clipped text, bars, block glyphs and boxes.
 *
 * Input never blocks on data: ui_wait() polls stdin and the caller's fd
 * together (the worker's pipe, or the collector's), with a timeout.  Keys
 * come from getch() in nodelay mode, so an escape sequence split across
 * reads is still assembled by curses.  SIGWINCH is curses' own (it turns
 * into KEY_RESIZE); SIGINT, SIGTERM and SIGHUP, when nobody else handles
 * them, set a flag that reads as UI_KEY_INTR.  fatal() runs ui_stop()
 * through log_set_cleanup(), so an error never leaves a raw terminal.
 */

#include <errno.h>
#include <locale.h>
#include <langinfo.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curses.h>

#include "memprof.h"
#include "ui.h"

/* Milliseconds curses waits after ESC for the rest of a sequence; 1000 is its default. */
#define UI_ESCDELAY	25

static int			 ui_on;
static int			 ui_has_color;
static int			 ui_is_utf8;
static attr_t			 ui_attr[UI_NROLES];
static volatile sig_atomic_t	 ui_intr;
static const int		 ui_sigs[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction		 ui_old_sa[3];
static int			 ui_sig_set[3];
static SCREEN			*ui_screen;

/* Signal handler: ask the loop to quit. */
static void
ui_on_signal(int sig)
{
	(void)sig;
	ui_intr = 1;
}

/* Take SIGINT/SIGTERM/SIGHUP where their handling is the default (not `run`'s relays). */
static void
ui_catch_signals(void)
{
	struct sigaction	sa;
	size_t			i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ui_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 3; i++) {
		ui_sig_set[i] = 0;
		if (sigaction(ui_sigs[i], NULL, &ui_old_sa[i]) != 0 ||
		    ui_old_sa[i].sa_handler != SIG_DFL)
			continue;
		/* No SA_RESTART: the signal must interrupt poll(). */
		ui_sig_set[i] = sigaction(ui_sigs[i], &sa, NULL) == 0;
	}
}

/* Colours and attributes of each role; attributes alone without colour. */
static void
ui_init_roles(void)
{
	static const struct {
		short	fg, bg;
		attr_t	color_attr, mono_attr;
	} def[UI_NROLES] = {
		[UI_NORMAL] = { -1, -1, 0, 0 },
		[UI_TITLE] = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE | A_BOLD },
		[UI_HEADER] = { COLOR_BLACK, COLOR_GREEN, 0, A_REVERSE },
		[UI_SORTED] = { COLOR_BLACK, COLOR_CYAN, A_BOLD, A_REVERSE | A_BOLD | A_UNDERLINE },
		[UI_SELECTED] = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
		[UI_DIM] = { COLOR_BLUE, -1, A_BOLD, A_DIM },
		[UI_GOOD] = { COLOR_GREEN, -1, 0, 0 },
		[UI_WARN] = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
		[UI_CRIT] = { COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
		[UI_GRAPH] = { COLOR_CYAN, -1, 0, 0 },
		[UI_KEY] = { -1, -1, A_BOLD, A_BOLD },
		[UI_KEYTEXT] = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
		[UI_BOX] = { -1, -1, A_BOLD, A_BOLD },
		[UI_INPUT] = { COLOR_BLACK, COLOR_YELLOW, 0, A_REVERSE | A_BOLD },
	};
	const char	*nc = getenv("NO_COLOR");
	int		 r;

	/* no-color.org: any non-empty NO_COLOR turns colour off. */
	ui_has_color = has_colors() && (nc == NULL || *nc == '\0');
	if (ui_has_color && (start_color() != OK || use_default_colors() != OK))
		ui_has_color = 0;
	for (r = 0; r < UI_NROLES; r++) {
		if (!ui_has_color) {
			ui_attr[r] = def[r].mono_attr;
			continue;
		}
		init_pair((short)(r + 1), def[r].fg, def[r].bg);
		ui_attr[r] = COLOR_PAIR(r + 1) | def[r].color_attr;
	}
}

/* Put the terminal back and drop the hooks (safe to call twice, and from fatal()). */
void
ui_stop(void)
{
	size_t	i;

	if (!ui_on)
		return;
	ui_on = 0;
	log_set_cleanup(NULL);
	curs_set(1);
	endwin();
	if (ui_screen != NULL)
		delscreen(ui_screen);
	ui_screen = NULL;
	for (i = 0; i < 3; i++) {
		if (ui_sig_set[i])
			sigaction(ui_sigs[i], &ui_old_sa[i], NULL);
		ui_sig_set[i] = 0;
	}
}

/*
 * Take the terminal (stdin and stdout must be one).  Returns 0, or -1 with
 * *cause when curses cannot start (no TERM, unknown terminal).
 */
int
ui_start(char **cause)
{
	const char	*term = getenv("TERM");

	if (term == NULL || *term == '\0') {
		xasprintf(cause, "TERM is not set");
		return -1;
	}
	setlocale(LC_CTYPE, "");
	ui_is_utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	if ((ui_screen = newterm(NULL, stdout, stdin)) == NULL) {
		xasprintf(cause, "cannot use terminal type '%s'", term);
		return -1;
	}
	set_term(ui_screen);
	ui_on = 1;
	log_set_cleanup(ui_stop);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(UI_ESCDELAY);
	curs_set(0);
	ui_init_roles();
	ui_catch_signals();
	ui_intr = 0;
	return 0;
}

/* Is curses on the screen now? */
int
ui_active(void)
{
	return ui_on;
}

/* Screen width in columns. */
int
ui_cols(void)
{
	return COLS;
}

/* Screen height in lines. */
int
ui_lines(void)
{
	return LINES;
}

/* Are colours in use? */
int
ui_color(void)
{
	return ui_has_color;
}

/* Can block glyphs be drawn (a UTF-8 locale)? */
int
ui_utf8(void)
{
	return ui_is_utf8;
}

/* Map a curses key to ours; plain bytes stay as they are. */
static int
ui_map_key(int ch)
{
	switch (ch) {
	case KEY_RESIZE:	return UI_KEY_RESIZE;
	case KEY_UP:		return UI_KEY_UP;
	case KEY_DOWN:		return UI_KEY_DOWN;
	case KEY_LEFT:		return UI_KEY_LEFT;
	case KEY_RIGHT:		return UI_KEY_RIGHT;
	case KEY_PPAGE:		return UI_KEY_PGUP;
	case KEY_NPAGE:		return UI_KEY_PGDN;
	case KEY_HOME:		return UI_KEY_HOME;
	case KEY_END:		return UI_KEY_END;
	case KEY_ENTER:
	case '\r':
	case '\n':		return UI_KEY_ENTER;
	case 27:		return UI_KEY_ESC;
	case KEY_BACKSPACE:
	case 127:
	case 8:			return UI_KEY_BACKSPACE;
	case KEY_F(1):		return UI_KEY_F1;
	case KEY_F(3):		return UI_KEY_F3;
	case KEY_F(5):		return UI_KEY_F5;
	case KEY_F(6):		return UI_KEY_F6;
	case KEY_F(10):		return UI_KEY_F10;
	default:
		return ch >= 0 && ch < 256 ? ch : UI_KEY_NONE;
	}
}

/*
 * Wait up to timeout_ms for a key or for fd or fd2 (-1: none) to become
 * readable.  Returns the key, UI_KEY_DATA (fd), UI_KEY_DATA2 (fd2),
 * UI_KEY_INTR, or UI_KEY_NONE on timeout.  Keys already read by curses
 * come first, so typing ahead is never lost.
 */
int
ui_wait2(int fd, int fd2, int timeout_ms)
{
	struct pollfd	pfd[3];
	int		ch, n;

	if (ui_intr)
		return UI_KEY_INTR;
	if ((ch = getch()) != ERR)
		return ui_map_key(ch);
	pfd[0].fd = STDIN_FILENO;
	pfd[1].fd = fd;
	pfd[2].fd = fd2;
	pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
	pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
	/* poll() ignores negative fds. */
	n = poll(pfd, 3, timeout_ms);
	if (ui_intr)
		return UI_KEY_INTR;
	if (n < 0 && errno != EINTR)
		return UI_KEY_NONE;
	/* EINTR is most often SIGWINCH: curses then has KEY_RESIZE for us. */
	if ((ch = getch()) != ERR)
		return ui_map_key(ch);
	if (n > 0 && (pfd[1].revents & (POLLIN | POLLHUP)))
		return UI_KEY_DATA;
	if (n > 0 && (pfd[2].revents & (POLLIN | POLLHUP)))
		return UI_KEY_DATA2;
	/* A hung-up terminal reads as EOF forever: treat it as a quit. */
	if (n > 0 && (pfd[0].revents & (POLLHUP | POLLERR)))
		return UI_KEY_INTR;
	return UI_KEY_NONE;
}

/* Wait for a key or for fd (-1: none); see ui_wait2. */
int
ui_wait(int fd, int timeout_ms)
{
	return ui_wait2(fd, -1, timeout_ms);
}

/* Start a new frame. */
void
ui_erase(void)
{
	erase();
}

/* Show the frame (only what changed reaches the terminal). */
void
ui_flush(void)
{
	refresh();
}

/*
 * Draw s at (y, x), at most w columns (w < 0: to the edge), clipped to the
 * screen.  Control characters show as '?'.  Returns the columns used.
 */
int
ui_put(int y, int x, int w, enum ui_role role, const char *s)
{
	char	buf[1024];
	size_t	len = 0;
	int	n = 0;

	if (y < 0 || y >= LINES || x < 0 || x >= COLS)
		return 0;
	if (w < 0 || x + w > COLS)
		w = COLS - x;
	for (; *s != '\0' && len < sizeof buf - 4; s++) {
		unsigned char	c = (unsigned char)*s;

		/* UTF-8 continuation bytes take no column of their own. */
		if (c >= 0x80 && ui_is_utf8) {
			if ((c & 0xc0) != 0x80 && n++ == w)
				break;
			buf[len++] = (char)c;
			continue;
		}
		if (n++ == w)
			break;
		buf[len++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	if (n > w)
		n = w;
	attrset(ui_attr[role]);
	mvaddnstr(y, x, buf, (int)len);
	attrset(A_NORMAL);
	return n;
}

/* Fill w columns from (y, x) with blanks in a role's colours. */
void
ui_fill(int y, int x, int w, enum ui_role role)
{
	if (y < 0 || y >= LINES || x < 0 || x >= COLS)
		return;
	if (w < 0 || x + w > COLS)
		w = COLS - x;
	attrset(ui_attr[role]);
	mvhline(y, x, ' ', w);
	attrset(A_NORMAL);
}

/* A meter like htop's: "[|||||     ]" filled to frac (0..1), w columns in all. */
void
ui_bar(int y, int x, int w, double frac, enum ui_role role)
{
	int	fill, i;

	if (w < 3)
		return;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * (w - 2) + 0.5);
	ui_put(y, x, 1, UI_BOX, "[");
	for (i = 0; i < w - 2; i++)
		ui_put(y, x + 1 + i, 1, i < fill ? role : UI_DIM, i < fill ? "|" : " ");
	ui_put(y, x + w - 1, 1, UI_BOX, "]");
}

/*
 * Draw n cells of block levels (0..8: empty to full) from (y, x): the
 * eighth blocks in UTF-8, else ASCII that still reads as a graph.
 */
void
ui_blocks(int y, int x, const uint8_t *level, size_t n, int full, enum ui_role role)
{
	static const char *const	utf8[9] = {
		" ", "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
		"\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"
	};
	static const char *const	ascii[9] = { " ", ".", ".", "_", "-", "-", "=", "=", "#" };
	size_t				i;
	uint8_t				l;

	(void)full;
	for (i = 0; i < n; i++) {
		l = level[i] > 8 ? 8 : level[i];
		ui_put(y, x + (int)i, 1, role, ui_is_utf8 ? utf8[l] : ascii[l]);
	}
}

/* A frame of h x w at (y, x) with a title, its inside cleared. */
void
ui_box(int y, int x, int h, int w, const char *title)
{
	int	i;

	if (h < 2 || w < 2)
		return;
	for (i = 1; i < h - 1; i++)
		ui_fill(y + i, x + 1, w - 2, UI_NORMAL);
	attrset(ui_attr[UI_BOX]);
	mvhline(y, x + 1, ACS_HLINE, w - 2);
	mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
	mvvline(y + 1, x, ACS_VLINE, h - 2);
	mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
	mvaddch(y, x, ACS_ULCORNER);
	mvaddch(y, x + w - 1, ACS_URCORNER);
	mvaddch(y + h - 1, x, ACS_LLCORNER);
	mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
	attrset(A_NORMAL);
	if (title != NULL) {
		ui_put(y, x + 2, w - 4, UI_BOX, " ");
		ui_put(y, x + 3, w - 6, UI_BOX, title);
		ui_put(y, x + 3 + (int)strlen(title), 1, UI_BOX, " ");
	}
}

/* Say the screen is too small, instead of drawing garbage. */
void
ui_too_small(void)
{
	char	msg[96];
	int	y = LINES / 2;

	erase();
	snprintf(msg, sizeof msg, "Terminal too small: %dx%d (need %dx%d)", COLS, LINES,
	    UI_MIN_COLS, UI_MIN_LINES);
	ui_put(y > 0 ? y - 1 : 0, 0, -1, UI_WARN, msg);
	ui_put(y, 0, -1, UI_NORMAL, "Enlarge the window, or press q to quit.");
	refresh();
}
