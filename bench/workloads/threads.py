"""Four threads allocating and freeing small and medium objects."""
import threading

def work(seed):
    acc = []
    for i in range(1500000):
        acc.append(("k%d" % (i + seed), [i] * 4))
        if len(acc) > 1000:
            acc = acc[500:]

ts = [threading.Thread(target=work, args=(s,)) for s in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("done")
