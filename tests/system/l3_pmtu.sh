#!/usr/bin/env bash
# Path MTU discovery through the vRouter: a tenant's Linux stack learns the
# MTU of an MPLS-over-GRE path from xviod's ICMP errors, and TCP then works
# across the tunnel with segments that fit.
#
#   host 1 (netns H1)                                       host 2 (netns H2)
#   A1 10.0.0.1/24     ─ pa ┐                             ┌ pa ─ A2 10.0.1.1/24
#      2001:db8:a::1/64     ├ xviod#1 [up0]══veth══[up0] xviod#2 ┤    2001:db8:b::1/64
#      (MTU 1500)           ┘ 172.31.8.1          172.31.8.2      └   (MTU 1500)
#
# Both tenants have MTU 1500; the underlay has MTU 1500, so the MPLSoGRE
# path takes 1500 - 20 (IP) - 4 (GRE) - 4 (label) = 1472 bytes of tenant IP.
# Proves: a 1472-byte DF ping passes; a 1500-byte one is answered with ICMP
# "fragmentation needed" (type 3 code 4) carrying MTU 1472, which Linux puts
# in its route cache (`ip route get` shows mtu 1472) and then refuses larger
# DF pings locally ("message too long, mtu=1472"); the same for IPv6 with
# "packet too big" (the IPv6 ping needs 1500 - 40 - 8 = 1452 bytes of payload
# to exceed 1472); a too-long IPv4 ping without DF is dropped and counted
# (too_big_df_clear); with an empty route cache a TCP transfer both ways
# completes, each end's socket ending with path MTU 1472 and an MSS that
# fits it, from the errors its own segments drew (xviod's counters); and
# when host 2's port to A2 has MTU 1400, host 2 routes the error for A1's
# packet back through the tunnel and A1 learns mtu 1400.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip "apt-get install iproute2"
need_cmd ping "apt-get install iputils-ping"
need_cmd ethtool
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"

s=$(( $$ % 100000 ))
H1=xvpm$s-1 H2=xvpm$s-2 A1=xvpm$s-a1 A2=xvpm$s-a2
netns_add "$H1" "$H2" "$A1" "$A2"
ip link add u1 netns "$H1" type veth peer name u2 netns "$H2"
ip -n "$H1" link set u1 up
ip -n "$H2" link set u2 up
# tenant NS HOSTNS HOSTDEV ADDR4 GW4 ADDR6 GW6
tenant() {
	ip link add "$3" netns "$2" type veth peer name v netns "$1"
	ip -n "$2" link set "$3" up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	ip netns exec "$1" sysctl -qw net.ipv6.conf.v.disable_ipv6=0
	ip -n "$1" addr add "$4" dev v
	ip -n "$1" addr add "$6" dev v nodad
	# The guest completes its own checksums and segments: xviod reads
	# the veth through af_packet, which does neither.
	ip netns exec "$1" ethtool -K v tx off tso off gso off >/dev/null
	ip -n "$1" link set v up
	ip -n "$1" route add default via "$5"
	ip -n "$1" -6 route add default via "$7"
}
tenant "$A1" "$H1" ha1 10.0.0.1/24 10.0.0.254 2001:db8:a::1/64 2001:db8:a::fe
tenant "$A2" "$H2" ha2 10.0.1.1/24 10.0.1.254 2001:db8:b::1/64 2001:db8:b::fe

CTL1=$T_TMP/h1.sock CTL2=$T_TMP/h2.sock
x1() { "$XVIOCTL" --ctl "$CTL1" "$@"; }
x2() { "$XVIOCTL" --ctl "$CTL2" "$@"; }
start_xviod_netns "$H1" "$CTL1" $(( $(nproc) - 1 )) --no-state
start_xviod_netns "$H2" "$CTL2" 0 --no-state
x1 help 2>/dev/null | grep -q underlay-set || skip "this build has no tunnels (src/tnl)"

for h in 1 2; do
	x=x$h
	if [ $h = 1 ]; then me=172.31.8.1 peer=172.31.8.2 here=10.0.0 there=10.0.1 h6=a t6=b
	else me=172.31.8.2 peer=172.31.8.1 here=10.0.1 there=10.0.0 h6=b t6=a; fi
	$x del-flows
	$x add-port pa af_packet dev=ha$h
	$x add-port up0 af_packet dev=u$h
	$x underlay-set up0 ip=$me/24
	$x add-port mg0 mplsogre remote_ip=$peer
	$x vrf-add 1 tenantA
	$x vrf-if-add 1 pa $here.254/24 2001:db8:$h6::fe/64 mac=02:00:5e:00:0$h:a1
	$x route-add 1 $there.0/24 tunnel mplsogre remote=$peer label=101
	$x route-add 1 2001:db8:$t6::/64 tunnel mplsogre remote=$peer label=201
	$x add-flow "priority=10,in_port=pa,actions=route(vrf=1)"
	$x add-flow "priority=10,in_port=mg0,mpls,mpls_label=101,actions=pop_mpls:0x0800,route(vrf=1)"
	$x add-flow "priority=10,in_port=mg0,mpls,mpls_label=201,actions=pop_mpls:0x86dd,route(vrf=1)"
done

counter() {	# HOST NAME: a route-action counter of that xviod
	"$XVIOCTL" --ctl "$T_TMP/h$1.sock" --json vrf-show | json_get "d['counters']['$2']"
}
in_a1() { ip netns exec "$A1" "$@"; }
in_a2() { ip netns exec "$A2" "$@"; }
dump() { x1 vrf-show; x1 stats; x2 stats; in_a1 ip route get 10.0.1.1 || true; }

echo "== the tunnel route's MTU, as the router computed it"
m=$(x1 --json route-show 1 10.0.1.1 | json_get "d[0]['mtu']")
echo "  route-show 1 10.0.1.1: mtu $m"
[ "$m" = 1472 ] || fail "route-show says mtu $m for the MPLSoGRE route, want 1472"

echo "== the tunnel works, and takes a 1472-byte DF packet"
wait_for 15 in_a1 ping -c 1 -W 1 10.0.1.1 || { dump; fail "A1 cannot reach A2"; }
wait_for 15 in_a2 ping -c 1 -W 1 10.0.0.1 || { dump; fail "A2 cannot reach A1"; }
in_a1 ping -c 1 -W 2 -M do -s 1444 10.0.1.1 >/dev/null || { dump; fail "1472-byte DF ping lost"; }

echo "== IPv4 without DF, too long: dropped and counted, not fragmented"
d0=$(counter 1 too_big_df_clear)
in_a1 ping -c 1 -W 1 -M dont -s 1472 10.0.1.1 >/dev/null 2>&1 && fail "a 1500-byte packet crossed a 1472 path"
d1=$(counter 1 too_big_df_clear)
[ "$d1" -gt "$d0" ] || { dump; fail "too_big_df_clear did not count ($d0 -> $d1)"; }

echo "== IPv4 with DF: fragmentation needed, mtu 1472, learned by Linux"
in_a1 ip route flush cache
f0=$(counter 1 frag_needed_sent)
out=$(in_a1 ping -c 1 -W 1 -M do -s 1472 10.0.1.1 2>&1) || true
echo "  first try: $(echo "$out" | grep -iE 'mtu|frag|too long' | head -1)"
route=$(in_a1 ip route get 10.0.1.1)
echo "  A1: $route" | head -2
echo "$route" | grep -q "mtu 1472" || { dump; fail "Linux did not learn mtu 1472: $route"; }
out=$(in_a1 ping -c 1 -W 1 -M do -s 1472 10.0.1.1 2>&1) || true
echo "  second try: $(echo "$out" | grep -i 'too long' | head -1)"
echo "$out" | grep -qi "message too long, mtu=1472" || { echo "$out"; fail "ping did not stop at mtu 1472"; }
f1=$(counter 1 frag_needed_sent)
[ "$f1" -gt "$f0" ] || { dump; fail "frag_needed_sent did not count ($f0 -> $f1)"; }
[ "$(counter 1 too_big)" -gt 0 ] || { dump; fail "too_big did not count"; }

echo "== IPv6: packet too big, mtu 1472, learned by Linux"
wait_for 15 in_a1 ping -6 -c 1 -W 1 2001:db8:b::1 || { dump; fail "A1 cannot reach A2 over IPv6"; }
in_a1 ping -6 -c 1 -W 2 -M do -s 1424 2001:db8:b::1 >/dev/null || { dump; fail "1472-byte IPv6 ping lost"; }
in_a1 ping -6 -c 1 -W 1 -M do -s 1452 2001:db8:b::1 >/dev/null 2>&1 || true
route=$(in_a1 ip -6 route get 2001:db8:b::1)
echo "  A1: $route" | head -2
echo "$route" | grep -q "mtu 1472" || { dump; fail "Linux did not learn IPv6 mtu 1472: $route"; }
in_a1 ping -6 -c 1 -W 2 -M do -s 1424 2001:db8:b::1 >/dev/null || fail "1472-byte IPv6 ping lost after PMTUD"

echo "== TCP both ways with an empty route cache: PMTUD sizes the segments"
in_a1 ip route flush cache
in_a2 ip route flush cache
in_a1 ip route get 10.0.1.1 | grep -q "mtu" && fail "A1's route cache was not flushed"
f0=$(counter 1 frag_needed_sent) g0=$(counter 2 frag_needed_sent)
cat > "$T_TMP/tcp.py" <<'EOF'
# server PORT | client ADDR PORT BYTES: the client sends BYTES, the server
# echoes everything back; each prints "bytes IP_MTU MSS" of its socket.
import socket, sys
IP_MTU = 14
def report(c, n):
    print(n, c.getsockopt(socket.IPPROTO_IP, IP_MTU),
          c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG), flush=True)
if sys.argv[1] == "server":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    c.settimeout(20)
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
        n += len(d)
    report(c, n)
    c.close()
else:
    total = int(sys.argv[4])
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=20)
    block = bytes(range(256)) * 256
    sent = got = 0
    c.setblocking(False)
    import select
    while got < total:
        w = [c] if sent < total else []
        r, w, _ = select.select([c], w, [], 20)
        if not r and not w:
            sys.exit("stalled at sent %d got %d" % (sent, got))
        if w:
            sent += c.send(block[: min(len(block), total - sent)])
            if sent == total:
                c.shutdown(socket.SHUT_WR)
        if r:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
    report(c, got)
EOF
in_a2 /usr/bin/python3 "$T_TMP/tcp.py" server 5201 > "$T_TMP/server.out" 2>&1 &
T_PIDS+=("$!")
wait_for 10 grep -q listening "$T_TMP/server.out" || fail "TCP server did not start"
bytes=2000000
cli=$(in_a1 timeout 60 /usr/bin/python3 "$T_TMP/tcp.py" client 10.0.1.1 5201 $bytes 2>&1) ||
	{ echo "$cli"; dump; fail "TCP transfer failed"; }
wait_for 10 grep -qE '^[0-9]+ ' "$T_TMP/server.out" || { cat "$T_TMP/server.out"; fail "server did not finish"; }
srv=$(grep -E '^[0-9]+ ' "$T_TMP/server.out")
echo "  client (A1): bytes echoed back, path MTU, MSS = $cli"
echo "  server (A2): bytes received,    path MTU, MSS = $srv"
read -r cb cm cs <<< "$cli"
read -r sb sm ss <<< "$srv"
[ "$cb" = $bytes ] && [ "$sb" = $bytes ] || fail "TCP moved $sb/$cb of $bytes bytes"
[ "$cm" = 1472 ] && [ "$sm" = 1472 ] || fail "path MTU not 1472 at both ends ($cm, $sm)"
[ "$cs" -le 1432 ] && [ "$ss" -le 1432 ] || fail "MSS does not fit the path ($cs, $ss)"
f1=$(counter 1 frag_needed_sent) g1=$(counter 2 frag_needed_sent)
echo "  fragmentation needed sent during TCP: host 1 $(( f1 - f0 )), host 2 $(( g1 - g0 ))"
[ "$f1" -gt "$f0" ] && [ "$g1" -gt "$g0" ] || fail "no ICMP error drove the TCP ends' PMTU"

echo "== a far port with a smaller MTU: the error goes back through the tunnel"
# Host 2's interface to A2 gets MTU 1400: a packet from A1 that crossed the
# tunnel is too long there, and host 2 owes A1 the error, routed back into
# the tunnel from its gateway address.
x2 vrf-if-del pa
x2 vrf-if-add 1 pa 10.0.1.254/24 2001:db8:b::fe/64 mac=02:00:5e:00:02:a1 mtu=1400
in_a1 ip route flush cache
wait_for 15 in_a1 ping -c 1 -W 1 10.0.1.1 || { dump; fail "A1 cannot reach A2 after the change"; }
g0=$(counter 2 frag_needed_sent)
out=$(in_a1 ping -c 1 -W 1 -M do -s 1444 10.0.1.1 2>&1) || true
echo "  first try: $(echo "$out" | grep -iE 'mtu|frag' | head -1)"
echo "$out" | grep -q "From 10.0.1.254.*mtu = 1400" || { echo "$out"; dump; fail "no error from host 2"; }
route=$(in_a1 ip route get 10.0.1.1)
echo "$route" | grep -q "mtu 1400" || { dump; fail "Linux did not learn mtu 1400: $route"; }
[ "$(counter 2 frag_needed_sent)" -gt "$g0" ] || fail "host 2 did not count the error"
in_a1 ping -c 1 -W 2 -M do -s 1372 10.0.1.1 >/dev/null || fail "a 1400-byte ping was lost"
echo "PASS"
