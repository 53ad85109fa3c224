"""check.py: tests agent-python.c and agent-pymem.c inside the running
interpreter, through the test library built from them and shim.c.

Run by run.sh with SHIM_LIB set, once per interpreter and mode:
  --mode early   the library is preloaded and SHIM_EARLY=1: the malloc hook
                 detects Python and installs the PyMem wrappers at start-up;
  --mode stress  as early, and every allocation also walks the stack;
  --mode late    nothing preloaded: loaded with ctypes, installed by hand
                 from a thread (the "attach" case).
Prints one summary line "ok N checks ..." or the failures, exit 0 or 1.
Must run unchanged on CPython 3.8 to 3.13.
"""

import argparse
import asyncio
import atexit
import ctypes
import dis
import functools
import os
import random
import subprocess
import sys
import threading
import time
import traceback

SHIM = os.environ["SHIM_LIB"]
PY311 = sys.version_info >= (3, 11)

WIRE_LINES_LNOTAB, WIRE_LINES_PEP626, WIRE_LINES_LOCATIONS = 1, 2, 3
WIRE_ALLOC_PYMEM, WIRE_ALLOC_PYOBJECT = 6, 7
WIRE_PYTHON_STATIC, WIRE_PYTHON_PYMEM = 1, 2
UNSTARTED = 0xFFFFFFFF

# shim.c enum shim_counter
(ENTER_OK, ENTER_REFUSED, ALLOC_PYMEM, ALLOC_PYOBJECT, ALLOC_OTHER, FREE_PYMEM,
 FREE_PYOBJECT, UNMAP, EXIT, PYTHON, VIOLATIONS, NESTED_MALLOC, NESTED_BIG,
 PLAIN_BIG, MMAP_GUARDED, MMAP_PLAIN, WALKS, WALK_FRAMES, DESCRIBE_FAIL,
 SLOW_ALLOCS) = range(20)


class Frame(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint64),
        ("key", ctypes.c_uint64),
        ("offset", ctypes.c_uint32),
        ("line", ctypes.c_int32),
        ("firstlineno", ctypes.c_int32),
        ("table_format", ctypes.c_int32),
        ("name_len", ctypes.c_int32),
        ("filename_len", ctypes.c_int32),
        ("name", ctypes.c_char * 256),
        ("filename", ctypes.c_char * 768),
    ]


def load(factory):
    """The test library with prototypes; CDLL drops the GIL, PyDLL keeps it."""
    dll = factory(SHIM)
    dll.shim_detect.restype = ctypes.c_uint32
    dll.shim_python_flags.restype = ctypes.c_int64
    dll.shim_python_hex.restype = ctypes.c_uint32
    dll.shim_counter.restype = ctypes.c_uint64
    dll.shim_counter.argtypes = [ctypes.c_int]
    dll.shim_reset.argtypes = [ctypes.c_uint64]
    dll.shim_find_alloc.argtypes = [ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint64)]
    dll.shim_walk.argtypes = [ctypes.POINTER(Frame), ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    dll.shim_linetable_line.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                                        ctypes.c_int, ctypes.c_uint32]
    dll.shim_describe_cut.argtypes = [ctypes.c_uint64, ctypes.c_size_t, ctypes.c_char_p,
                                      ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    dll.shim_bench_walk.restype = ctypes.c_double
    dll.shim_bench_walk.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    dll.shim_bench_describe.restype = ctypes.c_double
    dll.shim_bench_describe.argtypes = [ctypes.c_uint64, ctypes.c_int]
    return dll


lib = load(ctypes.CDLL)
plib = load(ctypes.PyDLL)

checks = 0
failures = []
notes = []


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
    return cond


# --- the walker against traceback ------------------------------------------

def decode_frames(arr, n):
    out = []
    for i in range(n):
        f = arr[i]
        out.append({
            "name": f.name[:f.name_len].decode("utf-8", "surrogateescape"),
            "file": f.filename[:f.filename_len].decode("utf-8", "surrogateescape"),
            "line": f.line, "offset": f.offset, "code": f.code, "key": f.key,
            "format": f.table_format,
        })
    return out


def native_walk(dll, limit=128):
    arr = (Frame * 128)()
    trunc = ctypes.c_int(-1)
    n = dll.shim_walk(arr, limit, ctypes.byref(trunc))
    return decode_frames(arr, n), trunc.value


def expected_stack(frame, innermost_line):
    """(qualified name, file, line) innermost first, checked against traceback."""
    summary = traceback.extract_stack(frame)[::-1]
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    check(len(summary) == len(frames), "traceback and f_back disagree")
    out = []
    for i, (s, f) in enumerate(zip(summary, frames)):
        code = f.f_code
        name = code.co_qualname if PY311 else code.co_name
        check(s.name == code.co_name and s.filename == code.co_filename,
              "traceback frame %d is %s" % (i, s.name))
        out.append((name, s.filename, innermost_line if i == 0 else s.lineno))
    return out


def probe(dll, limit=128):
    """Walks here; returns what the agent saw and what Python reports."""
    arr = (Frame * 128)()
    trunc = ctypes.c_int(-1)
    n, line = dll.shim_walk(arr, limit, ctypes.byref(trunc)), sys._getframe().f_lineno
    return (decode_frames(arr, n), trunc.value), expected_stack(sys._getframe(), line)


def compare(label, result, limit=128):
    (got, truncated), exp = result
    want = exp[:limit]
    if not check(len(got) == len(want), "%s: %d frames, expected %d" % (label, len(got), len(want))):
        return
    check(truncated == (1 if len(exp) > limit else 0), "%s: truncated=%d" % (label, truncated))
    for i, (g, (name, path, line)) in enumerate(zip(got, want)):
        same = (g["name"], g["file"], g["line"]) == (name, path, line)
        check(same, "%s frame %d: agent %r %r line %d (offset %d), python %r %r line %d" % (
            label, i, g["name"], g["file"], g["line"], g["offset"], name, path, line))


class Methods:
    def __init__(self, dll=None):
        self.dll = dll
        if dll is not None:
            self.at_init = probe(dll)

    def method(self, dll):
        return probe(dll)

    @classmethod
    def klass(cls, dll):
        return probe(dll)

    @staticmethod
    def static(dll):
        return probe(dll)

    @property
    def prop(self):
        return probe(self.dll)

    def __getattr__(self, name):
        if name == "dynamic":
            return probe(self.__dict__["dll"])
        raise AttributeError(name)

    def __enter__(self):
        return probe(self.dll)

    def __exit__(self, *exc):
        return False


def sc_nested(dll):
    def outer():
        def inner():
            return probe(dll)
        return inner()
    return outer()


def sc_lambda(dll):
    return (lambda: probe(dll))()


def sc_generator(dll):
    def gen():
        yield 1
        yield probe(dll)
    g = gen()
    next(g)
    return next(g)


def sc_genexpr(dll):
    return next(probe(dll) for _ in range(1))


def sc_listcomp(dll):
    return [probe(dll) for _ in range(1)][0]


def sc_dictcomp(dll):
    return {k: probe(dll) for k in range(1)}[0]


def sc_coroutine(dll):
    async def inner():
        await asyncio.sleep(0)
        return probe(dll)

    async def outer():
        return await inner()
    return asyncio.run(outer())


def sc_sorted_key(dll):
    out = []
    sorted([3], key=lambda x: out.append(probe(dll)))
    return out[0]


def sc_map(dll):
    return list(map(lambda _: probe(dll), [0]))[0]


def sc_class_body(dll):
    class Body:
        seen = probe(dll)
    return Body.seen


def sc_exec(dll):
    ns = {"probe": probe, "dll": dll}
    exec("def h():\n    return probe(dll)\nr = h()\n", ns)
    return ns["r"]


def sc_thread(dll):
    out = []
    t = threading.Thread(target=lambda: out.append(probe(dll)))
    t.start()
    t.join()
    return out[0]


def sc_except(dll):
    try:
        raise ValueError("x")
    except ValueError:
        return probe(dll)


def sc_finally(dll):
    try:
        pass
    finally:
        return probe(dll)


def sc_multiline(dll):
    x = (
        1,
        probe(
            dll
        ),
    )
    return x[1]


def sc_decorated(dll):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            return fn(*a, **kw)
        return wrapper

    @deco
    def target():
        return probe(dll)
    return target()


def sc_methods(dll):
    m = Methods(dll)
    return [m.method(dll), Methods.klass(dll), Methods.static(dll), m.prop, m.dynamic,
            m.at_init, m.__enter__()]


def sc_with(dll):
    with Methods(dll) as seen:
        return seen


def sc_big(dll):
    """A function with >256 constants (EXTENDED_ARG) and line jumps >127 lines."""
    lines = ["def big(probe, dll):"]
    lines += ["    v%d = %d.5" % (i, i) for i in range(300)]
    lines += [""] * 400
    lines += ["    r = [v0, v299,", "", "", "         probe(dll)]", "    return r[2]"]
    ns = {}
    exec(compile("\n".join(lines) + "\n", "/tmp/memprof big file.py", "exec"), ns)
    return ns["big"](probe, dll)


def sc_unicode(dll):
    src = ("def caf\u00e9(p, d):\n    return \u540d\u524d(p, d)\n"
           "def \u540d\u524d(p, d):\n    return \U00020000(p, d)\n"
           "def \U00020000(p, d):\n    return p(d)\n")
    out = []
    for path in ("/tmp/\u00fcn\u00ef/caf\u00e9.py", "/tmp/\u6587\u4ef6/\u540d\u524d.py",
                 "/tmp/\U00020000/\U0001f600.py", "/tmp/raw-\udcff\udc80.py"):
        ns = {}
        exec(compile(src, path, "exec"), ns)
        out.append(ns["caf\u00e9"](probe, dll))
    return out


def sc_traced(dll):
    """Under a line tracer (coverage, debuggers): 3.8-3.10 then report f_lineno."""
    def tracer(frame, event, arg):
        return tracer

    def traced():
        return probe(dll)
    sys.settrace(tracer)
    try:
        return traced()
    finally:
        sys.settrace(None)


def sc_threads(dll):
    """Several threads walking at once; 3.8-3.11 see another thread's tstate as current."""
    out = []
    stop = time.time() + 0.5

    def worker():
        junk = []
        while time.time() < stop:
            junk.append([str(i) for i in range(50)])
            out.append(probe(dll))
            del junk[:-5]
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def recurse(n, fn):
    if n == 0:
        return fn()
    return recurse(n - 1, fn)


SCENARIOS = [
    ("nested", sc_nested), ("lambda", sc_lambda), ("generator", sc_generator),
    ("genexpr", sc_genexpr), ("listcomp", sc_listcomp), ("dictcomp", sc_dictcomp),
    ("coroutine", sc_coroutine), ("sorted-key", sc_sorted_key), ("map", sc_map),
    ("class-body", sc_class_body), ("exec", sc_exec), ("thread", sc_thread),
    ("except", sc_except), ("finally", sc_finally), ("multiline", sc_multiline),
    ("decorated", sc_decorated), ("methods", sc_methods), ("with", sc_with),
    ("big", sc_big), ("unicode", sc_unicode), ("traced", sc_traced),
    ("threads", sc_threads),
]


def test_walk():
    for dll, how in ((lib, "nogil"), (plib, "gil")):
        for label, fn in SCENARIOS:
            res = fn(dll)
            for i, r in enumerate(res if isinstance(res, list) else [res]):
                compare("%s/%s/%d" % (how, label, i), r)
        compare("%s/deep" % how, recurse(300, lambda: probe(dll)))
        compare("%s/limit" % how, recurse(3, lambda: probe(dll, 5)), 5)
    got, _ = recurse(5, lambda: native_walk(plib))
    same = [g["key"] for g in got if g["name"].endswith("recurse")]
    check(len(same) == 6 and len(set(same)) == 1 and same[0] != 0, "code keys of one function differ")
    check(len(set(g["key"] for g in got)) == len(set(g["code"] for g in got)),
          "code keys collide across code objects")
    fmt = WIRE_LINES_LOCATIONS if PY311 else (
        WIRE_LINES_PEP626 if sys.version_info >= (3, 10) else WIRE_LINES_LNOTAB)
    check(all(g["format"] == fmt for g in got), "table format is not %d" % fmt)


def test_cut():
    src = "def f(p):\n    return p()\n"
    ns = {}
    exec(compile(src, "/tmp/\U00020000\u540d\u00e9abc.py", "exec"), ns)
    (got, _), _ = ns["f"](lambda: probe(plib))
    code = [g for g in got if g["name"] == "f"][0]["code"]
    full = "/tmp/\U00020000\u540d\u00e9abc.py".encode()
    for cap in range(0, 40):
        buf = ctypes.create_string_buffer(cap + 1)
        nl, fl = ctypes.c_int(), ctypes.c_int()
        rc = plib.shim_describe_cut(code, cap, buf, ctypes.byref(nl), ctypes.byref(fl))
        raw = buf.raw[:cap]
        name, path = raw[:nl.value], raw[nl.value:nl.value + fl.value]
        ok = rc == 0 and nl.value + fl.value <= cap and b"f".startswith(name) and full.startswith(path)
        try:
            path.decode("utf-8")
        except UnicodeDecodeError:
            ok = False
        check(ok, "describe with cap %d: rc %d name %r file %r" % (cap, rc, name, path))
    check(plib.shim_describe_cut(id(src), 64, ctypes.create_string_buffer(64),
                                 ctypes.byref(ctypes.c_int()), ctypes.byref(ctypes.c_int())) == -1,
          "describe accepted a str as a code object")


# --- the line-table decoder against CPython -----------------------------

def truth_lines(code):
    """{byte offset: line or -1} as CPython maps them."""
    out = {}
    if PY311:
        for i, pos in enumerate(code.co_positions()):
            out[2 * i] = pos[0] if pos[0] is not None else -1
    elif sys.version_info >= (3, 10):
        for start, end, line in code.co_lines():
            for off in range(start, end, 2):
                out[off] = line if line is not None else -1
    else:
        starts = list(dis.findlinestarts(code))
        line, j = code.co_firstlineno, 0
        for off in range(0, len(code.co_code), 2):
            while j < len(starts) and starts[j][0] <= off:
                line = starts[j][1]
                j += 1
            out[off] = line
    return out


def table_of(code):
    if PY311:
        return WIRE_LINES_LOCATIONS, code.co_linetable
    if sys.version_info >= (3, 10):
        return WIRE_LINES_PEP626, code.co_linetable
    return WIRE_LINES_LNOTAB, code.co_lnotab


def all_codes(code):
    yield code
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield from all_codes(c)


def test_linetable(max_files):
    stdlib = os.path.dirname(os.__file__)
    files = sorted(f for f in os.listdir(stdlib) if f.endswith(".py"))[:max_files]
    files.append(__file__)
    ncodes = noffsets = bad = 0
    for name in files:
        path = os.path.join(stdlib, name) if name != __file__ else name
        try:
            with open(path, "rb") as fp:
                top = compile(fp.read(), path, "exec")
        except (SyntaxError, ValueError, OSError):
            continue
        for code in all_codes(top):
            fmt, table = table_of(code)
            ncodes += 1
            for off, line in truth_lines(code).items():
                noffsets += 1
                got = lib.shim_linetable_line(fmt, table, len(table),
                                              code.co_firstlineno, off)
                if got != line:
                    bad += 1
                    if bad < 5:
                        failures.append("linetable %s %s+%d: %d, CPython %d" % (
                            path, code.co_name, off, got, line))
    check(bad == 0, "linetable: %d of %d offsets wrong" % (bad, noffsets))
    check(ncodes > 100, "linetable: only %d code objects" % ncodes)
    fmt, table = table_of(test_linetable.__code__)
    check(lib.shim_linetable_line(fmt, table, len(table), 1234, UNSTARTED) == 1234,
          "unstarted offset does not map to co_firstlineno")
    check(lib.shim_linetable_line(9, table, len(table), 1, 0) == -1, "unknown format accepted")
    rng = random.Random(5)
    for _ in range(3000):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        for fmt in (1, 2, 3):
            lib.shim_linetable_line(fmt, junk, len(junk), rng.randrange(-5, 100),
                                    rng.randrange(200))
    notes.append("linetable %d codes %d offsets" % (ncodes, noffsets))


# --- the PyMem/PyObject wrappers ------------------------------------------

def wait_installed(seconds=10.0):
    """Runs bytecode (pending calls run between instructions) until announced."""
    deadline = time.time() + seconds
    while lib.shim_python_flags() < 0 and time.time() < deadline:
        pass
    return lib.shim_python_flags() >= 0


def python_is_static():
    with open("/proc/self/maps") as fp:
        return "libpython3" not in fp.read()


def logged(addr):
    size = ctypes.c_uint64()
    return lib.shim_find_alloc(addr, ctypes.byref(size)), size.value


def test_pymem(preloaded):
    flags = lib.shim_python_flags()
    check(flags >= 0 and flags & WIRE_PYTHON_PYMEM, "python not announced with PYMEM: %d" % flags)
    static = python_is_static()
    check(bool(flags & WIRE_PYTHON_STATIC) == static and lib.shim_is_static() == static,
          "static flag %d, expected %s" % (flags, static))
    check(lib.shim_python_hex() == sys.hexversion, "announced %#x, sys.hexversion %#x" % (
        lib.shim_python_hex(), sys.hexversion))
    if hasattr(atexit, "_ncallbacks"):
        check(atexit._ncallbacks() >= 1, "no atexit callback registered")

    big = 4 << 20
    lib.shim_reset(big)
    n = 1000  # not a literal: constant folding would allocate at compile time
    objs = [bytes(100), bytes(3000), b"y" * big, "x" * n, "\u540d" * (n - 223)]
    for o in objs:
        alloc, size = logged(id(o))
        check(alloc == WIRE_ALLOC_PYOBJECT and size == sys.getsizeof(o),
              "%s of %d: allocator %d size %d, expected %d bytes" % (
                  type(o).__name__, len(o), alloc, size, sys.getsizeof(o)))
    items = [None] * 5000
    item_array = ctypes.c_void_p.from_address(id(items) + 24).value
    alloc, size = logged(item_array)
    check(alloc == WIRE_ALLOC_PYMEM and size == 5000 * 8,
          "list items: allocator %d size %d" % (alloc, size))
    buf = bytearray(10)
    buf.extend(b"z" * 100000)
    data = ctypes.addressof((ctypes.c_char * 1).from_buffer(buf))
    alloc, size = logged(data)
    check(alloc in (WIRE_ALLOC_PYOBJECT, WIRE_ALLOC_PYMEM) and size > len(buf),
          "bytearray realloc: %d %d" % (alloc, size))
    check(lib.shim_counter(FREE_PYOBJECT) > 0, "no PyObject frees recorded")
    junk = [bytes(40 + i % 8) for i in range(400000)]
    del junk, objs, items, buf
    if preloaded:
        check(lib.shim_counter(NESTED_BIG) >= 1,
              "the big bytes' fallback malloc did not run under the guard")
        check(lib.shim_counter(PLAIN_BIG) == 0,
              "a big allocation was seen outside the guard (double count)")
        if os.environ.get("PYTHONMALLOC", "pymalloc").startswith("pymalloc"):
            check(lib.shim_counter(MMAP_GUARDED) > 0, "no arena mmap under the guard")
        check(lib.shim_counter(MMAP_PLAIN) == 0, "%d arena mmaps outside the guard" % lib.shim_counter(MMAP_PLAIN))


EXIT_CHILD = r'''
import atexit, ctypes, os, sys, time
lib = ctypes.CDLL(os.environ["SHIM_LIB"])
lib.shim_python_flags.restype = ctypes.c_int64
if os.environ.get("SHIM_EARLY") != "1":
    lib.shim_install()
deadline = time.time() + 10
while lib.shim_python_flags() < 0 and time.time() < deadline:
    pass
class Teardown:
    def __del__(self, _w=os.write):
        _w(2, b"teardown\n")
keep = Teardown()
atexit.register(lambda _w=os.write: _w(2, b"user-atexit\n"))
os.write(2, b"main-done\n")
'''

# Preloaded, the install beats the program's first statement.
FIRST_CHILD = r'''
import atexit, os
atexit.register(lambda _w=os.write: _w(2, b"user-atexit\n"))
'''

# The first slow path comes while atexit handlers run: 3.8 must not print.
LATE_CHILD = r'''
import atexit, ctypes, os
lib = ctypes.CDLL(os.environ["SHIM_LIB"])
def late():
    lib.shim_install()
    x = [str(i) for i in range(20000)]
atexit.register(late)
'''


# 3.13: point _Py_DebugOffsets' co_qualname at co_name before detection;
# names must then come out unqualified, proving the table is what is used.
DEBUG_OFFSETS_CHILD = r'''
import ctypes, os, sys
rt = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
assert ctypes.string_at(rt, 8) == b"xdebugpy"
# cookie, version, free_threaded, runtime_state[3], interpreter_state[13],
# thread_state[9], interpreter_frame[6], then code_object {size, filename, name, qualname}
name = ctypes.c_uint64.from_address(rt + 8 * 36)
qualname = ctypes.c_uint64.from_address(rt + 8 * 37)
saved, qualname.value = qualname.value, name.value
lib = ctypes.PyDLL(os.environ["SHIM_LIB"])
ok = lib.shim_detect() != 0
qualname.value = saved
class K:
    def method(self):
        sys.path.insert(0, os.path.dirname(os.environ["CHECK_PY"]))
        import check
        return check.native_walk(check.plib)[0][1]["name"]
print(ok, K().method())
'''


def run_child(src):
    p = subprocess.run([sys.executable, "-c", src], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stderr.decode(errors="replace").splitlines()


def test_debug_offsets():
    if sys.version_info[:2] != (3, 13):
        return
    env = dict(os.environ, CHECK_PY=os.path.abspath(__file__))
    env.pop("LD_PRELOAD", None)
    env.pop("SHIM_EARLY", None)
    p = subprocess.run([sys.executable, "-c", DEBUG_OFFSETS_CHILD], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode().strip()
    check(out == "True method", "3.13 debug offsets not used: %r %r" % (out, p.stderr[-300:]))


def test_exit():
    rc, err = run_child(EXIT_CHILD)
    want = ["main-done", "user-atexit", "memprof-shim: exit recorded", "teardown"]
    check(rc == 0 and err == want, "exit order: rc %d stderr %r" % (rc, err))
    if os.environ.get("SHIM_EARLY") == "1":
        rc, err = run_child(FIRST_CHILD)
        check(rc == 0 and err == want[1:3],
              "first-statement handler: rc %d stderr %r" % (rc, err))
    else:
        rc, err = run_child(LATE_CHILD)
        check(rc == 0 and set(err) <= {"memprof-shim: exit recorded"},
              "install during atexit: rc %d stderr %r" % (rc, err))


def install_late():
    """Installs from another thread while this one handles an exception."""
    try:
        raise KeyError("kept")
    except KeyError:
        t = threading.Thread(target=lib.shim_install)
        t.start()
        t.join()
        ok = wait_installed()
        check(sys.exc_info()[0] is KeyError, "exception state lost")
    return ok


def depth():
    n, f = 0, sys._getframe()
    while f is not None:
        n, f = n + 1, f.f_back
    return n


def bench():
    """Best of 7 runs of 50000 walks at depth 20, GIL held and released."""
    def at(target):
        if depth() - 1 < target:
            return at(target)
        d = ctypes.c_int()
        best = [1e9, 1e9]
        for _ in range(7):  # no comprehension: it would be a frame of its own
            best[0] = min(best[0], plib.shim_bench_walk(50000, ctypes.byref(d)))
            best[1] = min(best[1], lib.shim_bench_walk(50000, ctypes.byref(d)))
        return best, d.value
    (gil, nogil), d = at(20)
    check(d == 20, "bench stack is %d deep" % d)
    code = native_walk(plib)[0][0]["code"]
    describe = min(plib.shim_bench_describe(code, 50000) for _ in range(7))
    notes.append("walk of %d frames %.0f ns (GIL released %.0f ns), describe %.0f ns" % (
        d, gil, nogil, describe))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("early", "stress", "late"), required=True)
    args = ap.parse_args()
    check(lib.shim_detect() == sys.hexversion, "detect %#x, sys.hexversion %#x" % (
        lib.shim_detect(), sys.hexversion))
    if args.mode == "late":
        check(lib.shim_python_flags() == -1, "installed before anyone asked")
        check(install_late(), "the pending call never ran")
    else:
        check(wait_installed(), "the pending call never ran")
    test_walk()
    test_cut()
    test_pymem(args.mode != "late")
    test_linetable(400 if args.mode != "stress" else 20)
    test_exit()
    test_debug_offsets()
    if args.mode == "stress":
        check(lib.shim_counter(WALKS) > 1000, "stress: only %d walks" % lib.shim_counter(WALKS))
        notes.append("%d stress walks" % lib.shim_counter(WALKS))
    else:
        bench()
    if failures:
        for f in failures[:40]:
            print("FAIL:", f)
        print("%d of %d checks failed" % (len(failures), checks))
        return 1
    check(lib.shim_counter(VIOLATIONS) == 0,
          "%d allocations inside walk/describe" % lib.shim_counter(VIOLATIONS))
    check(lib.shim_counter(SLOW_ALLOCS) == 0,
          "%d allocations inside detect/maybe_install" % lib.shim_counter(SLOW_ALLOCS))
    check(lib.shim_counter(DESCRIBE_FAIL) == 0,
          "describe failed %d times" % lib.shim_counter(DESCRIBE_FAIL))
    print("ok %d checks; %s" % (checks, "; ".join(notes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
