# native_workload.py: Python allocations whose C path is known, for
# tests/native.sh under --native.  bytearray(n) reaches the allocator
# through PyByteArray_Resize (exported by every CPython 3.8-3.13, so named
# even from a stripped executable's .dynsym); the lists through list code.


def grow():
    keep = []
    for _ in range(3000):
        keep.append(bytearray(4096))
    return keep


def lists():
    return [[0] * 300 for _ in range(2000)]


KEEP = grow()
LISTS = lists()
