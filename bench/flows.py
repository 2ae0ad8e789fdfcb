#!/usr/bin/env python3
"""Flow-table benchmark (issue 4): xviod against OVS-DPDK, same OpenFlow rules.

The set-up of relay.py (generator on core 0 with two net_virtio_user ports, the
relay alone on core 1, vhost-user in between, 64-byte frames), but the
generator runs testpmd's *flowgen* forwarding: on both ports it transmits UDP
frames whose destination address walks over --flowgen-flows=N values, and it
counts (then frees) what it receives.  Open loop: the generator sends as fast
as it can, the relay forwards what it can, the figure is the generator's total
rx rate over both ports = packets the relay delivered per second, both
directions together.

Cells: rule sets × flow counts, for
  xviod     the rule file via `xvioctl add-flows` (default flow deleted first)
  ovs       the same rules via `ovs-ofctl add-flows br0` (ports by number)
and, per flow count, two references in the same run:
  xconnect  xviod's L2 relay (`xvioctl xconnect p0 p1`, no flow table)
  testpmd   testpmd's vhost PMD in io forwarding: the generator's ceiling
See bench/README.md.
"""

import argparse
import datetime
import json
import os
import random
import statistics
import sys
import time

sys.dont_write_bytecode = True      # no bench/__pycache__ from importing relay.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relay as R  # noqa: E402

RELAYS = ["xconnect", "testpmd", "xviod", "ovs"]
LABEL = {"xconnect": "xviod xconnect (L2 relay)", "testpmd": "testpmd vhost (generator ceiling)",
	 "xviod": "xviod flows", "ovs": "OVS-DPDK flows"}
RULED = ("xviod", "ovs")          # the relays that get the rule sets

# What testpmd 22.11's flowgen sends (app/test-pmd/flowgen.c): IPv4/UDP,
# src 10.254.0.0, dst 10.253.0.0 + k for k in [0, flows), ports 1000 -> 1001.
# Non-matching rules keep clear of 10.252.0.0/14 (both addresses, any k).
TRAFFIC_NET, TRAFFIC_LEN = 0x0AFC0000, 14
# --loop closed: testpmd's txonly template (start tx_first), src 198.18.0.1
# (+ 0..255 with --txonly-multi-flow), dst 198.18.0.2, UDP 9 -> 9.
CLOSED_NET, CLOSED_LEN = 0xC6120000, 15
CLOSED_FLOWS = 256          # txonly's per-lcore uint8_t source counter


# ---------------------------------------------------------------- rules

def ip(a):
	return ".".join(str((a >> s) & 255) for s in (24, 16, 8, 0))


def clear_prefix(rng, plen):
	"""A random prefix of length plen that covers no traffic address."""
	while True:
		if rng.random() < 0.6:          # inside 10/8, near the traffic
			a = 0x0A000000 | rng.getrandbits(24)
		else:
			a = rng.randint(0x01000000, 0xDFFFFFFF)
		a &= (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
		if all((a >> (32 - min(plen, ln))) != (net >> (32 - min(plen, ln)))
		       for net, ln in ((TRAFFIC_NET, TRAFFIC_LEN), (CLOSED_NET, CLOSED_LEN))):
			return f"{ip(a)}/{plen}" if plen < 32 else ip(a)


def rules(n, seed=7):
	"""n rules as ovs-ofctl lines with {A}/{B} for the two ports.

	n == 1: the plain relay, one rule per direction (2 lines).
	n > 1: per direction one allow rule that matches all traffic
	(priority 32768, in_port + udp), and n - 2 rules that match none of it,
	security-group style, at priorities above and below: nw_dst prefixes /8../32,
	nw_src /16../32 and /24, tp_dst values, tcp or udp, some with in_port, in
	combinations that give many distinct masks.  Every one of them carries an
	address prefix outside 10.252.0.0/14, so none can match the traffic."""
	if n <= 1:
		return ["priority=32768,in_port={A},actions=output:{B}",
			"priority=32768,in_port={B},actions=output:{A}"]
	rng = random.Random(seed)
	out = ["priority=32768,in_port={A},udp,actions=output:{B}",
	       "priority=32768,in_port={B},udp,actions=output:{A}"]
	seen = set()
	while len(out) < n:
		k = rng.randrange(7)
		dst = clear_prefix(rng, rng.randint(8, 32))
		src24 = clear_prefix(rng, 24)
		srcx = clear_prefix(rng, rng.randint(16, 32))
		port = rng.choice((22, 53, 80, 443, 3306, 5432, 6379, 8080)) \
			if rng.random() < 0.5 else rng.randint(1, 65535)
		m = ("ip,nw_dst=" + dst,
		     "udp,nw_dst=" + dst + f",tp_dst={port}",
		     "tcp,nw_src=" + src24 + f",tp_dst={port}",
		     "udp,nw_src=" + src24 + ",nw_dst=" + dst,
		     rng.choice(("in_port={A}", "in_port={B}")) + ",ip,nw_dst=" + dst,
		     "udp,nw_src=" + src24 + f",tp_dst={port}",
		     "ip,nw_src=" + srcx)[k]
		prio = rng.randint(1, 65000)
		if prio == 32768 or (prio, m) in seen:
			continue
		seen.add((prio, m))
		out.append(f"priority={prio},{m},actions=drop")
	rng.shuffle(out)
	return out


def write_rules(path, lines, a, b):
	with open(path, "w") as f:
		for ln in lines:
			f.write(ln.format(A=a, B=b) + "\n")


# ---------------------------------------------------------------- relays

def head(s, n=4):
	"""A cache dump, shortened: its line count and first lines."""
	ls = s.splitlines()
	return [f"{len(ls)} lines"] + ls[:n]


class XviodFlows(R.XviodRelay):
	nrules = 1

	def program(self):
		f = os.path.join(self.d, "rules")
		write_rules(f, rules(self.nrules), "p0", "p1")
		self.xctl("del-flows")
		t = time.monotonic()
		self.xctl("--timeout", "300", "add-flows", f, timeout=320)
		self.install_s = time.monotonic() - t

	def diag(self):
		out = {}
		for c in ("pmd-stats-show", "dump-megaflows"):
			try:
				s = self.xctl(c)
				out[c] = s if c != "dump-megaflows" else head(s)
			except Exception as e:
				out[c] = str(e)
		return out


class OvsFlows(R.OvsRelay):
	nrules = 1

	def program(self):
		f = os.path.join(self.d, "rules")
		write_rules(f, rules(self.nrules), "1", "2")
		t = time.monotonic()
		self.ofctl("add-flows", "br0", f, timeout=600)
		self.install_s = time.monotonic() - t

	def diag(self):
		out = {}
		for c in ("dpif-netdev/pmd-stats-show", "dpctl/dump-flows"):
			try:
				r = R.subprocess.run(["ovs-appctl", "-t", f"{self.d}/ovs-vswitchd.ctl", c],
						     capture_output=True, text=True, timeout=30, env=self.env)
				s = r.stdout
				out[c] = s if "dump-flows" not in c else head(s)
			except Exception as e:
				out[c] = str(e)
		return out


def make_relay(args, name, nrules, d):
	if name == "xviod":
		r = XviodFlows(args, d)
	elif name == "ovs":
		r = OvsFlows(args, d)
	elif name == "xconnect":
		r = R.XviodRelay(args, d)
	else:
		r = R.TestpmdRelay(args, d)
	r.nrules = nrules
	return r


def start_flowgen(args, relay, nflows):
	srv = ",server=1" if relay.gen_server else ""
	q = f"queues=1,queue_size={args.ring}"
	eal = R.eal_mem(args, "gen") + [
		"--vdev", f"net_virtio_user0,path={relay.s0},{q}{srv}",
		"--vdev", f"net_virtio_user1,path={relay.s1},{q}{srv}"]
	app = ["--forward-mode=flowgen", f"--flowgen-flows={nflows}",
	       f"--rxd={args.ring}", f"--txd={args.ring}"] + gen_pool(args)
	return R.TestPmd("gen", eal, app, R.GEN_CPU, R.GEN_CPU)


def gen_pool(args):
	"""The flowgen generator's mbuf pool, sized to its rings (bench/README.md,
	"The generator's mbuf pool"): testpmd's default pool (155,456 mbufs)
	hands the generator cold mbufs, and how many depends on the relay."""
	return [f"--total-num-mbufs={args.gen_mbufs}"] if args.gen_mbufs else []


def gen_counters(gen):
	"""testpmd's forwarding counters, summed over both ports: RX-packets
	(what the relay delivered), TX-packets (what it accepted) and TX-dropped
	(flowgen's frames the relay's full ring refused)."""
	out = gen.cmd("show fwd stats all").split("Accumulated")[0]
	return {k: sum(int(x) for x in R.re.findall(k + r":\s+(\d+)", out))
		for k in ("RX-packets", "TX-packets", "TX-dropped")}


def ovs_appctl(relay, *argv):
	r = R.subprocess.run(["ovs-appctl", "-t", f"{relay.d}/ovs-vswitchd.ctl"] + list(argv),
			     capture_output=True, text=True, timeout=30, env=relay.env)
	return r.stdout


def relay_busy(relay):
	"""The relay PMD's busy share of its core over the last interval: the
	cycles of polling iterations that found packets (xviod: pmd busy_pct, its
	last 1 s window; OVS: processing cycles since pmd-stats-clear). None when
	the relay does not say (testpmd)."""
	try:
		if isinstance(relay, R.XviodRelay):
			pm = json.loads(relay.xctl("--json", "stats")).get("pmds", [])
			return pm[0]["busy_pct"] / 100 if pm else None
		if isinstance(relay, R.OvsRelay):
			m = R.re.search(r"processing cycles:\s+\d+\s+\(([\d.]+)%\)",
					ovs_appctl(relay, "dpif-netdev/pmd-stats-show"))
			return float(m.group(1)) / 100 if m else None
	except Exception:
		pass
	return None


def xviod_counters(relay):
	"""xviod's per-port rx/tx and drops by reason, summed over its ports, and
	the datapath's drops ({} for other relays)."""
	if not isinstance(relay, R.XviodRelay):
		return {}
	try:
		st = json.loads(relay.xctl("--json", "stats"))
	except Exception:
		return {}
	out = {}

	def add(k, v):
		if isinstance(v, int):
			out[k] = out.get(k, 0) + v
	for pt in st.get("ports", []) if isinstance(st, dict) else []:
		for k in ("rx_packets", "tx_packets"):
			add(k, pt.get(k))
		for k, v in (pt.get("drops") or {}).items():
			add("drop:" + k, v)
		for k, v in (pt.get("counters") or {}).items():
			add(pt.get("name", "?") + ":" + k, v)
	for pm in st.get("pmds", []) if isinstance(st, dict) else []:
		for k, v in pm.items():
			if k not in ("id", "cpu"):
				add("pmd:" + k, v)
	dp = st.get("datapath", {}) if isinstance(st, dict) else {}
	for k, v in (dp.get("drops") or {}).items():
		add("dp-drop:" + k, v)
	return out


def rates(a, b, dt):
	"""Per-second deltas (Mpps) of the counters that moved."""
	return {k: round((b[k] - a.get(k, 0)) / dt / 1e6, 3) for k in b if b[k] != a.get(k, 0)}


def limit(g0, g1, busy, mpps):
	"""What bounds a run's figure. Open loop, so the relay is the bottleneck
	only when it cannot take all the generator offers: the generator then
	sees its ring full (TX-dropped) and the relay's core is busy all the
	time. Otherwise the figure is the generator's rate (one core building,
	sending and receiving 64-byte frames), and the relay had spare cycles.
	capacity_mpps = delivered / busy share: what the relay's core would carry
	if it were busy all the time, at the batch sizes it saw (an
	underestimate for a lightly loaded relay, whose small batches cost more
	per packet)."""
	tx = g1["TX-packets"] - g0["TX-packets"]
	dropped = g1["TX-dropped"] - g0["TX-dropped"]
	out = {"busy": round(busy, 3) if busy is not None else None,
	       "offered_drop_share": round(dropped / (tx + dropped), 3) if tx + dropped else None}
	bound = (busy is not None and busy >= 0.95) or (dropped > 0.01 * (tx + dropped))
	out["bound"] = "relay" if bound else "generator"
	if busy:
		out["capacity_mpps"] = round(mpps / busy, 3)
	return out


def start_closed(args, relay, nflows):
	"""relay.py's closed loop (io forwarding of frames injected by tx_first),
	with txonly's 256 source addresses when nflows > 1."""
	srv = ",server=1" if relay.gen_server else ""
	q = f"queues=1,queue_size={args.ring}"
	eal = R.eal_mem(args, "gen") + [
		"--vdev", f"net_virtio_user0,path={relay.s0},{q}{srv}",
		"--vdev", f"net_virtio_user1,path={relay.s1},{q}{srv}"]
	app = ["--forward-mode=io", f"--rxd={args.ring}", f"--txd={args.ring}"]
	if nflows > 1:
		app.append("--txonly-multi-flow")
	return R.TestPmd("gen", eal, app, R.GEN_CPU, R.GEN_CPU)


def run_once(args, name, nrules, nflows):
	d = R.tempfile.mkdtemp(prefix=f"{name}-{nrules}-{nflows}-", dir=R.tmpdir)
	relay = make_relay(args, name, nrules, d)
	gen = None
	closed = args.loop == "closed"
	try:
		relay.start()
		gen = (start_closed if closed else start_flowgen)(args, relay, nflows)
		gen.wait_prompt(120)
		relay.ready()
		gen.cmd(f"set txpkts {args.size}")
		gen.cmd(f"set burst {args.burst}")
		gen.cmd(f"start tx_first {args.tx_first}" if closed else "start")
		time.sleep(args.warmup)
		if isinstance(relay, R.OvsRelay):
			ovs_appctl(relay, "dpif-netdev/pmd-stats-clear")
		g0, x0, t0 = gen_counters(gen), xviod_counters(relay), time.monotonic()
		mpps, share = R.measure(gen, relay, args.interval)
		g1, x1, t1 = gen_counters(gen), xviod_counters(relay), time.monotonic()
		busy = relay_busy(relay)
		extra = {"install_s": round(getattr(relay, "install_s", 0), 3),
			 "gen_mpps": rates(g0, g1, t1 - t0), "relay_mpps": rates(x0, x1, t1 - t0),
			 **limit(g0, g1, busy, mpps)}
		it = x1.get("pmd:iterations", 0) - x0.get("pmd:iterations", 0)
		if it:
			# Packets per polling round (both ports): ~2 means the relay
			# and generator hand frames over one or two at a time.
			extra["pkts_per_poll"] = round((x1["pmd:packets"] - x0["pmd:packets"]) / it, 1)
		R.vlog(f"  generator Mpps {extra['gen_mpps']}  relay Mpps {extra['relay_mpps']}")
		if hasattr(relay, "diag"):
			extra.update(relay.diag())
		gen.cmd("stop", timeout=30)
		return mpps, share, extra
	finally:
		if gen:
			gen.quit()
		relay.stop()
		R.stop_all()


# ---------------------------------------------------------------- report

def cell(s):
	return f"{s['median']:.2f} ({s['min']:.2f}–{s['max']:.2f})" if s else "—"


def table(summ, rulesets, flows):
	"""summ[(name, nrules, nflows)] = {median, min, max, runs}"""
	g = summ.get
	hdr = "| | " + " | ".join(f"{f:,} flows" for f in flows) + " |"
	lines = [hdr, "|---|" + "---|" * len(flows)]
	for name in ("xconnect", "testpmd"):
		if any((name, 0, f) in summ for f in flows):
			lines.append(f"| {LABEL[name]} | " + " | ".join(cell(g((name, 0, f))) for f in flows) + " |")
	for nr in rulesets:
		for name in RULED:
			if any((name, nr, f) in summ for f in flows):
				lines.append(f"| {LABEL[name]}, {nr:,} rules | "
					     + " | ".join(cell(g((name, nr, f))) for f in flows) + " |")

	def ratio(a, b):
		return f"{a['median'] / b['median']:.2f}×" if a and b and b["median"] else "—"
	for nr in rulesets:
		lines.append(f"| xviod / OVS, {nr:,} rules | "
			     + " | ".join(ratio(g(("xviod", nr, f)), g(("ovs", nr, f))) for f in flows) + " |")
	for nr in rulesets:
		lines.append(f"| xviod flows / xviod xconnect, {nr:,} rules | "
			     + " | ".join(ratio(g(("xviod", nr, f)), g(("xconnect", 0, f))) for f in flows) + " |")
	if 1 in flows:
		for nr in rulesets:
			lines.append(f"| xviod at N flows / xviod at 1 flow, {nr:,} rules | "
				     + " | ".join(ratio(g(("xviod", nr, f)), g(("xviod", nr, 1))) for f in flows) + " |")
	return "\n".join(lines)


def plot(summ, rulesets, flows, path, title):
	import matplotlib
	matplotlib.use("Agg")
	import matplotlib.pyplot as plt
	fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
	sty = {"xviod": dict(color="#d62728"), "ovs": dict(color="#1f77b4")}
	marks = ["o", "s", "^", "D"]

	def err(pts):
		return [[p["median"] - p["min"] for p in pts], [p["max"] - p["median"] for p in pts]]
	for ax, xs, key, other, oname in ((a1, rulesets, lambda x, o: (x, o), flows, "flows"),
					  (a2, flows, lambda x, o: (o, x), rulesets, "rules")):
		for name in RULED:
			for i, o in enumerate(other):
				pts = [(x, summ.get((name, *key(x, o)))) for x in xs]
				pts = [(x, p) for x, p in pts if p]
				if not pts:
					continue
				ax.errorbar([x for x, _ in pts], [p["median"] for _, p in pts],
					    yerr=err([p for _, p in pts]), marker=marks[i % 4], capsize=3,
					    label=f"{LABEL[name]}, {o:,} {oname}", **sty[name],
					    linestyle="-" if i == 0 else ("--" if i == 1 else ":"))
		ax.set_xscale("log")
		ax.set_ylabel("Mpps (both directions)")
		ax.grid(alpha=0.3)
	for f in flows:
		p = summ.get(("xconnect", 0, f))
		if p:
			a1.axhline(p["median"], color="#d62728", alpha=0.35, lw=1)
	p = summ.get(("xconnect", 0, flows[0]))
	if p:
		a1.annotate("xviod xconnect", (rulesets[0], p["median"]), fontsize=7,
			    xytext=(2, 3), textcoords="offset points", color="#d62728")
	p = summ.get(("testpmd", 0, flows[0]))
	if p:
		a1.axhline(p["median"], color="k", alpha=0.35, lw=1)
		a1.annotate("generator ceiling (testpmd vhost)", (rulesets[0], p["median"]),
			    fontsize=7, xytext=(2, 3), textcoords="offset points")
	top = max([v["max"] for v in summ.values()] + [1]) * 1.08
	for ax in (a1, a2):
		ax.set_ylim(0, top)
	a1.set_xlabel("rules")
	a1.set_title("Mpps vs rules", fontsize=10)
	a2.set_xlabel("distinct 5-tuples (flowgen flows)")
	a2.set_title("Mpps vs flows", fontsize=10)
	for ax in (a1, a2):
		ax.legend(fontsize=6)
	fig.suptitle(title, fontsize=8)
	fig.tight_layout()
	fig.savefig(path, dpi=110)


# ---------------------------------------------------------------- main

def main():
	ap = argparse.ArgumentParser(description=__doc__,
				     formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--only", action="append", choices=RELAYS,
			help="run only this relay (repeatable)")
	ap.add_argument("--rules", default="1,1000,100000", help="rule-set sizes")
	ap.add_argument("--flows", default="1,1000,100000", help="distinct 5-tuples")
	ap.add_argument("--quick", action="store_true",
			help="1 rep × 3 s, rules 1,1000,100000 × flows 1,100000")
	ap.add_argument("--reps", type=int, default=3)
	ap.add_argument("--wait-quiet", type=float, default=120, metavar="SECS",
			help="before each run, wait up to SECS for the machine to be <5%% busy")
	ap.add_argument("--interval", type=float, default=10.0, help="seconds measured")
	ap.add_argument("--warmup", type=float, default=2.0)
	ap.add_argument("--size", type=int, default=64, help="frame size (no FCS)")
	ap.add_argument("--mem", choices=["huge", "nohuge"], default="huge")
	ap.add_argument("--ring", type=int, default=1024, help="virtqueue size")
	ap.add_argument("--burst", type=int, default=32)
	R.gen_mbufs_arg(ap)
	ap.add_argument("--loop", choices=["open", "closed"], default="open",
			help="open: flowgen, N flows; closed: relay.sh's tx_first loop, "
			f"flows 1 or {CLOSED_FLOWS} (see bench/README.md)")
	ap.add_argument("--tx-first", type=int, default=16,
			help="--loop closed: bursts injected per port")
	ap.add_argument("--xviod", default=os.environ.get("XVIOD"))
	ap.add_argument("--xvioctl", default=os.environ.get("XVIOCTL"))
	ap.add_argument("--out", default=os.path.join(R.HERE, "results"))
	ap.add_argument("--no-save", action="store_true", help="print only")
	ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
	ap.add_argument("--print-rules", type=int, metavar="N",
			help="print the N-rule set (xviod port names) and exit")
	ap.add_argument("--replot", metavar="JSON", help="redraw the PNG of a saved result and exit")
	ap.add_argument("-v", "--verbose", action="store_true")
	args = ap.parse_args()
	if args.replot:
		with open(args.replot) as f:
			d = json.load(f)
		summ = {(v["relay"], v["rules"], v["flows"]): v for v in d["summary"]}
		a = d["args"]
		png = args.replot.rsplit(".", 1)[0] + ".png"
		plot(summ, [int(x) for x in a["rules"].split(",")], [int(x) for x in a["flows"].split(",")],
		     png, f"flow tables, one relay core, {a['size']} B — {d['date'][:10]} — {d['command']}")
		print("wrote", png)
		return 0
	if args.print_rules:
		for ln in rules(args.print_rules):
			print(ln.format(A="p0", B="p1"))
		return 0
	if args.quick:
		args.reps, args.interval, args.warmup = 1, 3.0, 1.0
		args.wait_quiet = min(args.wait_quiet, 10)
		if args.flows == ap.get_default("flows"):
			args.flows = "1,100000"
	rulesets = [int(x) for x in args.rules.split(",")]
	flows = [int(x) for x in args.flows.split(",")]
	if args.loop == "closed":
		flows = sorted({1 if f <= 1 else CLOSED_FLOWS for f in flows})
		args.flows = ",".join(map(str, flows))
	names = [n for n in RELAYS if n in (args.only or RELAYS)]

	R.check_env("flows.py", "ovs" in names)
	if {"xviod", "xconnect"} & set(names):
		R.find_tools(args, "flows.py")
	R.init_run(args)

	cells = []
	for f in flows:
		for n in names:
			if n not in RULED:
				cells.append((n, 0, f))
	for nr in rulesets:
		for f in flows:
			for n in names:
				if n in RULED:
					cells.append((n, nr, f))
	res = {c: [] for c in cells}
	cap = {c: [] for c in cells}
	genbound = set()
	runs, errors, contended, busy = [], [], [], []
	for rep in range(args.reps):
		for c in cells:
			name, nr, nf = c
			b = R.wait_quiet(args)
			busy.append(b)
			tag = f"{name} {nr} rules {nf} flows rep {rep + 1}"
			try:
				m, share, extra = run_once(args, name, nr, nf)
				res[c].append(m)
				if extra.get("capacity_mpps"):
					cap[c].append(extra["capacity_mpps"])
				if extra["bound"] == "generator":
					genbound.add(c)
				runs.append({"relay": name, "rules": nr, "flows": nf, "rep": rep + 1,
					     "mpps": m, "busy_before": round(b, 3), "cpu_share": share,
					     **extra})
				low = [k for k, v in share.items() if v < 0.9]
				R.log(f"rep {rep + 1}/{args.reps} {name:8s} rules {nr:6d} flows {nf:6d} "
				      f"{m:7.3f} Mpps  (cpu {' '.join(f'{k} {v:.2f}' for k, v in share.items())}"
				      f"{', install %.2f s' % extra['install_s'] if extra['install_s'] else ''})"
				      f"  {extra['bound']}-bound, relay busy {extra['busy']}, offered dropped "
				      f"{extra['offered_drop_share']}, capacity {extra.get('capacity_mpps')}, "
				      f"pkts/poll {extra.get('pkts_per_poll')}"
				      + (f"  WARNING: {', '.join(low)} did not get its core" if low else ""))
				if low:
					contended.append(tag)
			except Exception as e:
				errors.append(f"{tag}: {e}")
				R.log(f"{tag} FAILED: {e}")

	summ = {c: {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}
		for c, xs in res.items() if xs}
	now = datetime.datetime.now()
	cpu = R.machine_cpu()
	cmdline = "bench/flows.sh " + " ".join(sys.argv[1:])
	pool = f"{args.gen_mbufs:,} mbufs" if args.gen_mbufs else "testpmd's default mbuf pool"
	gen_desc = (f"testpmd flowgen generator (both ports, open loop, burst {args.burst}, {pool})"
		    if args.loop == "open" else
		    f"testpmd io-forwarding generator (both ports, closed loop of tx_first "
		    f"{args.tx_first}×{args.burst} frames per port, 256-source txonly-multi-flow "
		    f"for 256 flows)")
	setup = (f"{args.reps} reps × {args.interval:g} s, {args.size}-byte frames, {gen_desc} "
		 f"on core {R.GEN_CPU}, relay on "
		 f"core {R.RELAY_CPU}, memory {args.mem}, ring {args.ring}, {cpu}")
	if contended:
		setup += ("; WARNING: generator or relay got < 90 % of its core in: "
			  + ", ".join(contended))
	if busy and max(busy) > 0.05:
		setup += (f"; WARNING: other load on the machine before runs, up to "
			  f"{max(busy):.0%} of all CPUs")
	tbl = table(summ, rulesets, flows)
	csumm = {c: {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}
		 for c, xs in cap.items() if xs}
	ctbl = table(csumm, rulesets, flows)
	gb = ", ".join(f"{n} {r:,} rules {f:,} flows" if n in RULED else f"{n} {f:,} flows"
		       for n, r, f in cells if (n, r, f) in genbound)
	tbl += ("\n\nWhat limited each cell (bench/README.md, \"What limits the figure\"): "
		+ (f"**generator-bound** (the relay had idle cycles and refused nothing): {gb}."
		   if gb else "every cell was relay-bound.")
		+ "\n\nPer-core capacity, Mpps = delivered / relay PMD busy share (xviod: pmd "
		  "busy_pct; OVS: pmd-stats processing cycles):\n\n" + ctbl)
	print(f"\n{setup}\n\n{tbl}\n")
	for e in errors:
		print("error:", e.splitlines()[0])
	if args.no_save:
		return 1 if errors else 0
	os.makedirs(args.out, exist_ok=True)
	stamp = now.strftime("%Y%m%d-%H%M%S")
	git = R.git_rev()
	base = os.path.join(args.out, f"flows-{stamp}")
	with open(base + ".md", "w") as f:
		f.write(f"# flow tables: xviod vs OVS-DPDK, {now:%Y-%m-%d %H:%M}\n\n`{cmdline}` "
			f"(git {git})\n\n{setup}\n\nMpps = packets the relay delivered per second, "
			f"both directions together; median (min–max).\n\n{tbl}\n")
		if errors:
			f.write("\nErrors:\n\n" + "\n".join(f"- {e.splitlines()[0]}" for e in errors) + "\n")
	with open(base + ".json", "w") as f:
		json.dump({"date": now.isoformat(timespec="seconds"), "command": cmdline, "git": git,
			   "cpu": cpu, "args": vars(args), "runs": runs,
			   "summary": [{"relay": c[0], "rules": c[1], "flows": c[2], **v}
				       for c, v in summ.items()],
			   "capacity": [{"relay": c[0], "rules": c[1], "flows": c[2], **v}
					for c, v in csumm.items()],
			   "generator_bound": [list(c) for c in genbound],
			   "errors": errors}, f, indent=1)
	png = base + ".png"
	try:
		plot(summ, rulesets, flows, png,
		     f"flow tables, one relay core, {args.size} B — {now:%Y-%m-%d} — {cmdline}")
	except Exception as e:
		print(f"plot failed ({e}); apt-get install python3-matplotlib")
		png = None
	print("wrote", base + ".md", ".json", "and", png or "no plot")
	return 1 if errors else 0


if __name__ == "__main__":
	sys.exit(main())
