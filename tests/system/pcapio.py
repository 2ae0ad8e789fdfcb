#!/usr/bin/env python3
"""Write and compare pcap files of test frames for the system tests.

  pcapio.py gen FILE COUNT SEED SRCMAC DSTMAC [MAXLEN]
      COUNT Ethernet frames (IPv4/UDP, lengths 60..MAXLEN spread over the
      range, payload = sequence number + pseudo-random bytes from SEED).
  pcapio.py cmp --sent A.pcap[,A2.pcap] --got B.pcap[,B2.pcap] [--ordered]
      the frames got are exactly the frames sent: same count, same bytes
      (as multisets; --ordered: same order too, one file each side).
  pcapio.py count FILE...
"""

import random
import struct
import sys
from collections import Counter

PCAP_HDR = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def read(path):
	with open(path, "rb") as f:
		data = f.read()
	if len(data) < 24:
		raise SystemExit(f"{path}: not a pcap file ({len(data)} bytes)")
	magic = struct.unpack("<I", data[:4])[0]
	if magic in (0xA1B2C3D4, 0xA1B23C4D):
		end = "<"
	elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
		end = ">"
	else:
		raise SystemExit(f"{path}: bad pcap magic {magic:#x}")
	off, out = 24, []
	while off + 16 <= len(data):
		_, _, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
		off += 16
		if incl != orig:
			raise SystemExit(f"{path}: frame {len(out)} truncated ({incl} of {orig})")
		out.append(data[off:off + incl])
		off += incl
	return out


def csum(b):
	if len(b) % 2:
		b += b"\0"
	s = sum(struct.unpack(f"!{len(b) // 2}H", b))
	while s >> 16:
		s = (s & 0xFFFF) + (s >> 16)
	return ~s & 0xFFFF


def frame(seq, length, rnd, src, dst):
	payload_len = length - 14 - 20 - 8
	payload = struct.pack("!I", seq) + rnd.randbytes(payload_len - 4)
	udp = struct.pack("!HHHH", 1024 + seq % 1000, 4789, 8 + payload_len, 0) + payload
	ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
			 bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
	ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
	return dst + src + b"\x08\x00" + ip + udp


def mac(s):
	return bytes(int(x, 16) for x in s.split(":"))


def gen(path, count, seed, src, dst, maxlen=1514):
	rnd = random.Random(seed)
	with open(path, "wb") as f:
		f.write(PCAP_HDR)
		for i in range(count):
			# every length class: minimum, maximum, and a spread between
			length = (60, maxlen, 64, 1514 if maxlen >= 1514 else maxlen)[i] if i < 4 \
				else 60 + (i * 97 + rnd.randrange(7)) % (maxlen - 59)
			fr = frame(i, length, rnd, mac(src), mac(dst))
			f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)) + fr)


def cmp(sent, got, ordered):
	a = [fr for p in sent for fr in read(p)]
	b = [fr for p in got for fr in read(p)]
	ok = True
	if len(a) != len(b):
		print(f"count: sent {len(a)}, got {len(b)}")
		ok = False
	if ordered:
		for i, (x, y) in enumerate(zip(a, b)):
			if x != y:
				print(f"frame {i} differs: sent {len(x)} B, got {len(y)} B; first "
				      f"difference at byte {next((j for j in range(min(len(x), len(y))) if x[j] != y[j]), min(len(x), len(y)))}")
				ok = False
				break
	missing, extra = Counter(a) - Counter(b), Counter(b) - Counter(a)
	if missing or extra:
		print(f"{sum(missing.values())} sent frames not received, {sum(extra.values())} "
		      f"received frames never sent")
		for fr in list(extra)[:3]:
			print("  unexpected:", len(fr), "B", fr[:48].hex())
		ok = False
	if ok:
		print(f"ok: {len(b)} frames, {sum(map(len, b))} bytes, identical"
		      + (" and in order" if ordered else ""))
	return ok


def main(argv):
	if len(argv) >= 6 and argv[0] == "gen":
		gen(argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5],
		    int(argv[6]) if len(argv) > 6 else 1514)
		return 0
	if argv and argv[0] == "count":
		print(sum(len(read(p)) for p in argv[1:]))
		return 0
	if argv and argv[0] == "cmp":
		sent = got = None
		ordered = "--ordered" in argv
		for i, x in enumerate(argv):
			if x == "--sent":
				sent = argv[i + 1].split(",")
			if x == "--got":
				got = argv[i + 1].split(",")
		return 0 if cmp(sent, got, ordered) else 1
	print(__doc__, file=sys.stderr)
	return 2


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
