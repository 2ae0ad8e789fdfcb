#!/bin/bash
# kill -9 xviod under traffic through dpdk-testpmd's virtio-user, start it
# again with nothing but its state file: the ports and flows come back by
# themselves, virtio-user reconnects, traffic resumes within the bar (1 s
# after the new xviod starts), and no frame is duplicated or corrupted — the
# crash may only lose frames. Then, on the same daemon: a testpmd killed
# mid-stream and a del-port of a busy port leave xviod and the other ports'
# traffic alone, with no fd leaked.
#
#   seqstream send -> veth A|a -> xviod ua (af_packet) -> p0 -> testpmd virtio_user0
#        (io forward) virtio_user1 -> p1 -> ub (af_packet) -> veth b|B -> seqstream recv
#
# DPDK's virtio-user reconnects only as the vhost-user server (server=1,
# xviod the client); as a client it never reconnects after the backend
# goes (drivers/net/virtio/virtio_user_ethdev.c), so with xviod as server
# the case checks xviod's side (ports back, listening) and says that the
# peer does not come back. The QEMU tests cover that direction.
#
# Env: XVIOD, XVIOCTL; RESTART_CASES="split-client ..."; PPS (default 2000).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SEQ="/usr/bin/python3 $HERE/seqstream.py"
PPS=${PPS:-2000}
BAR=1.0

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (veths, vhost-user sockets, DPDK)"
command -v dpdk-testpmd >/dev/null || skip "dpdk-testpmd not installed (Debian package dpdk-dev)"
ls /usr/lib/*/dpdk/pmds-*/librte_net_virtio.so* >/dev/null 2>&1 ||
	skip "DPDK virtio PMD missing (Debian package librte-net-virtio23)"
command -v ip >/dev/null || skip "iproute2 not installed"
XVIOD=${XVIOD:-$HERE/../../build/xviod}
XVIOCTL=${XVIOCTL:-$HERE/../../build/xvioctl}
[ -x "$XVIOD" ] && [ -x "$XVIOCTL" ] || { echo "FAIL: xviod/xvioctl not built"; exit 1; }
[ "$(nproc)" -ge 2 ] && PMD_CPU=1 || PMD_CPU=0

WORK=$(mktemp -d /tmp/xvio-restart.XXXXXX)
PREFIX="xvr$$"
VA="xra$$" VB="xrb$$"           # veth ends xviod holds; peers ${VA^^}-ish below
PA="xrA$$" PB="xrB$$"
PIDS=()
XPID=""
FAILED=0 PASSED=0

cleanup() {
	local p
	for p in "${PIDS[@]}" $XPID; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}" $XPID; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=() XPID=""
	rm -rf /var/run/dpdk/"$PREFIX"*
}
trap 'cleanup; ip link del "$VA" 2>/dev/null; ip link del "$VB" 2>/dev/null;
	[ "${KEEP:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; CASE_FAILED=1; }
waitfor() { local end=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done; }
xctl() { "$XVIOCTL" --ctl "$D/ctl.sock" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

for pair in "$VA $PA" "$VB $PB"; do
	set -- $pair
	ip link add "$1" type veth peer name "$2" || skip "cannot create veth pairs"
	for i in "$1" "$2"; do
		sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1" 2>/dev/null
		ip link set "$i" up
	done
done

# xviod with only its control socket (the state file is CTL.state beside it)
start_xviod() {
	# (not under taskset: the control thread must not share the PMD's CPU)
	"$XVIOD" --ctl "$D/ctl.sock" --pmd-cpus "$PMD_CPU" \
		>>"$D/xviod.log" 2>&1 &
	XPID=$!
	waitfor 20 eval 'xctl help >/dev/null 2>&1'
}

# testpmd_start NAME VDEVARGS...: io forwarding between its ports, on CPU 0
testpmd_start() {
	local name=$1; shift
	local vdevs=() v
	for v in "$@"; do vdevs+=(--vdev "$v"); done
	mkfifo "$D/$name.in"
	stdbuf -o0 -e0 dpdk-testpmd --lcores 0@0,1@0 --no-pci --no-huge -m 256 \
		--file-prefix "$PREFIX$name" "${vdevs[@]}" \
		-- -i --nb-cores=1 --forward-mode=io --total-num-mbufs=4096 \
		<"$D/$name.in" >"$D/$name.log" 2>&1 &
	TP_PID=$!
	PIDS+=("$TP_PID")
	eval "exec {TP_FD}>\"$D/$name.in\""
}
tp_send() { echo "$2" >&"$1"; }

# Both vhost ports of the case up on xviod's side.
links_up() { xctl --json show 2>/dev/null | /usr/bin/python3 -c '
import json, sys
ports = {p["name"]: p for p in json.load(sys.stdin)["ports"]}
sys.exit(0 if all(ports.get(n, {}).get("link_up") for n in sys.argv[1:]) else 1)' "$@"; }

# stream_start SECS: receiver on B, then the sender on A for SECS (RPID, SPID)
stream_start() {
	$SEQ recv "$PB" "$D/rx.txt" $(($1 + 3)) &
	RPID=$!
	sleep 0.3
	$SEQ send "$PA" "$PPS" "$1" >"$D/sent.txt" &
	SPID=$!
	PIDS+=("$RPID" "$SPID")
}

# case_begin NAME TITLE: its dir, a fresh xviod, the af_packet ports ua and ub
case_begin() {
	D="$WORK/$1"
	mkdir -p "$D"
	echo "--- $1: $2"
	start_xviod || { fail "xviod did not start"; return 1; }
	xctl add-port ua af_packet dev="$VA" && xctl add-port ub af_packet dev="$VB" ||
		{ fail "af_packet ports"; return 1; }
}

# run_case NAME split|packed server|client
run_case() {
	local name=$1 ring=$2 mode=$3 packed=0 srv="" secs=6
	[ "$ring" = packed ] && packed=1
	[ "$mode" = client ] && srv=",server=1"
	case_begin "$name" "$ring ring, xviod as vhost-user $mode" || return 1
	if [ "$mode" = server ]; then
		xctl add-port p0 vhost-user path="$D/s0" && xctl add-port p1 vhost-user path="$D/s1" ||
			{ fail "add-port"; return 1; }
	fi
	local vu="queue_size=256,packed_vq=$packed$srv"
	testpmd_start tp "net_virtio_user0,path=$D/s0,$vu" "net_virtio_user1,path=$D/s1,$vu"
	local tpfd=$TP_FD tppid=$TP_PID
	if [ "$mode" = client ]; then
		for i in 0 1; do
			waitfor 30 test -S "$D/s$i" || { fail "testpmd made no socket s$i"; tail "$D/tp.log"; return 1; }
			xctl add-port p$i vhost-user path="$D/s$i" client || { fail "add-port p$i client"; return 1; }
		done
	fi
	# Flows, not the bridge: they must come back from the state file too.
	xctl del-flows && xctl add-flow "priority=10,in_port=ua,actions=output:p0" &&
		xctl add-flow "priority=10,in_port=p1,actions=output:ub" ||
		{ fail "flows"; return 1; }
	waitfor 60 grep -q 'testpmd> ' "$D/tp.log" || { fail "testpmd did not come up"; tail "$D/tp.log"; return 1; }
	tp_send "$tpfd" "start"
	waitfor 20 links_up p0 p1 || { fail "vhost ports not up"; xctl show; return 1; }

	# The stream, then the crash 2 s in and a restart 0.5 s later.
	stream_start "$secs"
	local rpid=$RPID spid=$SPID
	sleep 2
	local before_flows
	before_flows=$(xctl dump-flows | sed 's/duration=[^,]*, //; s/n_packets=[^,]*, n_bytes=[^,]*, //; s/idle_age=[^,]*, //' | sort)
	local t_kill t_start
	t_kill=$(now)
	kill -9 "$XPID"; wait "$XPID" 2>/dev/null
	sleep 0.5
	t_start=$(now)
	start_xviod || { fail "xviod did not restart"; return 1; }
	local t_ready; t_ready=$(now)
	local up=1
	# (virtio-user as client never comes back: 3 s show it)
	if ! waitfor "$([ "$mode" = client ] && echo 10 || echo 3)" links_up p0 p1; then
		up=0
		[ "$mode" = server ] || fail "ports did not come back up after the restart"
	fi
	local t_up; t_up=$(now)
	wait "$spid"
	wait "$rpid"
	local after_flows
	after_flows=$(xctl dump-flows | sed 's/duration=[^,]*, //; s/n_packets=[^,]*, n_bytes=[^,]*, //; s/idle_age=[^,]*, //' | sort)
	[ "$before_flows" = "$after_flows" ] || { fail "flows differ after the restart"; echo "$before_flows"; echo "$after_flows"; }
	xctl show | grep -qE '^  (ua|ub|p0|p1) ' || fail "ports missing after the restart"
	local sent; read -r sent _ <"$D/sent.txt"
	$SEQ report "$D/rx.txt" "$sent" --after kill="$t_kill" --after restart="$t_start" | tee "$D/report.txt"
	echo "restart: xviod answering $(since "$t_ready" "$t_start") s after exec, links up after $(since "$t_up" "$t_start") s"
	grep -q 'duplicated 0, corrupted 0' "$D/report.txt" || fail "duplicated or corrupted frames"
	if [ "$mode" = client ] || [ $up = 1 ]; then
		local resume
		resume=$(awk '$1 == "first" && $3 == "restart:" {print $4}' "$D/report.txt")
		[ "$resume" != none ] && [ -n "$resume" ] || { fail "traffic did not resume"; return 1; }
		echo "traffic gap after the new xviod started: $resume s (bar $BAR s)"
		# The bar is xviod's; a machine so loaded that the new process
		# waits for a CPU that long is not (said, not hidden).
		local load; load=$(cut -d' ' -f1 /proc/loadavg)
		if ! awk -v r="$resume" -v b="$BAR" 'BEGIN { exit !(r <= b) }'; then
			if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > 4 * n) }'; then
				echo "BAR NOT CHECKED: $resume s > $BAR s at load average $load on $(nproc) CPUs"
			else
				fail "resumed after $resume s > $BAR s"
			fi
		fi
	else
		echo "DPDK virtio-user as client does not reconnect (peer limitation): xviod side checked only"
		xctl --json show | grep -q '"p0"' || fail "p0 not back"
		test -S "$D/s0" || fail "xviod is not listening on s0 again"
	fi
	tp_send "$tpfd" "quit"
	eval "exec $tpfd>&-"
	waitfor 20 eval '! kill -0 $tppid 2>/dev/null'
	cleanup
}

# A testpmd killed mid-stream (kill -9) and a del-port of two busy ports of
# another: xviod stays up, the stream ua -> ub goes on (no duplicate, no
# corruption, no gap over 1 s, no drop in xviod), and xviod holds
# exactly the fds it held before those peers came.
run_peer_loss() {
	local name=peer-loss secs=5
	case_begin "$name" "testpmd B killed, busy ports of testpmd C deleted, under the ua -> ub stream" ||
		return 1
	xctl add-port p2 vhost-user path="$D/s2" && xctl add-port p3 vhost-user path="$D/s3" ||
		{ fail "add-port p2 p3"; return 1; }
	# (after xvioctl's connection is surely closed on xviod's side too)
	sleep 0.5
	local fds0; fds0=$(nfds "$XPID")
	xctl add-port p4 vhost-user path="$D/s4" && xctl add-port p5 vhost-user path="$D/s5" ||
		{ fail "add-port p4 p5"; return 1; }
	testpmd_start tpb "net_virtio_user0,path=$D/s2,queue_size=256" "net_virtio_user1,path=$D/s3,queue_size=256"
	local bfd=$TP_FD bpid=$TP_PID
	testpmd_start tpc "net_virtio_user0,path=$D/s4,queue_size=256" "net_virtio_user1,path=$D/s5,queue_size=256"
	local cfd=$TP_FD cpid=$TP_PID
	waitfor 60 grep -q 'testpmd> ' "$D/tpb.log" && waitfor 60 grep -q 'testpmd> ' "$D/tpc.log" ||
		{ fail "testpmd B/C did not come up"; return 1; }
	waitfor 20 links_up p2 p3 p4 p5 || { fail "p2..p5 not up"; xctl show; return 1; }
	# The stream goes ua -> ub and a copy to B, which sends it back into
	# xviod, where it is dropped. (A flow naming a deleted port goes with
	# it, so C's loop has flows of its own.) The stream does not cross a
	# testpmd: three busy-polling testpmds on one loaded CPU would starve
	# each other and blur what this is about, xviod.
	xctl del-flows && xctl add-flow "priority=10,in_port=ua,actions=output:ub,output:p2" &&
		xctl add-flow "priority=10,in_port=p5,actions=output:p4" &&
		xctl add-flow "priority=10,in_port=p4,actions=output:p5" &&
		xctl add-flow "priority=5,actions=drop" || { fail "flows"; return 1; }
	tp_send "$bfd" "start"
	# C: one burst out of each port, then io forwarding, and xviod sends
	# p4's frames to p5 and p5's to p4: 64 frames circling as fast as the
	# loop goes, both directions of both ports busy, without flooding the
	# PMD that also carries the main stream.
	tp_send "$cfd" "start tx_first"
	stream_start "$secs"
	local rpid=$RPID spid=$SPID
	sleep 1.5
	xctl stats >"$D/stats-busy.txt"
	grep -E '^ *p[2-5]:' "$D/stats-busy.txt" | sed 's/^ */busy before: /'
	awk '$1 ~ /^p[2-5]:$/ && $3 + $8 == 0 { bad = 1 } END { exit bad }' "$D/stats-busy.txt" ||
		fail "p2..p5 were not all busy"
	kill -9 "$bpid"; wait "$bpid" 2>/dev/null
	sleep 1.5
	xctl del-port p4 && xctl del-port p5 || fail "del-port of busy p4/p5"
	wait "$spid"; wait "$rpid"
	kill -0 "$XPID" 2>/dev/null || { fail "xviod died"; return 1; }
	xctl show >/dev/null || fail "xviod does not answer"
	local sent refused; read -r sent refused <"$D/sent.txt"
	$SEQ report "$D/rx.txt" "$sent" | tee "$D/report.txt"
	xctl --json stats >"$D/stats.json"
	# Harm would be a gap, a duplicate, a corrupt frame, or a frame xviod
	# dropped on ua or ub. Sends the sender's host refused are not ours;
	# on a host at load 18 on 2 CPUs the python ends starve now and then,
	# so up to 1% lost outside xviod's counters is tolerated (and printed).
	/usr/bin/python3 - "$D/report.txt" "$D/stats.json" "$refused" <<-'EOF2' || fail "the ua -> ub stream was hurt"
	import json, re, sys
	t = open(sys.argv[1]).read()
	got, sent, lost, dup, bad, gap = re.search(
	    r"received (\d+) of (\d+): lost (\d+), duplicated (\d+), corrupted (\d+), .* longest gap ([\d.]+)", t).groups()
	ports = {p["name"]: p for p in json.load(open(sys.argv[2]))["ports"]}
	drops = {n: {k: v for k, v in ports[n]["drops"].items() if v} for n in ("ua", "ub")}
	print("ua -> ub: xviod drops %s, sends refused by the host %s" % (drops, sys.argv[3]))
	ok = (int(dup) == 0 and int(bad) == 0 and float(gap) < 1.0
	      and not any(drops.values()) and int(lost) <= int(sys.argv[3]) + int(sent) // 100)
	sys.exit(0 if ok else 1)
	EOF2
	# B's ports listen again, C's are gone: the fds of before.
	waitfor 5 eval '[ "$(nfds "$XPID")" = "$fds0" ]' ||
		fail "xviod holds $(nfds "$XPID") fds, $fds0 before B and C came"
	echo "xviod fds: $(nfds "$XPID") now, $fds0 before testpmd B and C"
	xctl show | grep -qE '^  p[45] ' && fail "p4/p5 still there"
	tp_send "$cfd" "quit"
	eval "exec $cfd>&-"
	waitfor 20 eval '! kill -0 $cpid 2>/dev/null'
	cleanup
}

CASES=(
	"split-client  split  client"
	"packed-client packed client"
	"split-server  split  server"
	"peer-loss     -      -"
)
START=$SECONDS
for c in "${CASES[@]}"; do
	read -r name ring mode <<<"$c"
	if [ -n "${RESTART_CASES:-}" ] && ! [[ " $RESTART_CASES " == *" $name "* ]]; then
		continue
	fi
	CASE_FAILED=0
	if [ "$name" = peer-loss ]; then
		run_peer_loss || CASE_FAILED=1
	else
		run_case "$name" "$ring" "$mode" || CASE_FAILED=1
	fi
	cleanup
	if [ $CASE_FAILED = 0 ]; then
		PASSED=$((PASSED + 1)); echo "ok $name"
	else
		FAILED=$((FAILED + 1)); echo "not ok $name"; tail -20 "$D/xviod.log"
	fi
done
echo "restart_testpmd: $PASSED passed, $FAILED failed ($((SECONDS - START)) s)"
[ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]
