#!/bin/sh
# Instructions per packet of the datapath (dp_process + dp_flush), counted by
# callgrind: load-independent, so it can be run on a busy machine. Cases: the
# L2 relay (xconnect), 1 rule 1 flow, 1,000 rules 1 flow, 1,000 rules 100,000
# flows, with bench/flows.sh's rule sets and traffic (see bench/dp_bench.c);
# and bench/ct.sh's conntrack cells: ct(commit) on the relay path and the
# security-group table (ct(table=1), a second pass) at 1 and 100,000 flows,
# and one new connection per packet (FLOWS "new");
# then the two tunnel benches' closed loops as they configure xviod
# (dp_bench --loop): bench/tnl.sh (1,000 rules, VXLAN encap / decap per pass)
# and bench/vrouter.sh --mplsogre (100k routes per VRF, MPLSoGRE encap / decap).
#   bench/dp_callgrind.sh [BUILD-DIR] [PACKETS]     (~1 min)
# BUILD-DIR must be configured for valgrind (no AVX-512), e.g.
#   meson setup /tmp/build-cg -Dnative=false -Dc_args=-march=x86-64-v3 --buildtype=debugoptimized
set -e
here=$(cd "$(dirname "$0")" && pwd)
b=${1:-/tmp/build-cg}
n=${2:-64000}
[ -f "$b/build.ninja" ] || meson setup "$b" "$here/.." -Dnative=false \
	-Dc_args=-march=x86-64-v3 --buildtype=debugoptimized >/dev/null
ninja -C "$b" dp_bench >/dev/null
t=$(mktemp -d /tmp/dp-callgrind.XXXXXX)
trap 'rm -rf "$t"' EXIT
"$here/flows.sh" --print-rules 1 > "$t/r1"
"$here/flows.sh" --print-rules 1000 > "$t/r1000"
"$here/ct.sh" --print-rules ct > "$t/ct"
"$here/ct.sh" --print-rules sg > "$t/sg"
"$here/tnl.sh" --print-config "$t/tnl" >/dev/null
"$here/vrouter.sh" --mplsogre --print-config "$t/vrouter" >/dev/null
printf '| case | instructions/packet |\n|---|---|\n'
for c in "xconnect 1" "r1 1" "r1000 1" "r1000 100000" "ct 1" "ct 100000" "ct new" "sg 1" \
	"sg 100000" "tnl loop" "vrouter loop"; do
	set -- $c
	case $1 in
	xconnect) args="xconnect $2";;
	tnl|vrouter) args="--loop $t/$1/config";;
	*) args="$t/$1 $2";;
	esac
	valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$t/cg.$1.$2" \
		"$b/dp_bench" $args "$n" > "$t/out" 2> "$t/err" || { cat "$t/err" "$t/out"; exit 1; }
	ir=$(callgrind_annotate "$t/cg.$1.$2" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	case $1 in xconnect) name="xconnect (L2 relay)";; r1) name="1 rule, 1 flow";;
		r1000) name="1,000 rules, $2 flow(s)";;
		ct) name="ct(commit) relay, $2 flow(s)";; sg) name="security groups, $2 flow(s)";;
		tnl) name="tnl.sh: 1,000 rules + VXLAN encap/decap";;
		vrouter) name="vrouter.sh --mplsogre: LPM 100k routes + MPLSoGRE encap/decap";; esac
	[ "$2" = new ] && name="ct(commit) relay, a new connection per packet"
	printf '| %s | %s |\n' "$name" "$(echo "$ir $n" | awk '{ printf "%.0f", $1 / $2 }')"
	if [ -n "$DP_CALLGRIND_KEEP" ]; then cp "$t/cg.$1.$2" "$DP_CALLGRIND_KEEP/"; fi
done
