"""One allocating helper called alternately from two lines (attribution.sh).

Consecutive allocations then have the same innermost frame, at the same
address and instruction, and differ only in the caller's line: each stack
must get its own bytes.  Prints the truth as JSON: caller line -> bytes.
"""
import json
import sys


def helper(n):
    return bytes(n)  # HELPER


def main():
    keep = []
    for _ in range(20000):
        keep.append(helper(1000))  # CALLER_A
        keep.append(helper(3000))  # CALLER_B
    lines = {}
    with open(__file__) as f:
        for n, text in enumerate(f, 1):
            for tag in ("HELPER", "CALLER_A", "CALLER_B"):
                if text.rstrip().endswith("# " + tag):
                    lines[tag] = n
    json.dump({"helper": lines["HELPER"],
               "callers": {str(lines["CALLER_A"]): 20000 * sys.getsizeof(bytes(1000)),
                           str(lines["CALLER_B"]): 20000 * sys.getsizeof(bytes(3000))}},
              sys.stdout)


main()
