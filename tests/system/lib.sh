# Shared helpers for the system tests (sourced, not run).
# Every test records what it starts and removes only that, on any exit.

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || skip "$1 not installed (${2:-apt-get install $1})"; }
# need_af_xdp: skip unless this kernel has AF_XDP sockets and we may open one.
need_af_xdp() {
	/usr/bin/python3 -c 'import socket; socket.socket(44, socket.SOCK_RAW, 0)' 2>/dev/null ||
		skip "no AF_XDP sockets in this kernel (CONFIG_XDP_SOCKETS) or not permitted"
}

XVIOD=${XVIOD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/xviod}
XVIOCTL=${XVIOCTL:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/xvioctl}
[ -x "$XVIOD" ] || skip "xviod not built at $XVIOD"

T_TMP=$(mktemp -d /tmp/xvio-systest.XXXXXX)
T_PIDS=()
T_CLEANUP=()
t_cleanup() {
	local rc=$?
	for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${T_PIDS[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	for c in "${T_CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -f "$T_TMP/xviod.log" ]; then
		echo "--- xviod log (last 30 lines)"; tail -30 "$T_TMP/xviod.log"
	fi
	# XVIO_KEEP_FAILED=DIR keeps a failed test's files (logs, consoles) there.
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "${XVIO_KEEP_FAILED:-}" ]; then
		mkdir -p "$XVIO_KEEP_FAILED" && cp -a "$T_TMP" "$XVIO_KEEP_FAILED/" 2>/dev/null &&
			echo "--- kept $XVIO_KEEP_FAILED/${T_TMP##*/}"
	fi
	rm -rf "$T_TMP"
	exit $rc
}
trap t_cleanup EXIT

CTL=$T_TMP/xviod.sock
xc() { "$XVIOCTL" --ctl "$CTL" "$@"; }

# start_xviod [args...]: start the daemon on the last CPU, wait for its socket.
start_xviod() {
	"$XVIOD" --ctl "$CTL" --pmd-cpus "${PMD_CPU:-$(( $(nproc) - 1 ))}" "$@" \
		2>>"$T_TMP/xviod.log" &
	XVIOD_PID=$!
	T_PIDS+=("$XVIOD_PID")
	for _ in $(seq 100); do
		[ -S "$CTL" ] && xc help >/dev/null 2>&1 && return 0
		kill -0 "$XVIOD_PID" 2>/dev/null || fail "xviod exited at start"
		sleep 0.05
	done
	fail "xviod did not open $CTL"
}

# start_xviod_netns NS CTL CPU [args...]: one more xviod (a "host"), in
# network namespace NS, with its control socket at CTL and its PMD on CPU.
start_xviod_netns() {
	local ns=$1 ctl=$2 cpu=$3
	shift 3
	ip netns exec "$ns" "$XVIOD" --ctl "$ctl" --pmd-cpus "$cpu" "$@" 2>>"$T_TMP/xviod.log" &
	T_PIDS+=("$!")
	for _ in $(seq 100); do
		"$XVIOCTL" --ctl "$ctl" help >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "xviod in $ns did not start"
}

# wait_for SECS CMD...: retry CMD until it succeeds or SECS pass.
wait_for() {
	local secs=$1; shift
	local end=$(( $(date +%s) + secs ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# json_get JSON-FILTER: read JSON on stdin, print the value (python3, always on Debian).
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }

# cpu_ticks PID: utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# netns_add NS...: namespaces, deleted at exit, with lo up and IPv6 off (no
# router solicitations or DAD in the captures and counters). Skips the test
# when namespaces cannot be made here.
netns_add() {
	local n
	for n in "$@"; do
		ip netns add "$n" 2>/dev/null || skip "cannot create network namespaces here"
		T_CLEANUP+=("ip netns del $n")
		ip -n "$n" link set lo up
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
		ip netns exec "$n" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 || true
	done
}

# veth_to_ns HOST PEER NS ADDR/LEN [veth options...]: a veth pair, deleted at
# exit; PEER goes into NS with ADDR, both ends up, HOST (xviod's side)
# without IPv6. The options (e.g. numtxqueues 2) apply to both ends.
veth_to_ns() {
	local h=$1 v=$2 ns=$3 addr=$4
	shift 4
	ip link add "$h" "$@" type veth peer name "$v" "$@"
	T_CLEANUP+=("ip link del $h")
	ip link set "$v" netns "$ns"
	ip -n "$ns" addr add "$addr" dev "$v"
	ip -n "$ns" link set "$v" up
	sysctl -qw "net.ipv6.conf.$h.disable_ipv6=1" 2>/dev/null || true
	ip link set "$h" up
}

# kernel_vxlan NS DEV VNI LOCAL REMOTE ADDR/LEN: Linux's own VXLAN device,
# "vx", in NS over DEV (UDP 4789), with ADDR. Skips without kernel VXLAN.
kernel_vxlan() {
	ip -n "$1" link add vx type vxlan id "$3" remote "$5" local "$4" dstport 4789 \
		dev "$2" 2>/dev/null || skip "kernel has no vxlan"
	ip -n "$1" addr add "$6" dev vx
	ip -n "$1" link set vx up
}

# start_capture NS IF FILTER: dumpcap on IF in NS into $T_TMP/u.pcap, until
# the test ends (or kill "$CAP"); returns once the file exists.
start_capture() {
	ip netns exec "$1" dumpcap -q -i "$2" -w "$T_TMP/u.pcap" -f "$3" >/dev/null 2>&1 &
	CAP=$!
	T_PIDS+=("$CAP")
	wait_for 5 test -s "$T_TMP/u.pcap" || fail "dumpcap did not start"
}

# tnl_ping_check NS DST LABEL: ping through a tunnel, no loss allowed once
# the first round (which may wait for ARP/ND on both levels) is over.
tnl_ping_check() {
	local out
	ip netns exec "$1" ping -c 2 -W 1 "$2" >/dev/null 2>&1 || true
	out=$(ip netns exec "$1" ping -c 10 -i 0.05 -W 2 "$2" 2>&1) || {
		echo "$out"; xc underlay-show || true; xc stats || true; fail "$3: ping $2 failed"; }
	echo "$out" | tail -2
	echo "$out" | grep -q ' 0% packet loss' || { xc underlay-show; fail "$3: packet loss"; }
}
