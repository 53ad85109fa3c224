"""leaky.py: a small service-like program with known memory behaviour.

It caches parsed records (held until exit: a "leak"), builds transient
JSON payloads (allocated and freed), and fills buffers in a worker thread.
Run it under memprof to see each of those call sites:

    memprof run python3 contrib/examples/leaky.py
    memprof report memprof-python3.*.mprof
"""

import json
import threading

CACHE = []


def parse_record(i):
    """Retained: every record stays in CACHE until the program exits."""
    return {"id": i, "name": "user-%06d" % i, "tags": ["a", "b", "c"]}


def fill_cache(n):
    for i in range(n):
        CACHE.append(parse_record(i))


def transient_payloads(n):
    """Transient: each payload is built, serialized and dropped."""
    total = 0
    for i in range(n):
        payload = json.dumps({"items": list(range(200)), "seq": i})
        total += len(json.loads(payload)["items"])
    return total


def worker_buffers(out):
    """Large buffers in another thread; half of them are kept."""
    kept = []
    for i in range(64):
        buf = bytearray(256 * 1024)
        if i % 2 == 0:
            kept.append(buf)
    out.append(kept)


def main():
    results = []
    t = threading.Thread(target=worker_buffers, args=(results,))
    t.start()
    fill_cache(100_000)
    n = transient_payloads(20_000)
    t.join()
    print("cached %d records, processed %d items, kept %d buffers"
          % (len(CACHE), n, len(results[0])))


if __name__ == "__main__":
    main()
