#!/usr/bin/env bash
# A Linux kernel VXLAN device over an IPv6 underlay exchanges traffic with a
# namespace behind xviod, both directions, and tshark decodes what xviod sent.
#
#   netns T (tenant)       root netns                             netns K (kernel VTEP)
#   10.79.0.1/24                                                   vx (vxlan 5001 over IPv6) 10.79.0.2/24
#   vT ──veth── hT [ten0 af_packet]  xviod  [up0 af_packet] hU ──veth── vU 2001:db8:79::2/64
#                        vxlan0 (remote_ip=flow key=flow)
#                        underlay-set up0 ip=2001:db8:79::1/64
#
# No static neighbour on either side: xviod answers the kernel's neighbour
# solicitation for 2001:db8:79::1 and resolves 2001:db8:79::2 by sending its
# own NS. The flows set tun_ipv6_dst to encapsulate and match tun_ipv6_src
# to decapsulate. Checks: ping both ways with no loss, the kernel's
# neighbour for 2001:db8:79::1 is xviod's MAC, underlay-neigh-show learned
# the kernel VTEP, the ND and tunnel counters moved, and every packet xviod
# emitted on the underlay (VXLAN and ND) decodes in tshark with UDP and
# ICMPv6 checksums verified and no expert warning. The kernel drops UDP over
# IPv6 with a zero or wrong checksum (no udp6zerocsumrx), so the replies
# alone prove xviod's checksums.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
need_cmd ethtool "apt-get install ethtool"
need_cmd tshark "apt-get install tshark"
need_cmd dumpcap "apt-get install tshark"

s=$(( $$ % 100000 ))
NST=xvt6$s-t NSK=xvt6$s-k
HT=xv${s}h6t VT=xv${s}v6t HU=xv${s}h6u VU=xv${s}v6u
L6=2001:db8:79::1 K6=2001:db8:79::2

netns_add "$NST" "$NSK"
veth_to_ns "$HT" "$VT" "$NST" 10.79.0.1/24
ip -n "$NST" link set "$VT" mtu 1430
ip link add "$HU" type veth peer name "$VU"
T_CLEANUP+=("ip link del $HU")
ip link set "$VU" netns "$NSK"
sysctl -qw "net.ipv6.conf.$HU.disable_ipv6=1" 2>/dev/null || true
ip link set "$HU" up
ip netns exec "$NSK" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
ip -n "$NSK" addr add "$K6/64" dev "$VU" nodad
ip -n "$NSK" link set "$VU" up
# A veth sends unfinished (CHECKSUM_PARTIAL) UDP checksums that af_packet
# hands over as they are; xviod verifies every UDP checksum over IPv6.
ip netns exec "$NSK" ethtool -K "$VU" tx off >/dev/null
ip -n "$NSK" link add vx type vxlan id 5001 remote "$L6" local "$K6" dstport 4789 \
	dev "$VU" 2>/dev/null || skip "kernel has no vxlan"
ip -n "$NSK" addr add 10.79.0.2/24 dev vx
ip -n "$NSK" link set vx up

start_xviod
xc add-port ten0 af_packet dev="$HT"
xc add-port up0 af_packet dev="$HU"
xc add-port vxlan0 vxlan remote_ip=flow key=flow
xc underlay-set up0 ip="$L6/64"
xc del-flows
xc add-flow "in_port=ten0,actions=set_field:5001->tun_id,set_field:$K6->tun_ipv6_dst,output:vxlan0"
xc add-flow "in_port=vxlan0,tun_id=5001,tun_ipv6_src=$K6,actions=output:ten0"
xc dump-flows | grep -q "tun_ipv6_src=$K6" || fail "dump-flows does not show tun_ipv6_src"

# Capture what xviod puts on the underlay, from the kernel side.
start_capture "$NSK" "$VU" 'udp port 4789 or icmp6'

echo "== tenant -> kernel VTEP (xviod resolves $K6 by ND)"
tnl_ping_check "$NST" 10.79.0.2 "xviod to kernel"
echo "== kernel VTEP -> tenant"
tnl_ping_check "$NSK" 10.79.0.1 "kernel to xviod"
echo "== 1400-byte pings (a full 1430 MTU frame each way)"
ip netns exec "$NST" ping -c 3 -s 1402 -M do -W 2 10.79.0.2 >/dev/null ||
	{ xc underlay-show; fail "full-size ping to the kernel failed"; }
ip netns exec "$NSK" ping -c 3 -s 1402 -M do -W 2 10.79.0.1 >/dev/null ||
	{ xc underlay-show; fail "full-size ping from the kernel failed"; }

echo "== neighbour discovery"
mac=$(ip -n "$NSK" -6 neigh show "$L6" dev "$VU" | awk '{print $3}')
want=$(cat /sys/class/net/"$HU"/address)
[ "$mac" = "$want" ] || fail "kernel resolved $L6 to '$mac', want $want (xviod's NA)"
xc underlay-neigh-show
xc --json underlay-neigh-show | json_get "[e for e in d if e['ip'] == '$K6'][0]['state']" | grep -qx learned \
	|| fail "underlay-neigh-show has not learned the kernel VTEP $K6"
xc underlay-show
ctr() { xc --json underlay-show | json_get "d['counters']['$1']"; }
[ "$(ctr nd_replied)" -ge 1 ] || fail "xviod answered no NS"
[ "$(ctr nd_solicits)" -ge 1 ] || fail "xviod sent no NS"
[ "$(ctr nd_learned)" -ge 1 ] || fail "xviod learned no neighbour from ND"
[ "$(ctr encap)" -ge 10 ] && [ "$(ctr decap)" -ge 10 ] || fail "encap $(ctr encap) / decap $(ctr decap)"
for c in tnl_bad_udp_csum tnl_udp6_zero_csum underlay_nd_bad; do
	[ "$(ctr $c)" = 0 ] || fail "$c = $(ctr $c)"
done

echo "== tshark decodes xviod's VXLAN over IPv6 and its ND"
sleep 0.5
kill "${T_PIDS[-1]}" 2>/dev/null || true
wait "${T_PIDS[-1]}" 2>/dev/null || true
TS=(tshark -r "$T_TMP/u.pcap" -o udp.check_checksum:TRUE)
ours=$("${TS[@]}" -Y "ipv6.src == $L6 && vxlan" -T fields -e vxlan.vni -e udp.checksum.status 2>/dev/null | sort | uniq -c)
echo "$ours"
echo "$ours" | grep -qE '^ *[0-9]+ 5001	1$' || fail "no VXLAN VNI 5001 with a good UDP checksum from xviod"
[ "$(echo "$ours" | wc -l)" = 1 ] || fail "unexpected VNIs or checksums from xviod: $ours"
nd=$("${TS[@]}" -Y "ipv6.src == $L6 && !vxlan && (icmpv6.type == 135 || icmpv6.type == 136)" -T fields -e icmpv6.type \
	-e icmpv6.checksum.status -e ipv6.hlim 2>/dev/null | sort | uniq -c)
echo "$nd"
echo "$nd" | grep -qE '^ *[0-9]+ 135	1	255$' || fail "no good NS (checksum, hop limit 255) from xviod"
echo "$nd" | grep -qE '^ *[0-9]+ 136	1	255$' || fail "no good NA (checksum, hop limit 255) from xviod"
[ "$(echo "$nd" | wc -l)" = 2 ] || fail "ND from xviod with a bad checksum or hop limit: $nd"
bad=$("${TS[@]}" -Y "ipv6.src == $L6 && (_ws.expert.severity >= warning || _ws.malformed)" 2>/dev/null | wc -l)
[ "$bad" = 0 ] || { "${TS[@]}" -V -Y "ipv6.src == $L6 && _ws.expert" | head -60; fail "$bad packets with tshark warnings"; }
echo "PASS"
