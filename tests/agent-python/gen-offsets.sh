#!/bin/sh
# gen-offsets.sh: regenerates PYTHON_LAYOUT_TABLE in src/agent/agent-python.c
# (and PYMEM_FINISHING_3_8 in agent-pymem.c) from the headers installed with
# each CPython: gen-offsets.c is compiled against each version's own
# headers, internal ones included, and prints offsetof() values; this
# script pivots them into one row per field, one column per version.
#
# Usage: gen-offsets.sh [PREFIX...]
# The default is the newest pyenv build of each of 3.8-3.13, the columns
# the agent expects.  `gen-offsets.sh /usr` prints Debian's 3.11 headers
# alone, to compare with the 3.11 column.

set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

root=$(pyenv root 2>/dev/null || echo /root/.pyenv)
if [ $# -eq 0 ]; then
    for m in 8 9 10 11 12 13; do
        last=
        for d in "$root"/versions/3."$m".*; do
            [ -d "$d" ] && last=$d
        done
        [ -n "$last" ] || { echo "gen-offsets.sh: no 3.$m under $root" >&2; exit 1; }
        set -- "$@" "$last"
    done
fi

n=0
for prefix; do
    for inc in "$prefix"/include/python3.*; do
        [ -r "$inc/Python.h" ] || continue
        n=$((n + 1))
        # Internal headers include each other by bare name.
        ${CC:-gcc} -std=gnu11 -w -I"$inc" -I"$inc/internal" \
            "$here/gen-offsets.c" -o "$tmp/gen"
        "$tmp/gen" >"$tmp/col.$n"
    done
done

# One row per field: X(field, v1, v2, ...), in the order of the first column.
awk -v n="$n" '
    FNR == 1 { col++ }
    { if (!($1 in seen)) { seen[$1] = 1; order[++rows] = $1 } val[$1, col] = $2 }
    END {
        for (r = 1; r <= rows; r++) {
            f = order[r]
            if (f == "version") {
                line = "\t/* field\t\t"
                for (c = 1; c <= n; c++) line = line val[f, c] (c < n ? "\t" : "")
                print line " */\t\\"
                continue
            }
            if (f ~ /^pymem_/) { extra = extra "/* agent-pymem.c */ #define " toupper(f) "\t" val[f, 1] "\n"; continue }
            line = "\tX(" f ","
            for (t = length(f) + 3; t < 24; t += 8) line = line "\t"
            for (c = 1; c <= n; c++) line = line (val[f, c] == "" ? "?" : val[f, c]) (c < n ? ",\t" : ")")
            print line "\t\\"
        }
        printf "%s", extra
    }' "$tmp"/col.*
