#!/usr/bin/env bash
# How long `xvioctl add-flows` takes for N rules of mixed masks (default
# 100,000), against a private xviod. Prints seconds; repeat with --reps.
#   sudo bench/addflows.sh [N] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
REPS=${2:-3}
XVIOD=${XVIOD:-build/xviod}
XVIOCTL=${XVIOCTL:-build/xvioctl}
tmp=$(mktemp -d /tmp/xvio-addflows.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# Mixed masks: /8../32 destination prefixes, optional source /24, ports or not,
# tcp or udp, distinct priorities so every rule is its own.
/usr/bin/python3 - "$N" >"$tmp/flows" <<'PY'
import random, sys
n = int(sys.argv[1]); random.seed(7)
for i in range(n):
    proto = random.choice(("tcp", "udp"))
    plen = random.choice((8, 16, 24, 32))
    dst = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}/{plen}"
    m = f"table=0,priority={1 + i % 60000},{proto},nw_dst={dst}"
    if random.random() < 0.5:
        m += f",nw_src=172.16.{i % 256}.0/24"
    if random.random() < 0.5:
        m += f",tp_dst={1 + i % 65535}"
    print(m + ",actions=drop")
PY
"$XVIOD" --ctl "$tmp/ctl.sock" --no-state --pmd-cpus "$(( $(nproc) - 1 ))" 2>"$tmp/xviod.log" &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/ctl.sock" ] && break; sleep 0.05; done
for r in $(seq "$REPS"); do
	"$XVIOCTL" --ctl "$tmp/ctl.sock" del-flows
	t0=$(date +%s.%N)
	"$XVIOCTL" --ctl "$tmp/ctl.sock" --timeout 120 add-flows "$tmp/flows"
	t1=$(date +%s.%N)
	n=$("$XVIOCTL" --ctl "$tmp/ctl.sock" --json stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["datapath"]["flows"])')
	/usr/bin/python3 -c "print(f'rep $r: $n rules in {$t1 - $t0:.3f} s')"
done
