#!/usr/bin/env python3
"""Writes the seed frames of the packet-parser fuzzer into
tests/fuzz/corpus/parse/ (committed; not run at test time). One frame per
file, one of each shape flow_extract parses, plus a few malformed ones."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "parse")
MACS = bytes.fromhex("020000000001" "020000000002")
A6 = bytes.fromhex("20010db8000000000000000000000001")
B6 = bytes.fromhex("20010db8000000000000000000000002")


def eth(t, *tags):
    b = MACS
    for tpid, tci in tags:
        b += struct.pack("!HH", tpid, tci)
    return b + struct.pack("!H", t)


def ip4(proto, payload, frag=0, opts=b""):
    ihl = 5 + len(opts) // 4
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0xb8, 20 + len(opts) + len(payload), 1,
                       frag, 64, proto, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + opts + payload


def ip6(nh, payload):
    return struct.pack("!IHBB", 0x6b9abcde, len(payload), nh, 64) + A6 + B6 + payload


TCP = struct.pack("!HHIIHHHH", 1234, 80, 1, 0, 0x5012, 1024, 0, 0)
UDP = struct.pack("!HHHH", 53, 53, 8, 0)
SCTP = struct.pack("!HHII", 2905, 2905, 1, 0)
ND_T = bytes.fromhex("fe800000000000000000000000000001")

frames = {
    "ipv4_tcp": eth(0x0800) + ip4(6, TCP),
    "ipv4_udp_pad": eth(0x0800) + ip4(17, UDP) + bytes(18),
    "ipv4_sctp": eth(0x0800) + ip4(132, SCTP),
    "ipv4_icmp": eth(0x0800) + ip4(1, bytes([8, 0, 0, 0, 0, 1, 0, 1])),
    "ipv4_opts": eth(0x0800) + ip4(6, TCP, opts=b"\x01" * 40),
    "ipv4_frag_first": eth(0x0800) + ip4(17, UDP + bytes(8), frag=0x2000),
    "ipv4_frag_later": eth(0x0800) + ip4(17, bytes(16), frag=0x0003),
    "ipv4_bad_ihl": eth(0x0800) + b"\x43" + ip4(6, TCP)[1:],
    "vlan_ipv4": eth(0x0800, (0x8100, 0xa064)) + ip4(6, TCP),
    "qinq_ipv6": eth(0x86dd, (0x88a8, 100), (0x8100, 200)) + ip6(17, UDP),
    "vlan3": eth(0x0800, (0x88a8, 1), (0x8100, 2), (0x8100, 3)) + ip4(6, TCP),
    "mpls1": eth(0x8847) + struct.pack("!I", 16 << 12 | 0x100 | 64) + ip4(6, TCP),
    "mpls4": eth(0x8848) + b"".join(struct.pack("!I", (100 + i) << 12 | (0x100 if i == 3 else 0) | 9) for i in range(4)),
    "arp": eth(0x0806) + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MACS[:6] + bytes([10, 0, 0, 1]) + bytes(6) + bytes([10, 0, 0, 2]),
    "llc_snap": MACS + struct.pack("!H", 60) + bytes.fromhex("aaaa03000000") + struct.pack("!H", 0x0800) + ip4(17, UDP),
    "llc_stp": MACS + struct.pack("!H", 38) + bytes.fromhex("424203") + bytes(35),
    "ipv6_tcp": eth(0x86dd) + ip6(6, TCP),
    "ipv6_ext": eth(0x86dd) + ip6(0, bytes([60, 0]) + bytes(6) + bytes([43, 0]) + bytes(6) + bytes([51, 0]) + bytes(6) + bytes([44, 1]) + bytes(6) + bytes([6, 0, 0, 1]) + bytes(4) + TCP),
    "ipv6_frag_later": eth(0x86dd) + ip6(44, bytes([6, 0, 0, 0x18]) + bytes(4) + bytes(16)),
    "ipv6_esp": eth(0x86dd) + ip6(50, bytes(16)),
    "icmpv6_echo": eth(0x86dd) + ip6(58, bytes([128, 0, 0, 0, 0, 1, 0, 1])),
    "nd_ns": eth(0x86dd) + ip6(58, bytes([135, 0, 0, 0]) + bytes(4) + ND_T + bytes([1, 1]) + MACS[6:]),
    "nd_na": eth(0x86dd) + ip6(58, bytes([136, 0, 0, 0, 0x60, 0, 0, 0]) + ND_T + bytes([2, 1]) + MACS[:6] + bytes([1, 1]) + MACS[6:]),
    "nd_dup": eth(0x86dd) + ip6(58, bytes([135, 0, 0, 0]) + bytes(4) + ND_T + bytes([1, 1]) + MACS[6:] + bytes([1, 1]) + MACS[:6]),
    "runt": MACS[:10],
}

os.makedirs(OUT, exist_ok=True)
for name, data in frames.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(frames)} seeds in {OUT}")
