#!/usr/bin/env python3
"""ansi2html.py: turn `tmux capture-pane -p -e` output into a standalone HTML
page (a terminal-looking <pre>), for headless Chromium to screenshot.

Handles what tmux emits for a curses screen: SGR resets, bold, dim,
underline, reverse, the 8/16 basic colours, 256-colour and RGB colours.

    ansi2html.py TITLE < capture.ansi > capture.html
"""

import html
import re
import sys

BASE = ["#1d1f21", "#cc342b", "#198844", "#c49a00", "#3971ed", "#a36ac7", "#2aa1b3", "#c5c8c6"]
BRIGHT = ["#666666", "#ff5f56", "#5af78e", "#f3f99d", "#57c7ff", "#ff6ac1", "#9aedfe", "#ffffff"]
FG, BG = "#e0e0e0", "#1d1f21"
SGR = re.compile(r"\x1b\[([0-9;]*)m")
# Every other escape (cursor moves, charset selection): dropped; not SGR's "m".
OTHER = re.compile(r"\x1b(\[[0-9;?]*[A-Za-ln-z]|\][^\x07]*\x07|[()][0-9A-B])")


def color256(n):
    """The xterm 256-colour palette entry n as #rrggbb."""
    if n < 8:
        return BASE[n]
    if n < 16:
        return BRIGHT[n - 8]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + 10 * (n - 232)
    return "#%02x%02x%02x" % (v, v, v)


class State:
    """The current graphic rendition."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = self.bg = None
        self.bold = self.dim = self.under = self.rev = False

    def apply(self, params):
        p = [int(x) if x else 0 for x in params.split(";")] if params else [0]
        i = 0
        while i < len(p):
            c = p[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 4:
                self.under = True
            elif c == 7:
                self.rev = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 24:
                self.under = False
            elif c == 27:
                self.rev = False
            elif 30 <= c <= 37:
                self.fg = BASE[c - 30]
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = BASE[c - 40]
            elif c == 49:
                self.bg = None
            elif 90 <= c <= 97:
                self.fg = BRIGHT[c - 90]
            elif 100 <= c <= 107:
                self.bg = BRIGHT[c - 100]
            elif c in (38, 48) and i + 2 < len(p) and p[i + 1] == 5:
                setattr(self, "fg" if c == 38 else "bg", color256(p[i + 2]))
                i += 2
            elif c in (38, 48) and i + 4 < len(p) and p[i + 1] == 2:
                setattr(self, "fg" if c == 38 else "bg", "#%02x%02x%02x" % tuple(p[i + 2:i + 5]))
                i += 4
            i += 1

    def style(self):
        fg, bg = self.fg or FG, self.bg or BG
        if self.rev:
            fg, bg = bg, fg
        s = "color:%s;background:%s" % (fg, bg)
        if self.bold:
            s += ";font-weight:bold"
        if self.dim:
            s += ";opacity:0.6"
        if self.under:
            s += ";text-decoration:underline"
        return s


def convert(text):
    st = State()
    out = []
    for line in text.split("\n"):
        line = OTHER.sub("", line)
        pos = 0
        for m in SGR.finditer(line):
            if m.start() > pos:
                out.append('<span style="%s">%s</span>' % (st.style(), html.escape(line[pos:m.start()])))
            st.apply(m.group(1))
            pos = m.end()
        if pos < len(line):
            out.append('<span style="%s">%s</span>' % (st.style(), html.escape(line[pos:])))
        out.append("\n")
    return "".join(out)


def main():
    title = sys.argv[1] if len(sys.argv) > 1 else "memprof"
    body = convert(sys.stdin.read())
    sys.stdout.write("""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%s</title>
<style>
body { margin: 0; background: %s; }
pre { margin: 0; padding: 10px; font: 14px/1.25 "DejaVu Sans Mono", monospace; color: %s; }
</style></head><body><pre>%s</pre></body></html>
""" % (html.escape(title), BG, FG, body))


if __name__ == "__main__":
    main()
