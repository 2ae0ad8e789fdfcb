#!/usr/bin/env bash
# Live migration through xviod and through OVS-DPDK, side by side: the same
# scenario (tests/system/vm_migrate.sh) once per switch and repetition. VM A
# migrates between two QEMU processes on two vhost-user ports of the switch
# while VM B pings it every 10 ms and sends it a TCP stream. Both switches get
# the same socket direction (QEMU server, switch client: OVS's
# dpdkvhostuserclient) and run their poll thread on the last CPU; OVS-DPDK is
# started by the scenario in its own run directory with no hugepages
# (--no-huge -m 2048 --legacy-mem) and killed by PID at the end.
#
#   sudo bench/migrate.sh [--reps N] [--only xviod|ovs]   (~1.5 min per run under TCG)
#
# Prints one RESULT line per run and a table: the host pinger's (10 ms pace)
# longest gap between replies and lost replies; the guest's pings lost,
# longest run of lost replies, longest gap between replies (ms), the outage
# (longest run x ping pace; see tests/system/vm_migrate.sh); QEMU's own
# downtime figure, whether the TCP stream survived, and bar_100ms (host gap
# <= 100 ms). Saves it to results/migrate-<date>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3 only=()
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2; shift ;;
	--only) only+=("$2"); shift ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "migrate.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ ${#only[@]} -gt 0 ] || only=(xviod ovs)
[ "$(id -u)" -eq 0 ] || { echo "migrate.sh: needs root" >&2; exit 1; }
[ -x build/xviod ] || ./scripts/build.sh >/dev/null

results=()
for r in $(seq "$reps"); do
	for sw in "${only[@]}"; do
		echo "== run $r: $sw" >&2
		log=$(mktemp /tmp/xvio-migrate.XXXXXX)
		rc=0
		MIG_SWITCH=$sw MIG_QEMU_SERVER=1 MIG_MAX_GAP_MS=100000 MIG_MAX_LOST_RUN=100000 \
			XVIOD=$PWD/build/xviod XVIOCTL=$PWD/build/xvioctl \
			timeout 900 tests/system/vm_migrate.sh >"$log" 2>&1 || rc=$?
		line=$(grep '^RESULT ' "$log" || true)
		if [ -z "$line" ]; then
			echo "migrate.sh: $sw run $r gave no result (rc $rc):" >&2
			grep -E '^(FAIL|SKIP)' "$log" >&2 || tail -5 "$log" >&2
			line="RESULT switch=$sw failed=rc$rc"
		fi
		echo "$line"
		results+=("$line")
		rm -f "$log"
	done
done

table=$(printf '%s\n' "${results[@]}" | /usr/bin/python3 -c '
import sys
rows = [dict(kv.split("=", 1) for kv in l.split()[1:]) for l in sys.stdin if l.strip()]
cols = ["switch", "accel", "host_gap_ms", "host_lost", "host_pings", "pings", "lost",
        "longest_run", "ping_pace_ms", "gap_ms", "outage_ms", "qemu_downtime_ms", "tcp_survived",
        "mac_on", "bar_100ms"]
print("| " + " | ".join(cols) + " |")
print("|" + "---|" * len(cols))
for r in rows:
    print("| " + " | ".join(r.get(c, r.get("failed", "-") if c == "pings" else "-") for c in cols) + " |")
')
echo
echo "$table"
out=bench/results/migrate-$(date -u +%Y%m%d-%H%M%S).md
{
	echo "# bench/migrate.sh $(date -u '+%F %T UTC'), git $(git rev-parse --short HEAD)"
	echo
	echo "Command: bench/migrate.sh --reps $reps --only ${only[*]}; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "$table"
} >"$out"
echo "saved $out"
