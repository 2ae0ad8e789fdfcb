#!/usr/bin/env bash
# The demo: build xviod, start it, and pass real traffic through it.
#
#   ns xvd-a (10.77.0.1) --tap--+            +--af_packet-- veth -- ns xvd-b (10.77.0.2)
#                               |   xviod    |
#   dpdk-testpmd virtio-user ---+-vhost-user-+  (guest-side virtio driver, two ports,
#                                               cross-connected, packets circulating)
#
# Part 1: two network namespaces ping each other through the learning bridge
# (the default flow, actions=normal), then a drop flow blocks ICMP.
# Part 2: dpdk-testpmd's virtio-user driver (the guest side of virtio, in
# userspace) drives two vhost-user ports at full rate for a few seconds.
# Part 3: two QEMU guests (Debian kernel, busybox initramfs built by
# scripts/guest-image.sh) ping each other and move TCP data through xviod.
# Then `xvioctl show` and `xvioctl stats`. Everything started here is stopped
# by PID and every namespace removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: needs root (namespaces, tap devices)"; exit 1; }
./scripts/deps.sh test
./scripts/build.sh >/dev/null
echo "demo: built build/xviod and build/xvioctl"

tmp=$(mktemp -d /tmp/xvio-demo.XXXXXX)
ctl=$tmp/xviod.sock
pids=()
T_PIDS=() # QEMU guests (tests/system/vm_lib.sh records them here)
nsa=xvd-a-$$ nsb=xvd-b-$$ veth=xvdb$$
cleanup() {
	for p in "${T_PIDS[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${T_PIDS[@]}" "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	ip link del "$veth" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
xc() { build/xvioctl --ctl "$ctl" "$@"; }

pmd_cpu=$(( $(nproc) - 1 ))
build/xviod --ctl "$ctl" --pmd-cpus "$pmd_cpu" 2>"$tmp/xviod.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$ctl" ] && break; sleep 0.1; done
echo "demo: xviod running (pid ${pids[0]}, pmd on cpu $pmd_cpu, control socket $ctl)"

echo
echo "== part 1: two namespaces ping through the learning bridge"
ip netns add "$nsa"
ip netns add "$nsb"
xc add-port tapA tap dev=xvdtap$$
ip link set "xvdtap$$" netns "$nsa"
ip -n "$nsa" addr add 10.77.0.1/24 dev "xvdtap$$"
ip -n "$nsa" link set "xvdtap$$" up
ip link add "$veth" type veth peer name eth0 netns "$nsb"
ip link set "$veth" up
ip -n "$nsb" addr add 10.77.0.2/24 dev eth0
ip -n "$nsb" link set eth0 up
xc add-port vethB af_packet dev="$veth"
ip netns exec "$nsa" ping -c 5 -i 0.2 10.77.0.2

echo
echo "== part 1b: a flow that drops ICMP from tapA, its counters, a trace, and its removal"
xc add-flow "priority=100,icmp,in_port=tapA,actions=drop"
if ip netns exec "$nsa" ping -c 3 -i 0.2 -W 1 10.77.0.2 >/dev/null; then
	echo "demo: ping passed a drop flow"; exit 1
fi
echo "demo: ping blocked by the flow, as it should be"
xc dump-flows
xc trace "in_port=tapA,icmp,nw_src=10.77.0.1,nw_dst=10.77.0.2"
xc del-flows --strict "priority=100,icmp,in_port=tapA"
ip netns exec "$nsa" ping -c 2 -i 0.2 10.77.0.2 | tail -2

echo
echo "== part 2: dpdk-testpmd virtio-user ports drive two vhost-user ports"
if command -v dpdk-testpmd >/dev/null; then
	xc add-port vm1 vhost-user path="$tmp/vm1.sock"
	xc add-port vm2 vhost-user path="$tmp/vm2.sock"
	xc xconnect vm1 vm2
	gen_cpu=0
	# stdin from a fifo held open, so testpmd waits for our commands.
	mkfifo "$tmp/tp.in"
	dpdk-testpmd --lcores "0@$gen_cpu,1@$gen_cpu" --no-huge -m 1024 --no-pci --file-prefix=xvd$$ \
		--vdev "net_virtio_user0,path=$tmp/vm1.sock,queues=1" \
		--vdev "net_virtio_user1,path=$tmp/vm2.sock,queues=1" \
		-- -i --nb-cores=1 --forward-mode=io <"$tmp/tp.in" >"$tmp/testpmd.log" 2>&1 &
	pids+=($!)
	exec 7>"$tmp/tp.in"
	for _ in $(seq 100); do
		[ "$(xc --json show | python3 -c 'import json,sys; print(sum(p["link_up"] for p in json.load(sys.stdin)["ports"] if p["kind"] == "vhost-user"))')" = 2 ] && break
		sleep 0.1
	done
	echo "start tx_first" >&7
	sleep 2
	rx() { xc --json stats vm1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["ports"][0]["rx_packets"])'; }
	a=$(rx); t0=$(date +%s.%N); sleep 3; b=$(rx); t1=$(date +%s.%N)
	python3 -c "print(f'demo: vm1 -> vm2 relayed {($b - $a) / ($t1 - $t0) / 1e6:.2f} Mpps (64-byte frames, one PMD core; the generator shares the other core)')"
	echo
	echo "== xvioctl show (guests connected, traffic running)"
	xc show
	echo "stop" >&7
	sleep 1
	echo "quit" >&7
	exec 7>&-
	sleep 1
else
	echo "(dpdk-testpmd not installed: skipping the vhost-user part)"
fi

echo
echo "== part 3: two QEMU guests (stock Linux virtio-net driver) talk through xviod"
# guest1: xviod owns the socket, QEMU connects. guest2: QEMU owns it, xviod connects.
if command -v qemu-system-x86_64 >/dev/null && img=$(./scripts/guest-image.sh 2>"$tmp/img.log"); then
	T_TMP=$tmp
	. tests/system/vm_lib.sh
	VM_KERNEL=$img/vmlinuz VM_INITRD=$img/initrd.img
	vm_pick_accel
	echo "demo: guest image $img, accel $VM_ACCEL ($VM_ACCEL_WHY)"
	xc add-port guest1 vhost-user path="$tmp/g1.sock" >/dev/null
	vm_start guest1 "$tmp/g1.sock" --ip 10.78.0.1/24
	vm_start guest2 "$tmp/g2.sock" --ip 10.78.0.2/24 --server
	for _ in $(seq 100); do [ -S "$tmp/g2.sock" ] && break; sleep 0.1; done
	xc add-port guest2 vhost-user path="$tmp/g2.sock" client >/dev/null
	t0=$(date +%s)
	vm_wait guest1 && vm_wait guest2 || { echo "demo: a guest did not boot"; exit 1; }
	echo "demo: both guests booted in $(( $(date +%s) - t0 )) s"
	vm_run guest1 "ip -4 addr show eth0 | grep inet"
	vm_run guest1 "ping -c 5 -i 0.2 10.78.0.2"
	vm_run guest2 "iperf3 -s -D -1" >/dev/null
	vm_run guest1 "iperf3 -c 10.78.0.2 -t 3 -f m" | grep -E 'sender|receiver'
	vm_stop guest1
	vm_stop guest2
else
	echo "(no QEMU or no guest image: skipping the guests; $(tail -1 "$tmp/img.log" 2>/dev/null))"
fi

echo
echo "== xvioctl stats"
xc stats
