#!/usr/bin/python3
"""A sequence-numbered frame stream over raw AF_PACKET sockets, for the
restart tests: every frame carries its sequence number and a payload derived
from it, so the receiver can tell lost, duplicated, reordered and corrupted
frames apart, and when each arrived.

  seqstream.py send IFACE PPS SECONDS [START]   frames START.. at PPS for SECONDS;
                                                prints "SENT FAILED" (sends the host refused)
  seqstream.py recv IFACE OUT SECONDS           write "time seq ok" lines to OUT
  seqstream.py report OUT SENT [--after NAME=T]...  loss, duplicates, corruption, gaps,
                                                 and the first arrival after each time T

Frames: 02:00:00:00:00:0b <- 02:00:00:00:00:0a, ethertype 0x88b5 (local
experimental), "XVIO", 8-byte seq, 64 bytes of (seq + i) & 0xff.
"""
import socket
import struct
import sys
import time

ETH_TYPE = 0x88B5
DST = bytes.fromhex("02000000000b")
SRC = bytes.fromhex("02000000000a")
PAYLOAD = 64


def frame(seq):
    body = bytes((seq + i) & 0xFF for i in range(PAYLOAD))
    return DST + SRC + struct.pack("!H", ETH_TYPE) + b"XVIO" + struct.pack("!Q", seq) + body


def parse(buf):
    """seq, ok (payload intact) — or None for a frame not ours."""
    if len(buf) < 14 + 12 or buf[12:14] != struct.pack("!H", ETH_TYPE) or buf[14:18] != b"XVIO":
        return None
    seq = struct.unpack("!Q", buf[18:26])[0]
    want = frame(seq)
    return seq, buf[:len(want)] == want


def send(iface, pps, secs, start=0):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    t0 = time.time()
    seq = start
    failed = 0
    end = t0 + secs
    while True:
        now = time.time()
        if now >= end:
            break
        due = start + int((now - t0) * pps)
        while seq < due:
            try:
                s.send(frame(seq))
            except OSError:
                failed += 1     # the host's own queue was full: not the switch's loss
            seq += 1
        time.sleep(0.0005)
    print(seq - start, failed)


def recv(iface, out, secs):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_TYPE))
    s.bind((iface, 0))
    s.settimeout(0.2)
    end = time.time() + secs
    rows = []
    while time.time() < end:
        try:
            buf, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        r = parse(buf)
        if r:
            rows.append("%.6f %d %d" % (time.time(), r[0], 1 if r[1] else 0))
    with open(out, "w") as f:
        f.write("\n".join(rows) + ("\n" if rows else ""))


def report(out, sent, afters):
    rows = []
    for line in open(out):
        t, seq, ok = line.split()
        rows.append((float(t), int(seq), ok == "1"))
    seqs = [r[1] for r in rows]
    dup = len(seqs) - len(set(seqs))
    bad = sum(1 for r in rows if not r[2])
    reord = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
    lost = sent - len(set(s for s in seqs if s < sent))
    gap = max((b[0] - a[0] for a, b in zip(rows, rows[1:])), default=0.0)
    print("received %d of %d: lost %d, duplicated %d, corrupted %d, reordered %d, longest gap %.3f s"
          % (len(rows), sent, lost, dup, bad, reord, gap))
    # for each T: first arrival after T, and the seconds from T to it
    for name, t in afters:
        first = next((r for r in rows if r[0] > t), None)
        print("first after %s: %s" % (name, "none" if not first else "%.3f s (seq %d)" % (first[0] - t, first[1])))


def main():
    a = sys.argv[1:]
    if a[:1] == ["send"]:
        send(a[1], int(a[2]), float(a[3]), int(a[4]) if len(a) > 4 else 0)
    elif a[:1] == ["recv"]:
        recv(a[1], a[2], float(a[3]))
    elif a[:1] == ["report"]:
        afters = [(x.split("=")[0], float(x.split("=")[1]))
                  for i, x in enumerate(a) if i > 0 and a[i - 1] == "--after"]
        report(a[1], int(a[2]), afters)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
