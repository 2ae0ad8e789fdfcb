#!/usr/bin/python3
"""Replay scripted packet sequences through a stateful firewall and record
what got through and what the connection table says.

Two sides, a (the client network, which may open connections) and b (the
server network, which may only answer). For every step the script sends one
crafted frame on one side's interface and watches the other side's interface
for it (recognised by a tag: the IPv4 id or the IPv6 flow label, which
routers and NAT keep), then records pass/drop and the headers it came out
with (NAT). After each scenario it reads the connection table with
--state-cmd and flushes it with --flush-cmd.

  run:      ct_compare.py run --a IF --b IF --mac-a MAC --mac-b MAC
                --flush-cmd CMD --state-cmd CMD --state-format conntrack|xvio
                [--check] > result.json
  compare:  ct_compare.py compare linux.json xviod.json

`run --check` also compares each step with the verdict written in the
scenario (what netfilter is expected to do), so the harness can be checked
against Linux alone. `compare` prints one line per scenario and exits 1 when
the two runs disagree anywhere that EXPECTED_DIFFERENCES does not excuse.

The policy both firewalls implement (ct_linux_compare.sh installs it):
  - invalid: drop; established/related: pass both ways
  - new from a: commit and pass; new from b: drop
  - IPv4 DSCP 10 -> zone 1, DSCP 20 -> zone 2, else zone 0 (tuples kept apart)
  - new TCP from a to ports 7040-7055: SNAT to 10.2.0.254
  - new from a to 10.2.0.100 (VIP): DNAT to 10.2.0.1, TCP/UDP port 80 -> 8080
"""
import json
import os
import select
import socket
import subprocess
import sys
import time

from scapy.all import (ICMP, IP, TCP, UDP, Ether, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6EchoRequest, IPv6, IPerror, IPerror6, Raw, TCPerror, UDPerror,
                       conf)

conf.verb = 0

C4, S4, VIP, SNAT4 = "10.1.0.1", "10.2.0.1", "10.2.0.100", "10.2.0.254"
C6, S6 = "fd01::1", "fd02::1"
MAC_A, MAC_B = "02:00:00:00:0a:01", "02:00:00:00:0b:01"   # the injector's hosts
WAIT_DROP = 0.15      # seconds to wait before calling a packet dropped

# ---------------------------------------------------------------- scenarios
# A step: (side, packet-builder, expect) where side is "a" or "b" (where it is
# sent), expect is True (passes), False (dropped). Builders get the tag.
# A scenario: name, steps, and the states expected after it (list of
# "proto src:sport>dst:dport STATE [zone=N]" for TCP; UDP/ICMP use
# UNREPLIED/REPLIED), also checked only with --check.


def tcp(src, dst, sport, dport, flags, seq, ack=0, data=b"", tos=0, win=65535):
    def build(tag):
        ip = (IP(src=src, dst=dst, id=tag, tos=tos, ttl=64) if ":" not in src
              else IPv6(src=src, dst=dst, fl=tag, hlim=64))
        p = ip / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=win)
        return p / Raw(data) if data else p
    return build


def udp(src, dst, sport, dport, data=b"x", tos=0):
    def build(tag):
        ip = (IP(src=src, dst=dst, id=tag, tos=tos, ttl=64) if ":" not in src
              else IPv6(src=src, dst=dst, fl=tag, hlim=64))
        return ip / UDP(sport=sport, dport=dport) / Raw(data)
    return build


def echo(src, dst, ident, seq, reply=False):
    def build(tag):
        if ":" in src:
            m = ICMPv6EchoReply if reply else ICMPv6EchoRequest
            return IPv6(src=src, dst=dst, fl=tag, hlim=64) / m(id=ident, seq=seq) / Raw(b"ping")
        return IP(src=src, dst=dst, id=tag, ttl=64) / ICMP(type=0 if reply else 8, id=ident,
                                                        seq=seq) / Raw(b"ping")
    return build


def icmp_err(src, dst, inner):
    """An ICMP destination-unreachable (port) from src to dst, quoting inner
    (a builder), as a host or router would send it."""
    def build(tag):
        q = inner(0)
        if ":" in src:
            q6 = IPerror6(bytes(q))
            return IPv6(src=src, dst=dst, fl=tag, hlim=64) / ICMPv6DestUnreach(code=4) / q6
        return IP(src=src, dst=dst, id=tag, ttl=64) / ICMP(type=3, code=3) / IPerror(bytes(q))
    return build


def hs(src, dst, sport, dport, isn=1000, risn=5000, tos=0):
    """The three steps of a handshake from a to b."""
    return [("a", tcp(src, dst, sport, dport, "S", isn, tos=tos), True),
            ("b", tcp(dst, src, dport, sport, "SA", risn, isn + 1, tos=tos), True),
            ("a", tcp(src, dst, sport, dport, "A", isn + 1, risn + 1, tos=tos), True)]


def t4(sport, dport=80, state="ESTABLISHED", zone=0, src=C4, dst=S4):
    return f"tcp {src}:{sport}>{dst}:{dport} {state}" + (f" zone={zone}" if zone else "")


def scenarios():
    S = []

    def add(name, steps, states=None):
        S.append({"name": name, "steps": steps, "states": states})

    # --- TCP handshakes and the state machine
    add("tcp_handshake", hs(C4, S4, 1001, 80) + [
        ("a", tcp(C4, S4, 1001, 80, "PA", 1001, 5001, b"hello"), True),
        ("b", tcp(S4, C4, 80, 1001, "A", 5001, 1006), True)], [t4(1001)])
    add("tcp_syn_from_b_dropped", [("b", tcp(S4, C4, 80, 1002, "S", 7000), False)], [])
    add("tcp_synack_without_syn", [("b", tcp(S4, C4, 80, 1003, "SA", 7000, 1), False)], [])
    add("tcp_midstream_ack_is_not_new", [
        ("a", tcp(C4, S4, 1004, 80, "PA", 1, 1, b"data"), False)], [])
    add("tcp_syn_sent_state", [("a", tcp(C4, S4, 1005, 80, "S", 1000), True)],
        [t4(1005, state="SYN_SENT")])
    add("tcp_syn_recv_state", hs(C4, S4, 1006, 80)[:2], [t4(1006, state="SYN_RECV")])
    add("tcp_simultaneous_open", [
        ("a", tcp(C4, S4, 1007, 80, "S", 1000), True),
        ("b", tcp(S4, C4, 80, 1007, "S", 5000), True),
        ("a", tcp(C4, S4, 1007, 80, "SA", 1000, 5001), True),
        ("b", tcp(S4, C4, 80, 1007, "SA", 5000, 1001), True),
        ("a", tcp(C4, S4, 1007, 80, "A", 1001, 5001), True)], [t4(1007)])
    add("tcp_syn_retransmitted", [
        ("a", tcp(C4, S4, 1008, 80, "S", 1000), True),
        ("a", tcp(C4, S4, 1008, 80, "S", 1000), True)], [t4(1008, state="SYN_SENT")])
    add("tcp_data_retransmitted", hs(C4, S4, 1009, 80) + [
        ("a", tcp(C4, S4, 1009, 80, "PA", 1001, 5001, b"abcd"), True),
        ("a", tcp(C4, S4, 1009, 80, "PA", 1001, 5001, b"abcd"), True)], [t4(1009)])
    add("tcp_data_out_of_window", hs(C4, S4, 1010, 80) + [
        ("a", tcp(C4, S4, 1010, 80, "PA", 1001 + 2000000, 5001, b"far"), False),
        ("a", tcp(C4, S4, 1010, 80, "PA", 1001, 5001, b"near"), True)], [t4(1010)])
    add("tcp_ack_of_unsent_data", hs(C4, S4, 1011, 80) + [
        ("b", tcp(S4, C4, 80, 1011, "A", 5001, 1001 + 3000000), False)], [t4(1011)])
    add("tcp_rst_in_window_from_b", hs(C4, S4, 1012, 80) + [
        ("b", tcp(S4, C4, 80, 1012, "R", 5001), True)], [t4(1012, state="CLOSE")])
    add("tcp_rst_out_of_window_from_b", hs(C4, S4, 1013, 80) + [
        ("b", tcp(S4, C4, 80, 1013, "R", 5001 + 5000000), False)], [t4(1013)])
    add("tcp_rst_in_window_from_a", hs(C4, S4, 1014, 80) + [
        ("a", tcp(C4, S4, 1014, 80, "RA", 1001, 5001), True)], [t4(1014, state="CLOSE")])
    # Netfilter keeps a reset connection in CLOSE (10 s) and still matches
    # in-window packets to it as established.
    add("tcp_data_after_rst", hs(C4, S4, 1015, 80) + [
        ("a", tcp(C4, S4, 1015, 80, "R", 1001), True),
        ("b", tcp(S4, C4, 80, 1015, "PA", 5001, 1001, b"late"), True)],
        [t4(1015, state="CLOSE")])
    add("tcp_half_close", hs(C4, S4, 1016, 80) + [
        ("a", tcp(C4, S4, 1016, 80, "FA", 1001, 5001), True),
        ("b", tcp(S4, C4, 80, 1016, "A", 5001, 1002), True),
        ("b", tcp(S4, C4, 80, 1016, "PA", 5001, 1002, b"more"), True),
        ("a", tcp(C4, S4, 1016, 80, "A", 1002, 5005), True)], [t4(1016, state="CLOSE_WAIT")])
    close = [("a", tcp(C4, S4, 1017, 80, "FA", 1001, 5001), True),
             ("b", tcp(S4, C4, 80, 1017, "FA", 5001, 1002), True),
             ("a", tcp(C4, S4, 1017, 80, "A", 1002, 5002), True)]
    add("tcp_full_close_time_wait", hs(C4, S4, 1017, 80) + close,
        [t4(1017, state="TIME_WAIT")])
    add("tcp_time_wait_reuse", hs(C4, S4, 1017, 80) + close + [
        ("a", tcp(C4, S4, 1017, 80, "S", 900000), True),
        ("b", tcp(S4, C4, 80, 1017, "SA", 700000, 900001), True)],
        [t4(1017, state="SYN_RECV")])
    add("tcp_syn_fin_invalid", [("a", tcp(C4, S4, 1018, 80, "SF", 1000), False)], [])
    add("tcp_no_flags_invalid", [("a", tcp(C4, S4, 1019, 80, "", 1000), False)], [])
    add("tcp_fin_from_b_then_ack", hs(C4, S4, 1020, 80) + [
        ("b", tcp(S4, C4, 80, 1020, "FA", 5001, 1001), True),
        ("a", tcp(C4, S4, 1020, 80, "A", 1001, 5002), True)], [t4(1020, state="CLOSE_WAIT")])

    add("tcp_syn_retransmitted_new_isn", [
        ("a", tcp(C4, S4, 1021, 80, "S", 1000), True),
        ("a", tcp(C4, S4, 1021, 80, "S", 90000), True)], [t4(1021, state="SYN_SENT")])
    add("tcp_ack_before_synack_invalid", [
        ("a", tcp(C4, S4, 1022, 80, "S", 1000), True),
        ("a", tcp(C4, S4, 1022, 80, "PA", 1001, 777, b"early"), False)],
        [t4(1022, state="SYN_SENT")])
    # A refused connection (RST+ACK to the SYN) is forgotten at once, not
    # kept in CLOSE: netfilter kills a connection reset before it was set up.
    add("tcp_refused_rst_ack", [
        ("a", tcp(C4, S4, 1023, 80, "S", 1000), True),
        ("b", tcp(S4, C4, 80, 1023, "RA", 0, 1001), True)], [])

    # --- UDP
    add("udp_request_reply", [
        ("a", udp(C4, S4, 2001, 53), True),
        ("b", udp(S4, C4, 53, 2001), True)], [f"udp {C4}:2001>{S4}:53 REPLIED"])
    add("udp_unreplied", [("a", udp(C4, S4, 2002, 53), True)],
        [f"udp {C4}:2002>{S4}:53 UNREPLIED"])
    add("udp_unsolicited_from_b", [("b", udp(S4, C4, 53, 2003), False)], [])
    add("udp_reply_to_other_port_dropped", [
        ("a", udp(C4, S4, 2004, 53), True),
        ("b", udp(S4, C4, 53, 2005), False)], [f"udp {C4}:2004>{S4}:53 UNREPLIED"])

    add("udp_several_replies", [
        ("a", udp(C4, S4, 2006, 53), True), ("b", udp(S4, C4, 53, 2006), True),
        ("b", udp(S4, C4, 53, 2006), True), ("a", udp(C4, S4, 2006, 53), True)],
        [f"udp {C4}:2006>{S4}:53 REPLIED"])

    # --- ICMP
    add("icmp_echo", [("a", echo(C4, S4, 77, 1), True), ("b", echo(S4, C4, 77, 1, True), True)],
        [f"icmp {C4}:77>{S4}:77 REPLIED"])
    add("icmp_echo_reply_unsolicited", [("b", echo(S4, C4, 78, 1, True), False)], [])
    add("icmp_echo_reply_wrong_id", [
        ("a", echo(C4, S4, 79, 1), True), ("b", echo(S4, C4, 80, 1, True), False)],
        [f"icmp {C4}:79>{S4}:79 UNREPLIED"])
    add("icmp_error_for_udp_related", [
        ("a", udp(C4, S4, 2010, 4000), True),
        ("b", icmp_err(S4, C4, udp(C4, S4, 2010, 4000)), True)],
        [f"udp {C4}:2010>{S4}:4000 UNREPLIED"])
    add("icmp_error_for_tcp_related", [
        ("a", tcp(C4, S4, 1030, 81, "S", 1000), True),
        ("b", icmp_err(S4, C4, tcp(C4, S4, 1030, 81, "S", 1000)), True)],
        [t4(1030, 81, "SYN_SENT")])
    add("icmp_error_unrelated_dropped", [
        ("b", icmp_err(S4, C4, udp(C4, S4, 2011, 4001)), False)], [])

    add("icmp_echo_from_b_dropped", [("b", echo(S4, C4, 81, 1), False)], [])
    add("icmp_error_wrong_inner_port_dropped", [
        ("a", udp(C4, S4, 2020, 4000), True),
        ("b", icmp_err(S4, C4, udp(C4, S4, 2020, 4001)), False)],
        [f"udp {C4}:2020>{S4}:4000 UNREPLIED"])

    # --- IPv6
    add("tcp6_handshake", hs(C6, S6, 3001, 80) + [
        ("a", tcp(C6, S6, 3001, 80, "PA", 1001, 5001, b"hi6"), True)],
        [t4(3001, src=C6, dst=S6)])
    add("tcp6_syn_from_b_dropped", [("b", tcp(S6, C6, 80, 3002, "S", 1), False)], [])
    add("icmp6_echo_from_b_dropped", [("b", echo(S6, C6, 92, 1), False)], [])
    add("udp6_request_reply", [
        ("a", udp(C6, S6, 3003, 53), True), ("b", udp(S6, C6, 53, 3003), True)],
        [f"udp {C6}:3003>{S6}:53 REPLIED"])
    add("icmp6_echo", [("a", echo(C6, S6, 91, 1), True), ("b", echo(S6, C6, 91, 1, True), True)],
        [f"icmpv6 {C6}:91>{S6}:91 REPLIED"])
    add("icmp6_error_for_udp6_related", [
        ("a", udp(C6, S6, 3004, 4000), True),
        ("b", icmp_err(S6, C6, udp(C6, S6, 3004, 4000)), True)],
        [f"udp {C6}:3004>{S6}:4000 UNREPLIED"])

    # --- zones: DSCP 10 -> zone 1, DSCP 20 -> zone 2
    z1, z2 = 10 << 2, 20 << 2
    add("zones_keep_tuples_apart", hs(C4, S4, 4001, 80, tos=z1) + [
        ("b", tcp(S4, C4, 80, 4001, "A", 5001, 1001, tos=z2), False),
        ("b", tcp(S4, C4, 80, 4001, "A", 5001, 1001, tos=z1), True)],
        [t4(4001, zone=1)])
    add("zones_same_tuple_twice", [
        ("a", tcp(C4, S4, 4002, 80, "S", 1000, tos=z1), True),
        ("a", tcp(C4, S4, 4002, 80, "S", 1000, tos=z2), True)],
        [t4(4002, state="SYN_SENT", zone=1), t4(4002, state="SYN_SENT", zone=2)])

    # --- NAT
    add("snat_tcp", [
        ("a", tcp(C4, S4, 7041, 7041, "S", 1000), True),
        ("b", tcp(S4, SNAT4, 7041, 7041, "SA", 5000, 1001), True),
        ("a", tcp(C4, S4, 7041, 7041, "A", 1001, 5001), True)],
        [f"tcp {C4}:7041>{S4}:7041 ESTABLISHED"])
    add("dnat_tcp", [
        ("a", tcp(C4, VIP, 7101, 80, "S", 1000), True),
        ("b", tcp(S4, C4, 8080, 7101, "SA", 5000, 1001), True),
        ("a", tcp(C4, VIP, 7101, 80, "A", 1001, 5001), True)],
        [f"tcp {C4}:7101>{VIP}:80 ESTABLISHED"])
    add("dnat_udp", [
        ("a", udp(C4, VIP, 7102, 80), True), ("b", udp(S4, C4, 8080, 7102), True)],
        [f"udp {C4}:7102>{VIP}:80 REPLIED"])
    add("dnat_reply_from_backend_port_only", [
        ("a", udp(C4, VIP, 7103, 80), True), ("b", udp(S4, C4, 80, 7103), False)],
        [f"udp {C4}:7103>{VIP}:80 UNREPLIED"])
    add("snat_icmp_error_translated_back", [
        ("a", tcp(C4, S4, 7044, 7044, "S", 1000), True),
        ("b", icmp_err(S4, SNAT4, tcp(SNAT4, S4, 7044, 7044, "S", 1000)), True)],
        [f"tcp {C4}:7044>{S4}:7044 SYN_SENT"])
    return S


# ---------------------------------------------------------------- running

class Wire:
    def __init__(self, a, b, mac_a, mac_b):
        self.ifs = {"a": a, "b": b}
        self.dut_mac = {"a": mac_a, "b": mac_b}
        self.host_mac = {"a": MAC_A, "b": MAC_B}
        self.sock = {}
        for side, ifname in self.ifs.items():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
            s.bind((ifname, 0))
            s.setblocking(False)
            self.sock[side] = s

    def drain(self):
        for s in self.sock.values():
            while True:
                try:
                    s.recv(65535)
                except BlockingIOError:
                    break

    def send(self, side, pkt):
        et = Ether(src=self.host_mac[side], dst=self.dut_mac[side])
        self.sock[side].send(bytes(et / pkt))

    def wait(self, side, tag, v6):
        """The frame with tag that comes out on side, or None."""
        s = self.sock[side]
        end = time.monotonic() + WAIT_DROP
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([s], [], [], left)
            if not r:
                continue
            try:
                data, addr = s.recvfrom(65535)
            except BlockingIOError:
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            e = Ether(data)
            if v6 and IPv6 in e and e[IPv6].fl == tag:
                return e
            if not v6 and IP in e and e[IP].id == tag:
                return e


def headers(e):
    """What a NAT may change, for comparing."""
    ip = e[IP] if IP in e else e[IPv6]
    h = {"src": ip.src, "dst": ip.dst}
    l4 = ip.payload
    if isinstance(l4, (TCP, UDP)):
        h["sport"], h["dport"] = l4.sport, l4.dport
    if ICMP in e and e[ICMP].type == 3 and IPerror in e:
        q = e[IPerror]
        h["inner"] = {"src": q.src, "dst": q.dst}
        if TCPerror in q or UDPerror in q:
            ql4 = q[TCPerror] if TCPerror in q else q[UDPerror]
            h["inner"].update(sport=ql4.sport, dport=ql4.dport)
    return h


def parse_conntrack(text):
    """`conntrack -L` lines -> normalized "proto src:sport>dst:dport STATE [zone=N]"."""
    out = []
    for line in text.splitlines():
        w = line.split()
        if not w or w[0] not in ("tcp", "udp", "icmp", "icmpv6"):
            continue
        kv = {}
        for x in w:
            if "=" in x:
                k, v = x.split("=", 1)
                kv.setdefault(k, v)       # the first: the original direction
        if not (kv.get("src", "").startswith(("10.", "fd0"))):
            continue
        proto = w[0]
        if proto == "tcp":
            state = w[3]
        else:
            state = "UNREPLIED" if "[UNREPLIED]" in w else "REPLIED"
        sp = kv.get("sport", kv.get("id", "0"))
        dp = kv.get("dport", kv.get("id", "0"))
        z = kv.get("zone")
        out.append(f"{proto} {kv['src']}:{sp}>{kv['dst']}:{dp} {state}" +
                   (f" zone={z}" if z and z != "0" else ""))
    return sorted(out)


def parse_xvio(text):
    """`xvioctl --json ct-dump` -> the same normalized form."""
    out = []
    try:
        data = json.loads(text)
    except ValueError:
        return ["unparsable ct-dump output"]
    for c in data if isinstance(data, list) else data.get("connections", []):
        o = c.get("orig", c)
        proto = c.get("proto")
        state = str(c.get("state", "?")).upper()
        sp = o.get("sport", o.get("id", 0))
        dp = o.get("dport", o.get("id", 0))
        z = c.get("zone", 0)
        out.append(f"{proto} {o.get('src')}:{sp}>{o.get('dst')}:{dp} {state}" +
                   (f" zone={z}" if z else ""))
    return sorted(out)


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout


def run(args):
    wire = Wire(args.a, args.b, args.mac_a, args.mac_b)
    results, bad = [], 0
    tag = 1000 + os.getpid() % 1000 * 50
    for sc in scenarios():
        sh(args.flush_cmd)
        wire.drain()
        steps = []
        for side, build, expect in sc["steps"]:
            tag += 1
            pkt = build(tag)
            other = "b" if side == "a" else "a"
            wire.send(side, pkt)
            got = wire.wait(other, tag, IPv6 in pkt)
            steps.append({"from": side, "pass": got is not None, "expect": expect,
                          "headers": headers(got) if got else None,
                          "what": pkt.summary()})
        raw = sh(args.state_cmd)
        states = parse_conntrack(raw) if args.state_format == "conntrack" else parse_xvio(raw)
        r = {"name": sc["name"], "steps": steps, "states": states,
             "expect_states": sorted(sc["states"]) if sc["states"] is not None else None}
        if args.check:
            why = [f"step {i + 1} ({s['what']}): {'passed' if s['pass'] else 'dropped'}, "
                   f"expected {'pass' if s['expect'] else 'drop'}"
                   for i, s in enumerate(steps) if s["pass"] != s["expect"]]
            if r["expect_states"] is not None and states != r["expect_states"]:
                why.append(f"states {states}, expected {r['expect_states']}")
            r["check"] = why
            bad += bool(why)
            print(f"{'ok  ' if not why else 'FAIL'} {sc['name']}" +
                  "".join(f"\n       {w}" for w in why), file=sys.stderr)
        results.append(r)
    sh(args.flush_cmd)
    json.dump({"scenarios": results}, sys.stdout, indent=1)
    return 1 if bad else 0


# ---------------------------------------------------------------- comparing

# Where xviod and Linux differ and the difference is accepted: scenario ->
# {"verdicts" or "states": why}. Only the named aspect is excused; any other
# difference in the same scenario still fails.
EXPECTED_DIFFERENCES = {
}


def compare(args):
    a = {s["name"]: s for s in json.load(open(args.linux))["scenarios"]}
    b = {s["name"]: s for s in json.load(open(args.xviod))["scenarios"]}
    n_bad = 0
    for name, la in a.items():
        xb = b.get(name)
        diffs = {"verdicts": [], "states": []}
        if not xb:
            diffs["verdicts"].append("missing from the xviod run")
        else:
            for i, (p, q) in enumerate(zip(la["steps"], xb["steps"])):
                if p["pass"] != q["pass"]:
                    diffs["verdicts"].append(
                        f"step {i + 1} {p['what']}: linux {'pass' if p['pass'] else 'drop'}, "
                        f"xviod {'pass' if q['pass'] else 'drop'}")
                elif p["pass"] and p["headers"] != q["headers"]:
                    diffs["verdicts"].append(f"step {i + 1} {p['what']}: linux {p['headers']}, "
                                             f"xviod {q['headers']}")
            if la["states"] != xb["states"]:
                diffs["states"].append(f"states: linux {la['states']}, xviod {xb['states']}")
        excused = EXPECTED_DIFFERENCES.get(name, {})
        bad = [d for k, v in diffs.items() if k not in excused for d in v]
        known = [(k, d) for k, v in diffs.items() if k in excused for d in v]
        if bad:
            n_bad += 1
            print(f"MISMATCH  {name}" + "".join(f"\n            {d}" for d in bad))
        elif known:
            print(f"differs   {name}" + "".join(f"\n            {d}\n            intended: "
                                                 f"{excused[k]}" for k, d in known))
        else:
            print(f"same      {name}" + (" (a listed difference did not occur)" if excused
                                         else ""))
    print(f"{len(a)} scenarios, {n_bad} unexplained mismatches")
    return 1 if n_bad else 0


def main():
    import argparse
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--a", required=True)
    r.add_argument("--b", required=True)
    r.add_argument("--mac-a", required=True)
    r.add_argument("--mac-b", required=True)
    r.add_argument("--flush-cmd", required=True)
    r.add_argument("--state-cmd", required=True)
    r.add_argument("--state-format", choices=["conntrack", "xvio"], required=True)
    r.add_argument("--check", action="store_true")
    c = sub.add_parser("compare")
    c.add_argument("linux")
    c.add_argument("xviod")
    args = ap.parse_args()
    if args.cmd == "run":
        return run(args)
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
