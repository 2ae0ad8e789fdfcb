#!/usr/bin/env bash
# Does QEMU's live migration copy a TCG guest's RAM intact? Boots one test
# guest WITHOUT any network device (no vhost-user, no xviod: QEMU alone),
# keeps it writing memory, and migrates it HOPS times on this host. Each
# destination stays paused (-S) after the state is in, so both RAMs are
# frozen and are compared page by page through /proc/PID/mem; then the
# destination runs on and becomes the next source.
#
#   tools/qemu_mig_ramcheck.sh [HOPS] [live|stopped]      (root; default 6 live)
#
# live: a normal pre-copy migration of the running guest. stopped: the
# source is stopped first (stop-and-copy), the control. Prints per hop the
# pages that differ (a few bytes each: guest kernel data, packet buffers),
# and "RAMCHECK hops=N live_lost=K" at the end (guest_died_at_hop=H when a
# migrated guest stopped answering); exits 1 if any page differed.
# Seen here with QEMU 7.2 TCG on a loaded 2-core host: live lost pages in
# about one hop in three, stopped never.
set -u
HOPS=${1:-6}
MODE=${2:-live}
cd "$(dirname "$0")/.."
. tests/system/lib.sh
. tests/system/vm_lib.sh
vm_setup
[ "$VM_ACCEL" = tcg ] || echo "note: accel=$VM_ACCEL, not TCG"

# ramcmp PID_A PID_B: pages of guest RAM that differ, a line each.
ramcmp() {
	python3 - "$1" "$2" <<'PY'
import sys
def ram(pid):
    for l in open("/proc/%s/maps" % pid):
        if "memory-backend-memfd" in l:
            a, b = (int(x, 16) for x in l.split()[0].split("-"))
            return a, b - a
    raise SystemExit("no guest RAM mapping in %s" % pid)
(a1, n1), (a2, n2) = ram(sys.argv[1]), ram(sys.argv[2])
f1, f2 = open("/proc/%s/mem" % sys.argv[1], "rb", 0), open("/proc/%s/mem" % sys.argv[2], "rb", 0)
diff, ch = 0, 1 << 20
for off in range(0, min(n1, n2), ch):
    f1.seek(a1 + off); f2.seek(a2 + off)
    b1, b2 = f1.read(ch), f2.read(ch)
    if b1 == b2:
        continue
    for p in range(0, ch, 4096):
        x, y = b1[p:p + 4096], b2[p:p + 4096]
        if x != y:
            d = [i for i in range(4096) if x[i] != y[i]]
            diff += 1
            print("  gpa 0x%x: %d bytes differ from +0x%x: source %s, destination %s" %
                  (off + p, len(d), d[0], x[d[0]:d[0] + 8].hex(), y[d[0]:d[0] + 8].hex()))
print("pages_differ=%d" % diff)
PY
}

vm_start g0 ""
vm_wait g0 || fail "g0 did not boot"
vm_bg g0 "while :; do dd if=/dev/urandom of=/tmp/f bs=64k count=32 2>/dev/null; done" w >/dev/null
cur=g0 lost=0 dead=
for h in $(seq 1 "$HOPS"); do
	vm_start "g$h" "" --incoming "unix:$T_TMP/m$h.sock" --paused
	wait_for 60 test -S "$T_TMP/m$h.sock" || fail "g$h did not listen"
	sleep 1
	# As tests/system/vm_migrate.sh migrates: a 20 ms downtime target and
	# no bandwidth cap, so a few quick pre-copy rounds.
	vm_qmp "$cur" '{"execute":"migrate-set-parameters","arguments":{"downtime-limit":20,"max-bandwidth":10737418240}}' >/dev/null
	[ "$MODE" = stopped ] && vm_qmp "$cur" '{"execute":"stop"}' >/dev/null
	vm_qmp "$cur" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$T_TMP/m$h.sock\"}}" >/dev/null ||
		fail "hop $h: migrate refused"
	st=
	for _ in $(seq 600); do
		st=$(vm_qmp "$cur" '{"execute":"query-migrate"}' | json_get 'd.get("status", "")')
		case $st in completed|failed|cancelled) break ;; esac
		sleep 0.2
	done
	[ "$st" = completed ] || fail "hop $h: migration $st"
	wait_for 30 sh -c "python3 '$VM_CHAN' qmp '$T_TMP/vm-g$h/qmp.sock' 5 '{\"execute\":\"query-status\"}' | grep -q '\"paused\"'" ||
		fail "hop $h: destination not paused after the state came in"
	out=$(ramcmp "${VM_PID[$cur]}" "${VM_PID[g$h]}")
	n=$(echo "$out" | sed -n 's/^pages_differ=//p')
	echo "hop $h ($MODE): $n pages differ"
	[ "${n:-0}" -gt 0 ] && { lost=$((lost + 1)); echo "$out" | grep gpa | head -20; }
	vm_qmp "g$h" '{"execute":"cont"}' >/dev/null
	vm_stop "$cur"
	cur=g$h
	# A guest resumed on stale pages may not live long.
	if ! vm_run "$cur" -t 60 true >/dev/null 2>&1; then
		echo "hop $h: the migrated guest does not answer; QEMU $(vm_alive "$cur" && echo running || echo exited), console:"
		tail -n 12 "$T_TMP/vm-$cur/console.log"
		dead=$h
		break
	fi
done
echo "RAMCHECK hops=$h mode=$MODE ${MODE}_lost=$lost${dead:+ guest_died_at_hop=$dead}"
[ $lost -eq 0 ]
