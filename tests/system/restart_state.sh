#!/usr/bin/env bash
# The state file brings back everything the control socket built: xviod is
# configured through xvioctl (ports of three kinds, a cross-connect, flows,
# groups, meters, MAC aging, port security and security groups), killed
# with -9, and started again with only its control socket path (the state
# file is the one beside it). Every dump must read as before; a command
# that failed was not saved; a saved command that no longer works is
# dropped at replay and kept in .rejected; --no-state starts empty.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip iproute2

VA=xsa$$ VB=xsb$$
ip link add "$VA" type veth peer name "${VA}p" || skip "cannot create veths"
T_CLEANUP+=("ip link del $VA")
ip link add "$VB" type veth peer name "${VB}p" || skip "cannot create veths"
T_CLEANUP+=("ip link del $VB")

start_xviod
xc add-port t1 tap dev="xst$$" >/dev/null || fail "add-port tap"
xc add-port a1 af_packet dev="$VA" >/dev/null || fail "add-port af_packet"
xc add-port a2 af_packet dev="$VB" >/dev/null || fail "add-port af_packet"
xc add-port v1 vhost-user path="$T_TMP/v1.sock" >/dev/null || fail "add-port vhost-user"
xc add-port v2 vhost-user path="$T_TMP/v2.sock" >/dev/null || fail "add-port vhost-user"
xc xconnect v1 v2 >/dev/null || fail "xconnect"
xc add-group "group_id=7,type=select,bucket=output:a1,bucket=output:a2" >/dev/null || fail "add-group"
xc add-meter "meter=3,pktps,band=type=drop,rate=1000" >/dev/null || fail "add-meter"
xc add-flow "table=0,priority=100,in_port=t1,ip,nw_dst=10.1.0.0/16,actions=meter:3,group:7" >/dev/null || fail "add-flow"
xc add-flow "table=0,priority=50,in_port=a1,actions=resubmit(,1)" >/dev/null || fail "add-flow"
xc add-flow "table=1,priority=1,actions=output:t1" >/dev/null || fail "add-flow"
printf 'table=2,priority=5,tcp,tp_dst=22,actions=drop\ntable=2,priority=4,udp,actions=output:a2\n' >"$T_TMP/flows"
xc add-flows "$T_TMP/flows" >/dev/null || fail "add-flows"
xc mod-flows "table=1,actions=output:a2" >/dev/null || fail "mod-flows"
xc del-flows --strict "table=2,priority=5,tcp,tp_dst=22" >/dev/null || fail "del-flows"
xc set-mac-aging 123 >/dev/null || fail "set-mac-aging"
if xc help | grep -q sg-create; then
	xc port-security a1 mac=02:00:00:00:00:a1 ip=10.1.0.1 >/dev/null || fail "port-security"
	xc sg-create web stateless >/dev/null || fail "sg-create"
	xc sg-rule-add web ingress proto=tcp port=80 >/dev/null || fail "sg-rule-add"
	xc sg-bind a1 web >/dev/null || fail "sg-bind"
fi
# Failures are not saved.
xc add-port t1 tap dev=other >/dev/null 2>&1 && fail "a duplicate add-port succeeded"
xc add-flow "in_port=nosuch,actions=drop" >/dev/null 2>&1 && fail "a flow on a missing port succeeded"
n_saved=$(xc --json state-show | json_get 'len(d["commands"])')
grep -q nosuch "$CTL.state" && fail "a failed command is in the state file"

# Every dump, with the counters and ages that legitimately restart at zero
# taken out.
dumps() {
	{
		xc show | grep -vE 'ifindex|rxq [0-9]+: pmd'
		xc dump-flows | sed -E 's/duration=[^,]*, //; s/n_packets=[0-9]+, n_bytes=[0-9]+, //; s/idle_age=[^,]*, //' | sort
		xc dump-groups | grep -v n_packets
		xc dump-meters | grep -vE 'packet_count|n_packets|flow_count'
		xc fdb-show | head -1
		if xc help | grep -q sg-create; then xc sg-show; xc port-security-show; fi
	} 2>&1
}
dumps >"$T_TMP/before"
# (no command shows the MAC aging time: its line in the file, replayed
# with the rest, is what there is to check)
grep -q '"set-mac-aging","123"' "$CTL.state" || fail "set-mac-aging not saved"

kill -9 "$XVIOD_PID"
wait "$XVIOD_PID" 2>/dev/null
start_xviod
dumps >"$T_TMP/after"
diff -u "$T_TMP/before" "$T_TMP/after" || fail "the configuration differs after kill -9 and a restart"
echo "state: $n_saved commands saved; $(wc -l <"$T_TMP/before") lines of show/dump-flows/dump-groups/dump-meters/sg-show identical after kill -9 + restart"
grep -q "replayed $n_saved command(s), 0 dropped" "$T_TMP/xviod.log" || fail "replay did not report $n_saved commands"

# A saved command that no longer works (its veth is gone) is dropped at
# replay, logged and kept in .rejected; the rest still comes back.
xc stats >/dev/null
kill -9 "$XVIOD_PID"
wait "$XVIOD_PID" 2>/dev/null
ip link del "$VB"
start_xviod
grep -q "dev=$VB" "$CTL.state.rejected" || fail "the add-port of the gone veth is not in .rejected"
xc show | grep -q '^  a2 ' && fail "a2 came back without its veth"
xc show | grep -q '^  t1 ' || fail "t1 did not come back"
echo "state: $(wc -l <"$CTL.state.rejected") line(s) rejected at replay (a2's veth is gone, and what named a2)"

# --no-state: empty, and the file is left alone.
kill "$XVIOD_PID"
wait "$XVIOD_PID" 2>/dev/null
cp "$CTL.state" "$T_TMP/saved"
start_xviod --no-state
[ "$(xc show | head -1)" = "xviod: 0 ports, 1 pmd threads" ] || fail "--no-state did not start empty: $(xc show | head -1)"
xc add-port t9 tap dev="xsn$$" >/dev/null || fail "add-port with --no-state"
cmp -s "$CTL.state" "$T_TMP/saved" || fail "--no-state wrote the state file"
echo "PASS: configuration restored from the state file"
