"""Building and dropping dicts and lists of small objects."""
total = 0
for rnd in range(40):
    rows = [{"id": i, "name": "row%d" % i, "vals": [i, i + 1, i + 2]} for i in range(20000)]
    index = {r["name"]: r for r in rows}
    total += len(index)
    del rows, index
print(total)
