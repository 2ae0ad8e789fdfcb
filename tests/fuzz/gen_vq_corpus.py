#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_vq (tests/fuzz/corpus/vq/). Run by hand;
the files are committed. Layout: see tests/fuzz/fuzz_vq.c."""
import os, struct, sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "vq")
DESC, AVAIL, USED, BUF = 0x000, 0x800, 0xa00, 0x1000
NEXT, WRITE, INDIRECT, P_AVAIL, P_USED = 1, 2, 4, 1 << 7, 1 << 15


def mem():
    return bytearray(0x4000)


def put(m, off, b):
    m[off:off + len(b)] = b


def hdr(flags=0, cs=0, co=0, hl=12):
    return struct.pack("<BBHHHHH", flags, 0, 0, 0, cs, co, 1)[:hl]


def split_desc(m, i, addr, ln, fl, nx=0):
    put(m, DESC + 16 * i, struct.pack("<QIHH", addr, ln, fl, nx))


def split_avail(m, heads):
    put(m, AVAIL, struct.pack("<HH", 0, len(heads)))
    for i, h in enumerate(heads):
        put(m, AVAIL + 4 + 2 * i, struct.pack("<H", h))


def packed_desc(m, i, addr, ln, bid, fl, wrap=1):
    fl |= P_AVAIL if wrap else P_USED
    put(m, DESC + 16 * i, struct.pack("<QIHH", addr, ln, bid, fl))


def write(name, cfg, m):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes(cfg) + bytes(m))


def main():
    os.makedirs(OUT, exist_ok=True)
    frame = bytes(range(60))
    # split tx: one single-descriptor frame, one chained, one indirect
    m = mem()
    put(m, BUF, hdr(1, 34, 16) + frame)
    split_desc(m, 0, BUF, 72, 0)
    put(m, BUF + 0x100, hdr())
    put(m, BUF + 0x200, frame)
    split_desc(m, 1, BUF + 0x100, 12, NEXT, 2)
    split_desc(m, 2, BUF + 0x200, 60, 0)
    put(m, BUF + 0x300, struct.pack("<QIHH", BUF, 72, 0, 0))
    split_desc(m, 3, BUF + 0x300, 16, INDIRECT)
    split_avail(m, [0, 1, 3])
    write("split_tx", [3, 4 | 8, 0, 0, 1], m)
    write("split_tx_log", [3, 4 | 16, 0, 0, 2], m)
    # split rx: four writable buffers, mergeable
    m = mem()
    for i in range(4):
        split_desc(m, i, BUF + 0x800 * i, 0x800, WRITE)
    split_avail(m, [0, 1, 2, 3])
    write("split_rx_mrg", [3, 2 | 64, 0, 0, 0], m)
    write("split_rx", [3, 64, 0, 0, 0], m)
    # packed tx: single, then a two-slot chain
    m = mem()
    put(m, BUF, hdr(2) + frame)
    packed_desc(m, 0, BUF, 72, 0, 0)
    put(m, BUF + 0x100, hdr())
    put(m, BUF + 0x200, frame)
    packed_desc(m, 1, BUF + 0x100, 12, 0, NEXT)
    packed_desc(m, 2, BUF + 0x200, 60, 1, 0)
    write("packed_tx", [3, 1 | 4 | 8, 0, 0x80, 1], m)
    # packed rx mergeable
    m = mem()
    for i in range(8):
        packed_desc(m, i, BUF + 0x600 * i, 0x600, i, WRITE)
    write("packed_rx_mrg", [3, 1 | 2 | 64, 0, 0x80, 2], m)
    # a loop, for the regression corpus
    m = mem()
    split_desc(m, 0, BUF, 72, NEXT, 0)
    split_avail(m, [0])
    write("split_loop", [3, 0, 0, 0, 0], m)


if __name__ == "__main__":
    sys.exit(main())
