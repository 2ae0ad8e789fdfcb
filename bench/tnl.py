#!/usr/bin/env python3
"""Tunnel benchmark, scenario 6(a) of issue 6: 1,000 policy rules + VXLAN
encapsulation one way and decapsulation the other, one relay core, 64-byte
inner frames, xviod against OVS-DPDK's userspace VXLAN port, same rules, same
run.

relay.py's closed loop (generator on core 0: testpmd io forwarding between two
net_virtio_user ports, tx_first frames circulating; the relay alone on core 1)
with the tunnel inside the relay:

  gen port 0 ─▶ p0 ─ plain UDP: rules, set tun_id 5001 / tun_dst, VXLAN encap ─▶ p1 ─▶ gen port 1
  gen port 1 ─(io fwd)─▶ gen port 0 ─▶ p0 ─ VXLAN to our address: decap, rules ─▶ p1 ─▶ …

Every frame alternates: plain (64 B) in, VXLAN (114 B) out, back in as VXLAN,
decapsulated, plain out. So half of the relay's packets are encapsulations and
half decapsulations, each after the 1,000-rule table. The figure is the
generator's RX rate over both ports = relay passes per second.

Rows: xviod (tunnel), OVS-DPDK (tunnel), and the reference xviod xconnect
(L2 relay, same loop, no tunnel) for the "≥ 70 % of the L2 relay" bar.
See bench/README.md.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relay as R  # noqa: E402
import flows as F  # noqa: E402

# Underlay addresses inside 10.252.0.0/14, where flows.rules() puts no rule,
# so no policy rule can match an outer header (OVS classifies them).
LOCAL_ENC, LOCAL_DEC = "10.254.255.1", "10.254.255.2"
VNI = 5001
RELAYS = ["xconnect", "xviod", "ovs"]
LABEL = {"xconnect": "xviod xconnect (L2 relay)", "xviod": "xviod VXLAN + rules",
	 "ovs": "OVS-DPDK VXLAN + rules"}


def policy(nrules, a, b, tun):
	"""flows.rules(n) without its two allow rules, plus the tunnel's two."""
	out = [ln.format(A=a, B=b) for ln in F.rules(nrules) if "actions=output" not in ln]
	return out[:max(0, nrules - 2)] + [
		f"priority=32768,in_port={a},udp,tp_dst=9,actions=set_field:{VNI}->tun_id,"
		f"set_field:{LOCAL_DEC}->tun_dst,output:{tun}",
		f"priority=32768,in_port={tun},tun_id={VNI},udp,actions=output:{b}"]


class XviodTnl(R.XviodRelay):
	nrules = 1000

	def program(self):
		x = self.xctl
		# p0 takes the VXLAN coming back (its address is the tunnel's
		# remote); p1 sends it, by a host route that beats p0's own /32.
		x("underlay-set", "p0", f"ip={LOCAL_DEC}/32", "mac=02:00:00:00:fe:02")
		x("underlay-set", "p1", f"ip={LOCAL_ENC}/24", "mac=02:00:00:00:fe:01")
		x("underlay-route-add", f"{LOCAL_DEC}/32", "p1")
		x("underlay-neigh-add", LOCAL_DEC, "02:00:00:00:fe:02", "p1")
		x("add-port", "vxlan0", "vxlan", "remote_ip=flow", "key=flow")
		f = os.path.join(self.d, "rules")
		with open(f, "w") as fh:
			fh.write("\n".join(policy(self.nrules, "p0", "p1", "vxlan0")) + "\n")
		x("del-flows")
		x("--timeout", "300", "add-flows", f, timeout=320)

	def diag(self):
		try:
			return {"underlay": json.loads(self.xctl("--json", "underlay-show"))["counters"],
				"megaflows": F.head(self.xctl("dump-megaflows"))}
		except Exception as e:
			return {"diag_error": str(e)}


class OvsTnl(R.OvsRelay):
	"""OVS userspace (native) tunnelling: the VXLAN port's outer packets are
	routed by OVS's own table to the bridge, whose kernel tap holds both underlay
	addresses; tnl/arp/set gives the next hop's MAC (the bridge's, so the frames
	that come back are addressed to it and get popped)."""
	nrules = 1000
	# Not br0: its tap would clash with any other OVS-DPDK on the machine.
	br = f"xvtnl{os.getpid() % 10000}"

	def program(self):
		br = self.br
		self.vsctl("add-port", br, "vx0", "--", "set", "Interface", "vx0", "type=vxlan",
			   "options:remote_ip=flow", "options:key=flow", "ofport_request=3")
		# OVS makes the netdev bridge's tap persistent: one left by an earlier
		# repetition (same PID, same name) still holds the addresses.
		R.subprocess.run(["ip", "addr", "flush", "dev", br], check=True)
		R.subprocess.run(["ip", "addr", "add", f"{LOCAL_ENC}/24", "dev", br], check=True)
		R.subprocess.run(["ip", "link", "set", br, "up"], check=True)
		mac = open(f"/sys/class/net/{br}/address").read().strip()
		self.appctl("ovs/route/add", f"{LOCAL_DEC}/32", br)
		self.appctl("tnl/arp/set", br, LOCAL_DEC, mac)
		R.subprocess.run(["ip", "addr", "add", f"{LOCAL_DEC}/32", "dev", br], check=True)
		f = os.path.join(self.d, "rules")
		lines = policy(self.nrules, "1", "2", "3") + [
			# VXLAN to our address goes to LOCAL: OVS pops it there.
			"priority=40000,in_port=1,udp,tp_dst=4789,actions=output:LOCAL",
			# What tnl_push sends out through br0.
			"priority=40000,in_port=LOCAL,actions=output:2"]
		with open(f, "w") as fh:
			fh.write("\n".join(lines) + "\n")
		self.ofctl("del-flows", br)
		self.ofctl("add-flows", br, f, timeout=600)

	def appctl(self, *argv):
		r = R.subprocess.run(["ovs-appctl", "-t", f"{self.d}/ovs-vswitchd.ctl"] + list(argv),
				     capture_output=True, text=True, timeout=30, env=self.env)
		if r.returncode != 0:
			raise RuntimeError(f"ovs-appctl {' '.join(argv)}: {r.stderr.strip()}")
		return r.stdout

	def diag(self):
		try:
			return {"pmd-stats": self.appctl("dpif-netdev/pmd-stats-show"),
				"megaflows": F.head(self.appctl("dpctl/dump-flows"), 6)}
		except Exception as e:
			return {"diag_error": str(e)}


def make_relay(args, name, d):
	r = {"xviod": XviodTnl, "ovs": OvsTnl, "xconnect": R.XviodRelay}[name](args, d)
	r.nrules = args.rules
	return r


def run_once(args, name):
	d = R.tempfile.mkdtemp(prefix=f"tnl-{name}-", dir=R.tmpdir)
	relay = make_relay(args, name, d)
	gen = None
	try:
		relay.start()
		gen = F.start_closed(args, relay, 1)
		gen.wait_prompt(120)
		relay.ready()
		gen.cmd(f"set txpkts {args.size}")
		gen.cmd(f"set burst {args.burst}")
		gen.cmd(f"start tx_first {args.tx_first}")
		time.sleep(args.warmup)
		mpps, share = R.measure(gen, relay, args.interval)
		extra = relay.diag() if hasattr(relay, "diag") else {}
		gen.cmd("stop", timeout=30)
		return mpps, share, extra
	finally:
		if gen:
			gen.quit()
		relay.stop()
		R.stop_all()


def plot(summ, path, title):
	import matplotlib
	matplotlib.use("Agg")
	import matplotlib.pyplot as plt
	names = [n for n in RELAYS if n in summ]
	fig, ax = plt.subplots(figsize=(6.5, 4))
	med = [summ[n]["median"] for n in names]
	err = [[summ[n]["median"] - summ[n]["min"] for n in names],
	       [summ[n]["max"] - summ[n]["median"] for n in names]]
	ax.bar([LABEL[n] for n in names], med, yerr=err, capsize=4,
	       color=[{"xconnect": "#ff9896", "xviod": "#d62728", "ovs": "#1f77b4"}[n] for n in names])
	for i, m in enumerate(med):
		ax.annotate(f"{m:.2f}", (i, m), ha="center", xytext=(0, 4), textcoords="offset points")
	ax.set_ylabel("Mpps (relay passes, half encap half decap)")
	ax.tick_params(axis="x", labelsize=8)
	ax.grid(axis="y", alpha=0.3)
	fig.suptitle(title, fontsize=7)
	fig.tight_layout()
	fig.savefig(path, dpi=110)


def main():
	ap = argparse.ArgumentParser(description=__doc__,
				     formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--only", action="append", choices=RELAYS)
	ap.add_argument("--rules", type=int, default=1000)
	ap.add_argument("--quick", action="store_true", help="1 rep × 3 s")
	R.common_args(ap)
	ap.add_argument("--size", type=int, default=64, help="inner frame size (no FCS)")
	ap.add_argument("--tx-first", type=int, default=16)
	ap.add_argument("--print-config", metavar="DIR",
			help="write xviod's configuration (commands, rules) into DIR and exit "
			"(bench/dp_callgrind.sh)")
	args = ap.parse_args()
	if args.print_config:
		R.print_config(make_relay(args, "xviod", args.print_config), args.print_config)
		return 0
	if args.quick:
		args.reps, args.interval, args.warmup = 1, 3.0, 1.0
		args.wait_quiet = min(args.wait_quiet, 10)
	names = [n for n in RELAYS if n in (args.only or RELAYS)]
	R.check_env("tnl.py", "ovs" in names)
	if {"xviod", "xconnect"} & set(names):
		R.find_tools(args, "tnl.py")
	R.init_run(args)

	res = {n: [] for n in names}
	runs, errors = [], []
	for rep in range(args.reps):
		for n in names:
			b = R.wait_quiet(args)
			try:
				m, share, extra = run_once(args, n)
				res[n].append(m)
				runs.append({"relay": n, "rep": rep + 1, "mpps": m, "busy_before": round(b, 3),
					     "cpu_share": share, **extra})
				low = [k for k, v in share.items() if v < 0.9]
				R.log(f"rep {rep + 1}/{args.reps} {n:8s} {m:7.3f} Mpps  (cpu "
				      f"{' '.join(f'{k} {v:.2f}' for k, v in share.items())})"
				      + (f"  WARNING: {', '.join(low)} did not get its core" if low else ""))
				R.vlog(json.dumps(extra)[:2000])
			except Exception as e:
				errors.append(f"{n} rep {rep + 1}: {e}")
				R.log(f"{n} rep {rep + 1} FAILED: {e}")
	summ = {n: {"median": statistics.median(x), "min": min(x), "max": max(x), "runs": x}
		for n, x in res.items() if x}

	def ratio(a, b):
		return f"{summ[a]['median'] / summ[b]['median']:.2f}×" if a in summ and b in summ else "—"
	lines = ["| | Mpps, median (min–max) |", "|---|---|"]
	lines += [f"| {LABEL[n]} | {F.cell(summ.get(n))} |" for n in names]
	lines += [f"| xviod / OVS-DPDK (bar ≥ 1.8×) | {ratio('xviod', 'ovs')} |",
		  f"| xviod tunnel / xviod L2 relay (bar ≥ 0.70) | {ratio('xviod', 'xconnect')} |"]
	tbl = "\n".join(lines)
	now = datetime.datetime.now()
	cmdline = "bench/tnl.sh " + " ".join(sys.argv[1:])
	setup = (f"{args.reps} reps × {args.interval:g} s, {args.size}-byte inner frames, "
		 f"{args.rules:,} rules, closed loop of tx_first {args.tx_first}×{args.burst} "
		 f"frames per port, generator on core {R.GEN_CPU}, relay on core {R.RELAY_CPU}, "
		 f"memory {args.mem}, {R.machine_cpu()}")
	print(f"\n{setup}\n\n{tbl}\n")
	for e in errors:
		print("error:", e.splitlines()[0])
	if args.no_save:
		return 1 if errors else 0
	os.makedirs(args.out, exist_ok=True)
	base = os.path.join(args.out, f"tnl-{now:%Y%m%d-%H%M%S}")
	with open(base + ".md", "w") as f:
		f.write(f"# VXLAN + {args.rules:,} rules: xviod vs OVS-DPDK, {now:%Y-%m-%d %H:%M}\n\n"
			f"`{cmdline}` (git {R.git_rev()})\n\n{setup}\n\n{tbl}\n")
		if errors:
			f.write("\nErrors:\n\n" + "\n".join(f"- {e.splitlines()[0]}" for e in errors) + "\n")
	with open(base + ".json", "w") as f:
		json.dump({"date": now.isoformat(timespec="seconds"), "command": cmdline,
			   "git": R.git_rev(), "args": vars(args), "runs": runs,
			   "summary": summ, "errors": errors}, f, indent=1)
	try:
		plot(summ, base + ".png", f"VXLAN encap+decap, {args.rules:,} rules, one relay core, "
		     f"{args.size} B inner — {now:%Y-%m-%d} — {cmdline}")
	except Exception as e:
		print(f"plot failed ({e}); apt-get install python3-matplotlib")
	print("wrote", base + ".md", ".json", ".png")
	return 1 if errors else 0


if __name__ == "__main__":
	sys.exit(main())
