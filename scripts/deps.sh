#!/usr/bin/env bash
# Install the Debian packages xvio needs, only those missing.
#   scripts/deps.sh build   compilers, meson, libraries
#   scripts/deps.sh test    build + the peers the system tests use
#   scripts/deps.sh bench   test + what the benchmarks plot with
set -euo pipefail

build_pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	liburcu-dev libjansson-dev libcmocka-dev libxdp-dev libbpf-dev)
test_pkgs=(iproute2 iputils-ping dpdk dpdk-dev librte-net-virtio23 librte-net-vhost23
	librte-net-pcap23 openvswitch-switch-dpdk tshark
	python3-scapy iperf3 qemu-system-x86 procps psmisc
	nftables conntrack ethtool)
bench_pkgs=(python3-matplotlib linux-perf)

want=("${build_pkgs[@]}")
case "${1:-build}" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
