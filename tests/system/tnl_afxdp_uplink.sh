#!/usr/bin/env bash
# An afxdp port as the tunnel uplink: a tenant namespace behind xviod talks
# through VXLAN to a Linux kernel VTEP, the underlay going in and out of
# xviod over AF_XDP, in each XDP mode that works here.
#
#   netns T (tenant)                                                 netns K (kernel VTEP)
#   10.79.0.1/24                                                     vx (vxlan 5002) 10.79.0.2/24
#   vT ──veth── hT [ten0 af_packet]  xviod  [up0 afxdp] hU ══veth══ vU 192.168.79.2/24
#                        vxlan0 (remote 192.168.79.2, key 5002)
#                        underlay-set up0 ip=192.168.79.1/24
#
# Per mode (native, skb): ping both ways, then an iperf3 TCP transfer from
# the tenant to the kernel VTEP's side and back; xviod answers ARP for its
# underlay address through the afxdp port, up0's rx/tx counters and the
# tunnel's encap/decap counters carry the traffic, and no AF_XDP drop
# counter moves. del-port leaves no XDP program on hU.
#
# Frames that cross XDP are not checksummed or segmented on the way
# (docs/DESIGN.md, AF_XDP ports), so the kernel ends have tx checksum
# offload and TSO/GSO off, the vxlan device included.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
need_cmd iperf3
need_cmd ethtool
need_af_xdp

s=$(( $$ % 100000 ))
NST=xvtx$s-t NSK=xvtx$s-k
HT=xy${s}ht VT=xy${s}vt HU=xy${s}hu VU=xy${s}vu

netns_add "$NST" "$NSK"
veth_to_ns "$HT" "$VT" "$NST" 10.79.0.1/24
ip -n "$NST" link set "$VT" mtu 1450
veth_to_ns "$HU" "$VU" "$NSK" 192.168.79.2/24
kernel_vxlan "$NSK" "$VU" 5002 192.168.79.2 192.168.79.1 10.79.0.2/24
ip netns exec "$NST" ethtool -K "$VT" tx off tso off gso off >/dev/null
for d in "$VU" vx; do ip netns exec "$NSK" ethtool -K "$d" tx off tso off gso off >/dev/null; done

start_xviod
xc add-port ten0 af_packet dev="$HT"
xc add-port vxlan0 vxlan remote_ip=192.168.79.2 key=5002
xc del-flows
xc add-flow "in_port=ten0,actions=output:vxlan0"
xc add-flow "in_port=vxlan0,tun_id=5002,actions=output:ten0"

stat() { xc --json stats | json_get "$1"; }
up_stat() { stat "[p for p in d['ports'] if p['name'] == 'up0'][0]$1"; }
underlay() { xc --json underlay-show | json_get "d['counters']['$1']"; }

ping_check() {
	local out
	ip netns exec "$1" ping -c 2 -W 1 "$2" >/dev/null 2>&1 || true
	out=$(ip netns exec "$1" ping -c 10 -i 0.05 -w 15 "$2" 2>&1) || {
		echo "$out"; xc underlay-show || true; xc stats || true; fail "$3: ping $2 failed"; }
	echo "$out" | grep -q ' 0% packet loss' || { echo "$out"; xc stats; fail "$3: packet loss"; }
}

# iperf_run LABEL CLIENT_NS SERVER_NS SERVER_IP: 2 s of TCP; prints bytes.
iperf_run() {
	local port=$(( 20000 + (s + RANDOM) % 20000 )) out bytes srv_ns=$3
	ip netns exec "$3" iperf3 -s -1 -p "$port" >"$T_TMP/iperf3-server.log" 2>&1 &
	T_PIDS+=("$!")
	# Bash scoping: the helper sees this function's locals.
	listening() { ip netns exec "$srv_ns" ss -Htln "sport = :$port" | grep -q .; }
	wait_for 10 listening || fail "$1: iperf3 server did not start"
	out=$(ip netns exec "$2" timeout 30 iperf3 -c "$4" -p "$port" -t 2 -J 2>&1) || true
	bytes=$(echo "$out" | json_get "d['end']['sum_received']['bytes']" 2>/dev/null) || {
		echo "$out" | tail -20; xc stats || true; fail "$1: iperf3 failed"; }
	[ "$bytes" -gt 100000 ] || { xc stats; fail "$1: iperf3 moved only $bytes bytes"; }
	echo "  $1: iperf3 TCP over VXLAN $(( bytes * 8 / 2000000 )) Mbit/s"
}

for mode in native skb; do
	echo "== up0 afxdp, xdp-mode=$mode"
	xc add-port up0 afxdp dev="$HU" xdp-mode=$mode
	xc underlay-set up0 ip=192.168.79.1/24
	[ "$(xc --json show | json_get "[p for p in d['ports'] if p['name'] == 'up0'][0]['info']['xdp_mode']")" = $mode ] ||
		fail "$mode: up0 not in $mode mode"
	rx0=$(up_stat "['rx_packets']") tx0=$(up_stat "['tx_packets']")
	enc0=$(underlay encap) dec0=$(underlay decap)
	ping_check "$NST" 10.79.0.2 "$mode tenant->kernel"
	ping_check "$NSK" 10.79.0.1 "$mode kernel->tenant"
	iperf_run "$mode tenant->kernel" "$NST" "$NSK" 10.79.0.2
	iperf_run "$mode kernel->tenant" "$NSK" "$NST" 10.79.0.1
	mac=$(ip -n "$NSK" neigh show 192.168.79.1 dev "$VU" | awk '{print $3}')
	[ "$mac" = "$(cat /sys/class/net/"$HU"/address)" ] ||
		fail "$mode: the kernel resolved 192.168.79.1 to '$mac', not xviod's afxdp port"
	rx=$(up_stat "['rx_packets']") tx=$(up_stat "['tx_packets']")
	enc=$(underlay encap) dec=$(underlay decap)
	echo "  up0: rx $(( rx - rx0 )) tx $(( tx - tx0 )); tunnel: encap $(( enc - enc0 )) decap $(( dec - dec0 ))"
	[ $(( rx - rx0 )) -ge 1000 ] && [ $(( tx - tx0 )) -ge 1000 ] || fail "$mode: up0 carried too little"
	[ $(( dec - dec0 )) -ge 1000 ] && [ $(( enc - enc0 )) -ge 1000 ] || fail "$mode: tunnel counters did not move"
	for d in rx_bad_desc tx_too_big tx_error; do
		[ "$(up_stat "['drops']['$d']")" = 0 ] || { xc stats up0; fail "$mode: up0 $d"; }
	done
	xc stats up0 | sed 's/^/  /'
	xc underlay-del up0 2>/dev/null || true
	xc del-port up0
	ip -d link show "$HU" | grep -q 'prog/xdp' && fail "$mode: XDP program left on $HU"
	ip -n "$NSK" neigh flush dev "$VU"
done

kill -0 "$XVIOD_PID" || fail "xviod died"
echo "PASS"
