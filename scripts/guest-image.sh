#!/usr/bin/env bash
# Build the test guest: the Debian cloud kernel and a busybox initramfs with
# iperf3 and ethtool, all from Debian packages (apt-get download + dpkg-deb -x,
# nothing installed on the host). Prints the directory holding `vmlinuz` and
# `initrd.img`.
#
#   scripts/guest-image.sh [--print-key]
#
# The image is cached in $XVIO_GUEST_CACHE (default /var/cache/xvio/guest)
# under a key made of the exact package versions, so it is built once and
# rebuilt only when Debian ships a new kernel, busybox, iperf3, ethtool or libc.
#
# The guest's /init loads the virtio-net modules, configures eth0 from the
# kernel command line and then serves commands on its second serial port
# (ttyS1): the host writes "NONCE COMMAND\n", the guest runs COMMAND with sh
# and answers with its output, then "@@XVIO-DONE NONCE RC". The first serial
# port (ttyS0) is the kernel console. Command-line parameters read by /init:
#   xvio.ip=ADDR/LEN   address of eth0      xvio.mtu=N      MTU of eth0
#   xvio.name=NAME     hostname (in the console log)
set -euo pipefail

cache=${XVIO_GUEST_CACHE:-/var/cache/xvio/guest}
# Packages that go into the guest. The kernel is resolved through the
# linux-image-cloud-amd64 metapackage (small, virtio drivers as modules);
# linux-image-amd64 is the fallback where the cloud flavour is missing.
libs=(libc6 libssl3 libsctp1 libiperf0 iperf3 libmnl0 ethtool busybox-static)

die() { echo "guest-image: $*" >&2; exit 1; }
command -v apt-cache >/dev/null || die "needs apt (Debian)"
command -v dpkg-deb >/dev/null || die "needs dpkg-deb"

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/{print $2}'; }

kmeta=linux-image-cloud-amd64
kv=$(candidate "$kmeta")
if [ -z "$kv" ] || [ "$kv" = "(none)" ]; then
	kmeta=linux-image-amd64
	kv=$(candidate "$kmeta")
fi
[ -n "$kv" ] && [ "$kv" != "(none)" ] || die "no Debian kernel package known to apt (run apt-get update)"
kpkg=$(apt-cache depends "$kmeta=$kv" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$kpkg" ] || die "cannot resolve $kmeta to a kernel package"

pkgs=("$kpkg" "${libs[@]}")
key_text=""
for p in "${pkgs[@]}"; do
	v=$(candidate "$p")
	[ -n "$v" ] && [ "$v" != "(none)" ] || die "package $p unknown to apt (run apt-get update)"
	key_text+="$p=$v "
done
# So is this script (module list, /init).
key_text+="script=$(sha256sum <"$0" | cut -c1-12)"
key=$(echo "$key_text" | sha256sum | cut -c1-16)
out=$cache/$key
if [ "${1:-}" = "--print-key" ]; then echo "$key_text"; exit 0; fi
if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
# Another build may have finished while we waited for the lock.
if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then echo "$out"; exit 0; fi

work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "guest-image: building $key from: $key_text" >&2
mkdir -p "$work/debs" "$work/x"
chmod 777 "$work/debs" # apt's download user (_apt) writes here
for p in "${pkgs[@]}"; do
	(cd "$work/debs" && apt-get download -q "$p=$(candidate "$p")" >/dev/null 2>"$work/apt.err") ||
		die "apt-get download $p failed: $(tail -1 "$work/apt.err")"
done
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$work/x"; done

x=$work/x
kver=${kpkg#linux-image-}
[ -f "$x/boot/vmlinuz-$kver" ] || die "no vmlinuz-$kver in $kpkg"

root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules,lib64,usr/lib/x86_64-linux-gnu}
cp "$x/bin/busybox" "$root/bin/busybox"
# The few modules between the PCI bus and eth0, in load order (the Debian
# cloud kernel builds all of them as modules).
mods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
for m in $mods; do
	f=$(find "$x/lib/modules/$kver" -name "$m.ko*" | head -1)
	if [ -z "$f" ]; then
		grep -q "/$m.ko" "$x/lib/modules/$kver/modules.builtin" 2>/dev/null ||
			die "module $m neither built in nor shipped in $kpkg"
		continue
	fi
	case $f in
	*.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
	*) cp "$f" "$root/lib/modules/$m.ko" ;;
	esac
	echo "$m" >>"$root/lib/modules/order"
done
# iperf3 and ethtool with their shared libraries, all from the packages above.
cp "$x/usr/bin/iperf3" "$root/bin/"
cp "$x/usr/sbin/ethtool" "$root/sbin/" 2>/dev/null || cp "$x/sbin/ethtool" "$root/sbin/"
cp -a "$x"/lib/x86_64-linux-gnu/. "$root/usr/lib/x86_64-linux-gnu/" 2>/dev/null || true
cp -a "$x"/usr/lib/x86_64-linux-gnu/. "$root/usr/lib/x86_64-linux-gnu/"
# Drop what the guest never loads (gconv, audit, engines, docs).
rm -rf "$root"/usr/lib/x86_64-linux-gnu/{gconv,engines-3,ossl-modules,audit}
ldso=$(find "$x" -name 'ld-linux-x86-64.so.2' | head -1)
cp -L "$ldso" "$root/lib64/ld-linux-x86-64.so.2"
ln -s usr/lib "$root/lib/x86_64-linux-gnu" 2>/dev/null || true
rm -f "$root/lib/x86_64-linux-gnu"
ln -s ../usr/lib/x86_64-linux-gnu "$root/lib/x86_64-linux-gnu"
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "127.0.0.1 localhost" >"$root/etc/hosts"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko; done
ip=; mtu=; name=guest
for a in $(cat /proc/cmdline); do
	case $a in
	xvio.ip=*) ip=${a#xvio.ip=} ;;
	xvio.mtu=*) mtu=${a#xvio.mtu=} ;;
	xvio.name=*) name=${a#xvio.name=} ;;
	esac
done
hostname "$name"
ip link set lo up
for _ in $(seq 50); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
if [ -e /sys/class/net/eth0 ]; then
	[ -n "$mtu" ] && ip link set eth0 mtu "$mtu"
	[ -n "$ip" ] && ip addr add "$ip" dev eth0
	ip link set eth0 up
	echo "xvio-guest $name: eth0 $ip mtu $(cat /sys/class/net/eth0/mtu)"
else
	echo "xvio-guest $name: no eth0"
fi
# The command channel: ttyS1, raw, no echo. One command at a time.
stty -F /dev/ttyS1 raw -echo 2>/dev/null
echo "xvio-guest $name: ready"
while true; do
	while read -r nonce cmd; do
		[ -n "$nonce" ] || continue
		sh -c "$cmd" >/tmp/.out 2>&1 </dev/null
		rc=$?
		cat /tmp/.out
		echo "@@XVIO-DONE $nonce $rc"
	done </dev/ttyS1 >/dev/ttyS1
	sleep 0.1
done
INIT
chmod 755 "$root/init"

mkdir -p "$work/out"
cp "$x/boot/vmlinuz-$kver" "$work/out/vmlinuz"
# busybox from the guest packages writes the archive, so the host needs no cpio.
(cd "$root" && find . | "$x/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$work/out/initrd.img"
echo "$key_text" >"$work/out/packages"
rm -rf "$out"
mv "$work/out" "$out"
echo "guest-image: built $out ($(du -sh "$out/initrd.img" | cut -f1) initramfs)" >&2
echo "$out"
