#!/usr/bin/env python3
"""vRouter benchmark (issue 6, scenario b): VRF LPM with 100k routes, one PMD
core, 64-byte frames, against xviod's own L2 relay measured in the same run.

The set-up and generator are flows.py's (relay.py's two vhost-user ports,
testpmd flowgen on core 0 sending UDP to 10.253.0.0 + k, k < --flows, from
both ports, open loop; the relay alone on core 1). Cells:

  xconnect  xviod's L2 relay (`xvioctl xconnect p0 p1`): the reference
  vrouter   xviod routing: in_port=p0 -> route(vrf=1), in_port=p1 ->
            route(vrf=2); each VRF holds --routes routes (BGP-like length mix
            elsewhere in the address space, plus /24s over the traffic's
            10.253.0.0/15 and /32s for its first 1,024 addresses so lookups
            use both DIR-24-8 levels), next hop via a static neighbour on the
            other port: LPM, MAC rewrite, TTL decrement and IPv4 checksum on
            every packet.

With --mplsogre (scenario b as the issue states it) the loop is closed
(relay.py's tx_first frames circulate; testpmd io-forwards each port's rx to
the other port) and every lap through xviod is a vRouter lap: both ports
are underlay uplinks (172.31.0.1 on p0, 172.31.1.1 on p1); a plain frame is
routed in vrf 1, whose route for the traffic is `tunnel mplsogre
remote=172.31.0.1 label=100`, encapsulated and sent out p1 (an underlay /32
route), comes back on p0 addressed to p0's underlay address, is
decapsulated, popped and routed in vrf 2 to a neighbour out p0, comes back
on p1 plain — so laps alternate MPLSoGRE encap and decap, each with an LPM
over 100k routes. The flows set the inner TTL to 64 before route() (one
more rewrite per lap), or the circulating frames would expire. The
reference is xviod's L2 relay in the same closed loop.

The bar (issue 6): vrouter >= 70 % of xconnect.
"""

import argparse
import datetime
import json
import os
import random
import statistics
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relay as R  # noqa: E402
import flows as F  # noqa: E402

NAMES = ["xconnect", "vrouter"]
TRAFFIC = (0x0AFD0000, 15)          # flowgen: dst 10.253.0.0 + k, src 10.254.0.0
CLOSED = (0xC6120000, 15)           # txonly's frames (closed loop): 198.18.0.1 -> 198.18.0.2


def ip(a):
	return ".".join(str((a >> s) & 255) for s in (24, 16, 8, 0))


def route_lines(vrf, n, gw, port, seed, traffic=TRAFFIC):
	"""n routes for one VRF: the traffic's /24s and first /32s, then
	random prefixes (lpm_bench's mix) that cover none of the traffic."""
	rng = random.Random(seed)
	seen, out = set(), []

	def add(a, plen):
		a &= (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
		if (a, plen) not in seen:
			seen.add((a, plen))
			out.append(f"{vrf} {ip(a)}/{plen} via {gw} dev {port}")
	if traffic is TRAFFIC:
		for k in range(512):
			add(TRAFFIC[0] + (k << 8), 24)
		for k in range(1024):
			add(TRAFFIC[0] + k, 32)
	else:
		# Longer routes inside the tunnel's /15, so the lookup uses both
		# levels (198.18.0.2 itself stays on the /15's next hop).
		for k in range(1, 256):
			add(traffic[0] + (k << 8), 24)
	while len(out) < n:
		r = rng.random()
		plen = 24 if r < .6 else rng.randint(16, 23) if r < .94 else \
			rng.randint(25, 32) if r < .995 else rng.randint(8, 15)
		a = rng.getrandbits(32)
		net = traffic[0] & 0xFFFC0000
		if (a >> 18) == (net >> 18) or (plen < 14 and (a >> (32 - plen)) ==
						(net >> (32 - plen))):
			continue        # would cover the traffic: keep its routes as set
		add(a, plen)
	return out[:n]


class VRouter(R.XviodRelay):
	routes = 100000
	mplsogre = False

	def program(self):
		if self.mplsogre:
			return self.program_mplsogre()
		self.xctl("del-flows")
		for v in (1, 2):
			self.xctl("vrf-add", str(v))
		# Static neighbours: the generator's ports take any destination MAC.
		self.xctl("neigh-add", "1", "10.99.1.1", "02:00:00:00:01:01", "dev", "p1")
		self.xctl("neigh-add", "2", "10.99.0.1", "02:00:00:00:00:01", "dev", "p0")
		f = os.path.join(self.d, "routes")
		with open(f, "w") as fh:
			for ln in route_lines(1, self.routes, "10.99.1.1", "p1", 1):
				fh.write(ln + "\n")
			for ln in route_lines(2, self.routes, "10.99.0.1", "p0", 2):
				fh.write(ln + "\n")
		t = time.monotonic()
		self.xctl("--timeout", "300", "add-routes", f, timeout=320)
		self.install_s = time.monotonic() - t
		self.xctl("add-flow", "priority=10,in_port=p0,actions=route(vrf=1)")
		self.xctl("add-flow", "priority=10,in_port=p1,actions=route(vrf=2)")

	def program_mplsogre(self):
		x = self.xctl
		x("del-flows")
		x("underlay-set", "p0", "ip=172.31.0.1/24", "mac=02:00:00:00:00:10")
		x("underlay-set", "p1", "ip=172.31.1.1/24", "mac=02:00:00:00:01:10")
		# The tunnel's remote is p0's own address, reached out p1: the
		# generator hands what leaves p1 back to p0, where it is decapped.
		x("underlay-route-add", "172.31.0.1/32", "p1")
		x("underlay-neigh-add", "172.31.0.1", "02:00:00:00:00:10", "p1")
		x("add-port", "mg0", "mplsogre", "remote_ip=172.31.1.1")
		for v in (1, 2):
			x("vrf-add", str(v))
		x("neigh-add", "2", "10.99.0.1", "02:00:00:00:00:01", "dev", "p0")
		f = os.path.join(self.d, "routes")
		with open(f, "w") as fh:
			fh.write("1 198.18.0.0/15 tunnel mplsogre remote=172.31.0.1 label=100\n")
			fh.write("2 198.18.0.0/15 via 10.99.0.1 dev p0\n")
			for v, gw, port in ((1, "10.99.0.1", "p0"), (2, "10.99.0.1", "p0")):
				for ln in route_lines(v, self.routes - 1, gw, port, v, CLOSED):
					fh.write(ln + "\n")
		t = time.monotonic()
		x("--timeout", "300", "add-routes", f, timeout=320)
		self.install_s = time.monotonic() - t
		for port in ("p0", "p1"):
			x("add-flow", f"priority=10,in_port={port},ip,actions=mod_nw_ttl:64,route(vrf=1)")
		x("add-flow", "priority=10,in_port=mg0,mpls,mpls_label=100,"
		  "actions=pop_mpls:0x0800,mod_nw_ttl:64,route(vrf=2)")

	def diag(self):
		out = {}
		for c in ("vrf-show", "pmd-stats-show", "dump-megaflows", "underlay-show"):
			try:
				out[c] = self.xctl(c)
			except Exception as e:
				out[c] = str(e)
		return out


def make_relay(args, name, nroutes, d):
	if name == "vrouter":
		r = VRouter(args, d)
		r.routes = nroutes
		r.mplsogre = args.mplsogre
		return r
	return R.XviodRelay(args, d)


def main():
	ap = argparse.ArgumentParser(description=__doc__,
				     formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--routes", type=int, default=100000, help="routes per VRF")
	ap.add_argument("--flows", default="1000", help="flowgen destinations (comma list)")
	ap.add_argument("--quick", action="store_true", help="1 rep × 3 s (a smoke run)")
	ap.add_argument("--mplsogre", action="store_true",
			help="scenario (b) in full: closed loop, laps alternate MPLSoGRE encap and decap")
	ap.add_argument("--tx-first", type=int, default=16, help="--mplsogre: bursts injected per port")
	R.common_args(ap)
	ap.add_argument("--size", type=int, default=64)
	ap.add_argument("--print-config", metavar="DIR",
			help="write xviod's configuration (commands, routes) into DIR and exit "
			"(bench/dp_callgrind.sh)")
	args = ap.parse_args()
	if args.print_config:
		R.print_config(make_relay(args, "vrouter", args.routes, args.print_config),
			       args.print_config)
		return 0
	args.loop = "closed" if args.mplsogre else "open"
	if args.mplsogre:
		args.flows = "1"
	if args.quick:
		args.reps, args.interval, args.warmup = 1, 3.0, 1.0
		args.wait_quiet = min(args.wait_quiet, 10)
	flows = [int(x) for x in args.flows.split(",")]
	R.check_env("vrouter.py", False)
	R.find_tools(args, "vrouter.py")
	R.init_run(args)
	F.make_relay = make_relay       # flows.run_once builds its relay through this

	res = {(n, f): [] for f in flows for n in NAMES}
	runs, errors = [], []
	for rep in range(args.reps):
		for (name, nf) in res:
			b = R.wait_quiet(args)
			try:
				m, share, extra = F.run_once(args, name, args.routes, nf)
				res[(name, nf)].append(m)
				runs.append({"relay": name, "flows": nf, "rep": rep + 1, "mpps": m,
					     "busy_before": round(b, 3), "cpu_share": share,
					     **{k: v for k, v in extra.items() if k != "dump-megaflows"}})
				R.log(f"rep {rep + 1}/{args.reps} {name:8s} flows {nf:6d} {m:7.3f} Mpps  "
				      f"{extra['bound']}-bound, relay busy {extra['busy']}, capacity "
				      f"{extra.get('capacity_mpps')}"
				      + (f", {args.routes} routes/VRF in {extra['install_s']:.2f} s"
					 if name == "vrouter" else ""))
				if name == "vrouter":
					R.vlog(extra.get("vrf-show", ""))
			except Exception as e:
				errors.append(f"{name} {nf} flows rep {rep + 1}: {e}")
				R.log(f"{name} {nf} flows rep {rep + 1} FAILED: {e}")
	med = {c: statistics.median(xs) for c, xs in res.items() if xs}
	lines = ["| flows | xconnect (L2 relay) Mpps | vrouter Mpps | vrouter / L2 relay |",
		 "|---:|---:|---:|---:|"]
	for nf in flows:
		x, v = med.get(("xconnect", nf)), med.get(("vrouter", nf))
		lines.append(f"| {nf:,} | {x:.2f} | {v:.2f} | {v / x:.0%} |" if x and v else
			     f"| {nf:,} | {x or '—'} | {v or '—'} | — |")
	tbl = "\n".join(lines)
	now = datetime.datetime.now()
	cmdline = "bench/vrouter.sh " + " ".join(sys.argv[1:])
	setup = (f"{args.reps} reps × {args.interval:g} s, {args.size}-byte frames, testpmd "
		 f"{'io forwarding, closed loop' if args.mplsogre else 'flowgen, both ports, open loop'} on core {R.GEN_CPU}, xviod on core {R.RELAY_CPU}, "
		 f"{args.routes:,} routes per VRF, {R.machine_cpu()}. "
		 + ("MPLSoGRE: closed loop, laps alternate encap and decap (+ a TTL reset per lap)."
		    if args.mplsogre else "Routing only (add --mplsogre for the encap/decap laps)."))
	print(f"\n{setup}\n\n{tbl}\n\nBar: vrouter >= 70 % of the L2 relay.\n")
	for e in errors:
		print("error:", e.splitlines()[0])
	if args.no_save:
		return 1 if errors else 0
	os.makedirs(args.out, exist_ok=True)
	base = os.path.join(args.out, f"vrouter-{now:%Y%m%d-%H%M%S}")
	with open(base + ".md", "w") as f:
		f.write(f"# vRouter: xviod routing vs its L2 relay, {now:%Y-%m-%d %H:%M}\n\n`{cmdline}` "
			f"(git {R.git_rev()})\n\n{setup}\n\nMpps = packets delivered per second, both "
			f"directions together; median.\n\n{tbl}\n")
	with open(base + ".json", "w") as f:
		json.dump({"date": now.isoformat(timespec="seconds"), "command": cmdline,
			   "git": R.git_rev(), "args": vars(args), "runs": runs, "errors": errors,
			   "median": [{"relay": c[0], "flows": c[1], "mpps": v} for c, v in med.items()]},
			  f, indent=1)
	print("wrote", base + ".md", "and .json")
	return 1 if errors else 0


if __name__ == "__main__":
	sys.exit(main())
