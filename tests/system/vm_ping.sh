#!/usr/bin/env bash
# Two QEMU guests (Linux virtio-net driver) on xviod's learning bridge, one in
# each socket direction: vm1 connects to xviod's socket (QEMU client,
# reconnect=1), vm2's QEMU owns its socket and xviod connects to it (client
# port). Both guests boot once; then: ping both ways, TCP with iperf3 both
# ways, the receiving guest's checksum error counters (checksum offload is on
# by default), and xviod's counters must agree with what the guests sent.
# Prints the accel (KVM or TCG), ping latency and TCP throughput.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
vm_setup
start_xviod

xc add-port vm1 vhost-user path="$T_TMP/vm1.sock" >/dev/null
vm_start vm1 "$T_TMP/vm1.sock" --ip 10.99.0.1/24
vm_start vm2 "$T_TMP/vm2.sock" --ip 10.99.0.2/24 --server
wait_for 60 test -S "$T_TMP/vm2.sock" || fail "QEMU did not create its vhost-user socket"
xc add-port vm2 vhost-user path="$T_TMP/vm2.sock" client >/dev/null
t0=$(date +%s)
vm_wait vm1 || fail "vm1 did not boot"
vm_wait vm2 || fail "vm2 did not boot"
echo "vm: both guests up in $(( $(date +%s) - t0 )) s"

# The Linux driver must have negotiated checksum offload both ways and
# mergeable rx buffers, or the checksum checks below prove nothing.
xc --json show | python3 -c '
import json, sys
for p in json.load(sys.stdin)["ports"]:
    f = p["info"].get("features", [])
    miss = [x for x in ("CSUM", "GUEST_CSUM", "MRG_RXBUF") if x not in f]
    if miss:
        sys.exit("%s: not negotiated: %s (have %s)" % (p["name"], miss, f))
    print("vm: %s features %s" % (p["name"], " ".join(f)))
' || fail "offloads not negotiated"

for vm in vm1 vm2; do
	k=$(vm_run $vm "ethtool -k eth0")
	echo "$k" | grep -q "^tx-checksumming: on" && echo "$k" | grep -q "^rx-checksumming: on" ||
		fail "$vm: checksum offload is not on in the guest: $(echo "$k" | grep checksumming)"
done
echo "vm: guests run with tx and rx checksum offload on"

out=$(vm_run vm1 "ping -c 20 -i 0.1 -W 2 10.99.0.2") || fail "vm1 cannot ping vm2: $out"
read -r loss1 avg1 < <(echo "$out" | vm_ping_stats)
out=$(vm_run vm2 "ping -c 20 -i 0.1 -W 2 10.99.0.1") || fail "vm2 cannot ping vm1: $out"
read -r loss2 avg2 < <(echo "$out" | vm_ping_stats)
echo "vm: ping vm1->vm2 loss $loss1 avg $avg1 ms; vm2->vm1 loss $loss2 avg $avg2 ms"

csum_errors() {
	vm_run "$1" "cat /proc/net/snmp" | awk '
		/^Ip:/ && !ih {split($0,h); ih=1; next}
		/^Ip:/ {for(i=2;i<=NF;i++) if(h[i]=="InHdrErrors") e+=$i}
		/^Tcp:/ && !th {split($0,t); th=1; next}
		/^Tcp:/ {for(i=2;i<=NF;i++) if(t[i]=="InCsumErrors"||t[i]=="InErrs") e+=$i}
		/^Udp:/ && !uh {split($0,u); uh=1; next}
		/^Udp:/ {for(i=2;i<=NF;i++) if(u[i]=="InCsumErrors") e+=$i}
		END{print e+0}'
}

vm_run vm2 "iperf3 -s -D -1 -p 5201" >/dev/null || fail "iperf3 server did not start in vm2"
out=$(vm_run vm1 -t 120 "iperf3 -c 10.99.0.2 -p 5201 -t 5 -f m") || fail "iperf3 vm1->vm2 failed: $out"
bw12=$(echo "$out" | awk '/receiver/{print $(NF-2), $(NF-1)}')
vm_run vm1 "iperf3 -s -D -1 -p 5202" >/dev/null || fail "iperf3 server did not start in vm1"
out=$(vm_run vm2 -t 120 "iperf3 -c 10.99.0.1 -p 5202 -t 5 -f m") || fail "iperf3 vm2->vm1 failed: $out"
bw21=$(echo "$out" | awk '/receiver/{print $(NF-2), $(NF-1)}')
[ -n "$bw12" ] && [ -n "$bw21" ] || fail "no iperf3 result"
echo "vm: TCP vm1->vm2 $bw12, vm2->vm1 $bw21 (accel=$VM_ACCEL)"

e1=$(csum_errors vm1) e2=$(csum_errors vm2)
[ "$e1" = 0 ] && [ "$e2" = 0 ] || fail "guests saw checksum/header errors: vm1 $e1 vm2 $e2"
echo "vm: no IP/TCP/UDP checksum errors in either guest"

xc stats
# Nothing dropped on the way but what a guest could not take: a full rx ring
# (TCP backs off) or, while the other guest was still booting, no rx ring yet.
xc --json stats | python3 -c '
import json, sys
d = json.load(sys.stdin)
for p in d["ports"]:
    bad = {k: v for k, v in p["drops"].items() if v and k not in ("tx_queue_full", "tx_not_ready")}
    bad.update({k: v for k, v in p["counters"].items() if v and k.startswith("ring_error")})
    if bad:
        sys.exit("%s: %s" % (p["name"], bad))
    if p["rx_packets"] < 1000 or p["tx_packets"] < 1000:
        sys.exit("%s: too few packets counted: %s" % (p["name"], p))
' || fail "xviod counters show drops or missing traffic"
vm_stop vm1
vm_stop vm2
echo "PASS: two guests, ping and TCP both ways (accel=$VM_ACCEL)"
