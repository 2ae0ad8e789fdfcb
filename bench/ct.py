#!/usr/bin/env python3
"""Conntrack benchmark (issue 5, item 6): xviod against OVS-DPDK with the same
ct flows, one PMD core, 64-byte frames, and xviod's own L2 relay in the same
run as the reference.

The set-up and the generator are flows.py's (relay.py's two vhost-user ports,
testpmd flowgen on core 0 sending UDP to 10.253.0.0 + k, k < --flows, from
both ports, open loop; the relay alone on core 1). Cells:

  xconnect     xviod's L2 relay (`xvioctl xconnect p0 p1`): the reference
  xviod-ct     (a) the relay plus ct(commit) on the path:
               in_port=p0,ip,actions=ct(commit),output:p1 and back
  ovs-ct       (a) OVS-DPDK, the same two flows
  xviod-sg     (b) a security-group table: ip -> ct(table=1); in table 1
               +est passes, +new TCP to 22/80/443 from 10.0.0.0/8 and the
               generator's UDP from 10.254.0.0/16 are committed and pass,
               +inv and the rest drop
  ovs-sg       (b) OVS-DPDK, the same flows

(c) new connections per second and (d) memory per connection come from the
xviod-ct and ovs-ct runs: connections created over the measured interval
(xviod: ct-stats "created"; OVS: dpctl/ct-get-nconns) and the relay's RSS
growth divided by the connections it holds. For (c) to measure creation,
--flows must exceed what the interval can visit (every packet of a first
pass over the flows is a new connection); the report gives created/s next to
packets/s so the reader sees which bound it.

The bars: xviod-ct >= 2 x ovs-ct and >= 65 % of xconnect.
"""

import argparse
import datetime
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relay as R  # noqa: E402
import flows as F  # noqa: E402

NAMES = ["xconnect", "xviod-ct", "ovs-ct", "xviod-sg", "ovs-sg"]


def ct_flows(a, b):
	return [f"priority=10,in_port={a},ip,actions=ct(commit),output:{b}",
		f"priority=10,in_port={b},ip,actions=ct(commit),output:{a}"]


def sg_flows(a, b):
	"""A stateful security group, as an OpenStack agent would write it."""
	out = ["table=0,priority=10,ip,actions=ct(table=1)",
	       "table=0,priority=0,actions=drop",
	       "table=1,priority=100,ct_state=+trk+inv,actions=drop",
	       f"table=1,priority=90,ct_state=+trk+est,in_port={a},actions=output:{b}",
	       f"table=1,priority=90,ct_state=+trk+est,in_port={b},actions=output:{a}"]
	for p, q in ((a, b), (b, a)):
		for port in (22, 80, 443):
			out.append(f"table=1,priority=80,ct_state=+trk+new,in_port={p},tcp,"
				   f"nw_src=10.0.0.0/8,tp_dst={port},actions=ct(commit),output:{q}")
		out.append(f"table=1,priority=80,ct_state=+trk+new,in_port={p},udp,"
			   f"nw_src=10.254.0.0/16,actions=ct(commit),output:{q}")
	out.append("table=1,priority=0,actions=drop")
	return out


def rss_kb(pid):
	try:
		with open(f"/proc/{pid}/status") as f:
			for ln in f:
				if ln.startswith("VmRSS:"):
					return int(ln.split()[1])
	except OSError:
		pass
	return None


class XviodCt(R.XviodRelay):
	kind = "ct"

	def program(self):
		f = os.path.join(self.d, "rules")
		with open(f, "w") as fh:
			fh.write("\n".join((ct_flows if self.kind == "ct" else sg_flows)("p0", "p1")) + "\n")
		self.xctl("del-flows")
		self.xctl("add-flows", f)
		self.rss0 = rss_kb(self.pid())
		self.ct0 = self.ct_stats()

	def ct_stats(self):
		try:
			return json.loads(self.xctl("--json", "ct-stats"))
		except Exception as e:
			return {"error": str(e)}

	def diag(self):
		st = self.ct_stats()
		rss = rss_kb(self.pid())
		out = {"ct-stats": st, "rss_kb": rss}
		n = st.get("entries", 0)
		if n and rss and self.rss0:
			out["bytes_per_conn"] = round((rss - self.rss0) * 1024 / n)
		out["created"] = st.get("created", 0) - self.ct0.get("created", 0)
		return out


class OvsCt(R.OvsRelay):
	kind = "ct"

	def program(self):
		f = os.path.join(self.d, "rules")
		with open(f, "w") as fh:
			fh.write("\n".join((ct_flows if self.kind == "ct" else sg_flows)("1", "2")) + "\n")
		self.ofctl("del-flows", "br0")
		self.ofctl("add-flows", "br0", f)
		self.rss0 = rss_kb(self.pid())

	def nconns(self):
		try:
			return int(F.ovs_appctl(self, "dpctl/ct-get-nconns").strip() or 0)
		except ValueError:
			return 0

	def diag(self):
		n = self.nconns()
		rss = rss_kb(self.pid())
		out = {"ct_nconns": n, "rss_kb": rss}
		if n and rss and self.rss0:
			out["bytes_per_conn"] = round((rss - self.rss0) * 1024 / n)
		return out


def make_relay(args, name, _n, d):
	if name == "xconnect":
		return R.XviodRelay(args, d)
	r = (XviodCt if name.startswith("xviod") else OvsCt)(args, d)
	r.kind = "sg" if name.endswith("-sg") else "ct"
	return r


def main():
	ap = argparse.ArgumentParser(description=__doc__,
				     formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--only", action="append", choices=NAMES, help="cells to run (repeatable)")
	ap.add_argument("--flows", default="1,1000,100000", help="flowgen 5-tuples (comma list)")
	ap.add_argument("--quick", action="store_true", help="1 rep x 3 s (a smoke run)")
	R.common_args(ap)
	ap.add_argument("--size", type=int, default=64)
	ap.add_argument("--print-rules", choices=["ct", "sg"],
			help="print the xviod-ct or xviod-sg rules (xviod port names) and exit")
	args = ap.parse_args()
	if args.print_rules:
		print("\n".join((ct_flows if args.print_rules == "ct" else sg_flows)("p0", "p1")))
		return 0
	args.loop, args.tx_first = "open", 16
	if args.quick:
		args.reps, args.interval, args.warmup = 1, 3.0, 1.0
		args.wait_quiet = min(args.wait_quiet, 10)
	names = [n for n in NAMES if n in (args.only or NAMES)]
	flows = [int(x) for x in args.flows.split(",")]
	R.check_env("ct.py", any(n.startswith("ovs") for n in names))
	R.find_tools(args, "ct.py")
	R.init_run(args)
	F.make_relay = make_relay       # flows.run_once builds its relay through this

	res = {(n, f): [] for f in flows for n in names}
	extra_of = {}
	runs, errors = [], []
	for rep in range(args.reps):
		for (name, nf) in res:
			b = R.wait_quiet(args)
			try:
				m, share, extra = F.run_once(args, name, 0, nf)
				res[(name, nf)].append(m)
				created = extra.get("created")
				if name == "ovs-ct" and "ct_nconns" in extra:
					created = extra["ct_nconns"]	# from an empty table
				extra["created_per_s"] = (round(created / (args.interval + args.warmup))
							  if created else None)
				extra_of[(name, nf)] = extra
				runs.append({"relay": name, "flows": nf, "rep": rep + 1, "mpps": m,
					     "busy_before": round(b, 3), "cpu_share": share, **extra})
				R.log(f"rep {rep + 1}/{args.reps} {name:9s} flows {nf:7d} {m:7.3f} Mpps  "
				      f"{extra['bound']}-bound, relay busy {extra['busy']}"
				      + (f", {extra.get('bytes_per_conn')} B/conn"
					 if extra.get("bytes_per_conn") else ""))
			except Exception as e:
				errors.append(f"{name} {nf} flows rep {rep + 1}: {e}")
				R.log(f"{name} {nf} flows rep {rep + 1} FAILED: {e}")
	med = {c: statistics.median(xs) for c, xs in res.items() if xs}

	def fmt(v):
		return f"{v:.2f}" if v else "—"

	def pct(a, b):
		return f"{a / b:.0%}" if a and b else "—"

	lines = ["| flows | xconnect | xviod-ct | ovs-ct | xviod-ct / ovs-ct | xviod-ct / xconnect "
		 "| xviod-sg | ovs-sg | sg ratio |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
	for nf in flows:
		g = {n: med.get((n, nf)) for n in NAMES}
		lines.append(f"| {nf:,} | {fmt(g['xconnect'])} | {fmt(g['xviod-ct'])} | "
			     f"{fmt(g['ovs-ct'])} | {pct(g['xviod-ct'], g['ovs-ct'])} | "
			     f"{pct(g['xviod-ct'], g['xconnect'])} | {fmt(g['xviod-sg'])} | "
			     f"{fmt(g['ovs-sg'])} | {pct(g['xviod-sg'], g['ovs-sg'])} |")
	lines += ["", "| cell | flows | created/s (c) | bytes per connection (d) |", "|---|---:|---:|---:|"]
	for (name, nf), ex in sorted(extra_of.items()):
		if name.endswith("-ct"):
			lines.append(f"| {name} | {nf:,} | {ex.get('created_per_s') or '—'} | "
				     f"{ex.get('bytes_per_conn') or '—'} |")
	tbl = "\n".join(lines)
	now = datetime.datetime.now()
	cmdline = "bench/ct.sh " + " ".join(sys.argv[1:])
	setup = (f"{args.reps} reps x {args.interval:g} s, {args.size}-byte frames, testpmd flowgen "
		 f"(both ports, open loop) on core {R.GEN_CPU}, the relay on core {R.RELAY_CPU}, "
		 f"{R.machine_cpu()}.")
	print(f"\n{setup}\n\nMpps, median:\n\n{tbl}\n\nBars: xviod-ct >= 2 x ovs-ct and >= 65 % of "
	      "xconnect.\n")
	for e in errors:
		print("error:", e.splitlines()[0])
	if args.no_save:
		return 1 if errors else 0
	os.makedirs(args.out, exist_ok=True)
	base = os.path.join(args.out, f"ct-{now:%Y%m%d-%H%M%S}")
	with open(base + ".md", "w") as f:
		f.write(f"# Conntrack: xviod vs OVS-DPDK, {now:%Y-%m-%d %H:%M}\n\n`{cmdline}` "
			f"(git {R.git_rev()})\n\n{setup}\n\nMpps = packets delivered per second, both "
			f"directions together; median.\n\n{tbl}\n")
	with open(base + ".json", "w") as f:
		json.dump({"date": now.isoformat(timespec="seconds"), "command": cmdline,
			   "git": R.git_rev(), "args": vars(args), "runs": runs, "errors": errors,
			   "median": [{"relay": c[0], "flows": c[1], "mpps": v} for c, v in med.items()]},
			  f, indent=1, default=str)
	print("wrote", base + ".md", "and .json")
	return 1 if errors else 0


if __name__ == "__main__":
	sys.exit(main())
