# QEMU guests for the system tests (sourced after lib.sh, not run).
#
#   vm_setup                      skip unless qemu and the guest image are there;
#                                 pick KVM or TCG (VM_ACCEL) by probing, print it
#   vm_start NAME SOCK [opts]     boot a guest on vhost-user socket SOCK
#       --server                  QEMU creates SOCK (xviod connects: add-port ... client)
#                                 default: xviod owns SOCK, QEMU connects (reconnect=1)
#       --ip A/LEN  --mac M  --mtu N  --queues N  --smp N  --mem MiB
#       --incoming URI            a migration destination (QEMU waits for the state)
#       --paused                  with --incoming: stay paused once the state is in
#                                 (QEMU -S) until {"execute":"cont"}
#       --mem-file PATH           guest RAM in the file PATH (tmpfs), shared: the
#                                 source and destination of a migration on this
#                                 host map the same RAM (vm_migrate.sh says why)
#       --dev-opts OPTS           extra virtio-net-pci properties (csum=off,...)
#   vm_wait NAME [SECS]           until the guest answers on its command channel
#   vm_run NAME [-t SECS] CMD     run CMD in the guest (sh -c), print output, return rc
#   vm_bg NAME CMD [TAG]          start CMD in the guest in the background (output to /tmp/bg.TAG)
#   vm_bg_wait NAME TAG [SECS]    wait for it, print its output, return its status
#   vm_qmp NAME JSON              one QMP command, prints the "return" JSON
#   vm_stop NAME                  quit QEMU, wait for it to exit
#
# Each guest NAME gets a directory $T_TMP/vm-NAME with its console log
# (console.log), QEMU's stderr (qemu.log), the command channel (cmd.sock) and
# QMP (qmp.sock). QEMU's PID goes into T_PIDS, so lib.sh's exit trap ends it
# (and only it) even when a test fails half way.
#
# QEMU 7.2 under TCG segfaults in msix_set_vector_notifiers when the guest sets
# DRIVER_OK on a vhost-user virtio-net-pci device with MSI-X; the device gets
# vectors=0 (legacy INTx) whenever TCG runs.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_ROOT=$(cd "$VM_DIR/../.." && pwd)
VM_CHAN="$VM_DIR/vm_chan.py"
VM_BOOT_SECS=${VM_BOOT_SECS:-180}
declare -A VM_PID VM_NEXT_MAC
# On failure, show what each guest's QEMU and console said last, and, for a
# guest that is still running, what it is doing (vm_diag): a failure under
# TCG is rarely reproducible on demand, so it has to explain itself.
# A test may define vm_test_diag for its own evidence (the switch's rings):
# it runs first, before anything here can disturb them.
fail() {
	echo "FAIL: $*"
	local d
	[ "$(type -t vm_test_diag)" = function ] && vm_test_diag
	for d in "$T_TMP"/vm-*; do
		[ -d "$d" ] || continue
		vm_diag "${d##*/vm-}"
	done
	exit 1
}
VM_MAC_SEQ=0

# vm_hmp NAME CMD: one human-monitor command over QMP, its text.
vm_hmp() { python3 "$VM_CHAN" hmp "$T_TMP/vm-$1/qmp.sock" "${3:-10}" "$2"; }

# vm_diag NAME: the evidence on a guest. Its console (the kernel's own
# complaints: soft lockups, "nobody cared", RCU stalls, virtio timeouts) and
# QEMU's log; while it runs: the run state, the vCPU (halted or where it
# spins, sampled three times), the interrupt controllers, and the guest's
# own view of its blocked tasks and CPU, by magic SysRq from the keyboard
# (vm_start boots with sysrq_always_enabled).
vm_diag() {
	local n=$1 d=$T_TMP/vm-$1 i
	echo "--- vm $n: QEMU log (last lines)"
	tail -n 5 "$d/qemu.log" 2>/dev/null
	if [ -n "${VM_PID[$n]:-}" ] && ! vm_alive "$n"; then
		local rc=0
		wait "${VM_PID[$n]}" 2>/dev/null || rc=$?
		echo "--- vm $n: QEMU exited with status $rc (with -no-reboot a guest panic ends QEMU)"
	elif [ -n "${VM_PID[$n]:-}" ] && [ -S "$d/qmp.sock" ]; then
		echo "--- vm $n: QEMU pid ${VM_PID[$n]} state $(awk '{print $3}' "/proc/${VM_PID[$n]}/stat" 2>/dev/null), query-status: $(vm_qmp "$n" '{"execute":"query-status"}' 5 2>&1)"
		for i in 1 2 3; do
			echo "--- vm $n: vCPU sample $i: $(vm_hmp "$n" "info registers" 2>&1 | grep -E '^(RIP|EFL|CS |CR0)' | tr -s ' \n' ' ')"
			sleep 0.3
		done
		vm_hmp "$n" "x/6i \$pc" 2>&1 | sed "s/^/vm $n: /"
		echo "--- vm $n: info pic"
		vm_hmp "$n" "info pic" 2>&1 | head -40
		echo "--- vm $n: info irq"
		vm_hmp "$n" "info irq" 2>&1 | awk '$2 > 0'
		echo "--- vm $n: virtio-net as QEMU sees it"
		vm_virtio_status "$n" 2>&1
		# SysRq w (blocked tasks) and l (CPU backtrace) land in the console.
		for i in w l; do
			vm_hmp "$n" "sendkey alt-sysrq-$i" 5 >/dev/null 2>&1
		done
		sleep 3
	fi
	echo "--- vm $n: console (last lines)"
	tail -n "${VM_DIAG_CONSOLE_LINES:-60}" "$d/console.log" 2>/dev/null
}

# vm_virtio_status NAME: QEMU's view of the virtio-net device (ISR, vhost
# started, broken). Not "info virtio-queue-status": on a vhost device QEMU
# 7.2 answers it with a GET_VRING_BASE, which stops the backend's ring.
vm_virtio_status() {
	local path
	path=$(vm_qmp "$1" '{"execute":"x-query-virtio"}' 5 | python3 -c 'import json,sys
for d in json.load(sys.stdin):
    if d.get("name") == "virtio-net": print(d["path"])' | head -1)
	[ -n "$path" ] || { echo "(no virtio-net device listed)"; return; }
	vm_hmp "$1" "info virtio-status $path" | grep -E '^ *(device_name|isr|vhost_started|broken|disabled|started|status):' | head -8
}

# The slow part of a guest test is TCG itself; say it in the output.
vm_setup() {
	need_root
	need_cmd qemu-system-x86_64 "apt-get install qemu-system-x86"
	local img
	img=$("$VM_ROOT/scripts/guest-image.sh" 2>"$T_TMP/guest-image.log") ||
		skip "no guest image: $(tail -1 "$T_TMP/guest-image.log")"
	VM_KERNEL=$img/vmlinuz
	VM_INITRD=$img/initrd.img
	vm_pick_accel
	echo "vm: accel=$VM_ACCEL ($VM_ACCEL_WHY), kernel $(cut -d' ' -f1 "$img/packages")"
}

# KVM only if a guest really boots under it: on a PVM host /dev/kvm opens but
# a stock guest kernel hangs. The probe boots the guest without a network and
# waits for its command channel. Its answer is cached per host boot and QEMU,
# since it cannot change before the host reboots. XVIO_VM_ACCEL forces one.
vm_pick_accel() {
	if [ -n "${XVIO_VM_ACCEL:-}" ]; then
		VM_ACCEL=$XVIO_VM_ACCEL VM_ACCEL_WHY="forced by XVIO_VM_ACCEL"
		return
	fi
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		VM_ACCEL=tcg VM_ACCEL_WHY="no usable /dev/kvm"
		return
	fi
	local cache=${XVIO_GUEST_CACHE:-/var/cache/xvio/guest}
	local id
	id=$(cat /proc/sys/kernel/random/boot_id)-$(qemu-system-x86_64 --version | head -1 | tr -dc '0-9.')-$(basename "$(dirname "$VM_KERNEL")")
	local f=$cache/accel-probe.$id
	if [ -s "$f" ]; then
		read -r VM_ACCEL VM_ACCEL_WHY <"$f"
		VM_ACCEL_WHY="$VM_ACCEL_WHY, probed earlier this host boot"
		return
	fi
	local secs=${VM_KVM_PROBE_SECS:-25}
	if VM_FORCE_ACCEL=kvm vm_start kvmprobe "" && vm_wait kvmprobe "$secs" 2>/dev/null; then
		VM_ACCEL=kvm VM_ACCEL_WHY="a probe guest booted under KVM"
	else
		VM_ACCEL=tcg VM_ACCEL_WHY="/dev/kvm present but a probe guest did not boot under KVM in ${secs} s"
	fi
	vm_kill kvmprobe
	rm -f "$cache"/accel-probe.*
	echo "$VM_ACCEL $VM_ACCEL_WHY" >"$f"
}

vm_start() {
	local name=$1 sock=$2; shift 2
	local server=0 ip="" mac="" mtu="" queues=1 smp=1 mem=256 incoming="" devopts="" memfile="" paused=0
	while [ $# -gt 0 ]; do
		case $1 in
		--server) server=1 ;;
		--ip) ip=$2; shift ;;
		--mac) mac=$2; shift ;;
		--mtu) mtu=$2; shift ;;
		--queues) queues=$2; shift ;;
		--smp) smp=$2; shift ;;
		--mem) mem=$2; shift ;;
		--incoming) incoming=$2; shift ;;
		--mem-file) memfile=$2; shift ;;
		--paused) paused=1 ;;
		--dev-opts) devopts=",$2"; shift ;;
		*) fail "vm_start: unknown option $1" ;;
		esac
		shift
	done
	local accel=${VM_FORCE_ACCEL:-$VM_ACCEL}
	local d=$T_TMP/vm-$name
	mkdir -p "$d"
	rm -f "$d/cmd.sock" "$d/qmp.sock"
	if [ -z "$mac" ]; then
		VM_MAC_SEQ=$((VM_MAC_SEQ + 1))
		mac=$(printf '52:54:00:%02x:%02x:%02x' $(($$ % 256)) $((($$ / 256) % 256)) "$VM_MAC_SEQ")
	fi
	local append="console=ttyS0 panic=-1 loglevel=5 sysrq_always_enabled xvio.name=$name"
	[ -n "$ip" ] && append+=" xvio.ip=$ip"
	[ -n "$mtu" ] && append+=" xvio.mtu=$mtu"
	# vhost-user needs the RAM shared with the backend: a memfd, or a file.
	local memobj="memory-backend-memfd,id=mem0,size=${mem}M,share=on"
	[ -n "$memfile" ] && memobj="memory-backend-file,id=mem0,size=${mem}M,mem-path=$memfile,share=on"
	local args=(-name "$name" -machine "pc,accel=$accel" -m "$mem" -smp "$smp"
		-nodefaults -no-user-config -display none -vga none -no-reboot
		-object "$memobj" -numa node,memdev=mem0
		-kernel "$VM_KERNEL" -initrd "$VM_INITRD" -append "$append"
		-chardev "file,id=con,path=$d/console.log" -serial chardev:con
		-chardev "socket,id=cmd,path=$d/cmd.sock,server=on,wait=off" -serial chardev:cmd
		-qmp "unix:$d/qmp.sock,server=on,wait=off")
	[ "$accel" = kvm ] && args+=(-cpu host)
	if [ -n "$sock" ]; then
		local chr="socket,id=vu0,path=$sock"
		if [ $server -eq 1 ]; then chr+=",server=on,wait=off"; else chr+=",reconnect=1"; fi
		local dev="virtio-net-pci,netdev=n0,mac=$mac"
		if [ "$accel" = tcg ]; then
			dev+=",vectors=0"
		elif [ "$queues" -gt 1 ]; then
			dev+=",vectors=$((2 * queues + 2))"
		fi
		[ "$queues" -gt 1 ] && dev+=",mq=on"
		[ -n "$mtu" ] && dev+=",host_mtu=$mtu"
		args+=(-chardev "$chr" -netdev "vhost-user,id=n0,chardev=vu0,queues=$queues"
			-device "$dev$devopts")
	fi
	[ -n "$incoming" ] && args+=(-incoming "$incoming")
	[ $paused -eq 1 ] && args+=(-S)
	echo "qemu-system-x86_64 ${args[*]}" >"$d/cmdline"
	printf '%s\0' "${args[@]}" >"$d/args"
	[ -z "$incoming" ] && touch "$d/may-reboot"
	VM_NEXT_MAC[$name]=$mac
	vm_launch "$name"
}

vm_launch() {
	local d=$T_TMP/vm-$1 args
	mapfile -d '' args <"$d/args"
	qemu-system-x86_64 "${args[@]}" >>"$d/qemu.log" 2>&1 &
	VM_PID[$1]=$!
	T_PIDS+=("$!")
}

# vm_mac NAME: the MAC vm_start gave the guest.
vm_mac() { echo "${VM_NEXT_MAC[$1]}"; }

vm_alive() { kill -0 "${VM_PID[$1]}" 2>/dev/null; }

vm_wait() {
	local name=$1 secs=${2:-$VM_BOOT_SECS}
	local d=$T_TMP/vm-$name end=$(( $(date +%s) + secs ))
	while :; do
		if ! vm_alive "$name"; then
			local rc=0
			wait "${VM_PID[$name]}" 2>/dev/null || rc=$?
			# Status 0 before the guest answered is a guest reset during boot
			# (-no-reboot turns it into an exit): seen now and then under TCG on
			# a loaded host. Boot it once more, and say so.
			if [ $rc -eq 0 ] && [ -e "$d/may-reboot" ]; then
				rm -f "$d/may-reboot" "$d/cmd.sock" "$d/qmp.sock"
				echo "vm $name: guest reset during boot (console: $(tail -2 "$d/console.log" | tr '\n' ' ')); booting it again" >&2
				mv "$d/console.log" "$d/console.log.1" 2>/dev/null
				vm_launch "$name"
				continue
			fi
			echo "vm $name: QEMU exited (status $rc): $(tail -3 "$d/qemu.log")" >&2
			return 1
		fi
		if [ -S "$d/cmd.sock" ] && python3 "$VM_CHAN" cmd "$d/cmd.sock" 5 true >/dev/null 2>&1; then
			return 0
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "vm $name: no answer in $secs s; QEMU state $(awk '{print $3}' "/proc/${VM_PID[$name]}/stat"); console and QEMU log:" >&2
			tail -n 5 "$d/console.log" "$d/qemu.log" >&2
			return 1
		fi
		sleep 0.5
	done
}

vm_run() {
	local t=120
	if [ "$2" = -t ]; then t=$3; set -- "$1" "${@:4}"; fi
	python3 "$VM_CHAN" cmd "$T_TMP/vm-$1/cmd.sock" "$t" "$2"
}

# The guest's shell waits for a command's output, so a long runner goes to
# the background with its output in a file the test can read later.
vm_bg() {
	local tag=${3:-job}
	vm_run "$1" -t 30 "rm -f /tmp/bg.$tag.rc; ( ($2) >/tmp/bg.$tag 2>&1; echo \$? >/tmp/bg.$tag.rc ) & echo \$! >/tmp/bg.$tag.pid"
}

# vm_bg_wait NAME TAG [SECS]: wait for a vm_bg job, print its output, return its status.
vm_bg_wait() {
	local end=$(( $(date +%s) + ${3:-120} ))
	until vm_run "$1" -t 20 "test -s /tmp/bg.$2.rc" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || { echo "vm $1: job $2 still running" >&2; return 124; }
		sleep 0.5
	done
	vm_run "$1" -t 60 "cat /tmp/bg.$2"
	return "$(vm_run "$1" -t 20 "cat /tmp/bg.$2.rc")"
}

vm_qmp() { python3 "$VM_CHAN" qmp "$T_TMP/vm-$1/qmp.sock" "${3:-30}" "$2"; }

vm_kill() {
	local p=${VM_PID[$1]:-}
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	unset "VM_PID[$1]"
}

vm_stop() {
	[ -n "${VM_PID[$1]:-}" ] || return 0
	vm_qmp "$1" '{"execute":"quit"}' 10 >/dev/null 2>&1 || true
	vm_kill "$1"
}

# vm_ping_stats OUTPUT: "loss% avg_ms" from busybox or iputils ping output.
vm_ping_stats() {
	awk '/packet loss/{for(i=1;i<=NF;i++) if($i ~ /%$/) loss=$i}
	     /min\/avg\/max/{split($0,a,"= "); split(a[2],b,"/"); avg=b[2]}
	     END{print loss, avg}'
}
