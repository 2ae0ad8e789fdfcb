#!/usr/bin/env bash
# Two network namespaces ping each other through xviod, over real kernel
# interfaces, in three set-ups:
#
# 1. af_packet on veths, MAC-learning bridge (the default):
#
#   netns A                  root netns                         netns B
#   10.77.0.1/24                                                10.77.0.2/24
#   vA ────────veth──────── hA [p1 af_packet]  xviod  [p2 af_packet] hB ────────veth──────── vB
#
# 2. the same ports cross-connected (`xvioctl xconnect p1 p2`);
#
# 3. tap ports: xviod creates taps tA and tB, which the script then moves
#    into the namespaces and addresses (10.77.1.1 ↔ 10.77.1.2):
#
#   netns A: tA ═══ fd [t1 tap]  xviod  [t2 tap] fd ═══ tB :netns B
#
# Each step: ping -c 20, 0% loss, and `xvioctl stats --json` shows the
# packets on both ports and the datapath's learned/flooded counters.
# Needs root and iproute2 + ping; skips (77) with the reason otherwise.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
[ -c /dev/net/tun ] || skip "/dev/net/tun missing (no tun module)"

s=$(( $$ % 100000 ))
NSA=xvping$s-a NSB=xvping$s-b
HA=xv${s}ha HB=xv${s}hb VA=xv${s}va VB=xv${s}vb TA=xv${s}ta TB=xv${s}tb

ip netns add "$NSA" 2>/dev/null || skip "cannot create network namespaces here"
T_CLEANUP+=("ip netns del $NSA")
ip netns add "$NSB"
T_CLEANUP+=("ip netns del $NSB")
ip link add "$HA" type veth peer name "$VA"
T_CLEANUP+=("ip link del $HA")
ip link add "$HB" type veth peer name "$VB"
T_CLEANUP+=("ip link del $HB")
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
for side in "A $NSA $VA 10.77.0.1" "B $NSB $VB 10.77.0.2"; do
	set -- $side
	ip -n "$2" link set lo up
	ip -n "$2" addr add "$4/24" dev "$3"
	ip -n "$2" link set "$3" up
done
ip link set "$HA" up
ip link set "$HB" up
# No IPv6 autoconf chatter on the host side; it would only add noise.
for h in "$HA" "$HB"; do sysctl -qw "net.ipv6.conf.$h.disable_ipv6=1" 2>/dev/null || true; done

start_xviod

# stat JSON-EXPR: evaluate over `xvioctl stats --json` (d = its data).
stat() { xc --json stats | json_get "$1"; }
port_stat() { stat "[p for p in d['ports'] if p['name'] == '$1'][0]['$2']"; }

# ping_check NS DST LABEL
ping_check() {
	local out
	# The first request may wait for ARP and learning; allow one retry round.
	ip netns exec "$1" ping -c 2 -W 1 "$2" >/dev/null 2>&1 || true
	out=$(ip netns exec "$1" ping -c 20 -i 0.05 -W 2 "$2" 2>&1) || {
		echo "$out"; xc stats || true; fail "$3: ping $2 failed"; }
	echo "$out" | tail -2
	echo "$out" | grep -q ' 0% packet loss' || { xc stats || true; fail "$3: packet loss"; }
}

# expect_moved PORT FIELD BEFORE MIN_DELTA LABEL
expect_moved() {
	local now; now=$(port_stat "$1" "$2")
	[ $(( now - $3 )) -ge "$4" ] || fail "$5: $1 $2 moved by $(( now - $3 )), expected ≥ $4"
}

echo "== 1. af_packet ports, learning bridge"
err=$(xc add-port p9 af_packet dev=xvnosuch$s 2>&1) && fail "add-port on a missing device succeeded"
echo "$err" | grep -q "No such device" || fail "unexpected error text: $err"
[ "$(xc --json show | json_get "len(d['ports'])")" = 0 ] || fail "failed add-port left a port behind"
xc add-port p1 af_packet dev="$HA"
xc add-port p2 af_packet dev="$HB"
xc show
rx1=$(port_stat p1 rx_packets) tx2=$(port_stat p2 tx_packets)
ping_check "$NSA" 10.77.0.2 "bridge"
expect_moved p1 rx_packets "$rx1" 20 "bridge"
expect_moved p2 tx_packets "$tx2" 20 "bridge"
expect_moved p2 rx_packets 0 20 "bridge"
[ "$(stat "d['datapath']['learned']")" -ge 2 ] || fail "bridge: no MACs learned"
[ "$(stat "d['datapath']['flooded']")" -ge 1 ] || fail "bridge: nothing flooded (ARP is broadcast)"
xc fdb-show
[ "$(xc --json fdb-show | json_get "len(d)")" -ge 2 ] || fail "bridge: fdb-show lists < 2 MACs"
[ "$(stat "d['datapath']['drops']['dst_is_in_port']")" -eq 0 ] || fail "bridge: hairpin drops"

echo "== 2. af_packet ports, cross-connect"
xc xconnect p1 p2
[ "$(stat "d['datapath']['xconnects']")" = 1 ] || fail "xconnect not in stats"
rx1=$(port_stat p1 rx_packets) tx2=$(port_stat p2 tx_packets)
ping_check "$NSB" 10.77.0.1 "xconnect"
expect_moved p1 rx_packets "$rx1" 20 "xconnect"
expect_moved p2 tx_packets "$tx2" 20 "xconnect"
xc xconnect-del p1
xc del-port p1
xc del-port p2

echo "== 3. tap ports, learning bridge"
xc add-port t1 tap dev="$TA"
xc add-port t2 tap dev="$TB"
ip link set "$TA" netns "$NSA"
ip link set "$TB" netns "$NSB"
ip -n "$NSA" addr add 10.77.1.1/24 dev "$TA"
ip -n "$NSA" link set "$TA" up
ip -n "$NSB" addr add 10.77.1.2/24 dev "$TB"
ip -n "$NSB" link set "$TB" up
ping_check "$NSA" 10.77.1.2 "tap"
expect_moved t1 rx_packets 0 20 "tap"
expect_moved t2 tx_packets 0 20 "tap"
expect_moved t2 rx_packets 0 20 "tap"
xc stats
xc del-port t1
xc del-port t2
# The taps were ours: closing them removed them.
ip -n "$NSA" link show "$TA" >/dev/null 2>&1 && fail "del-port left tap $TA behind"

kill -0 "$XVIOD_PID" || fail "xviod died"
echo "PASS"
