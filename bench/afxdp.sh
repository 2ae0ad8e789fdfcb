#!/usr/bin/env bash
# AF_XDP uplink benchmark: xviod forwarding between two afxdp ports, against
# the same with af_packet ports, in the same run. See bench/README.md.
#
#   netns G (core 0)                     xviod (PMD on core 1)               netns S
#   dpdk-testpmd txonly                                                      (kernel drops)
#   net_af_packet0 ─ vG ═══veth═══ hG [p0 KIND] ─xconnect─ [p1 KIND] hS ═══veth═══ vS
#
# The generator sends 64-byte UDP frames (testpmd txonly on an af_packet
# vdev) as fast as it can; xviod receives them on p0 and transmits them on
# p1. Figures per case, over --interval seconds after a warm-up:
#   offered  frames the generator's veth end sent (vG tx_packets)
#   rx       frames xviod received on p0 (its rx_packets)
#   tx       frames xviod sent on p1 (its tx_packets) — the forwarding rate
#   lost     kernel and port drops on the way (p0 counters, hG rx_dropped)
# When rx ≈ offered the generator, not xviod, is the limit, and the script
# says so.
#
# Usage: sudo bench/afxdp.sh [--interval S] [--warmup S] [--size B]
#                            [--xdp-mode native|skb] [--only afxdp|af_packet]...
# Needs root, dpdk-testpmd (Debian dpdk-dev) with librte-net-af-packet23,
# iproute2, ethtool; xviod/xvioctl from $XVIOD/$XVIOCTL or build/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
XVIOD=${XVIOD:-$top/build/xviod}
XVIOCTL=${XVIOCTL:-$top/build/xvioctl}
interval=10 warmup=2 size=64 xdp_mode=native only=()
while [ $# -gt 0 ]; do
	case $1 in
	--interval) interval=$2; shift ;;
	--warmup) warmup=$2; shift ;;
	--size) size=$2; shift ;;
	--xdp-mode) xdp_mode=$2; shift ;;
	--only) only+=("$2"); shift ;;
	-h|--help) sed -n '2,25p' "$0"; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ ${#only[@]} -gt 0 ] || only=(afxdp af_packet)
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd missing (apt-get install dpdk-dev)" >&2; exit 1; }
[ -x "$XVIOD" ] || { echo "no xviod at $XVIOD (ninja -C build)" >&2; exit 1; }

s=$$ T=$(mktemp -d /tmp/xvio-bench-afxdp.XXXXXX)
NG=xvbg$s NS=xvbs$s HG=xb${s}hg VG=xb${s}vg HS=xb${s}hs VS=xb${s}vs
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	exec 9>&- 2>/dev/null || true
	ip link del "$HG" 2>/dev/null || true
	ip link del "$HS" 2>/dev/null || true
	ip netns del "$NG" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

ip netns add "$NG"
ip netns add "$NS"
ip link add "$HG" type veth peer name "$VG"
ip link add "$HS" type veth peer name "$VS"
ip link set "$VG" netns "$NG"
ip link set "$VS" netns "$NS"
for l in "$NG $VG" "$NS $VS"; do
	set -- $l
	ip -n "$1" link set "$2" up
	ip netns exec "$1" ethtool -K "$2" tx off tso off gso off >/dev/null
done
ip link set "$HG" up
ip link set "$HS" up
for h in "$HG" "$HS"; do sysctl -qw "net.ipv6.conf.$h.disable_ipv6=1" 2>/dev/null || true; done

# The generator runs for the whole script; each case measures its own slice.
mkfifo "$T/gen.in"
ip netns exec "$NG" dpdk-testpmd --no-huge -m 256 --file-prefix "xvafx$s" --no-pci \
	--lcores 0@0,1@0 --log-level=user1,notice \
	--vdev "net_af_packet0,iface=$VG,qpairs=1" -- \
	--forward-mode=txonly --txpkts="$size" --burst=32 --total-num-mbufs=8192 --disable-link-check \
	--eth-peer=0,02:00:00:00:00:02 --auto-start <"$T/gen.in" >"$T/gen.log" 2>&1 &
pids+=("$!")
exec 9>"$T/gen.in"	# keeps testpmd's stdin open, i.e. running

sysnum() { cat "/sys/class/net/$1/statistics/$2"; }
nsnum() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
# testpmd's stdout is a file (block-buffered): watch its veth instead.
for _ in $(seq 300); do [ "$(nsnum "$NG" "$VG" tx_packets)" -gt 1000 ] && break; sleep 0.1; done
[ "$(nsnum "$NG" "$VG" tx_packets)" -gt 1000 ] || { tail -20 "$T/gen.log"; echo "generator did not start" >&2; exit 1; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }

# sample CTL: "offered rx tx lost" counters at one instant.
sample() {
	local st; st=$("$XVIOCTL" --ctl "$1" --json stats)
	echo "$(nsnum "$NG" "$VG" tx_packets)" \
		"$(echo "$st" | json "[p for p in d['ports'] if p['name']=='p0'][0]['rx_packets']")" \
		"$(echo "$st" | json "[p for p in d['ports'] if p['name']=='p1'][0]['tx_packets']")" \
		"$(( $(sysnum "$HG" rx_dropped) + $(echo "$st" | json "sum(v for p in d['ports'] for v in list(p['drops'].values()) + [c for k, c in p['counters'].items() if k.startswith('xsk_')])") ))"
}

printf '%-10s %-8s %10s %10s %10s %10s\n' kind mode "offered" "rx Mpps" "tx Mpps" "lost/s"
results=()
for kind in "${only[@]}"; do
	ctl=$T/xviod-$kind.sock
	taskset -c 1 "$XVIOD" --ctl "$ctl" --pmd-cpus 1 2>"$T/xviod-$kind.log" &
	xpid=$!
	pids+=("$xpid")
	for _ in $(seq 100); do "$XVIOCTL" --ctl "$ctl" help >/dev/null 2>&1 && break; sleep 0.05; done
	args=()
	[ "$kind" = afxdp ] && args=(xdp-mode="$xdp_mode")
	"$XVIOCTL" --ctl "$ctl" add-port p0 "$kind" dev="$HG" "${args[@]}" >/dev/null
	"$XVIOCTL" --ctl "$ctl" add-port p1 "$kind" dev="$HS" "${args[@]}" >/dev/null
	"$XVIOCTL" --ctl "$ctl" xconnect p0 p1
	sleep "$warmup"
	read -r o0 r0 t0 l0 < <(sample "$ctl")
	sleep "$interval"
	read -r o1 r1 t1 l1 < <(sample "$ctl")
	mode=$([ "$kind" = afxdp ] && echo "$xdp_mode" || echo "-")
	line=$(awk -v k="$kind" -v m="$mode" -v i="$interval" \
		-v o=$(( o1 - o0 )) -v r=$(( r1 - r0 )) -v t=$(( t1 - t0 )) -v l=$(( l1 - l0 )) \
		'BEGIN { printf "%-10s %-8s %10.3f %10.3f %10.3f %10.0f", k, m, o/i/1e6, r/i/1e6, t/i/1e6, l/i }')
	echo "$line"
	results+=("$line")
	if [ $(( r1 - r0 )) -ge $(( (o1 - o0) * 98 / 100 )) ]; then
		echo "  (xviod took ≥ 98% of what was offered: the generator is the limit for $kind)"
	fi
	"$XVIOCTL" --ctl "$ctl" stats p0 | sed 's/^/  /'
	kill "$xpid"
	wait "$xpid" 2>/dev/null || true
done
echo "generator: dpdk-testpmd txonly ${size} B on net_af_packet ($VG), core 0; xviod PMD on core 1; ${interval} s after ${warmup} s warm-up"
