#!/bin/sh
# native.sh: native frames are symbolized by the controller (docs/native.md).
#  - A C program (built here with gcc, PIE and non-PIE) with known
#    allocating functions: `memprof report --format json` on its capture
#    names alloc_big_buffer as the top site with exactly 16 MiB (--exact),
#    alloc_small_nodes with 1 MiB, and plugin_alloc_chunk (4 MiB) in a
#    library dlopen'd after start (the collector reads /proc/PID/maps again
#    for it); built with -g, each site has its source line (the malloc or
#    calloc call's, from the DWARF line table) and the text report shows
#    "alloc_big_buffer  native-alloc.c:41 (native-alloc)"; the live summary
#    names it too; a sampled run agrees on the top site.
#  - A stripped copy: no name is invented; the site is "0xADDR (module+0xA)"
#    and addr2line on the unstripped twin turns A back into alloc_big_buffer.
#    An executable replaced on disk after the recording (new inode) is not
#    read for the old capture either.
#  - Python with --native, on every CPython 3.8-3.13 (pyenv's shared builds
#    and Debian's static /usr/bin/python3.11): the bytearray site is still
#    the Python line (the contract), and its stack holds both the Python
#    frame and the interpreter's PyByteArray_Resize, by name (and, from
#    pyenv's builds, which keep their line tables, in bytearrayobject.c).  Debian's
#    static interpreter has no .symtab (stripped; no python3.11-dbg here)
#    but keeps .dynsym, where PyByteArray_Resize is exported: its static
#    functions show as "0x... (python3.11+0x...)", which is counted, not
#    asserted.

. "$(dirname "$0")/lib.sh"

command -v gcc >/dev/null 2>&1 || t_skip "gcc not found (needed to build the test program)"
command -v python3 >/dev/null 2>&1 || t_skip "python3 not found (used to read JSON)"
SRC="$MEMPROF_SRCDIR/tests/native"
cd "$T_TMP" || exit 99

gcc -O2 -g -o native-alloc "$SRC/native-alloc.c" -ldl || exit 99
gcc -O2 -g -no-pie -fno-pie -o native-alloc-nopie "$SRC/native-alloc.c" -ldl || exit 99
gcc -O2 -g -fPIC -shared -o libnative-plugin.so "$SRC/native-plugin.c" || exit 99
cp native-alloc native-alloc-stripped && strip -s native-alloc-stripped || exit 99

# site_field JSON FUNCTION FIELD: FIELD of the site named FUNCTION ("-" if none).
site_field() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["sites"]:
    if s["function"] == sys.argv[2]:
        v = s.get(sys.argv[3], "-")
        print(str(v).lower() if isinstance(v, bool) else v)
        break
else:
    print("-")
PY
}

# top_field JSON FIELD: FIELD of the first (largest) site.
top_field() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sites"][0][sys.argv[2]])' "$1" "$2"
}

# c_program BINARY: the exact-mode checks on one build of native-alloc.
c_program() {
    bin=$1
    t_run "$MEMPROF" run --exact -o "$bin.mprof" "./$bin" ./libnative-plugin.so
    t_expect_rc "$bin runs under memprof" 0
    t_expect_match "$bin: the live summary names alloc_big_buffer" err 'alloc_big_buffer'
    "$MEMPROF" report --format json -o "$bin.json" "$bin.mprof" || { t_fail "$bin report" "report failed"; return; }
    f=$(top_field "$bin.json" function)
    b=$(top_field "$bin.json" allocated_bytes)
    if [ "$f" = alloc_big_buffer ] && [ "$b" = 16777216 ]; then
        t_ok "$bin: top site alloc_big_buffer, 16777216 bytes"
    else
        t_fail "$bin: top site" "$f with $b bytes, expected alloc_big_buffer with 16777216"
    fi
    n=$(site_field "$bin.json" alloc_big_buffer native)
    file=$(site_field "$bin.json" alloc_big_buffer file)
    if [ "$n" = true ] && [ "$(readlink -f "$file")" = "$(readlink -f "$bin")" ]; then
        t_ok "$bin: the site is native, file is the executable"
    else
        t_fail "$bin: site native/file" "native=$n file=$file"
    fi
    b=$(site_field "$bin.json" alloc_small_nodes allocated_bytes)
    [ "$b" = 1048576 ] && t_ok "$bin: alloc_small_nodes 1048576 bytes" ||
        t_fail "$bin: alloc_small_nodes" "$b bytes, expected 1048576"
    b=$(site_field "$bin.json" plugin_alloc_chunk allocated_bytes)
    file=$(site_field "$bin.json" plugin_alloc_chunk file)
    case $b:$file in
    4194304:*/libnative-plugin.so) t_ok "$bin: dlopen'd plugin_alloc_chunk 4194304 bytes in libnative-plugin.so" ;;
    *) t_fail "$bin: plugin_alloc_chunk" "$b bytes in '$file', expected 4194304 in libnative-plugin.so" ;;
    esac
    # Built with -g: each frame's source line, from the DWARF line table.
    for fn in alloc_big_buffer alloc_small_nodes plugin_alloc_chunk; do
        want=$(grep -n "^$fn(" -A6 "$SRC"/native-alloc.c "$SRC"/native-plugin.c |
            sed -n 's/^.*native-[a-z]*\.c-\([0-9]*\)-.*[mc]alloc(.*/\1/p' | head -1)
        got="$(site_field "$bin.json" $fn source):$(site_field "$bin.json" $fn line)"
        case $got in
        */native-alloc.c:"$want"|*/native-plugin.c:"$want") t_ok "$bin: $fn at $(basename "${got%:*}"):$want" ;;
        *) t_fail "$bin: $fn source line" "'$got', expected its allocating call, line $want" ;;
        esac
    done
    t_run "$MEMPROF" report "$bin.mprof"
    t_expect_match "$bin: text report shows 'alloc_big_buffer native-alloc.c:N ($bin)'" out \
        "alloc_big_buffer +native-alloc\\.c:[0-9]+ \\($bin\\)"
    t_expect_match "$bin: text call path names main with its line" out "by main +native-alloc\\.c:[0-9]+ \\($bin\\)"
}

c_program native-alloc
c_program native-alloc-nopie

# Sampled (the default): the same top site.
t_run "$MEMPROF" run -o sampled.mprof ./native-alloc ./libnative-plugin.so
"$MEMPROF" report --format json -o sampled.json sampled.mprof
f=$(top_field sampled.json function)
[ "$f" = alloc_big_buffer ] && t_ok "sampled: top site alloc_big_buffer" ||
    t_fail "sampled: top site" "$f, expected alloc_big_buffer"

# Stripped: an honest address, which addr2line maps back to the function.
t_run "$MEMPROF" run --exact -o stripped.mprof ./native-alloc-stripped
"$MEMPROF" report --format json -o stripped.json stripped.mprof
f=$(top_field stripped.json function)
a=$(printf '%s\n' "$f" | sed -n 's/^0x[0-9a-f]* (native-alloc-stripped+0x\([0-9a-f]*\))$/\1/p')
if [ -n "$a" ]; then
    t_ok "stripped: top site is an address with its module ($f)"
    if command -v addr2line >/dev/null 2>&1; then
        g=$(addr2line -f -e native-alloc "$(printf '0x%x' $((0x$a - 1)))" | head -1)
        [ "$g" = alloc_big_buffer ] && t_ok "stripped: addr2line -e native-alloc 0x$a-1 is alloc_big_buffer" ||
            t_fail "stripped: addr2line" "0x$a-1 is '$g', expected alloc_big_buffer"
    fi
else
    t_fail "stripped: top site" "'$f', expected 0x... (native-alloc-stripped+0x...)"
fi

# A file replaced since the recording (a new inode, as package upgrades and
# linkers make): the report shows addresses rather than another build's names.
cp native-alloc-nopie replaced.tmp && mv replaced.tmp native-alloc || exit 99
"$MEMPROF" report --format json -o replaced.json native-alloc.mprof
f=$(top_field replaced.json function)
case $f in
"0x"*" (native-alloc+0x"*")") t_ok "replaced executable: no stale name ($f)" ;;
*) t_fail "replaced executable" "top site '$f', expected 0x... (native-alloc+0x...)" ;;
esac

# Python with --native: Python frames and named interpreter frames in one stack.
WORK="$MEMPROF_SRCDIR/tests/native/native_workload.py"
ran=0
t_pythons >pythons.txt
while read -r label py; do
    if [ "$py" = - ]; then
        echo "skip: $label not installed"
        continue
    fi
    ran=$((ran + 1))
    timeout 120 "$MEMPROF" run --native --exact -o "$label.mprof" "$py" "$WORK" >/dev/null 2>"$label.err" ||
        { t_fail "$label --native run" "$(tail -2 "$label.err")"; continue; }
    "$MEMPROF" report --format json -o "$label.json" "$label.mprof" ||
        { t_fail "$label report" "report failed"; continue; }
    out=$(python3 - "$label.json" "$WORK" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
work = os.path.realpath(sys.argv[2])
site = None
for s in d["sites"]:
    if s["function"] == "grow" and os.path.realpath(s["file"]) == work:
        site = s
        break
if site is None:
    print("no grow site")
    sys.exit()
if site.get("native"):
    print("grow site marked native")
    sys.exit()
names = [f["function"] for f in site["stack"] if f.get("native")]
py = [f for f in site["stack"] if not f.get("native") and f["function"] == "grow"]
unknown = sum(1 for s in d["sites"] for f in s["stack"] if f.get("native") and f["function"].startswith("0x"))
total = sum(1 for s in d["sites"] for f in s["stack"] if f.get("native"))
if not py:
    print("no Python frame grow in the stack")
elif "PyByteArray_Resize" not in names:
    print("PyByteArray_Resize missing from native frames: %s" % names[:8])
else:
    # pyenv builds keep their DWARF line table: the frame's source file too.
    resize = [f for f in site["stack"] if f["function"] == "PyByteArray_Resize"][0]
    src = resize.get("source")
    if src is not None and not (src.endswith("Objects/bytearrayobject.c") and resize["line"] > 0):
        print("PyByteArray_Resize at %s:%d, expected Objects/bytearrayobject.c" % (src, resize["line"]))
        sys.exit()
    print("ok %d native frames, %d of %d frames over all sites unnamed, PyByteArray_Resize %s" %
          (len(names), unknown, total, "at bytearrayobject.c:%d" % resize["line"] if src else "without a line table"))
PY
)
    case $out in
    ok*) t_ok "$label --native: grow site with Python frame and PyByteArray_Resize (${out#ok })" ;;
    *) t_fail "$label --native" "$out" ;;
    esac
done <pythons.txt
[ "$ran" -gt 0 ] || echo "note: no CPython 3.8-3.13 installed; Python checks skipped"
echo "Pythons checked: $ran"

t_done
