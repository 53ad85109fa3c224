"""Large buffers: allocate, touch and free megabyte-sized bytearrays."""
keep = []
total = 0
for i in range(30000):
    b = bytearray(1024 * 1024)
    b[::4096] = b"x" * 256
    total += len(b)
    if i % 100 == 0:
        keep.append(b)
print(total, len(keep))
