"""mkelf32.py OUT: write a minimal 32-bit x86 (i386) static executable that
loops on the pause system call, to test attach's architecture check."""

import struct
import sys

BASE = 0x08048000
code = bytes([0xb8, 0x1d, 0, 0, 0,   # mov eax, 29 (pause)
              0xcd, 0x80,            # int 0x80
              0xeb, 0xf7])           # jmp back to mov
ehsize, phsize = 52, 32
entry = BASE + ehsize + phsize
ehdr = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)
ehdr += struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, ehsize, 0, 0, ehsize, phsize, 1, 0, 0, 0)
size = ehsize + phsize + len(code)
phdr = struct.pack("<IIIIIIII", 1, 0, BASE, BASE, size, size, 5, 0x1000)
with open(sys.argv[1], "wb") as f:
    f.write(ehdr + phdr + code)
