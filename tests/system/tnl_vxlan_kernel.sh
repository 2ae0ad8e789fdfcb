#!/usr/bin/env bash
# A Linux kernel VXLAN device exchanges traffic with a namespace behind
# xviod, both directions, and tshark decodes what xviod sent.
#
#   netns T (tenant)       root netns                             netns K (kernel VTEP)
#   10.78.0.1/24                                                   vx (vxlan 5001) 10.78.0.2/24
#   vT ──veth── hT [ten0 af_packet]  xviod  [up0 af_packet] hU ──veth── vU 192.168.78.2/24
#                        vxlan0 (remote 192.168.78.2, key 5001)
#                        underlay-set up0 ip=192.168.78.1/24
#
# xviod answers the kernel's ARP for 192.168.78.1 and resolves .2 itself.
# Checks: ping both ways with no loss after resolution, the kernel's
# neighbour for 192.168.78.1 is xviod's MAC, underlay-neigh-show has the kernel
# VTEP, the tunnel counters moved, and every packet xviod emitted on the
# underlay decodes in tshark as VXLAN with VNI 5001 and no expert warning.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
need_cmd tshark "apt-get install tshark"
need_cmd dumpcap "apt-get install tshark"

s=$(( $$ % 100000 ))
NST=xvtv$s-t NSK=xvtv$s-k
HT=xv${s}ht VT=xv${s}vt HU=xv${s}hu VU=xv${s}vu

netns_add "$NST" "$NSK"
veth_to_ns "$HT" "$VT" "$NST" 10.78.0.1/24
ip -n "$NST" link set "$VT" mtu 1450
veth_to_ns "$HU" "$VU" "$NSK" 192.168.78.2/24
kernel_vxlan "$NSK" "$VU" 5001 192.168.78.2 192.168.78.1 10.78.0.2/24

start_xviod
xc add-port ten0 af_packet dev="$HT"
xc add-port up0 af_packet dev="$HU"
xc add-port vxlan0 vxlan remote_ip=192.168.78.2 key=5001
xc underlay-set up0 ip=192.168.78.1/24
xc del-flows
xc add-flow "in_port=ten0,actions=output:vxlan0"
xc add-flow "in_port=vxlan0,tun_id=5001,actions=output:ten0"

# Capture what xviod puts on the underlay, from the kernel side.
start_capture "$NSK" "$VU" 'udp port 4789'

echo "== tenant -> kernel VTEP"
tnl_ping_check "$NST" 10.78.0.2 "xviod to kernel"
echo "== kernel VTEP -> tenant"
tnl_ping_check "$NSK" 10.78.0.1 "kernel to xviod"

echo "== ARP and neighbours"
mac=$(ip -n "$NSK" neigh show 192.168.78.1 dev "$VU" | awk '{print $3}')
want=$(cat /sys/class/net/"$HU"/address)
[ "$mac" = "$want" ] || fail "kernel resolved 192.168.78.1 to '$mac', want $want (xviod's answer)"
xc underlay-neigh-show
xc --json underlay-neigh-show | json_get "[e for e in d if e['ip'] == '192.168.78.2'][0]['port']" | grep -qx up0 \
	|| fail "underlay-neigh-show lacks the kernel VTEP"
xc underlay-show
enc=$(xc --json underlay-show | json_get "d['counters']['encap']")
dec=$(xc --json underlay-show | json_get "d['counters']['decap']")
[ "$enc" -ge 10 ] && [ "$dec" -ge 10 ] || fail "encap $enc / decap $dec, expected ≥ 10 each"

echo "== a burst from the kernel VTEP shares one decapsulation"
# Linux numbers every VXLAN packet it sends (IPv4 ID, DF clear): the batch
# decapsulation compares outer headers around the ID and checksum.
reu0=$(xc --json underlay-show | json_get "d['counters']['decap_reused']")
dec0=$(xc --json underlay-show | json_get "d['counters']['decap']")
ip netns exec "$NSK" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(400):
    s.sendto(b"x" * 64, ("10.78.0.1", 9))'
wait_for 5 test "$(xc --json underlay-show | json_get "d['counters']['decap']")" -ge $((dec0 + 400)) ||
	fail "the 400 datagrams were not all decapsulated"
reu=$(( $(xc --json underlay-show | json_get "d['counters']['decap_reused']") - reu0 ))
echo "400 datagrams from the kernel VTEP: $reu took the burst's previous parse"
[ "$reu" -gt 0 ] || fail "no packet from the kernel VTEP reused a parse"

echo "== tshark decodes xviod's VXLAN"
sleep 0.5
kill "${T_PIDS[-1]}" 2>/dev/null || true
wait "${T_PIDS[-1]}" 2>/dev/null || true
ours=$(tshark -r "$T_TMP/u.pcap" -Y "ip.src == 192.168.78.1 && vxlan" -T fields -e vxlan.vni 2>/dev/null | sort | uniq -c)
echo "$ours"
echo "$ours" | grep -qE '^ *[0-9]+ 5001$' || fail "no VXLAN VNI 5001 from xviod in the capture"
[ "$(echo "$ours" | wc -l)" = 1 ] || fail "unexpected VNIs from xviod: $ours"
bad=$(tshark -r "$T_TMP/u.pcap" -Y "ip.src == 192.168.78.1 && (_ws.expert.severity >= warning || _ws.malformed)" 2>/dev/null | wc -l)
[ "$bad" = 0 ] || { tshark -r "$T_TMP/u.pcap" -V -Y "_ws.expert" | head -60; fail "$bad packets with tshark warnings"; }
echo "PASS"
