# lib-tmux.sh: reading a dashboard that runs in tmux, sourced by the top-*
# tests after lib.sh.  The caller sets TM (its tmux command, with a private
# socket) and TM_TARGET (the session, default "top").  Every wait is a poll
# of capture-pane with a deadline (20 s), never a sleep standing in for it.

# screen: the pane's text now.
screen() { $TM capture-pane -p -t "${TM_TARGET:-top}" 2>/dev/null; }

# wait_for REGEX [SECONDS]: poll the screen until REGEX matches (ERE).
wait_for() { t_wait_for "${2:-20}" tm_matches "$1"; }

# wait_gone REGEX [SECONDS]: poll until REGEX no longer matches.
wait_gone() { t_wait_for "${2:-20}" tm_lacks "$1"; }

tm_matches() { screen | grep -Eq -- "$1"; }
tm_lacks() { ! screen | grep -Eq -- "$1"; }

# check NAME REGEX: the screen shows REGEX (waiting for it).
check() {
    if wait_for "$2"; then t_ok "$1"; else t_fail "$1" "no /$2/ on screen:
$(screen)"; fi
}

# check_gone NAME REGEX: the screen stops showing REGEX.
check_gone() {
    if wait_gone "$2"; then t_ok "$1"; else t_fail "$1" "/$2/ still on screen:
$(screen)"; fi
}
