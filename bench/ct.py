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

  xviod-new    (c) new connections per second: the xviod-ct rules, flowgen
  ovs-new      over --new-flows (default 1,000,000) destinations, so every
               packet of the first pass over them opens a connection. A
               sampler reads the table size (xviod: ct-stats "created"; OVS:
               dpctl/ct-get-nconns) every ~50 ms from the moment the generator
               starts; created/s is the slope between 10 % and 90 % of
               --new-flows (the first pass, all new, relay-bound). Open loop
               only.

(d) memory per connection: the growth of the relay's anonymous RSS (not the
guest memory it maps) over the connections it holds at the end of a -ct or
-new run, from 10,000 connections up (the -new run, ~1M connections, is the
meaningful one: at 100,000 the bucket array's touched pages dominate).

--loop closed runs the -ct, -sg and xconnect cells in flows.py's closed loop
(testpmd io forwarding of tx_first bursts, 1 flow or txonly's 256 sources):
the relay is then the bottleneck, not the generator's ~10 Mpps, so the ratio
to xconnect means something. Every cell also reports per-core capacity
(delivered / the relay PMD's busy share, as flows.py), and the ratios are
given on both.

The bars: xviod-ct >= 2 x ovs-ct and >= 65 % of xconnect.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relay as R  # noqa: E402
import flows as F  # noqa: E402

NAMES = ["xconnect", "xviod-ct", "ovs-ct", "xviod-sg", "ovs-sg", "xviod-new", "ovs-new"]
NEW = ("xviod-new", "ovs-new")
MIN_CONNS_FOR_D = 10000         # (d) only from a table at least this full
OPEN_NET = "10.254.0.0/16"      # flowgen's source (flows.py)
CLOSED_NET = f"{F.ip(F.CLOSED_NET)}/{F.CLOSED_LEN}"   # the closed loop's sources


def ct_flows(a, b):
	return [f"priority=10,in_port={a},ip,actions=ct(commit),output:{b}",
		f"priority=10,in_port={b},ip,actions=ct(commit),output:{a}"]


def sg_flows(a, b, net=OPEN_NET):
	"""A stateful security group, as an OpenStack agent would write it; net:
	the remote CIDR the generator's UDP comes from."""
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
			   f"nw_src={net},actions=ct(commit),output:{q}")
	out.append("table=1,priority=0,actions=drop")
	return out


def rss_kb(pid):
	"""The relay's anonymous resident memory (connections and the bucket
	array are heap): VmRSS would also count the guest memory it maps from
	the generator, shared pages it touches more of as traffic flows."""
	try:
		with open(f"/proc/{pid}/status") as f:
			for ln in f:
				if ln.startswith("RssAnon:"):
					return int(ln.split()[1])
	except OSError:
		pass
	return None


class Sampler:
	"""(c), the -new cells only: the connection count every ~50 ms from
	ready() (just before the generator starts) until it passes 90 % of the
	flows, on a thread (each sample is an xvioctl/ovs-appctl process on this
	2-core machine: the other cells are not sampled, so they are not
	perturbed); count() is the relay's."""

	def start_sampling(self):
		self.samples, self.stop_ev = [], threading.Event()
		if self.kind != "new":
			return

		def loop():
			while not self.stop_ev.is_set():
				n = self.count()
				if n is not None:
					self.samples.append((time.monotonic(), n))
					if n >= 0.9 * self.nflows:
						return
				self.stop_ev.wait(0.05)
		self.th = threading.Thread(target=loop, daemon=True)
		self.th.start()

	def stop(self):
		if hasattr(self, "stop_ev"):
			self.stop_ev.set()
		super().stop()

	def creation_rate(self, nflows):
		"""Connections/s between 10 % and 90 % of nflows (all new: the
		first pass over flowgen's destinations), None when the run did not
		get there or the samples are too coarse to say."""
		self.stop_ev.set()
		if hasattr(self, "th"):
			self.th.join()
		s = self.samples
		lo = next((x for x in s if x[1] >= 0.1 * nflows), None)
		hi = next((x for x in s if x[1] >= 0.9 * nflows), None)
		if not lo or not hi or hi[0] - lo[0] < 0.2:
			return None
		return round((hi[1] - lo[1]) / (hi[0] - lo[0]))


def ct_rules(relay, a, b):
	kind, net = relay.kind, CLOSED_NET if relay.args.loop == "closed" else OPEN_NET
	return ct_flows(a, b) if kind in ("ct", "new") else sg_flows(a, b, net)


class XviodCt(Sampler, R.XviodRelay):
	kind = "ct"

	def program(self):
		f = os.path.join(self.d, "rules")
		with open(f, "w") as fh:
			fh.write("\n".join(ct_rules(self, "p0", "p1")) + "\n")
		self.xctl("del-flows")
		self.xctl("add-flows", f)
		if self.kind == "new":
			# A zone-0 limit the table never reaches, so that ct-limit
			# reports zone 0's count: the sampler's cheap query (ct-stats
			# walks the whole table, on the control thread, which shares
			# the PMD's core here).
			self.xctl("ct-limit", "zone=0", f"limit={2 ** 32 - 1}")
		self.rss0 = rss_kb(self.pid())
		self.ct0 = self.ct_stats()

	def ready(self):
		self.start_sampling()

	def ct_stats(self):
		try:
			return json.loads(self.xctl("--json", "ct-stats"))
		except Exception as e:
			return {"error": str(e)}

	def count(self):
		try:
			z = json.loads(self.xctl("--json", "ct-limit"))["zones"]
			return next((x["count"] for x in z if x["zone"] == 0), None)
		except Exception:
			return None

	def diag(self):
		st = self.ct_stats()
		rss = rss_kb(self.pid())
		out = {"ct-stats": st, "rss_kb": rss}
		n = st.get("entries", 0)
		# Fewer connections than this say more about the allocator's and
		# the pools' pages than about a connection.
		if n >= MIN_CONNS_FOR_D and rss and self.rss0:
			out["bytes_per_conn"] = round((rss - self.rss0) * 1024 / n)
		out["created"] = st.get("created", 0) - self.ct0.get("created", 0)
		out["created_per_s"] = self.creation_rate(self.nflows)
		return out


class OvsCt(Sampler, R.OvsRelay):
	kind = "ct"

	def program(self):
		f = os.path.join(self.d, "rules")
		with open(f, "w") as fh:
			fh.write("\n".join(ct_rules(self, "1", "2")) + "\n")
		self.ofctl("del-flows", "br0")
		self.ofctl("add-flows", "br0", f)
		self.rss0 = rss_kb(self.pid())

	def ready(self):
		super().ready()
		self.start_sampling()

	def count(self):
		try:
			return int(F.ovs_appctl(self, "dpctl/ct-get-nconns").strip() or 0)
		except (ValueError, OSError, R.subprocess.SubprocessError):
			return None

	def diag(self):
		n = self.count()
		rss = rss_kb(self.pid())
		out = {"ct_nconns": n, "rss_kb": rss}
		if n and n >= MIN_CONNS_FOR_D and rss and self.rss0:
			out["bytes_per_conn"] = round((rss - self.rss0) * 1024 / n)
		out["created_per_s"] = self.creation_rate(self.nflows)
		return out


def make_relay(args, name, nflows, d):
	if name == "xconnect":
		return R.XviodRelay(args, d)
	r = (XviodCt if name.startswith("xviod") else OvsCt)(args, d)
	r.kind, r.nflows = name.split("-")[1], nflows
	return r


def fmt(v):
	return f"{v:.2f}" if v else "—"


def pct(a, b):
	return f"{a / b:.0%}" if a and b else "—"


def ratio_table(med, flows):
	lines = ["| flows | xconnect | xviod-ct | ovs-ct | xviod-ct / ovs-ct | xviod-ct / xconnect "
		 "| xviod-sg | ovs-sg | sg ratio |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
	for nf in flows:
		g = {n: med.get((n, nf)) for n in NAMES}
		if not any(g.values()):
			continue
		lines.append(f"| {nf:,} | {fmt(g['xconnect'])} | {fmt(g['xviod-ct'])} | "
			     f"{fmt(g['ovs-ct'])} | {pct(g['xviod-ct'], g['ovs-ct'])} | "
			     f"{pct(g['xviod-ct'], g['xconnect'])} | {fmt(g['xviod-sg'])} | "
			     f"{fmt(g['ovs-sg'])} | {pct(g['xviod-sg'], g['ovs-sg'])} |")
	return "\n".join(lines)


def main():
	ap = argparse.ArgumentParser(description=__doc__,
				     formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--only", action="append", choices=NAMES, help="cells to run (repeatable)")
	ap.add_argument("--flows", default="1,1000,100000", help="flowgen 5-tuples (comma list)")
	ap.add_argument("--new-flows", type=int, default=1000000,
			help="the -new cells' flowgen destinations (c)")
	ap.add_argument("--quick", action="store_true", help="1 rep x 3 s (a smoke run)")
	ap.add_argument("--loop", choices=["open", "closed"], default="open",
			help="open: flowgen; closed: flows.py's tx_first loop, flows 1 or "
			f"{F.CLOSED_FLOWS}, no -new cells")
	ap.add_argument("--tx-first", type=int, default=16,
			help="--loop closed: bursts injected per port")
	R.common_args(ap)
	ap.add_argument("--size", type=int, default=64)
	ap.add_argument("--print-rules", choices=["ct", "sg"],
			help="print the xviod-ct or xviod-sg rules (xviod port names) and exit")
	args = ap.parse_args()
	if args.print_rules:
		print("\n".join((ct_flows if args.print_rules == "ct" else sg_flows)("p0", "p1")))
		return 0
	if args.quick:
		args.reps, args.interval, args.warmup = 1, 3.0, 1.0
		args.wait_quiet = min(args.wait_quiet, 10)
	names = [n for n in NAMES if n in (args.only or NAMES)]
	flows = [int(x) for x in args.flows.split(",")]
	if args.loop == "closed":
		flows = sorted({1 if f <= 1 else F.CLOSED_FLOWS for f in flows})
		args.flows = ",".join(map(str, flows))
		names = [n for n in names if n not in NEW]
	R.check_env("ct.py", any(n.startswith("ovs") for n in names))
	R.find_tools(args, "ct.py")
	R.init_run(args)
	F.make_relay = make_relay       # flows.run_once builds its relay through this

	cells = [(n, f) for f in flows for n in names if n not in NEW]
	cells += [(n, args.new_flows) for n in names if n in NEW]
	res = {c: [] for c in cells}
	cap = {c: [] for c in cells}
	extra_of = {}
	runs, errors = [], []
	for rep in range(args.reps):
		for (name, nf) in cells:
			b = R.wait_quiet(args)
			try:
				# flows.run_once hands its rules argument to make_relay:
				# here the flow count, which the (c) sampler needs.
				m, share, extra = F.run_once(args, name, nf, nf)
				res[(name, nf)].append(m)
				if extra.get("capacity_mpps"):
					cap[(name, nf)].append(extra["capacity_mpps"])
				extra_of.setdefault((name, nf), []).append(extra)
				runs.append({"relay": name, "flows": nf, "rep": rep + 1, "mpps": m,
					     "busy_before": round(b, 3), "cpu_share": share, **extra})
				R.log(f"rep {rep + 1}/{args.reps} {name:9s} flows {nf:7d} {m:7.3f} Mpps  "
				      f"{extra['bound']}-bound, relay busy {extra['busy']}, capacity "
				      f"{extra.get('capacity_mpps')}"
				      + (f", {extra['created_per_s']} created/s"
					 if extra.get("created_per_s") else "")
				      + (f", {extra.get('bytes_per_conn')} B/conn"
					 if extra.get("bytes_per_conn") else ""))
			except Exception as e:
				errors.append(f"{name} {nf} flows rep {rep + 1}: {e}")
				R.log(f"{name} {nf} flows rep {rep + 1} FAILED: {e}")
	med = {c: statistics.median(xs) for c, xs in res.items() if xs}
	cmed = {c: statistics.median(xs) for c, xs in cap.items() if xs}

	def xmed(c, k):
		xs = [e[k] for e in extra_of.get(c, []) if e.get(k)]
		return round(statistics.median(xs)) if xs else None

	tbl = (f"Mpps delivered, median:\n\n{ratio_table(med, flows)}\n\nPer-core capacity, Mpps = "
	       "delivered / relay PMD busy share (xviod: pmd busy_pct; OVS: pmd-stats processing "
	       f"cycles), median:\n\n{ratio_table(cmed, flows)}")
	gb = [f"{n} {f:,}" for (n, f) in cells
	      if any(e.get("bound") == "generator" for e in extra_of.get((n, f), []))]
	tbl += ("\n\nGenerator-bound cells (the relay had idle cycles and refused nothing; the "
		"Mpps figure is the generator's, compare capacities): " + (", ".join(gb) or "none") + ".")
	lines = ["| cell | flows | created/s (c), 10→90 % of the first pass | "
		 "bytes per connection (d) | connections at the end |", "|---|---:|---:|---:|---:|"]
	for (name, nf) in cells:
		if name.endswith(("-ct", "-new")) and (name, nf) in extra_of:
			n_end = xmed((name, nf), "ct_nconns") or (
				extra_of[(name, nf)][-1].get("ct-stats", {}).get("entries"))
			lines.append(f"| {name} | {nf:,} | {xmed((name, nf), 'created_per_s') or '—'} | "
				     f"{xmed((name, nf), 'bytes_per_conn') or '—'} | {n_end or '—'} |")
	tbl += "\n\n" + "\n".join(lines)
	now = datetime.datetime.now()
	cmdline = "bench/ct.sh " + " ".join(sys.argv[1:])
	gen = ("testpmd flowgen (both ports, open loop)" if args.loop == "open" else
	       f"testpmd io forwarding (both ports, closed loop of tx_first {args.tx_first}x"
	       f"{args.burst} frames per port, {F.CLOSED_FLOWS}-source txonly-multi-flow for "
	       f"{F.CLOSED_FLOWS} flows)")
	setup = (f"{args.reps} reps x {args.interval:g} s, {args.size}-byte frames, {gen} on core "
		 f"{R.GEN_CPU}, the relay on core {R.RELAY_CPU}, {R.machine_cpu()}.")
	print(f"\n{setup}\n\n{tbl}\n\nBars: xviod-ct >= 2 x ovs-ct and >= 65 % of xconnect.\n")
	for e in errors:
		print("error:", e.splitlines()[0])
	if args.no_save:
		return 1 if errors else 0
	os.makedirs(args.out, exist_ok=True)
	base = os.path.join(args.out, f"ct-{now:%Y%m%d-%H%M%S}")
	with open(base + ".md", "w") as f:
		f.write(f"# Conntrack: xviod vs OVS-DPDK, {now:%Y-%m-%d %H:%M}\n\n`{cmdline}` "
			f"(git {R.git_rev()})\n\n{setup}\n\nMpps = packets delivered per second, both "
			f"directions together.\n\n{tbl}\n")
		if errors:
			f.write("\nErrors:\n\n" + "\n".join(f"- {e.splitlines()[0]}" for e in errors) + "\n")
	with open(base + ".json", "w") as f:
		json.dump({"date": now.isoformat(timespec="seconds"), "command": cmdline,
			   "git": R.git_rev(), "args": vars(args), "runs": runs, "errors": errors,
			   "median": [{"relay": c[0], "flows": c[1], "mpps": v,
				       "capacity_mpps": cmed.get(c)} for c, v in med.items()]},
			  f, indent=1, default=str)
	print("wrote", base + ".md", "and .json")
	return 1 if errors else 0


if __name__ == "__main__":
	sys.exit(main())
