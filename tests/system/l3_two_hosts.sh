#!/usr/bin/env bash
# Two tenants with the same addresses on two xviod "hosts", routed in VRFs
# and carried between the hosts over MPLS over GRE, one label per tenant.
#
#   host 1 (netns H1)                                         host 2 (netns H2)
#   A1 10.0.0.1/24 ─ pa ┐                                   ┌ pa ─ A2 10.0.1.1/24
#                       ├ xviod#1 [up0]══veth══[up0] xviod#2 ┤
#   B1 10.0.0.1/24 ─ pb ┘ 172.31.9.1            172.31.9.2   └ pb ─ B2 10.0.1.1/24
#
# Each host: vrf 1 = tenant A, vrf 2 = tenant B; the remote subnet is a
# tunnel route (mplsogre, label 101 for A, 102 for B); what arrives on the
# MPLS-over-GRE port is popped and routed in the VRF its label names.
# Proves: both tenants reach their own remote half; B's packets to
# 10.0.1.1 arrive at B2 and never at A2 (capture with B's payload pattern,
# port counters); tshark decodes the underlay as GRE + MPLS with each
# tenant's label and no malformed packet.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
need_cmd tshark "apt-get install tshark"
need_cmd dumpcap "apt-get install tshark"

s=$(( $$ % 100000 ))
H1=xvl2h$s-1 H2=xvl2h$s-2
NSS=("$H1" "$H2")
for t in a1 b1 a2 b2; do NSS+=("xvl2h$s-$t"); done
netns_add "${NSS[@]}"
ip link add u1 netns "$H1" type veth peer name u2 netns "$H2"
ip -n "$H1" link set u1 up
ip -n "$H2" link set u2 up
# tenant NS HOSTNS PORTDEV ADDR GW
tenant() {
	local ns=xvl2h$s-$1
	ip link add "h$1" netns "$2" type veth peer name v netns "$ns"
	ip -n "$2" link set "h$1" up
	ip -n "$ns" addr add "$3" dev v
	ip -n "$ns" link set v up
	ip -n "$ns" route add default via "$4"
}
tenant a1 "$H1" 10.0.0.1/24 10.0.0.254
tenant b1 "$H1" 10.0.0.1/24 10.0.0.254
tenant a2 "$H2" 10.0.1.1/24 10.0.1.254
tenant b2 "$H2" 10.0.1.1/24 10.0.1.254

CTL1=$T_TMP/h1.sock CTL2=$T_TMP/h2.sock
x1() { "$XVIOCTL" --ctl "$CTL1" "$@"; }
x2() { "$XVIOCTL" --ctl "$CTL2" "$@"; }
start_xviod_netns "$H1" "$CTL1" $(( $(nproc) - 1 ))
start_xviod_netns "$H2" "$CTL2" 0
x1 help 2>/dev/null | grep -q underlay-set || skip "this build has no tunnels (src/tnl)"

start_capture "$H2" u2 'not arp'

for h in 1 2; do
	x=x$h
	if [ $h = 1 ]; then me=172.31.9.1 peer=172.31.9.2 here=10.0.0 there=10.0.1
	else me=172.31.9.2 peer=172.31.9.1 here=10.0.1 there=10.0.0; fi
	$x del-flows
	$x add-port pa af_packet dev=ha$h
	$x add-port pb af_packet dev=hb$h
	$x add-port up0 af_packet dev=u$h
	$x underlay-set up0 ip=$me/24
	$x add-port mg0 mplsogre remote_ip=$peer
	$x vrf-add 1 tenantA
	$x vrf-add 2 tenantB
	$x vrf-if-add 1 pa $here.254/24 mac=02:00:5e:00:0$h:a1
	$x vrf-if-add 2 pb $here.254/24 mac=02:00:5e:00:0$h:b1
	$x route-add 1 $there.0/24 tunnel mplsogre remote=$peer label=101
	$x route-add 2 $there.0/24 tunnel mplsogre remote=$peer label=102
	$x add-flow "priority=10,in_port=pa,actions=route(vrf=1)"
	$x add-flow "priority=10,in_port=pb,actions=route(vrf=2)"
	$x add-flow "priority=10,in_port=mg0,mpls,mpls_label=101,actions=pop_mpls:0x0800,route(vrf=1)"
	$x add-flow "priority=10,in_port=mg0,mpls,mpls_label=102,actions=pop_mpls:0x0800,route(vrf=2)"
done
x1 route-show 2

port_stat() {	# HOST PORT FIELD
	"$XVIOCTL" --ctl "$T_TMP/h$1.sock" --json stats |
		json_get "[p for p in d['ports'] if p['name'] == '$2'][0]['$3']"
}
ping_ok() {	# NS DST LABEL
	wait_for 15 ip netns exec "xvl2h$s-$1" ping -c 1 -W 1 "$2" || {
		x1 vrf-show; x2 vrf-show; x1 stats; x2 stats; fail "$3"; }
}

echo "== each tenant reaches its own remote half over MPLS over GRE"
ping_ok a1 10.0.1.1 "A1 -> A2"
ping_ok b1 10.0.1.1 "B1 -> B2"
ping_ok a2 10.0.0.1 "A2 -> A1"

echo "== B's packets to 10.0.1.1 never reach A2"
ip netns exec "xvl2h$s-a2" tshark -q -i v -w "$T_TMP/a2.pcap" -f icmp 2>/dev/null &
T_PIDS+=("$!")
sleep 1.5
a2tx=$(port_stat 2 pa tx_packets) b2tx=$(port_stat 2 pb tx_packets)
out=$(ip netns exec "xvl2h$s-b1" ping -c 20 -i 0.05 -p bbbb -W 2 10.0.1.1 2>&1) || true
rx=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
sleep 0.5
kill "${T_PIDS[-1]}"; wait "${T_PIDS[-1]}" 2>/dev/null || true
da=$(( $(port_stat 2 pa tx_packets) - a2tx )) db=$(( $(port_stat 2 pb tx_packets) - b2tx ))
nb=$(tshark -r "$T_TMP/a2.pcap" -Y "icmp && data.data contains bb:bb:bb:bb" 2>/dev/null | wc -l)
echo "B1 -> 10.0.1.1: $rx/20 replies; host 2 pb sent $db, pa sent $da; A2 captured $nb of B's"
[ "${rx:-0}" -ge 18 ] || fail "B1 lost its pings to B2"
[ "$db" -ge 18 ] || fail "B's packets did not leave through B2's port"
[ "$da" -lt 5 ] || fail "A2's port sent $da packets while B pinged"
[ "$nb" = 0 ] || fail "$nb of B's packets reached tenant A"

echo "== tshark decodes the underlay: GRE + MPLS, label per tenant"
sleep 0.3
kill "${T_PIDS[2]}" 2>/dev/null || true
sleep 0.3
n101=$(tshark -r "$T_TMP/u.pcap" -Y "gre && mpls.label == 101 && icmp" 2>/dev/null | wc -l)
n102=$(tshark -r "$T_TMP/u.pcap" -Y "gre && mpls.label == 102 && icmp" 2>/dev/null | wc -l)
bad=$(tshark -r "$T_TMP/u.pcap" -Y "_ws.malformed || _ws.expert.severity >= warning" 2>/dev/null | wc -l)
echo "underlay: $n101 tenant A (label 101), $n102 tenant B (label 102), $bad malformed/warnings"
[ "$n101" -ge 2 ] && [ "$n102" -ge 20 ] || fail "labels missing on the underlay"
[ "$bad" = 0 ] || fail "tshark warned about $bad packets"
echo "PASS"
