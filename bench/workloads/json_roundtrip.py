"""Many small, short-lived objects: JSON encode/decode round trips."""
import json

doc = {"user": {"id": 1, "name": "ada", "tags": ["x", "y", "z"]},
       "items": [{"sku": "A%d" % i, "qty": i, "price": i * 1.5} for i in range(20)]}
n = 0
for i in range(60000):
    s = json.dumps(doc)
    d = json.loads(s)
    n += len(d["items"])
print(n)
