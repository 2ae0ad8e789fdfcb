#!/usr/bin/env bash
# Two tenants with the same addresses on one xviod, routed in separate VRFs,
# and a service chain through a VNF namespace.
#
#   tenant A (vrf 1)                                  tenant B (vrf 2)
#   nsA1 10.0.0.1/24 ── pa1 ┐                    ┌ pb1 ── nsB1 10.0.0.1/24
#   nsA2 10.0.1.1/24 ── pa2 ┤      xviod          ├ pb2 ── nsB2 10.0.1.1/24
#   nsA3 10.0.2.1/24 ── pa3 ┘  (gateways .254)    └
#                      pvi ──┐
#   nsV: bridge vbr  ────────┘ pvo    (the VNF: frames in on vi, out on vo)
#
# Every port is af_packet on a veth whose other end is in a namespace. The
# flows put each tenant's ports in its VRF through reg0 and route(vrf=reg0);
# xviod is every guest's default gateway (ARP proxy), learns the guests
# from their ARP, routes between the subnets, and sends ICMP errors.
#
# Proves, by ping results, xviod counters, port counters and captures:
#  1. each tenant routes between its own subnets (A1 → A2, B1 → B2);
#  2. B1 → 10.0.1.1 reaches B2 and never A2 (same address, other VRF):
#     A2's capture sees none of B's packets;
#  3. B1 → 10.0.2.1 (exists only in A) fails: ICMP net unreachable back to
#     B1, `no_route` counted, A3 receives nothing;
#  4. TTL 1 gets ICMP time exceeded from the gateway;
#  5. with chaining flows, A1 → A2 traffic goes through the VNF: the VNF
#     ports' counters move and a capture inside the VNF sees the packets.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
need_cmd tshark "apt-get install tshark"

s=$(( $$ % 100000 ))
NS=()
mkns() {	# mkns NAME PORT ADDR/LEN GW
	local ns=xvl3$s$1 h=xl$s$1 v=xl$s${1}v
	ip netns add "$ns" 2>/dev/null || skip "cannot create network namespaces here"
	T_CLEANUP+=("ip netns del $ns")
	ip link add "$h" type veth peer name "$v"
	T_CLEANUP+=("ip link del $h")
	ip link set "$v" netns "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$3" dev "$v"
	ip -n "$ns" link set "$v" address "02:00:00:$(printf %02x $(( s % 256 ))):00:$4"
	ip -n "$ns" link set "$v" up
	sysctl -qw "net.ipv6.conf.$h.disable_ipv6=1" 2>/dev/null || true
	ip -n "$ns" route add default via "$5"
	ip link set "$h" up
	xc add-port "$2" af_packet dev="$h"
}

start_xviod
xc del-flows
mkns a1 pa1 10.0.0.1/24 11 10.0.0.254
mkns a2 pa2 10.0.1.1/24 12 10.0.1.254
mkns a3 pa3 10.0.2.1/24 13 10.0.2.254
mkns b1 pb1 10.0.0.1/24 21 10.0.0.254
mkns b2 pb2 10.0.1.1/24 22 10.0.1.254

xc vrf-add 1 tenantA
xc vrf-add 2 tenantB
xc vrf-if-add 1 pa1 10.0.0.254/24 mac=02:00:5e:00:00:a1
xc vrf-if-add 1 pa2 10.0.1.254/24 mac=02:00:5e:00:00:a1
xc vrf-if-add 1 pa3 10.0.2.254/24 mac=02:00:5e:00:00:a1
xc vrf-if-add 2 pb1 10.0.0.254/24 mac=02:00:5e:00:00:b1
xc vrf-if-add 2 pb2 10.0.1.254/24 mac=02:00:5e:00:00:b1
# A subnet can only be an interface of one port per VRF.
err=$(xc vrf-if-add 1 pb1 10.0.0.254/24 2>&1) && fail "overlapping interface accepted"
echo "$err" | grep -q "already" || fail "unexpected error: $err"

cat >"$T_TMP/flows" <<EOF
priority=10,in_port=pa1,actions=load:1->reg0[],resubmit(,1)
priority=10,in_port=pa2,actions=load:1->reg0[],resubmit(,1)
priority=10,in_port=pa3,actions=load:1->reg0[],resubmit(,1)
priority=10,in_port=pb1,actions=load:2->reg0[],resubmit(,1)
priority=10,in_port=pb2,actions=load:2->reg0[],resubmit(,1)
table=1,actions=route(vrf=reg0)
EOF
xc add-flows "$T_TMP/flows"
xc dump-flows | grep -q "route(vrf=reg0)" || fail "dump-flows does not show route(vrf=reg0)"

l3() { xc --json vrf-show | json_get "d['counters']['$1']"; }
port_stat() { xc --json stats | json_get "[p for p in d['ports'] if p['name'] == '$1'][0]['$2']"; }
# ping_ok NS DST LABEL: the first packets may wait for ARP on both sides.
ping_ok() {
	wait_for 10 ip netns exec "$1" ping -c 1 -W 1 "$2" || {
		xc vrf-show; xc neigh-show; fail "$3: $1 cannot ping $2"; }
	out=$(ip netns exec "$1" ping -c 10 -i 0.05 -W 2 "$2" 2>&1) || {
		echo "$out"; xc vrf-show; fail "$3: ping $2 lost packets"; }
	echo "$out" | grep -q ' 0% packet loss' || { echo "$out"; fail "$3: packet loss"; }
}

echo "== 1. each tenant routes between its subnets"
ip netns exec xvl3${s}a2 tshark -q -i xl${s}a2v -w "$T_TMP/a2.pcap" -f "icmp" 2>/dev/null &
T_PIDS+=($!)
sleep 1.5
ping_ok xvl3${s}a1 10.0.1.1 "tenant A"
ping_ok xvl3${s}b1 10.0.1.1 "tenant B"
ping_ok xvl3${s}a1 10.0.0.254 "gateway A"
xc neigh-show
xc route-show 1
[ "$(xc --json neigh-show 2 | json_get "len(d)")" -ge 2 ] || fail "tenant B neighbours not learned"
xc trace "in_port=pb1,ip,nw_src=10.0.0.1,nw_dst=10.0.1.1,nw_ttl=64" | tee "$T_TMP/trace"
grep -q "Route: vrf 2: 10.0.1.1/32 dev pb2" "$T_TMP/trace" || fail "trace does not show B's route"
# The VRF came from in_port (through reg0): the megaflow matches the port.
grep -q "Megaflow: .*in_port=pb1" "$T_TMP/trace" || fail "megaflow does not match what chose the VRF"
grep -q "Megaflow: .*nw_dst" "$T_TMP/trace" && fail "megaflow matches the destination (routing is per packet)"

echo "== 2. tenant B's traffic to 10.0.1.1 never reaches tenant A's 10.0.1.1"
a2tx=$(port_stat pa2 tx_packets) b2tx=$(port_stat pb2 tx_packets)
ip netns exec xvl3${s}b1 ping -c 20 -i 0.05 -p bbbb -W 1 10.0.1.1 >/dev/null || fail "B1 → B2 failed"
sleep 0.5
# B's 20 requests went out pb2; pa2 may only have seen A2's own ARP
# refreshes answered meanwhile, never B's 20 packets.
da=$(( $(port_stat pa2 tx_packets) - a2tx )) db=$(( $(port_stat pb2 tx_packets) - b2tx ))
echo "during B's 20 pings: pb2 sent $db, pa2 sent $da"
[ "$db" -ge 20 ] || fail "B's pings did not go out B2's port"
[ "$da" -lt 5 ] || fail "tenant A's port pa2 sent $da packets while B pinged"
kill "${T_PIDS[-1]}"; wait "${T_PIDS[-1]}" 2>/dev/null || true
n=$(tshark -r "$T_TMP/a2.pcap" -Y "icmp && data.data contains bb:bb:bb:bb" 2>/dev/null | wc -l)
na=$(tshark -r "$T_TMP/a2.pcap" -Y "icmp" 2>/dev/null | wc -l)
echo "A2 captured $na ICMP packets, $n of them B's"
[ "$na" -ge 10 ] || fail "A2's capture missed A's own pings ($na)"
[ "$n" = 0 ] || fail "$n of tenant B's packets reached tenant A"

echo "== 3. B cannot reach an address that exists only in A"
nr=$(l3 no_route) a3tx=$(port_stat pa3 tx_packets)
out=$(ip netns exec xvl3${s}b1 ping -c 3 -i 0.2 -W 1 10.0.2.1 2>&1) && fail "B1 reached 10.0.2.1 in A"
echo "$out" | grep -q "Destination Net Unreachable" || { echo "$out"; fail "no ICMP net unreachable"; }
[ $(( $(l3 no_route) - nr )) -ge 3 ] || fail "no_route did not count B's packets"
[ "$(port_stat pa3 tx_packets)" = "$a3tx" ] || fail "A3's port sent packets while B probed it"
# Nor by ARPing for it: the proxy answers only what B's VRF routes.
ai=$(l3 arp_ignored)
ip netns exec xvl3${s}b1 ip neigh replace 10.0.2.7 lladdr 02:00:5e:00:00:b1 dev xl${s}b1v 2>/dev/null || true
ip netns exec xvl3${s}b1 ip route add 10.0.2.0/24 dev xl${s}b1v
ip netns exec xvl3${s}b1 ping -c 2 -W 1 10.0.2.1 >/dev/null 2>&1 && fail "B1 reached A3 on-link"
[ $(( $(l3 arp_ignored) - ai )) -ge 1 ] || fail "B's ARP for 10.0.2.1 was not ignored"

echo "== 4. TTL 1: ICMP time exceeded from the gateway"
ie=$(l3 icmp_error_sent)
out=$(ip netns exec xvl3${s}a1 ping -c 1 -t 1 -W 1 10.0.1.1 2>&1) || true
echo "$out" | grep -q "Time to live exceeded" || { echo "$out"; fail "no time exceeded"; }
echo "$out" | grep -q "From 10.0.0.254" || fail "time exceeded not from the gateway"
[ "$(l3 icmp_error_sent)" -gt "$ie" ] || fail "icmp_error_sent did not count"
[ "$(l3 ttl_expired)" -ge 1 ] || fail "ttl_expired not counted"

echo "== 5. service chain: A1 → A2 through the VNF"
ns=xvl3${s}vnf
ip netns add "$ns"; T_CLEANUP+=("ip netns del $ns")
for side in i o; do
	ip link add xl${s}v$side type veth peer name xl${s}n$side
	T_CLEANUP+=("ip link del xl${s}v$side")
	ip link set xl${s}n$side netns "$ns"
	ip link set xl${s}v$side up
	sysctl -qw "net.ipv6.conf.xl${s}v$side.disable_ipv6=1" 2>/dev/null || true
done
ip -n "$ns" link add vbr type bridge stp_state 0 forward_delay 0
for side in i o; do
	ip -n "$ns" link set xl${s}n$side master vbr
	ip -n "$ns" link set xl${s}n$side up
done
ip -n "$ns" link set vbr up
xc add-port pvi af_packet dev=xl${s}vi
xc add-port pvo af_packet dev=xl${s}vo
# A1's IP traffic to A2's subnet goes out to the VNF; what comes back from
# the VNF is routed in A's VRF as if it had come from A1.
xc add-flow "priority=20,in_port=pa1,ip,nw_dst=10.0.1.0/24,actions=output:pvi"
xc add-flow "priority=20,in_port=pvo,actions=load:1->reg0[],resubmit(,1)"
ip netns exec "$ns" tshark -q -i xl${s}ni -w "$T_TMP/vnf.pcap" -f "icmp" 2>/dev/null &
T_PIDS+=($!)
sleep 1.5
vi=$(port_stat pvi tx_packets) vo=$(port_stat pvo rx_packets)
ip netns exec xvl3${s}a1 ping -c 20 -i 0.05 -p cccc -W 2 10.0.1.1 >/dev/null || fail "chained ping failed"
sleep 0.5
kill "${T_PIDS[-1]}"; wait "${T_PIDS[-1]}" 2>/dev/null || true
dvi=$(( $(port_stat pvi tx_packets) - vi )) dvo=$(( $(port_stat pvo rx_packets) - vo ))
nv=$(tshark -r "$T_TMP/vnf.pcap" -Y "icmp.type == 8 && data.data contains cc:cc:cc:cc" 2>/dev/null | wc -l)
echo "VNF: pvi tx +$dvi, pvo rx +$dvo, captured $nv echo requests"
[ "$dvi" -ge 20 ] && [ "$dvo" -ge 20 ] || fail "traffic did not pass the VNF ports"
[ "$nv" -ge 20 ] || fail "the VNF's capture saw $nv of 20 requests"
xc vrf-show
echo "PASS"
