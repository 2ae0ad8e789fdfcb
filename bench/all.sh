#!/bin/sh
# Every issue benchmark, one after the other, in one run: the figures a stop's
# closing note quotes. Each script saves its own results/<name>-<date>.md
# (with its JSON and PNG); this prints which, and the time each took.
#
#   sudo bench/all.sh [--quick] [--no-migrate]
#       (~50 min; --quick: 1 rep of each, ~15 min; --no-migrate: without the
#       QEMU live-migration runs, ~10 min less)
#
# Run it alone on the machine: no test suite, no other benchmark, no stray
# xviod, testpmd or OVS (each script waits for the machine to be quiet before
# every run, --wait-quiet). Binaries: $XVIOD/$XVIOCTL, else build/ (see
# bench/README.md); the instruction counts build their own (bench/dp_callgrind.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
reps3=3 reps2=2 mig=3
for a in "$@"; do
	case $a in
	--quick) reps3=1 reps2=1; [ "$mig" = 0 ] || mig=1;;
	--no-migrate) mig=0;;
	*) echo "usage: $0 [--quick] [--no-migrate]" >&2; exit 2;;
	esac
done
common="--interval 5 --wait-quiet 30"
run() {
	t0=$(date +%s)
	echo "== $*" >&2
	"$@" || echo "all.sh: FAILED: $*" >&2
	echo "== $(( $(date +%s) - t0 )) s: $*" >&2
}
# Issue 4: flow tables, closed loop (rules) and open loop (flows).
run "$here/flows.sh" --loop closed --rules 1,1000 --reps $reps3 $common
run "$here/flows.sh" --rules 1000 --flows 1,1000,100000 --reps $reps2 $common
# Issue 5: conntrack on the path (closed loop for the ratio to the relay),
# then open loop at 100,000 flows and new connections per second.
run "$here/ct.sh" --loop closed --reps $reps3 $common
run "$here/ct.sh" --flows 100000 --reps $reps2 $common
# Issue 6: VXLAN + 1,000 rules against OVS-DPDK; the vRouter with MPLSoGRE.
run "$here/tnl.sh" --reps $reps3 $common
run "$here/vrouter.sh" --mplsogre --reps $reps3 $common
# Issue 3: live migration through xviod and OVS-DPDK under TCG.
[ "$mig" = 0 ] || run "$here/migrate.sh" --reps $mig
# Load-independent: instructions per packet of each datapath case.
# Release, as xviod ships (dp_callgrind.sh alone would set up -O2).
cg=/tmp/xvio-cg-$(echo "$here" | cksum | cut -d' ' -f1)
[ -f "$cg/build.ninja" ] || meson setup "$cg" "$here/.." -Dnative=false \
	-Dc_args=-march=x86-64-v3 --buildtype=release >/dev/null
run "$here/dp_callgrind.sh" "$cg"
ls -t "$here"/results/*.md | head -9
