#!/usr/bin/env bash
# Port security and security groups between two network namespaces, with
# the kernel's own TCP, ping and ARP as the traffic:
#
#   netns A (client)          root netns                          netns B (server)
#   10.78.0.1/24                                                  10.78.0.2/24, listens on 8080 and 8081
#   vA ───────veth─────── hA [pa af_packet]  xviod  [pb af_packet] hB ───────veth─────── vB
#
# 1. port security on both: ping passes; a spoofed source IP (ping -I from
#    an address A was not given) and a spoofed MAC are dropped and counted
#    (port_security_ip / _arp / _mac in `stats`).
# 2. security groups, stateless (no conntrack needed): B admits TCP 8080
#    from 10.78.0.0/24 and nothing else; A admits replies from B by rule.
#    8080 connects, 8081 does not (sg_ingress_denied counts), ping to B
#    is blocked, rule hits show in sg-show.
# 3. the same, stateful: A has no ingress rule at
#    all, so the SYN-ACK of the allowed connection reaches A only as
#    established traffic; a connection B opens towards A is blocked.
#    Then IPv6 (port security pins fd78::1/2 and the MAC's link-local
#    address): blocked until IPv6 rules exist, 8080 then passes, 8081 not.
# 4. unbinding and clearing port security restores plain switching and
#    leaves no compiled flow.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
need_cmd ethtool "apt-get install ethtool"
PY=/usr/bin/python3
[ -x $PY ] || skip "/usr/bin/python3 missing"

s=$(( $$ % 100000 ))
NSA=xvsg$s-a NSB=xvsg$s-b
HA=xg${s}ha HB=xg${s}hb
MAC_A=02:00:00:78:00:01 MAC_B=02:00:00:78:00:02

ip netns add "$NSA" 2>/dev/null || skip "cannot create network namespaces here"
T_CLEANUP+=("ip netns del $NSA")
ip netns add "$NSB"
T_CLEANUP+=("ip netns del $NSB")
ip link add "$HA" type veth peer name vA netns "$NSA"
T_CLEANUP+=("ip link del $HA")
ip link add "$HB" type veth peer name vB netns "$NSB"
T_CLEANUP+=("ip link del $HB")
for side in "$NSA vA $MAC_A 10.78.0.1 fd78::1" "$NSB vB $MAC_B 10.78.0.2 fd78::2"; do
	set -- $side
	ip -n "$1" link set lo up
	ip -n "$1" link set "$2" address "$3"
	ip -n "$1" addr add "$4/24" dev "$2"
	ip -n "$1" addr add "$5/64" dev "$2" nodad
	# af_packet ports pass frames as the kernel hands them over, and a
	# veth leaves TCP checksums to "hardware": compute them in software.
	ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
	ip -n "$1" link set "$2" up
done
for h in "$HA" "$HB"; do
	sysctl -qw "net.ipv6.conf.$h.disable_ipv6=1" 2>/dev/null || true
	ip link set "$h" up
done

# A TCP server on 8080 and 8081 in B (it answers "ok" and closes).
cat >"$T_TMP/srv.py" <<'EOF'
import selectors, socket
sel = selectors.DefaultSelector()
for addr in ("10.78.0.2", "fd78::2"):
    for port in (8080, 8081):
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port)); s.listen(16); sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept(); c.sendall(b"ok"); c.close()
EOF
ip netns exec "$NSB" $PY "$T_TMP/srv.py" &
T_PIDS+=($!)
# connects NS PORT [SRC [DST]]: exit 0 if a TCP connection to DST (B's
# IPv4 address unless given):PORT gets "ok" within 1 s.
connects() {
	ip netns exec "$1" $PY -c "
import socket, sys
src = (sys.argv[3], 0) if len(sys.argv) > 3 else None
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 1.0, src)
sys.exit(0 if s.recv(2) == b'ok' else 1)" \
		"${4:-10.78.0.2}" "$2" ${3:+"$3"} 2>>"$T_TMP/connects.err"
}
pings() { ip netns exec "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }
sec() { xc --json stats | json_get "d['security'].get('$1', 0)"; }

start_xviod
xc add-port pa af_packet dev="$HA"
xc add-port pb af_packet dev="$HB"
wait_for 5 connects "$NSA" 8080 || { cat "$T_TMP/connects.err"; fail "no TCP through the plain switch"; }

echo "== 1. port security"
xc port-security pa mac=$MAC_A ip=10.78.0.1,fd78::1
xc port-security pb mac=$MAC_B ip=10.78.0.2,fd78::2
xc port-security-show
pings "$NSA" 10.78.0.2 || fail "ping with port security on"
connects "$NSA" 8081 || fail "TCP with port security on"
ip0=$(sec port_security_ip) arp0=$(sec port_security_arp)
ip -n "$NSA" addr add 10.78.0.9/32 dev vA
ip -n "$NSA" route add 10.78.0.200/32 dev vA src 10.78.0.9
ip netns exec "$NSA" ping -c 2 -i 0.2 -W 1 -I 10.78.0.9 10.78.0.2 >/dev/null 2>&1 &&
	fail "ping from a spoofed source IP got an answer"
ip netns exec "$NSA" ping -c 2 -i 0.2 -W 1 10.78.0.200 >/dev/null 2>&1 || true	# ARP from .9
[ "$(sec port_security_ip)" -gt "$ip0" ] || fail "spoofed IP not counted (port_security_ip)"
[ "$(sec port_security_arp)" -gt "$arp0" ] || fail "spoofed ARP not counted (port_security_arp)"
ip -n "$NSA" addr del 10.78.0.9/32 dev vA
mac0=$(sec port_security_mac)
ip -n "$NSA" link set vA address 02:00:00:78:00:99
ip -n "$NSA" neigh flush dev vA
pings "$NSA" 10.78.0.2 && fail "ping from a spoofed MAC got an answer"
[ "$(sec port_security_mac)" -gt "$mac0" ] || fail "spoofed MAC not counted (port_security_mac)"
ip -n "$NSA" link set vA address $MAC_A
ip -n "$NSA" neigh flush dev vA
xc stats | grep "security drops"
xc --json stats | json_get "d['security']['ports']['pa']" | grep -q port_security_mac ||
	fail "per-port counters missing"

# groups PHASE: B admits 8080 only; A admits what the phase needs.
check_groups() {
	local label=$1 den0
	connects "$NSA" 8080 || { xc dump-flows; fail "$label: allowed port 8080 blocked"; }
	den0=$(sec sg_ingress_denied)
	connects "$NSA" 8081 && fail "$label: port 8081 passed"
	pings "$NSA" 10.78.0.2 && fail "$label: ping to B passed without a rule"
	[ "$(sec sg_ingress_denied)" -gt "$den0" ] || fail "$label: denials not counted"
	xc sg-show
	[ "$(xc --json sg-show web | json_get "d[0]['rules'][0]['n_packets']")" -gt 0 ] ||
		fail "$label: the allowing rule has no hits"
}

echo "== 2. security groups, stateless"
xc sg-create web stateless
xc sg-rule-add web ingress proto=tcp port=8080 remote=10.78.0.0/24
xc sg-rule-add web egress proto=tcp
xc sg-create cli stateless
xc sg-rule-add cli egress
xc sg-rule-add cli ingress proto=tcp remote-group=web	# the server's replies
xc sg-bind pb web
xc sg-bind pa cli
check_groups stateless
xc sg-unbind pa
xc sg-unbind pb
xc sg-delete cli
xc sg-delete web

echo "== 3. security groups, stateful"
xc sg-create web
xc sg-rule-add web ingress proto=tcp port=8080 remote=10.78.0.0/24
xc sg-create cli
xc sg-rule-add cli egress
xc sg-bind pb web
xc sg-bind pa cli
check_groups stateful
# IPv6: neighbour discovery passes the groups, TCP needs IPv6 rules.
connects "$NSA" 8080 "" fd78::2 && fail "stateful: IPv6 passed with IPv4 rules only"
xc sg-rule-add web ingress proto=tcp port=8080 ethertype=ipv6
xc sg-rule-add cli egress ethertype=ipv6
wait_for 5 connects "$NSA" 8080 "" fd78::2 || fail "stateful: IPv6 to 8080 blocked"
connects "$NSA" 8081 "" fd78::2 && fail "stateful: IPv6 to 8081 passed"
# B may not open towards A: no ingress rule on A, no egress rule on B.
ip netns exec "$NSA" $PY -c "
import socket; s = socket.socket(); s.bind(('10.78.0.1', 9090)); s.listen(1); s.settimeout(3)
try: s.accept()
except OSError: pass" &
lp=$!
sleep 0.3
connects "$NSB" 9090 "" 10.78.0.1 && fail "stateful: B opened a connection to A"
wait $lp || true
xc ct-dump | head -5
xc sg-unbind pa
xc sg-unbind pb

echo "== 4. back to plain switching"
xc port-security pa off
xc port-security pb off
[ "$(xc --json dump-flows | json_get "len([f for f in d if f['cookie'] >> 48 == 0x5347])")" = 0 ] ||
	fail "compiled flows left behind"
connects "$NSA" 8081 || fail "plain switching after clearing"
kill -0 "$XVIOD_PID" || fail "xviod died"
echo "PASS"
