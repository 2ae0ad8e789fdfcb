#!/usr/bin/env bash
# afxdp ports on veths: two network namespaces talk through xviod, whose
# ports are AF_XDP sockets (libxdp's XDP program on the host ends).
#
#   netns A              root netns                              netns B
#   10.78.0.1/24                                                 10.78.0.2/24
#   vA ═══veth(2 queues)═══ hA [p1 afxdp]  xviod  [p2 afxdp] hB ═══veth═══ vB
#
# 1. errors: missing device, zero-copy on veth, too many queues, MTU too big
#    for 4 KiB frames, a device already busy with XDP, no capabilities; each
#    says why and leaves no port and no XDP program behind;
# 2. for each XDP mode that works here (native, skb): queues=2 on both ends,
#    `show` reports the mode of every queue, ping, then an iperf3 TCP
#    transfer, with xviod's counters matching what iperf3 moved and no
#    descriptor errors; frames over the device MTU are counted tx_too_big;
#    del-port detaches the programs (`ip link show`);
# 3. afxdp on one side, af_packet on the other: ping and iperf3;
# 4. 20 add-port/del-port rounds (both XDP modes): no XDP program and no fd
#    left over (xviod's /proc/PID/fd), and the port still passes traffic;
# 5. xviod killed with SIGKILL: no program left (it was attached through a
#    bpf link that died with the process); a new xviod takes the devices
#    (p1 comes back from xviod's state file by itself).
#
# The namespace ends have tx checksum offload and GSO/TSO off: frames that
# leave through XDP are not checksummed or segmented by anyone (OVS asks the
# same of veth peers for its AF_XDP ports), and in skb mode a 64 KiB GSO
# frame would not fit a 4 KiB UMEM frame (the kernel counts it, xsk_rx_dropped).
# Needs root, iproute2, ping, iperf3, ethtool and a kernel with AF_XDP.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
need_cmd iperf3
need_cmd ethtool
need_af_xdp

s=$(( $$ % 100000 ))
NSA=xvxdp$s-a NSB=xvxdp$s-b
HA=xx${s}ha HB=xx${s}hb VA=xx${s}va VB=xx${s}vb

netns_add "$NSA" "$NSB"
for side in "$HA $VA $NSA 10.78.0.1" "$HB $VB $NSB 10.78.0.2"; do
	set -- $side
	veth_to_ns "$1" "$2" "$3" "$4/24" numtxqueues 2 numrxqueues 2
	ip netns exec "$3" ethtool -K "$2" tx off tso off gso off >/dev/null
done

start_xviod

stat() { xc --json stats | json_get "$1"; }
port_stat() { stat "[p for p in d['ports'] if p['name'] == '$1'][0]$2"; }
show_get() { xc --json show | json_get "[p for p in d['ports'] if p['name'] == '$1'][0]$2"; }
nports() { xc --json show | json_get "len(d['ports'])"; }
fd_count() { ls "/proc/$XVIOD_PID/fd" | wc -l; }
# no_xdp DEV LABEL: the device carries no XDP program at all.
no_xdp() {
	if ip -d link show "$1" | grep -q 'prog/xdp'; then
		ip -d link show "$1"; fail "$2: an XDP program is left on $1"
	fi
}
# expect_err LABEL PATTERN CMD...: the command fails and says PATTERN.
expect_err() {
	local label=$1 pat=$2 out; shift 2
	out=$("$@" 2>&1) && fail "$label: succeeded"
	echo "  $label: $out"
	echo "$out" | grep -q -- "$pat" || fail "$label: expected '$pat'"
	[ "$(nports)" = 0 ] || fail "$label: a port was left behind"
	no_xdp "$HA" "$label"
}

# -w: wait for every reply (up to 15 s), not 2 s per reply: the machine may
# be loaded, and a late reply is not a lost one.
ping_check() {
	local out
	ip netns exec "$1" ping -c 2 -W 1 "$2" >/dev/null 2>&1 || true
	out=$(ip netns exec "$1" ping -c 20 -i 0.05 -w 15 "$2" 2>&1) || {
		echo "$out"; xc stats || true; fail "$3: ping $2 failed"; }
	echo "$out" | grep -q ' 0% packet loss' || { echo "$out"; xc stats || true; fail "$3: packet loss"; }
}

# iperf_check LABEL: a 3 s TCP transfer A → B (4 streams); prints the bytes
# the receiver got in IPERF_BYTES.
iperf_check() {
	local port=$(( 20000 + s % 20000 )) out
	ip netns exec "$NSB" iperf3 -s -1 -p "$port" >"$T_TMP/iperf3-server.log" 2>&1 &
	T_PIDS+=("$!")
	listening() { ip netns exec "$NSB" ss -Htln "sport = :$port" | grep -q .; }
	wait_for 10 listening || { cat "$T_TMP/iperf3-server.log"; fail "$1: iperf3 server did not start"; }
	out=$(ip netns exec "$NSA" timeout 30 iperf3 -c 10.78.0.2 -p "$port" -t 3 -P 4 -J 2>&1) || true
	IPERF_BYTES=$(echo "$out" | json_get "d['end']['sum_received']['bytes']" 2>/dev/null) || {
		echo "$out" | tail -20; cat "$T_TMP/iperf3-server.log"; xc stats || true
		fail "$1: iperf3 failed"; }
	[ "$IPERF_BYTES" -gt 1000000 ] || { xc stats; fail "$1: iperf3 moved only $IPERF_BYTES bytes"; }
	echo "  $1: iperf3 TCP $(( IPERF_BYTES * 8 / 3000000 )) Mbit/s ($IPERF_BYTES bytes)"
}

# counters_check LABEL RXPORT TXPORT RX0 TX0: the data went in on RXPORT and
# out of TXPORT (at least the payload iperf3 counted), and no descriptor or
# size errors were seen anywhere.
counters_check() {
	local rx tx
	rx=$(port_stat "$2" "['rx_bytes']") tx=$(port_stat "$3" "['tx_bytes']")
	[ $(( rx - $4 )) -ge "$IPERF_BYTES" ] || fail "$1: $2 rx_bytes moved $(( rx - $4 )) < $IPERF_BYTES"
	[ $(( tx - $5 )) -ge "$IPERF_BYTES" ] || fail "$1: $3 tx_bytes moved $(( tx - $5 )) < $IPERF_BYTES"
	for p in "$2" "$3"; do
		for d in rx_bad_desc tx_too_big tx_error; do
			[ "$(port_stat "$p" "['drops']['$d']")" = 0 ] || { xc stats; fail "$1: $p $d"; }
		done
	done
}

echo "== 1. errors leave nothing behind"
fd0=$(fd_count)
expect_err "missing device" "No such device" xc add-port p1 afxdp dev=xxnosuch$s
expect_err "zero-copy on veth" "no zero-copy" xc add-port p1 afxdp dev="$HA" mode=zc
expect_err "too many queues" "has 2 queues" xc add-port p1 afxdp dev="$HA" queues=3
expect_err "bad mode" "unknown value" xc add-port p1 afxdp dev="$HA" xdp-mode=hw
ip link set "$HA" mtu 9000
expect_err "MTU too big" "too big for" xc add-port p1 afxdp dev="$HA"
ip link set "$HA" mtu 1500
xc add-port p1 afxdp dev="$HA"
out=$(xc add-port p9 afxdp dev="$HA" 2>&1) && fail "second port on a busy device succeeded"
echo "  busy device: $out"
echo "$out" | grep -q "device busy" || fail "busy device: unexpected text"
xc del-port p1
no_xdp "$HA" "del-port"
if command -v setpriv >/dev/null; then
	# A second daemon without the capabilities AF_XDP needs.
	CTL2=$T_TMP/xviod2.sock
	setpriv --bounding-set=-net_raw,-net_admin,-bpf,-sys_admin,-perfmon,-ipc_lock \
		--inh-caps=-all "$XVIOD" --ctl "$CTL2" --pmd-cpus "$(( $(nproc) - 1 ))" \
		2>>"$T_TMP/xviod2.log" &
	T_PIDS+=("$!")
	wait_for 5 "$XVIOCTL" --ctl "$CTL2" help || fail "unprivileged xviod did not start"
	expect_err "no capabilities" "CAP_NET_RAW" "$XVIOCTL" --ctl "$CTL2" add-port p1 afxdp dev="$HA"
fi
[ "$(fd_count)" = "$fd0" ] || fail "failed add-ports leaked fds: $fd0 -> $(fd_count)"

for mode in native skb; do
	echo "== 2. afxdp <-> afxdp, xdp-mode=$mode, 2 queues"
	xc add-port p1 afxdp dev="$HA" xdp-mode=$mode queues=2
	xc add-port p2 afxdp dev="$HB" xdp-mode=$mode queues=2
	xc show | sed -n '/p1 (id/,/p2 (id/p'
	for p in p1 p2; do
		[ "$(show_get $p "['info']['xdp_mode']")" = "$mode" ] || fail "$p: not in $mode mode"
		[ "$(show_get $p "['n_rxq']")" = 2 ] || fail "$p: not 2 queues"
		[ "$(show_get $p "[\"info\"][\"queues\"][1][\"mode\"]")" = copy ] ||
			fail "$p: queue 1 is not in copy mode on veth"
	done
	want=$([ $mode = native ] && echo 'xdp ' || echo 'xdpgeneric')
	ip link show "$HA" | grep -q "$want" || { ip link show "$HA"; fail "$mode: no $want program on $HA"; }
	ping_check "$NSA" 10.78.0.2 "$mode"
	[ "$(port_stat p1 "['rx_packets']")" -ge 20 ] || fail "$mode: p1 did not count the pings"
	rx0=$(port_stat p1 "['rx_bytes']") tx0=$(port_stat p2 "['tx_bytes']")
	iperf_check "$mode"
	counters_check "$mode" p1 p2 "$rx0" "$tx0"
	q0=$(show_get p1 "['info']['queues'][0]['rx_packets']")
	q1=$(show_get p1 "['info']['queues'][1]['rx_packets']")
	# Read after show, the total may include a few late TCP packets more.
	tot=$(port_stat p1 "['rx_packets']")
	[ "$tot" -ge $(( q0 + q1 )) ] && [ $(( tot - q0 - q1 )) -lt 1000 ] ||
		fail "$mode: queue counters $q0 + $q1 do not add up to $tot"
	echo "  p1 rx per queue: $q0 + $q1"
	xc stats p1 | sed 's/^/  /'
	# MTU: frames over hB's MTU (+ Ethernet and one VLAN tag) are counted
	# drops on p2, not sent for the kernel to drop silently.
	ip link set "$HB" mtu 1000
	big0=$(port_stat p2 "['drops']['tx_too_big']")
	ip netns exec "$NSA" ping -c 3 -i 0.1 -W 1 -s 1200 10.78.0.2 >/dev/null 2>&1 &&
		fail "$mode: 1242-byte frames crossed a 1000-byte MTU"
	big=$(port_stat p2 "['drops']['tx_too_big']")
	[ $(( big - big0 )) -ge 3 ] || { xc stats; fail "$mode: tx_too_big moved by $(( big - big0 ))"; }
	[ "$(show_get p2 "['info']['max_frame']")" = 1018 ] || fail "$mode: max_frame not 1018"
	ip link set "$HB" mtu 1500
	xc show >/dev/null	# refreshes max_frame
	ping_check "$NSA" 10.78.0.2 "$mode after MTU restore"
	xc del-port p1
	xc del-port p2
	no_xdp "$HA" "$mode del-port"
	no_xdp "$HB" "$mode del-port"
done

echo "== 3. afxdp <-> af_packet"
xc add-port p1 afxdp dev="$HA"
xc add-port p2 af_packet dev="$HB"
ping_check "$NSB" 10.78.0.1 "mixed"
rx0=$(port_stat p1 "['rx_bytes']") tx0=$(port_stat p2 "['tx_bytes']")
iperf_check "mixed"
counters_check "mixed" p1 p2 "$rx0" "$tx0"
xc del-port p1
xc del-port p2
no_xdp "$HA" "mixed del-port"

echo "== 4. add-port/del-port loop"
fd0=$(fd_count)
for i in $(seq 20); do
	mode=$([ $(( i % 2 )) = 0 ] && echo native || echo skb)
	xc add-port p1 afxdp dev="$HA" xdp-mode=$mode queues=2 >/dev/null
	xc del-port p1
	no_xdp "$HA" "round $i ($mode)"
done
[ "$(fd_count)" = "$fd0" ] || { ls -l "/proc/$XVIOD_PID/fd"; fail "20 rounds leaked fds: $fd0 -> $(fd_count)"; }
echo "  20 rounds: no XDP program left, fds $fd0 -> $(fd_count)"
xc add-port p1 afxdp dev="$HA" queues=2
xc add-port p2 afxdp dev="$HB" queues=2
ping_check "$NSA" 10.78.0.2 "after the loop"
xc del-port p1
xc del-port p2

echo "== 5. xviod killed with SIGKILL: the kernel detaches its programs"
xc add-port p1 afxdp dev="$HA"
kill -0 "$XVIOD_PID" || fail "xviod died"
kill -9 "$XVIOD_PID"
wait "$XVIOD_PID" 2>/dev/null || true
has_xdp() { ip -d link show "$HA" | grep -q 'prog/xdp'; }
for _ in $(seq 50); do has_xdp || break; sleep 0.1; done
no_xdp "$HA" "after SIGKILL"
rm -f "$CTL"
start_xviod
# An xviod that keeps a state file beside its socket replays add-port at
# start: then p1 must come back by itself, on a device its predecessor's
# death left free.
if "$XVIOD" --help 2>&1 | grep -q -- '--state'; then
	wait_for 10 sh -c "\"$XVIOCTL\" --ctl \"$CTL\" show | grep -q 'p1 (id'" ||
		fail "p1 was not restored from the state file after SIGKILL"
	[ "$(show_get p1 "['kind']")" = afxdp ] || fail "restored p1 is not afxdp"
	echo "  p1 restored from the state file"
else
	xc add-port p1 afxdp dev="$HA"
fi
xc add-port p2 afxdp dev="$HB"
ping_check "$NSA" 10.78.0.2 "after restart"

kill -0 "$XVIOD_PID" || fail "xviod died"
echo "PASS"
