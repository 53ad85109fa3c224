#!/bin/sh
# cli.sh: the memprof command line itself: help, version, usage errors.
# Every usage error must be one line on stderr, exit 2, and point at help.

. "$(dirname "$0")/lib.sh"

[ -x "$MEMPROF" ] || { echo "memprof binary not built: $MEMPROF"; exit 99; }

t_run "$MEMPROF" --version
t_expect_rc "--version" 0
t_expect_match "--version names the program" out '^memprof [0-9]+\.[0-9]+\.[0-9]+$'

t_run "$MEMPROF" --help
t_expect_rc "--help" 0
for c in run attach report top stats exporter help; do
    t_expect_match "--help lists $c" out "^  $c "
done

t_run "$MEMPROF"
t_expect_rc "no arguments" 2

for c in run attach report top stats exporter; do
    t_run "$MEMPROF" help "$c"
    t_expect_rc "help $c" 0
    t_expect_match "help $c shows usage" out "^Usage: memprof $c "
    t_run "$MEMPROF" "$c" --help
    t_expect_rc "$c --help" 0
    t_expect_match "$c --help shows options" out '^Options:'
    t_run "$MEMPROF" "$c" --bogus-flag
    t_expect_rc "$c --bogus-flag" 2
    t_expect_lines "$c --bogus-flag says one line" err 1
    t_expect_match "$c --bogus-flag names the flag and help" err "^memprof: $c: unknown option '--bogus-flag' \(see 'memprof help $c'\)$"
done

t_run "$MEMPROF" bogus
t_expect_rc "unknown command" 2
t_expect_lines "unknown command says one line" err 1
t_expect_match "unknown command message" err "^memprof: unknown command 'bogus' \(see 'memprof --help'\)$"

t_run "$MEMPROF" --bogus
t_expect_rc "unknown top-level option" 2

t_run "$MEMPROF" run
t_expect_rc "run without a command" 2
t_expect_lines "run without a command says one line" err 1
t_expect_match "run without a command message" err "^memprof: run: missing COMMAND"

t_run "$MEMPROF" run --sample-every
t_expect_rc "run --sample-every without a value" 2
t_expect_match "missing value names the option" err "option '--sample-every' needs an argument"

t_run "$MEMPROF" run --sample-every 1X true
t_expect_rc "run --sample-every with a bad size" 2
t_expect_match "bad size is quoted" err "invalid size '1X'"

t_run "$MEMPROF" run --exact --sample-every 1M true
t_expect_rc "run --exact with --sample-every" 2

t_run "$MEMPROF" attach
t_expect_rc "attach without --pid" 2
t_expect_match "attach without --pid message" err "missing --pid"

t_run "$MEMPROF" attach --pid abc
t_expect_rc "attach with a bad pid" 2

t_run "$MEMPROF" attach --pid 1 --duration -3
t_expect_rc "attach with a bad duration" 2

t_run "$MEMPROF" report
t_expect_rc "report without a capture" 2
t_expect_match "report without a capture message" err "missing CAPTURE"

t_run "$MEMPROF" report --format docx x.mprof
t_expect_rc "report with an unknown format" 2

t_run "$MEMPROF" report --view everything x.mprof
t_expect_rc "report with an unknown view" 2

t_run "$MEMPROF" stats --format xml
t_expect_rc "stats with an unknown format" 2

t_run "$MEMPROF" top --delay 0
t_expect_rc "top with a zero delay" 2

t_run "$MEMPROF" exporter --listen nowhere
t_expect_rc "exporter with a bad address" 2

t_run "$MEMPROF" help bogus
t_expect_rc "help for an unknown command" 2

t_done
