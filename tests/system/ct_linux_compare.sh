#!/usr/bin/env bash
# xviod's connection tracking against Linux netfilter: the same scripted
# packet sequences (ct_compare.py, scapy) go through both, and the verdicts
# (which packets got through, with which addresses after NAT) and the
# connection states afterwards are compared, scenario by scenario.
#
#   netns INJ (no addresses)                       (B) netns DUT: a Linux router
#   ia ─────────veth────────── da 10.1.0.254  ── nftables ct state / nat ── 10.2.0.254 db ──veth── ib
#
#   ja ─────────veth────────── xa [af_packet] (A) xviod with ct flows [af_packet] xb ──veth── jb
#
# The injector sends each step's frame on ia/ja (side a) or ib/jb (side b)
# and watches the other side for it. Both firewalls implement one policy
# (see ct_compare.py): a may open, b may only answer, invalid drops, DSCP
# picks the zone, some ports are SNATed and a VIP is DNATed.
#
# The Linux half runs first and is checked against the verdicts written in
# the scenarios (so the harness is known to be right before xviod is asked);
# then xviod runs and the two are compared. Differences that are intended
# are listed in ct_compare.py EXPECTED_DIFFERENCES with the reason.
#
# Linux settings chosen to match what a firewall should do, not defaults:
#   nf_conntrack_tcp_loose=0  a mid-stream packet does not open a connection
#                             (the default 1 would let a spoofed ACK in).
#
# Skips (77) without root, nft, conntrack or python3-scapy; skips the xviod
# half with the reason when this build has no ct action yet.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nft "apt-get install nftables"
need_cmd conntrack "apt-get install conntrack"
PY=/usr/bin/python3
[ -x $PY ] && $PY -c "import scapy" 2>/dev/null || skip "python3-scapy not installed (apt-get install python3-scapy)"
HERE=$(cd "$(dirname "$0")" && pwd)

s=$(( $$ % 100000 ))
DUT=xvctd$s INJ=xvcti$s
ip netns add "$DUT" 2>/dev/null || skip "cannot create network namespaces here"
T_CLEANUP+=("ip netns del $DUT")
ip netns add "$INJ"
T_CLEANUP+=("ip netns del $INJ")
modprobe nf_conntrack 2>/dev/null || true

# ---- (B) the Linux router
ip -n "$INJ" link add ia type veth peer name da netns "$DUT"
ip -n "$INJ" link add ib type veth peer name db netns "$DUT"
ip -n "$INJ" link set lo up
ip netns exec "$INJ" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
for i in ia ib; do
	ip netns exec "$INJ" sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
	ip -n "$INJ" link set "$i" up
done
d() { ip netns exec "$DUT" "$@"; }
d sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
	net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
d sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 ||
	skip "net.netfilter.nf_conntrack_tcp_loose not settable in a namespace"
d ip link set lo up
d ip addr add 10.1.0.254/24 dev da
d ip addr add 10.2.0.254/24 dev db
d ip addr add fd01::254/64 dev da nodad
d ip addr add fd02::254/64 dev db nodad
d ip link set da up
d ip link set db up
d ip neigh replace 10.1.0.1 lladdr 02:00:00:00:0a:01 dev da nud permanent
d ip neigh replace 10.2.0.1 lladdr 02:00:00:00:0b:01 dev db nud permanent
d ip neigh replace fd01::1 lladdr 02:00:00:00:0a:01 dev da nud permanent
d ip neigh replace fd02::1 lladdr 02:00:00:00:0b:01 dev db nud permanent
d nft -f - <<'EOF'
table inet xv {
	chain pre_zone {
		type filter hook prerouting priority raw; policy accept;
		ip dscp 10 ct zone set 1
		ip dscp 20 ct zone set 2
	}
	chain forward_ct {
		type filter hook forward priority filter; policy drop;
		ct state invalid drop
		ct state established,related accept
		iifname "da" ct state new accept
	}
	chain pre_dnat {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "da" ip daddr 10.2.0.100 tcp dport 80 dnat ip to 10.2.0.1:8080
		iifname "da" ip daddr 10.2.0.100 udp dport 80 dnat ip to 10.2.0.1:8080
	}
	chain post_snat {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "db" ip saddr 10.1.0.1 tcp dport 7040-7055 snat ip to 10.2.0.254
	}
}
EOF
MAC_DA=$(d cat /sys/class/net/da/address)
MAC_DB=$(d cat /sys/class/net/db/address)

echo "== (B) Linux netfilter"
start=$(date +%s)
ip netns exec "$INJ" $PY "$HERE/ct_compare.py" run --a ia --b ib --mac-a "$MAC_DA" --mac-b "$MAC_DB" \
	--flush-cmd "ip netns exec $DUT conntrack -F" \
	--state-cmd "ip netns exec $DUT conntrack -L 2>/dev/null" \
	--state-format conntrack --check >"$T_TMP/linux.json" ||
	fail "the Linux run disagrees with the scenarios' expected verdicts (see above)"
n=$($PY -c "import json,sys; print(len(json.load(open(sys.argv[1]))['scenarios']))" "$T_TMP/linux.json")
[ "$n" -ge 30 ] || fail "only $n scenarios"
echo "Linux: $n scenarios as expected in $(( $(date +%s) - start ))s"

# ---- (A) xviod, the same policy as flows
cat >"$T_TMP/ct.flows" <<'EOF'
# into conntrack: DSCP picks the zone; nat applies the translations of
# connections that have them (replies, related ICMP)
table=0,priority=10,ip,ip_dscp=10,actions=ct(zone=1,nat,table=1)
table=0,priority=10,ip,ip_dscp=20,actions=ct(zone=2,nat,table=1)
table=0,priority=5,ip,actions=ct(zone=0,nat,table=1)
table=0,priority=5,ipv6,actions=ct(zone=0,nat,table=1)
table=0,priority=0,actions=drop
table=1,priority=100,ct_state=+trk+inv,actions=drop
table=1,priority=90,ct_state=+trk+est-inv,in_port=a,actions=output:b
table=1,priority=90,ct_state=+trk+est-inv,in_port=b,actions=output:a
table=1,priority=90,ct_state=+trk+rel-inv,in_port=a,actions=output:b
table=1,priority=90,ct_state=+trk+rel-inv,in_port=b,actions=output:a
table=1,priority=85,ct_state=+trk+new,ct_zone=0,in_port=a,tcp,nw_dst=10.2.0.100,tp_dst=80,actions=ct(commit,zone=0,nat(dst=10.2.0.1:8080)),output:b
table=1,priority=85,ct_state=+trk+new,ct_zone=0,in_port=a,udp,nw_dst=10.2.0.100,tp_dst=80,actions=ct(commit,zone=0,nat(dst=10.2.0.1:8080)),output:b
table=1,priority=85,ct_state=+trk+new,ct_zone=0,in_port=a,tcp,nw_src=10.1.0.1,tp_dst=0x1b80/0xfff0,actions=ct(commit,zone=0,nat(src=10.2.0.254)),output:b
table=1,priority=80,ct_state=+trk+new,ct_zone=0,in_port=a,actions=ct(commit,zone=0),output:b
table=1,priority=80,ct_state=+trk+new,ct_zone=1,in_port=a,actions=ct(commit,zone=1),output:b
table=1,priority=80,ct_state=+trk+new,ct_zone=2,in_port=a,actions=ct(commit,zone=2),output:b
table=1,priority=0,actions=drop
EOF
start_xviod
if ! xc ct-flush >/dev/null 2>&1; then
	skip "xviod half: this build has no conntrack (ct-flush) yet; the Linux half passed ($n scenarios)"
fi
XA=xv${s}xa XB=xv${s}xb
ip link add "$XA" type veth peer name ja netns "$INJ"
T_CLEANUP+=("ip link del $XA")
ip link add "$XB" type veth peer name jb netns "$INJ"
T_CLEANUP+=("ip link del $XB")
for i in "$XA" "$XB"; do
	sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1" 2>/dev/null || true
	ip link set "$i" up
done
for i in ja jb; do
	ip netns exec "$INJ" sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
	ip -n "$INJ" link set "$i" up
done
xc add-port a af_packet dev="$XA"
xc add-port b af_packet dev="$XB"
xc del-flows
xc add-flows "$T_TMP/ct.flows" >/dev/null || fail "xviod refused the ct flows"

echo "== (A) xviod"
start=$(date +%s)
ip netns exec "$INJ" $PY "$HERE/ct_compare.py" run --a ja --b jb \
	--mac-a 02:00:00:00:0d:0a --mac-b 02:00:00:00:0d:0b \
	--flush-cmd "$XVIOCTL --ctl $CTL ct-flush" \
	--state-cmd "$XVIOCTL --ctl $CTL --json ct-dump" \
	--state-format xvio >"$T_TMP/xviod.json" 2>"$T_TMP/xviod.err" ||
	{ cat "$T_TMP/xviod.err"; fail "the xviod run failed"; }
echo "xviod: ran in $(( $(date +%s) - start ))s"
xc ct-stats || true

echo "== Linux vs xviod"
$PY "$HERE/ct_compare.py" compare "$T_TMP/linux.json" "$T_TMP/xviod.json" ||
	{ xc dump-flows; fail "xviod and Linux disagree where no difference is intended"; }
[ -z "${CT_COMPARE_KEEP:-}" ] || cp "$T_TMP"/*.json "$CT_COMPARE_KEEP"/
kill -0 "$XVIOD_PID" || fail "xviod died"
echo "PASS"
