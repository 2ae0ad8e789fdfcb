#!/usr/bin/env bash
# Idle cost: xviod with two connected but silent virtio guests must sleep.
#
#   dpdk-testpmd (virtio-user0, virtio-user1; ports started, not forwarding)
#        |  vhost-user            |  vhost-user
#      [vm1]------- xviod -------[vm2]    1 PMD thread
#
# Measures xviod's CPU time over 10 s; the bar is < 2% of one core.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd dpdk-testpmd "apt-get install dpdk"

start_xviod
xc add-port vm1 vhost-user path="$T_TMP/vm1.sock"
xc add-port vm2 vhost-user path="$T_TMP/vm2.sock"
mkfifo "$T_TMP/tp.in"
dpdk-testpmd --lcores 0@0,1@0 --no-huge -m 512 --no-pci --file-prefix="xvidle$$" \
	--vdev "net_virtio_user0,path=$T_TMP/vm1.sock,queues=1" \
	--vdev "net_virtio_user1,path=$T_TMP/vm2.sock,queues=1" \
	-- -i <"$T_TMP/tp.in" >"$T_TMP/testpmd.log" 2>&1 &
T_PIDS+=($!)
exec 7>"$T_TMP/tp.in"
T_CLEANUP+=("exec 7>&-")

links_up() { [ "$(xc --json show | json_get "sum(p['link_up'] for p in d['ports'])")" = 2 ]; }
wait_for 30 links_up || { cat "$T_TMP/testpmd.log"; xc show; fail "guests did not connect"; }

hz=$(getconf CLK_TCK)
sleep 1	# let the PMD pass its spin phase
t0=$(cpu_ticks "$XVIOD_PID")
sleep 10
t1=$(cpu_ticks "$XVIOD_PID")
pct=$(python3 -c "print(f'{($t1 - $t0) * 100.0 / $hz / 10:.2f}')")
echo "xviod CPU over 10 s with 2 connected idle guests: ${pct}% of one core"
xc stats | grep -E '^pmd' || true
python3 -c "import sys; sys.exit(0 if $pct < 2.0 else 1)" || fail "idle xviod used ${pct}% (bar: < 2%)"
echo "PASS"
