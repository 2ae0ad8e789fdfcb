#!/usr/bin/python3
"""Writes the seed frames of the tunnel decapsulation fuzzer into
tests/fuzz/corpus/tnl_decap/ (committed; not run at test time). The frames
are built by scapy, not by our encoder: one of each encapsulation xviod
takes, plus malformed and truncated ones."""
import os

from scapy.all import Ether, IP, IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, UDP, GRE, Raw, raw
from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr
from scapy.contrib.mpls import MPLS
from scapy.layers.vxlan import VXLAN
from scapy.contrib.geneve import GENEVE

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tnl_decap")
INNER = Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0a:02") / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(b"x" * 18)
OUTER = Ether(src="02:00:00:00:01:02", dst="02:00:00:00:01:01") / IP(src="192.168.1.2", dst="192.168.1.1", flags="DF")
L3 = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(b"y" * 10)

OUTER6 = Ether(src="02:00:00:00:01:02", dst="02:00:00:00:01:01") / IPv6(src="2001:db8::2", dst="2001:db8::1", fl=0x12345)

frames = {
    "vxlan": OUTER / UDP(sport=49200, dport=4789) / VXLAN(vni=5001) / INNER,
    "vxlan_csum": OUTER / UDP(sport=49200, dport=4789, chksum=None) / VXLAN(vni=1) / INNER,
    "vxlan_no_i": OUTER / UDP(sport=49200, dport=4789) / VXLAN(flags=0, vni=1) / INNER,
    "geneve": OUTER / UDP(sport=49300, dport=6081) / GENEVE(vni=77, proto=0x6558) / INNER,
    "geneve_opts": OUTER / UDP(sport=49300, dport=6081) /
        GENEVE(vni=77, proto=0x6558, optionlen=2, options=bytes.fromhex("0102800111223344")) / INNER,
    "geneve_crit_long": OUTER / UDP(sport=49300, dport=6081) /
        GENEVE(vni=77, proto=0x6558, critical=1, optionlen=6, options=bytes(24)) / INNER,
    "gre": OUTER / GRE(proto=0x6558) / INNER,
    "gre_key": OUTER / GRE(proto=0x6558, key_present=1, key=0xdeadbeef) / INNER,
    "gre_csum_seq": OUTER / GRE(proto=0x6558, chksum_present=1, seqnum_present=1, seqence_number=5) / INNER,
    "mplsogre": OUTER / GRE(proto=0x8847) / MPLS(label=100, s=1, ttl=63) / L3,
    "mplsogre_2labels": OUTER / GRE(proto=0x8847) / MPLS(label=100, s=0) / MPLS(label=200, s=1) / L3,
    "mplsoudp": OUTER / UDP(sport=49400, dport=6635) / MPLS(label=300, s=1, ttl=9) / L3,
    "mpls_no_bos": OUTER / UDP(sport=49400, dport=6635) / MPLS(label=300, s=0) / MPLS(label=1, s=0),
    "frag": Ether() / IP(src="192.168.1.2", dst="192.168.1.1", flags="MF") / UDP(dport=4789) / VXLAN() / INNER,
    "v6_vxlan": OUTER6 / UDP(sport=49200, dport=4789) / VXLAN(vni=5001) / INNER,
    "v6_vxlan_zero_csum": OUTER6 / UDP(sport=49200, dport=4789, chksum=0) / VXLAN(vni=5001) / INNER,
    "v6_vxlan_bad_csum": OUTER6 / UDP(sport=49200, dport=4789, chksum=0x1234) / VXLAN(vni=5001) / INNER,
    "v6_geneve_opts": OUTER6 / UDP(sport=49300, dport=6081) /
        GENEVE(vni=77, proto=0x6558, optionlen=2, options=bytes.fromhex("0102800111223344")) / INNER,
    "v6_gre_key": OUTER6 / GRE(proto=0x6558, key_present=1, key=0xdeadbeef) / INNER,
    "v6_mplsogre": OUTER6 / GRE(proto=0x8847) / MPLS(label=100, s=1, ttl=63) / L3,
    "v6_mplsoudp": OUTER6 / UDP(sport=49400, dport=6635) / MPLS(label=300, s=1, ttl=9) / L3,
    "v6_frag": OUTER6 / IPv6ExtHdrFragment(m=1) / UDP(dport=4789) / VXLAN() / INNER,
    "v6_hbh": OUTER6 / IPv6ExtHdrHopByHop() / UDP(dport=4789) / VXLAN() / INNER,
    "v6_nd_ns": Ether(src="02:00:00:00:01:02", dst="33:33:ff:00:00:01") /
        IPv6(src="2001:db8::2", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt="2001:db8::1") /
        ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:01:02"),
    "v6_nd_ns_dad": Ether(src="02:00:00:00:01:02", dst="33:33:ff:00:00:01") /
        IPv6(src="::", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt="2001:db8::1"),
    "v6_nd_na": Ether(src="02:00:00:00:01:02", dst="02:00:00:00:01:01") /
        IPv6(src="2001:db8::2", dst="2001:db8::1", hlim=255) / ICMPv6ND_NA(tgt="2001:db8::2", S=1, O=1) /
        ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:01:02"),
    "v6_nd_na_hlim": Ether(src="02:00:00:00:01:02", dst="02:00:00:00:01:01") /
        IPv6(src="2001:db8::2", dst="2001:db8::1", hlim=64) / ICMPv6ND_NA(tgt="2001:db8::2", S=1, O=1),
    "ip_opts": Ether() / IP(src="192.168.1.2", dst="192.168.1.1", options=b"\x01\x01\x01\x00") / UDP(dport=4789) / VXLAN() / INNER,
}

os.makedirs(OUT, exist_ok=True)
for name, pkt in frames.items():
    b = raw(pkt)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b)
    # A truncated copy in the middle of the tunnel header.
    with open(os.path.join(OUT, name + "_cut"), "wb") as f:
        f.write(b[:60] if name.startswith("v6") else b[:46])
