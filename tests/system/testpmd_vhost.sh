#!/bin/bash
# dpdk-testpmd's virtio-user <-> xviod: every frame sent each way arrives, once,
# byte for byte, across split/packed rings, mrg_rxbuf on/off, 1 and 2 queue
# pairs, in-order or not (VIRTIO_F_IN_ORDER: DPDK's in-order paths), and
# xviod as vhost-user server and as client.
#
# One testpmd (no hugepages) io-forwards between four ports:
#
#   net_pcap0 (reads a*.pcap)  ->  virtio_user0 -> xviod p0 -> p1 -> virtio_user1 -> net_pcap1 (writes oa*.pcap)
#   net_pcap0 (writes ob*.pcap) <- virtio_user0 <- xviod p0 <- p1 <- virtio_user1 <- net_pcap1 (reads b*.pcap)
#
# and the frames written must be exactly the frames read (pcapio.py cmp), on
# testpmd's counters and on xviod's (xvioctl --json stats).
#
# Env: XVIOD, XVIOCTL (binaries); TESTPMD_CASES="name ..." runs only those
# cases; KEEP=1 keeps the work dir.  Exit 77 = skipped (reason printed).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PCAPIO="$HERE/pcapio.py"
NFRAMES=${NFRAMES:-300}         # per queue per direction
RING=1024

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; CASE_FAILED=1; }

[ "$(id -u)" = 0 ] || skip "needs root (vhost-user sockets, taskset, DPDK)"
command -v dpdk-testpmd >/dev/null || skip "dpdk-testpmd not installed (Debian package dpdk-dev)"
command -v python3 >/dev/null || skip "python3 not installed"
ls /usr/lib/*/dpdk/pmds-*/librte_net_pcap.so* >/dev/null 2>&1 ||
	skip "DPDK pcap PMD missing (Debian package librte-net-pcap23)"
ls /usr/lib/*/dpdk/pmds-*/librte_net_virtio.so* >/dev/null 2>&1 ||
	skip "DPDK virtio PMD missing (Debian package librte-net-virtio23)"
[ -n "${XVIOD:-}" ] && [ -x "$XVIOD" ] || { echo "FAIL: XVIOD not set or not executable"; exit 1; }
[ -n "${XVIOCTL:-}" ] && [ -x "$XVIOCTL" ] || { echo "FAIL: XVIOCTL not set or not executable"; exit 1; }
[ "$(nproc)" -ge 2 ] && PMD_CPU=1 || PMD_CPU=0

WORK=$(mktemp -d /tmp/xvio-testpmd.XXXXXX)
PREFIX="xvt$$"
PIDS=()
FAILED=0
PASSED=0

cleanup() {
	local p
	exec 3>&-
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=()
	rm -rf /var/run/dpdk/"$PREFIX"*
}
trap 'cleanup; [ "${KEEP:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

waitfor() {     # waitfor SECONDS CMD...: poll until CMD succeeds
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}

xctl() { "$XVIOCTL" --ctl "$D/ctl.sock" "$@"; }

# ---- testpmd on a fifo
tp_prompts() { grep -o 'testpmd> ' "$D/testpmd.log" 2>/dev/null | wc -l; }
tp_cmd() {      # tp_cmd "command": send it, wait for the next prompt
	local n; n=$(tp_prompts)
	echo "$1" >&3
	waitfor 30 eval '[ "$(tp_prompts)" -gt "$n" ]' || { echo "testpmd: no prompt after '$1'"; return 1; }
}
# TX-packets (from "show port stats all") of port $1, in the last stats printed
tp_stat() {
	awk -v port="$1" -v key="$2" '
		/NIC statistics for port/ { p = $(NF-1) }
		p == port { for (i = 1; i < NF; i++) if ($i == key ":") v[p] = $(i+1) }
		END { print v[port] + 0 }' "$D/testpmd.log"
}

# xviod's counter KEY (rx_packets, tx_packets, ...) of port NAME from stats --json
x_stat() {
	xctl --json stats "$1" 2>/dev/null | python3 -c '
import json, sys
name, key = sys.argv[1], sys.argv[2]
d = json.load(sys.stdin)
def find(o, inport=False):
	if isinstance(o, dict):
		if o.get("name") == name or inport:
			for k in (key, key.replace("_", "-")):
				if k in o and not isinstance(o[k], (dict, list)):
					return o[k]
			for k in ("rx", "tx"):
				if key.startswith(k + "_") and isinstance(o.get(k), dict):
					v = o[k].get(key[len(k) + 1:])
					if v is not None:
						return v
		for k, v in o.items():
			r = find(v, inport or k == name)
			if r is not None:
				return r
	elif isinstance(o, list):
		for v in o:
			r = find(v, inport)
			if r is not None:
				return r
	return None
r = find(d)
print("?" if r is None else r)' "$1" "$2"
}

# xvioctl --json show in $D/xshow.json: p0 and p1 link up, and the virtio
# features negotiated are those of the case ($packed, $mrg, $q); -v says why not
x_check_show() {
	python3 - "$D/xshow.json" "$packed" "$mrg" "$q" "$inorder" "${1:-}" <<-'EOF'
	import json, sys
	path, packed, mrg, q, inorder, verbose = sys.argv[1:7]
	try:
	    ports = {p["name"]: p for p in json.load(open(path))["ports"]}
	except Exception as e:
	    sys.exit(verbose and print("show --json:", e))
	want = {"RING_PACKED": packed == "1", "MRG_RXBUF": mrg == "1", "MQ": q == "2",
	        "IN_ORDER": inorder == "1"}
	bad = []
	for name in ("p0", "p1"):
	    p = ports.get(name, {})
	    if not p.get("link_up"):
	        bad.append(f"{name} link not up")
	        continue
	    feats = " ".join(str(f) for f in p.get("info", {}).get("features", []))
	    for f, on in want.items():
	        if (f in feats.replace("F_", "").replace("NET_", "").replace("VIRTIO_", "")) != on:
	            bad.append(f"{name}: {f} {'missing' if on else 'negotiated'} in [{feats}]")
	if bad and verbose:
	    print("; ".join(bad))
	sys.exit(1 if bad else 0)
	EOF
}

# run_case NAME split|packed MRG QUEUES server|client xconnect|bridge MAXLEN [IN_ORDER]
run_case() {
	local name=$1 ring=$2 mrg=$3 q=$4 mode=$5 fwd=$6 maxlen=${7:-1514} inorder=${8:-1}
	local packed=0 srv="" cli="" i
	[ "$ring" = packed ] && packed=1
	[ "$mode" = client ] && { srv=",server=1"; cli="client"; }
	D="$WORK/$name"
	mkdir -p "$D"
	echo "--- $name: $ring ring, mrg_rxbuf=$mrg, in_order=$inorder, $q queue pair(s), xviod $mode, $fwd, frames 60..$maxlen B"

	local pa="" pb="" sa="" sb="" ga="" gb=""
	for ((i = 0; i < q; i++)); do
		python3 "$PCAPIO" gen "$D/a$i.pcap" "$NFRAMES" $((i * 2 + 1)) \
			02:00:00:00:00:0a 02:00:00:00:00:0b "$maxlen" || return 1
		python3 "$PCAPIO" gen "$D/b$i.pcap" "$NFRAMES" $((i * 2 + 2)) \
			02:00:00:00:00:0b 02:00:00:00:00:0a "$maxlen" || return 1
		pa+=",rx_pcap=$D/a$i.pcap,tx_pcap=$D/ob$i.pcap"
		pb+=",rx_pcap=$D/b$i.pcap,tx_pcap=$D/oa$i.pcap"
		sa+="${sa:+,}$D/a$i.pcap"; sb+="${sb:+,}$D/b$i.pcap"
		ga+="${ga:+,}$D/oa$i.pcap"; gb+="${gb:+,}$D/ob$i.pcap"
	done
	local n=$((NFRAMES * q))

	# two queue pairs: spread them over two PMD threads where there are 2 CPUs
	local pmds=$PMD_CPU
	[ "$q" -gt 1 ] && [ "$(nproc)" -ge 2 ] && pmds=0,1
	taskset -c "$pmds" "$XVIOD" --ctl "$D/ctl.sock" --pmd-cpus "$pmds" \
		>"$D/xviod.log" 2>&1 &
	PIDS+=($!)
	waitfor 20 test -S "$D/ctl.sock" || { fail "$name: xviod control socket never appeared"; tail "$D/xviod.log"; return 1; }
	if [ "$mode" = server ]; then
		xctl add-port p0 vhost-user path="$D/s0" queues="$q" &&
			xctl add-port p1 vhost-user path="$D/s1" queues="$q" ||
			{ fail "$name: add-port"; return 1; }
		waitfor 10 test -S "$D/s1" || { fail "$name: xviod made no vhost-user socket"; return 1; }
	fi

	# frames larger than one 2 KB mbuf: chained descriptors on the way in,
	# several merged rx buffers on the way out
	local jumbo=""
	# (rx scatter only on the virtio ports: the pcap PMD has no such offload
	# and takes jumbo frames as they are)
	[ "$maxlen" -gt 1514 ] && jumbo="--max-pkt-len=$((maxlen + 18)) --disable-device-start"
	local vu="queues=$q,queue_size=$RING,packed_vq=$packed,mrg_rxbuf=$mrg,in_order=$inorder$srv"
	mkfifo "$D/tp.in"
	# Generator lcores on core 0, away from xviod's PMD.  --no-flush-rx: a
	# flush at start would read (and drop) the pcap ports' frames.
	stdbuf -o0 -e0 dpdk-testpmd --lcores 0@0,1@0 --no-pci --no-huge -m 512 \
		--file-prefix "$PREFIX$name" \
		--vdev "net_pcap0$pa" \
		--vdev "net_virtio_user0,path=$D/s0,$vu" \
		--vdev "net_virtio_user1,path=$D/s1,$vu" \
		--vdev "net_pcap1$pb" \
		-- -i --nb-cores=1 --forward-mode=io --rxq="$q" --txq="$q" \
		--rxd=$RING --txd=$RING --total-num-mbufs=16384 --no-flush-rx $jumbo \
		<"$D/tp.in" >"$D/testpmd.log" 2>&1 &
	PIDS+=($!)
	exec 3>"$D/tp.in"
	if [ "$mode" = client ]; then
		# virtio-user in server mode blocks in accept() on s0 before it
		# creates s1: add each port once its socket is there.
		for i in 0 1; do
			waitfor 30 test -S "$D/s$i" || { fail "$name: testpmd made no socket s$i"; tail "$D/testpmd.log"; return 1; }
			xctl add-port p$i vhost-user path="$D/s$i" client queues="$q" ||
				{ fail "$name: add-port p$i client"; return 1; }
		done
	fi
	if [ "$fwd" = xconnect ]; then
		xctl xconnect p0 p1 || { fail "$name: xconnect"; return 1; }
	fi
	waitfor 60 eval '[ "$(tp_prompts)" -ge 1 ]' ||
		{ fail "$name: testpmd did not come up"; tail -20 "$D/testpmd.log"; return 1; }
	if [ -n "$jumbo" ]; then
		tp_cmd "port config 1 rx_offload scatter on" &&
			tp_cmd "port config 2 rx_offload scatter on" &&
			tp_cmd "port start all" || return 1
	fi
	tp_cmd "show port summary all" || return 1
	if grep -E 'Fail to configure|Start ports failed|Fail to start' "$D/testpmd.log"; then
		fail "$name: testpmd could not start its ports"; return 1
	fi
	if ! grep -q 'net_virtio_user1' "$D/testpmd.log"; then
		fail "$name: testpmd's virtio-user ports did not come up"; grep -iE 'virtio|vhost' "$D/testpmd.log" | head; return 1
	fi
	# Both devices ready on xviod's side before any frame moves, with the
	# features this case is about.
	waitfor 10 eval 'xctl --json show >"$D/xshow.json" 2>&1 && x_check_show' ||
		{ fail "$name: xviod does not show both ports up with the expected features"; x_check_show -v; return 1; }

	tp_cmd "start" || return 1
	# pcap port 0 transmits the b frames (ob*.pcap), pcap port 3 the a frames
	local end=$((SECONDS + 20))
	while :; do
		tp_cmd "show port stats all" >/dev/null || return 1
		[ "$(tp_stat 0 TX-packets)" -ge "$n" ] && [ "$(tp_stat 3 TX-packets)" -ge "$n" ] && break
		[ $SECONDS -ge $end ] && break
		sleep 0.3
	done
	sleep 0.5       # let any extra (duplicate) frame show up
	tp_cmd "show port stats all" || return 1
	local vu0tx vu0rx vu1tx vu1rx
	vu0tx=$(tp_stat 1 TX-packets) vu0rx=$(tp_stat 1 RX-packets)
	vu1tx=$(tp_stat 2 TX-packets) vu1rx=$(tp_stat 2 RX-packets)
	echo "testpmd: virtio_user0 tx $vu0tx rx $vu0rx, virtio_user1 tx $vu1tx rx $vu1rx (sent $n each way)"
	xctl --json stats >"$D/xstats.json" 2>&1
	local p0rx p0tx p1rx p1tx
	p0rx=$(x_stat p0 rx_packets) p0tx=$(x_stat p0 tx_packets)
	p1rx=$(x_stat p1 rx_packets) p1tx=$(x_stat p1 tx_packets)
	echo "xviod:   p0 rx $p0rx tx $p0tx, p1 rx $p1rx tx $p1tx"
	tp_cmd "stop" || return 1
	echo "quit" >&3
	exec 3>&-
	# quitting closes the pcap files (flushes them)
	waitfor 20 eval '! kill -0 ${PIDS[-1]} 2>/dev/null' || echo "testpmd did not quit"

	local ok=1 ord=""
	[ "$q" = 1 ] && ord="--ordered"
	[ "$vu0tx" = "$n" ] && [ "$vu1tx" = "$n" ] || { fail "$name: testpmd sent $vu0tx/$vu1tx of $n"; ok=0; }
	[ "$vu1rx" = "$n" ] || { fail "$name: p0->p1: virtio_user1 received $vu1rx of $n"; ok=0; }
	[ "$vu0rx" = "$n" ] || { fail "$name: p1->p0: virtio_user0 received $vu0rx of $n"; ok=0; }
	[ "$p0rx" = "$n" ] && [ "$p1tx" = "$n" ] || { fail "$name: xviod p0 rx $p0rx / p1 tx $p1tx, want $n"; ok=0; }
	[ "$p1rx" = "$n" ] && [ "$p0tx" = "$n" ] || { fail "$name: xviod p1 rx $p1rx / p0 tx $p0tx, want $n"; ok=0; }
	echo -n "p0->p1 contents: "; python3 "$PCAPIO" cmp --sent "$sa" --got "$ga" $ord || { fail "$name: p0->p1 frames differ"; ok=0; }
	echo -n "p1->p0 contents: "; python3 "$PCAPIO" cmp --sent "$sb" --got "$gb" $ord || { fail "$name: p1->p0 frames differ"; ok=0; }
	cleanup
	[ $ok = 1 ] || { echo "xviod log:"; tail -15 "$D/xviod.log"; }
}

CASES=(
	# name                   ring   mrg q mode   forwarding  max frame  [in_order, default 1]
	"split-mrg-q1-server     split  1   1 server xconnect 1514"
	"split-nomrg-q1-server   split  0   1 server xconnect 1514"
	"packed-mrg-q1-server    packed 1   1 server xconnect 1514"
	"packed-nomrg-q1-server  packed 0   1 server xconnect 1514"
	"split-mrg-q2-server     split  1   2 server xconnect 1514"
	"split-nomrg-q2-server   split  0   2 server xconnect 1514"
	"packed-mrg-q2-server    packed 1   2 server xconnect 1514"
	"packed-nomrg-q2-server  packed 0   2 server xconnect 1514"
	"split-mrg-q1-client     split  1   1 client xconnect 1514"
	"split-nomrg-q1-client   split  0   1 client xconnect 1514"
	"packed-mrg-q1-client    packed 1   1 client xconnect 1514"
	"packed-nomrg-q1-client  packed 0   1 client xconnect 1514"
	"split-mrg-q2-client     split  1   2 client xconnect 1514"
	"split-nomrg-q2-client   split  0   2 client xconnect 1514"
	"packed-mrg-q2-client    packed 1   2 client xconnect 1514"
	"packed-nomrg-q2-client  packed 0   2 client xconnect 1514"
	"split-mrg-q1-bridge     split  1   1 server bridge 1514"
	# the driver's general (not in-order) paths, which QEMU's guests use
	"split-mrg-q1-noinorder  split  1   1 server xconnect 1514 0"
	"split-nomrg-q2-noinorder split 0   2 client xconnect 1514 0"
	"packed-mrg-q1-noinorder packed 1   1 server xconnect 1514 0"
	"packed-nomrg-q2-bridge  packed 0   2 client bridge 1514"
	"split-mrg-jumbo-server  split  1   1 server xconnect 9000"
	# DPDK 22.11's virtio PMD sends a multi-segment frame on a packed ring
	# through an indirect table whose first entry (the virtio-net header)
	# still carries VRING_DESC_F_WRITE from vring_desc_init_indirect_packed();
	# DPDK's vhost ignores the flag there.  A backend that rejects it breaks
	# the queue (desc_write_flag) on the first jumbo frame.
	"packed-mrg-jumbo-client packed 1   2 client xconnect 9000"
)
START=$SECONDS
for c in "${CASES[@]}"; do
	read -r name ring mrg q mode fwd maxlen inorder <<<"$c"
	if [ -n "${TESTPMD_CASES:-}" ] && ! [[ " $TESTPMD_CASES " == *" $name "* ]]; then
		continue
	fi
	CASE_FAILED=0
	run_case "$name" "$ring" "$mrg" "$q" "$mode" "$fwd" "$maxlen" "${inorder:-1}" || CASE_FAILED=1
	cleanup
	if [ $CASE_FAILED = 0 ]; then
		PASSED=$((PASSED + 1)); echo "ok $name"
	else
		FAILED=$((FAILED + 1)); echo "not ok $name"
	fi
done
echo "testpmd_vhost: $PASSED passed, $FAILED failed ($((SECONDS - START)) s)"
[ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]
