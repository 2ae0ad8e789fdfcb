#!/usr/bin/env bash
# Multiqueue and jumbo frames from real guests, booted once:
#  - vm1 has 2 queue pairs (mq=on); the guest turns them on with
#    `ethtool -L eth0 combined 2`, and TCP flows from it must land on both of
#    xviod's rx queues for the port (per-queue counters in `stats --json`);
#  - both guests run a 9000-byte MTU: 9000-byte pings and TCP pass without IP
#    fragmentation, so xviod carried jumbo frames and spread each one over the
#    receiving guest's small mergeable rx buffers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
vm_setup
start_xviod

xc add-port vm1 vhost-user path="$T_TMP/vm1.sock" queues=2 >/dev/null
xc add-port vm2 vhost-user path="$T_TMP/vm2.sock" >/dev/null
vm_start vm1 "$T_TMP/vm1.sock" --ip 10.98.0.1/24 --queues 2 --mtu 9000
vm_start vm2 "$T_TMP/vm2.sock" --ip 10.98.0.2/24 --mtu 9000
vm_wait vm1 || fail "vm1 did not boot"
vm_wait vm2 || fail "vm2 did not boot"

vm_run vm1 "ethtool -L eth0 combined 2" || fail "ethtool -L eth0 combined 2 failed in vm1"
combined=$(vm_run vm1 "ethtool -l eth0" | awk '/^Current/{c=1} c && /^Combined/{print $2}')
[ "$combined" = 2 ] || fail "vm1 runs $combined queue pairs, not 2"
# With one vCPU, XPS would pin every flow to one tx queue; without XPS the
# kernel picks the queue by flow hash, as it does for flows from many CPUs.
vm_run vm1 'for f in /sys/class/net/eth0/queues/tx-*/xps_cpus; do echo 0 >$f; done' ||
	fail "cannot clear XPS in vm1"
for vm in vm1 vm2; do
	mtu=$(vm_run $vm "cat /sys/class/net/eth0/mtu")
	[ "$mtu" = 9000 ] || fail "$vm has MTU $mtu"
done

rxq_packets() {
	xc --json stats vm1 | python3 -c '
import json, sys
print(" ".join(str(q["packets"]) for q in json.load(sys.stdin)["ports"][0]["rxqs"]))'
}
port_counts() {
	xc --json stats "$1" | python3 -c '
import json, sys
p = json.load(sys.stdin)["ports"][0]
print(p["rx_packets"], p["rx_bytes"])'
}
ipstat() { # ipstat VM FIELD: a counter from the guest's /proc/net/snmp Ip: line
	vm_run "$1" "cat /proc/net/snmp" | awk -v f="$2" '
		/^Ip:/ && !h {for(i=1;i<=NF;i++) n[i]=$i; h=1; next}
		/^Ip:/ {for(i=1;i<=NF;i++) if(n[i]==f) print $i}'
}

# Jumbo ping: 8972 bytes of ICMP data make a 9000-byte IP packet.
frag1=$(ipstat vm1 FragCreates) reasm2=$(ipstat vm2 ReasmReqds)
read -r p0 b0 < <(port_counts vm1)
out=$(vm_run vm1 "ping -c 5 -i 0.2 -W 3 -s 8972 10.98.0.2") || fail "9000-byte ping failed: $out"
read -r p1 b1 < <(port_counts vm1)
echo "vm: 9000-byte ping: $(echo "$out" | vm_ping_stats | awk '{print "loss " $1 ", avg " $2 " ms"}')"
[ "$(ipstat vm1 FragCreates)" = "$frag1" ] && [ "$(ipstat vm2 ReasmReqds)" = "$reasm2" ] ||
	fail "the 9000-byte pings were fragmented"
# Five unfragmented 9014-byte frames (plus maybe an ARP) crossed xviod.
[ $((b1 - b0)) -ge $((5 * 9014)) ] && [ $((p1 - p0)) -le 8 ] ||
	fail "xviod saw $((p1 - p0)) frames, $((b1 - b0)) bytes from vm1: not 9000-byte frames"
echo "vm: xviod carried $((p1 - p0)) frames, $((b1 - b0)) bytes from vm1, no IP fragments"

# TCP: several flows, so the hash spreads them; retried in the unlikely case
# every flow hashed onto one queue.
vm_run vm2 "iperf3 -s -D -p 5201" >/dev/null || fail "iperf3 server did not start in vm2"
spread=0
for try in 1 2 3; do
	read -r q0a q1a < <(rxq_packets)
	read -r p0 b0 < <(port_counts vm1)
	out=$(vm_run vm1 -t 120 "iperf3 -c 10.98.0.2 -p 5201 -P 8 -t 4 -f m") ||
		fail "iperf3 vm1->vm2 failed: $out"
	read -r q0b q1b < <(rxq_packets)
	read -r p1 b1 < <(port_counts vm1)
	d0=$((q0b - q0a)) d1=$((q1b - q1a))
	bw=$(echo "$out" | awk '/SUM.*receiver/{print $(NF-2), $(NF-1)}')
	echo "vm: TCP vm1->vm2 at MTU 9000, 8 flows: $bw; xviod rxq 0: $d0 pkts, rxq 1: $d1 pkts, average frame $(( (b1 - b0) / (p1 - p0) )) bytes"
	if [ "$d0" -gt 100 ] && [ "$d1" -gt 100 ]; then spread=1; break; fi
done
[ $spread -eq 1 ] || fail "vm1's flows did not use both queues"
[ $(( (b1 - b0) / (p1 - p0) )) -ge 4000 ] || fail "TCP at MTU 9000 did not use jumbo frames"
[ "$(ipstat vm2 ReasmReqds)" = "$reasm2" ] || fail "vm2 reassembled fragments"
xc stats vm1
vm_stop vm1
vm_stop vm2
echo "PASS: 2 queue pairs used, 9000-byte MTU between guests (accel=$VM_ACCEL)"
