"""Small objects allocated under a 42-deep Python stack, as in a service's request handler."""

def leaf(n):
    acc = []
    for i in range(n):
        acc.append(("k%d" % i, [i] * 4))
        if len(acc) > 1000:
            acc = acc[500:]


def descend(depth, n):
    if depth == 0:
        return leaf(n)
    return descend(depth - 1, n)


descend(40, 1500000)
print("done")
