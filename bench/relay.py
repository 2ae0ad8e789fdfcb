#!/usr/bin/env python3
"""vhost loopback relay benchmark: xviod against testpmd's vhost PMD and OVS-DPDK.

One dpdk-testpmd (the generator) owns two net_virtio_user ports and io-forwards
between them on core 0; a relay on core 1 forwards between the two vhost-user
sockets.  `start tx_first` injects packets that then circulate:

    gen port0 --> relay --> gen port1 --> (gen io fwd) --> gen port0 --> ...

The figure is the generator's total rx rate (both ports), i.e. the packets the
relay forwards per second, both directions together.  Every relay and the
generator are started afresh for every repetition.  See bench/README.md.
"""

import argparse
import atexit
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TESTPMD = shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd"
OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
RELAYS = ["xviod", "testpmd", "ovs"]
LABEL = {"xviod": "xviod", "testpmd": "testpmd vhost (raw relay)",
	 "ovs": "OVS-DPDK"}
GEN_CPU, RELAY_CPU = 0, 1
HUGE_MB = {"gen": 1024, "relay": 1024}   # per process, hugepage mode

procs = []          # (name, Popen) of everything we started
tmpdir = None
hugepages_saved = None
verbose = False


def log(*a):
	print(*a, file=sys.stderr, flush=True)


def vlog(*a):
	if verbose:
		log(*a)


# ---------------------------------------------------------------- processes

def spawn(name, argv, stdin=None, env=None, cpu=None):
	if cpu is not None:
		argv = ["taskset", "-c", str(cpu)] + argv
	out = open(os.path.join(tmpdir, name + ".log"), "ab")
	vlog("+", " ".join(argv))
	p = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
			     env=env, start_new_session=True)
	procs.append((name, p))
	return p


def stop(p, timeout=10):
	"""End one process we started (by its pid only), then reap it."""
	if p.poll() is not None:
		return
	for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
		try:
			os.kill(p.pid, sig)
		except ProcessLookupError:
			return
		try:
			p.wait(wait)
			return
		except subprocess.TimeoutExpired:
			pass


def stop_all():
	for name, p in reversed(procs):
		stop(p, timeout=5)
	procs.clear()


def logtail(name, n=30):
	try:
		with open(os.path.join(tmpdir, name + ".log"), errors="replace") as f:
			return "".join(f.readlines()[-n:])
	except OSError:
		return ""


class TestPmd:
	"""dpdk-testpmd in interactive mode, driven over its stdin."""

	def __init__(self, name, eal, app, cpu_main, cpu_fwd):
		self.name = name
		self.buf = ""
		self.lock = threading.Lock()
		# stdbuf: testpmd's printf output must not sit in a pipe buffer
		# while its prompt (written straight to the fd) comes out.
		argv = ["stdbuf", "-o0", "-e0", TESTPMD, "--lcores", f"0@{cpu_main},1@{cpu_fwd}", "--no-pci",
			"--file-prefix", f"xvb{os.getpid()}{name}"] + eal + \
		       ["--", "-i", "--nb-cores=1"] + app
		vlog("+", " ".join(argv))
		self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
					  stderr=subprocess.STDOUT, start_new_session=True)
		procs.append((name, self.p))
		self.logf = open(os.path.join(tmpdir, name + ".log"), "a")
		threading.Thread(target=self._reader, daemon=True).start()

	def _reader(self):
		for raw in iter(lambda: self.p.stdout.read1(65536), b""):
			s = raw.decode(errors="replace")
			self.logf.write(s)
			self.logf.flush()
			with self.lock:
				self.buf += s

	def wait_prompt(self, timeout):
		end = time.monotonic() + timeout
		while time.monotonic() < end:
			with self.lock:
				i = self.buf.find("testpmd> ")
				if i >= 0:
					out = self.buf[:i]
					self.buf = self.buf[i + 9:]
					return out
			if self.p.poll() is not None:
				raise RuntimeError(f"{self.name} exited ({self.p.returncode}):\n"
						   + logtail(self.name))
			time.sleep(0.02)
		raise RuntimeError(f"{self.name}: no prompt after {timeout}s:\n" + logtail(self.name))

	def cmd(self, line, timeout=30):
		with self.lock:
			self.buf = ""
		self.p.stdin.write((line + "\n").encode())
		self.p.stdin.flush()
		return self.wait_prompt(timeout)

	def rx_packets(self):
		"""Sum of RX-packets over all ports, and the time it was read."""
		out = self.cmd("show port stats all")
		t = time.monotonic()
		return sum(int(x) for x in re.findall(r"RX-packets:\s+(\d+)", out)), t

	def quit(self):
		if self.p.poll() is None:
			try:
				self.p.stdin.write(b"stop\nquit\n")
				self.p.stdin.flush()
				self.p.wait(10)
			except (BrokenPipeError, subprocess.TimeoutExpired):
				pass
		stop(self.p)


def wait_for(pred, timeout, what):
	end = time.monotonic() + timeout
	while time.monotonic() < end:
		if pred():
			return
		time.sleep(0.05)
	raise RuntimeError(f"timed out waiting for {what}")


# ---------------------------------------------------------------- memory

def eal_mem(args, role):
	if args.mem == "huge":
		return ["-m", str(HUGE_MB[role]), "--single-file-segments"]
	return ["--no-huge", "-m", "1024"]


def hugepages_setup(args):
	global hugepages_saved
	if args.mem != "huge":
		return
	path = "/proc/sys/vm/nr_hugepages"
	with open(path) as f:
		hugepages_saved = int(f.read())
	# generator + one relay (OVS or testpmd) + slack
	want = (HUGE_MB["gen"] + HUGE_MB["relay"]) // 2 + 256
	if hugepages_saved < want:
		with open(path, "w") as f:
			f.write(str(want))
		with open(path) as f:
			got = int(f.read())
		if got < want:
			raise RuntimeError(f"could reserve only {got} of {want} 2 MB hugepages")
	if not os.path.ismount("/dev/hugepages"):
		os.makedirs("/dev/hugepages", exist_ok=True)
		subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], check=True)
		hugepages_restore.unmount = True


def hugepages_restore():
	global hugepages_saved
	if hugepages_saved is None:
		return
	if getattr(hugepages_restore, "unmount", False):
		subprocess.run(["umount", "/dev/hugepages"])
	with open("/proc/sys/vm/nr_hugepages", "w") as f:
		f.write(str(hugepages_saved))
	hugepages_saved = None


def cleanup():
	stop_all()
	hugepages_restore()
	for d in os.listdir("/var/run/dpdk") if os.path.isdir("/var/run/dpdk") else []:
		if d.startswith(f"xvb{os.getpid()}"):
			shutil.rmtree(os.path.join("/var/run/dpdk", d), ignore_errors=True)
	if tmpdir and not getattr(cleanup, "keep", False):
		shutil.rmtree(tmpdir, ignore_errors=True)


# ---------------------------------------------------------------- relays

class Relay:
	gen_server = False      # True: generator's virtio-user serves the socket

	def __init__(self, args, d):
		self.args, self.d = args, d
		self.s0, self.s1 = os.path.join(d, "s0"), os.path.join(d, "s1")

	def start(self):
		pass

	def pid(self):
		return None

	def ready(self):
		pass

	def program(self):
		"""Install the forwarding once the ports exist (flows.py overrides)."""
		pass

	def stop(self):
		pass


class TestpmdRelay(Relay):
	def start(self):
		eal = eal_mem(self.args, "relay") + [
			"--vdev", f"net_vhost0,iface={self.s0},queues=1",
			"--vdev", f"net_vhost1,iface={self.s1},queues=1"]
		self.t = TestPmd("relay-testpmd", eal, ["--forward-mode=io", "--auto-start"],
				 RELAY_CPU, RELAY_CPU)
		self.t.wait_prompt(120)
		wait_for(lambda: os.path.exists(self.s0) and os.path.exists(self.s1), 30,
			 "testpmd vhost sockets")

	def pid(self):
		return self.t.p.pid

	def stop(self):
		self.t.quit()


class XviodRelay(Relay):
	def start(self):
		a = self.args
		self.ctl = os.path.join(self.d, "ctl.sock")
		# --no-state: each run starts empty, whatever ran in this dir before
		self.p = spawn("relay-xviod", [a.xviod, "--ctl", self.ctl, "--no-state", "--pmd-cpus",
					       str(RELAY_CPU)], cpu=RELAY_CPU)
		wait_for(lambda: os.path.exists(self.ctl) or self.p.poll() is not None, 30,
			 "xviod control socket")
		if self.p.poll() is not None:
			raise RuntimeError("xviod exited:\n" + logtail("relay-xviod"))
		self.xctl("add-port", "p0", "vhost-user", f"path={self.s0}")
		self.xctl("add-port", "p1", "vhost-user", f"path={self.s1}")
		self.program()
		wait_for(lambda: os.path.exists(self.s0) and os.path.exists(self.s1), 30,
			 "xviod vhost sockets")

	def program(self):
		self.xctl("xconnect", "p0", "p1")

	def xctl(self, *argv, timeout=30):
		r = subprocess.run([self.args.xvioctl, "--ctl", self.ctl] + list(argv),
				   capture_output=True, text=True, timeout=timeout)
		if r.returncode != 0:
			raise RuntimeError(f"xvioctl {' '.join(argv)}: {r.stderr.strip()}")
		return r.stdout

	def stats(self):
		try:
			return json.loads(self.xctl("--json", "stats"))
		except Exception as e:     # diagnostics only
			return {"error": str(e)}

	def pid(self):
		return self.p.pid

	def stop(self):
		stop(self.p)


class OvsRelay(Relay):
	gen_server = True
	br = "br0"              # a netdev bridge is also a kernel tap of that name

	def start(self):
		a, d = self.args, self.d
		self.db = os.path.join(d, "conf.db")
		self.dbsock = os.path.join(d, "db.sock")
		env = dict(os.environ, OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d,
			   OVS_PKGDATADIR="/usr/share/openvswitch", OVS_SYSCONFDIR=d)
		self.env = env
		subprocess.run(["ovsdb-tool", "create", self.db, OVS_SCHEMA], check=True,
			       env=env)
		self.dbp = spawn("ovsdb-server", [
			"ovsdb-server", self.db, f"--remote=punix:{self.dbsock}",
			f"--pidfile={d}/ovsdb-server.pid", f"--unixctl={d}/ovsdb-server.ctl"],
			env=env, cpu=RELAY_CPU)
		wait_for(lambda: os.path.exists(self.dbsock), 20, "ovsdb-server socket")
		if a.mem == "huge":
			mem = f"other_config:dpdk-socket-mem={HUGE_MB['relay']}"
			extra = "--no-pci --single-file-segments"
		else:
			mem = None
			# OVS adds --in-memory unless --legacy-mem is given, and
			# --no-huge (legacy memory) refuses --in-memory.  OVS wants
			# 262144 mbufs (~1.1 GB with MTU 1500): 1024 MB is too little.
			extra = "--no-pci --no-huge -m 2048 --legacy-mem"
		self.vsctl("--no-wait", "init")
		self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
			   "other_config:dpdk-init=true",
			   f"other_config:dpdk-extra=\"{extra}\"",
			   f"other_config:pmd-cpu-mask={1 << RELAY_CPU:#x}",
			   *( [mem] if mem else []))
		self.vsp = spawn("ovs-vswitchd", [
			OVS_VSWITCHD, f"unix:{self.dbsock}", f"--pidfile={d}/ovs-vswitchd.pid",
			f"--unixctl={d}/ovs-vswitchd.ctl", f"--log-file={d}/ovs-vswitchd.file.log"],
			env=env, cpu=RELAY_CPU)
		wait_for(lambda: os.path.exists(f"{d}/ovs-vswitchd.ctl") or
			 self.vsp.poll() is not None, 60, "ovs-vswitchd control socket")
		# DPDK initialises before the control socket exists
		if self.vsp.poll() is not None:
			raise RuntimeError("ovs-vswitchd exited:\n" + logtail("ovs-vswitchd"))
		self.vsctl("--timeout=120", "add-br", self.br, "--", "set", "bridge", self.br,
			   "datapath_type=netdev")
		for i, s in ((1, self.s0), (2, self.s1)):
			self.vsctl("--timeout=60", "add-port", self.br, f"vhu{i}", "--", "set",
				   "Interface", f"vhu{i}", "type=dpdkvhostuserclient",
				   f"options:vhost-server-path={s}", f"ofport_request={i}")
		self.ofctl("del-flows", self.br)
		self.program()

	def program(self):
		self.ofctl("add-flow", "br0", "in_port=1,actions=output:2")
		self.ofctl("add-flow", "br0", "in_port=2,actions=output:1")

	def vsctl(self, *argv):
		r = subprocess.run(["ovs-vsctl", f"--db=unix:{self.dbsock}"] + list(argv),
				   capture_output=True, text=True, env=self.env, timeout=150)
		if r.returncode != 0:
			raise RuntimeError(f"ovs-vsctl {' '.join(argv)}: {r.stderr.strip()}\n"
					   + logtail("ovs-vswitchd"))
		return r.stdout

	def ofctl(self, *argv, timeout=30):
		# ovs-ofctl finds br0.mgmt under OVS_RUNDIR
		r = subprocess.run(["ovs-ofctl"] + list(argv), capture_output=True, text=True,
				   env=self.env, timeout=timeout)
		if r.returncode != 0:
			raise RuntimeError(f"ovs-ofctl {' '.join(argv)}: {r.stderr.strip()}")
		return r.stdout

	def ready(self):
		# the generator serves; wait until OVS has connected both ports
		def up():
			out = self.vsctl("--columns=name,link_state", "list", "Interface")
			return out.count('"up"') + out.count(": up") >= 2
		wait_for(up, 30, "OVS vhost-user client ports up")

	def pid(self):
		return self.vsp.pid

	def stop(self):
		stop(self.vsp, timeout=20)
		stop(self.dbp)
		# The netdev datapath's taps are persistent: without this every run
		# leaves the bridge's and ovs-netdev's interfaces behind.
		for dev in (self.br, "ovs-netdev"):
			subprocess.run(["ip", "link", "del", dev], stderr=subprocess.DEVNULL)


RELAY_CLASS = {"xviod": XviodRelay, "testpmd": TestpmdRelay, "ovs": OvsRelay}


# ---------------------------------------------------------------- one run

def gen_mbufs_arg(ap):
	ap.add_argument("--gen-mbufs", type=int, default=8192, metavar="N",
			help="open loop: the flowgen generator's mbuf pool (0: testpmd's "
			"default); its rings hold 4 × --ring (bench/README.md)")


def common_args(ap):
	"""The options every side-by-side bench built on this harness shares
	(ct.py, tnl.py, vrouter.py), with the same defaults."""
	ap.add_argument("--reps", type=int, default=3)
	ap.add_argument("--wait-quiet", type=float, default=120, metavar="SECS")
	ap.add_argument("--interval", type=float, default=10.0)
	ap.add_argument("--warmup", type=float, default=2.0)
	ap.add_argument("--mem", choices=["huge", "nohuge"], default="huge")
	ap.add_argument("--ring", type=int, default=1024)
	ap.add_argument("--burst", type=int, default=32)
	gen_mbufs_arg(ap)
	ap.add_argument("--xviod", default=os.environ.get("XVIOD"))
	ap.add_argument("--xvioctl", default=os.environ.get("XVIOCTL"))
	ap.add_argument("--out", default=os.path.join(HERE, "results"))
	ap.add_argument("--no-save", action="store_true")
	ap.add_argument("--keep", action="store_true")
	ap.add_argument("-v", "--verbose", action="store_true")


def cpu_busy(secs=0.5):
	"""Fraction of the machine's CPU time busy over secs (before we start
	anything: other people's compiles or fuzzers skew every figure)."""
	def snap():
		with open("/proc/stat") as f:
			v = [int(x) for x in f.readline().split()[1:]]
		return sum(v), v[3] + v[4]
	t0, i0 = snap()
	time.sleep(secs)
	t1, i1 = snap()
	return 1 - (i1 - i0) / max(1, t1 - t0)


def start_generator(args, relay):
	srv = ",server=1" if relay.gen_server else ""
	q = f"queues=1,queue_size={args.ring}"
	eal = eal_mem(args, "gen") + [
		"--vdev", f"net_virtio_user0,path={relay.s0},{q}{srv}",
		"--vdev", f"net_virtio_user1,path={relay.s1},{q}{srv}"]
	app = ["--forward-mode=io", f"--rxd={args.ring}", f"--txd={args.ring}"]
	# Both generator lcores on core 0: the forwarding one busy-polls, the main
	# one sleeps in the command line.
	return TestPmd("gen", eal, app, GEN_CPU, GEN_CPU)


def cpu_ticks(pid):
	"""utime + stime of a process (all its threads), in clock ticks."""
	try:
		with open(f"/proc/{pid}/stat") as f:
			v = f.read().rsplit(")", 1)[1].split()
		return int(v[11]) + int(v[12])
	except (OSError, IndexError, ValueError):
		return None


def measure(gen, relay, interval):
	"""The generator's rx rate (Mpps, all ports) over interval seconds, and the
	share of a CPU the generator and the relay process each got meanwhile."""
	pids = {"gen": gen.p.pid, "relay": relay.pid()}
	c0 = {k: cpu_ticks(v) for k, v in pids.items()}
	n0, t0 = gen.rx_packets()
	time.sleep(interval)
	n1, t1 = gen.rx_packets()
	c1 = {k: cpu_ticks(v) for k, v in pids.items()}
	if n1 == n0:
		raise RuntimeError("no packets arrived:\n" + logtail("gen"))
	# Each of the two busy-polls its core: a share well under 1.0 means
	# something else ran on that core and the figure is low.
	hz = os.sysconf("SC_CLK_TCK")
	share = {k: round((c1[k] - c0[k]) / hz / (t1 - t0), 2)
		 for k in pids if c0[k] is not None and c1[k] is not None}
	return (n1 - n0) / (t1 - t0) / 1e6, share


def wait_quiet(args):
	"""Wait up to args.wait_quiet s for the machine to be < 5 % busy; return
	the last busy fraction seen (warns if still busy)."""
	b = cpu_busy()
	end = time.monotonic() + args.wait_quiet
	while b > 0.05 and time.monotonic() < end:
		b = cpu_busy(2.0)
	if b > 0.05:
		log(f"warning: machine {b:.0%} busy before the run: figures are skewed")
	return b


def find_tools(args, prog):
	"""Fill args.xviod/args.xvioctl from build/ or /tmp/build-bench/."""
	for k in ("xviod", "xvioctl"):
		if not getattr(args, k):
			for b in ("build", "/tmp/build-bench"):
				p = os.path.join(REPO, b, k)
				if os.access(p, os.X_OK):
					setattr(args, k, p)
					break
		if not getattr(args, k) or not os.access(getattr(args, k), os.X_OK):
			sys.exit(f"{prog}: {k} not found (build it, or --{k} PATH / ${k.upper()})")


def check_env(prog, need_ovs):
	if os.geteuid() != 0:
		sys.exit(f"{prog}: needs root (hugepages, vhost-user sockets, taskset)")
	if not os.access(TESTPMD, os.X_OK):
		sys.exit(f"{prog}: dpdk-testpmd missing (Debian package dpdk-dev)")
	if os.cpu_count() < 2:
		sys.exit(f"{prog}: needs 2 CPUs")
	if need_ovs and not os.access(OVS_VSWITCHD, os.X_OK):
		sys.exit(f"{prog}: ovs-vswitchd-dpdk missing (Debian package openvswitch-switch-dpdk)")


def init_run(args):
	"""Temp dir, clean-up on any exit (processes, hugepages), hugepages."""
	global tmpdir, verbose
	verbose = args.verbose
	tmpdir = tempfile.mkdtemp(prefix="xvio-bench-")
	cleanup.keep = args.keep
	atexit.register(cleanup)
	for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
		signal.signal(sig, lambda s, f: sys.exit(128 + s))
	hugepages_setup(args)


def machine_cpu():
	with open("/proc/cpuinfo") as f:
		m = re.search(r"model name\s*:\s*(.*)", f.read())
	return m.group(1) if m else ""


def git_rev():
	return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
			      capture_output=True, text=True).stdout.strip() or "uncommitted"


def run_once(args, name, size):
	d = tempfile.mkdtemp(prefix=f"{name}-{size}-", dir=tmpdir)
	relay = RELAY_CLASS[name](args, d)
	gen = None
	try:
		relay.start()
		gen = start_generator(args, relay)
		gen.wait_prompt(120)
		relay.ready()
		gen.cmd(f"set txpkts {size}")
		gen.cmd(f"set burst {args.burst}")
		gen.cmd(f"start tx_first {args.tx_first}")
		time.sleep(args.warmup)
		mpps, share = measure(gen, relay, args.interval)
		extra = relay.stats() if name == "xviod" and args.verbose else None
		gen.cmd("stop", timeout=30)
		if extra:
			vlog(json.dumps(extra))
		return mpps, share
	finally:
		if gen:
			gen.quit()
		relay.stop()
		stop_all()


# ---------------------------------------------------------------- report

def summarize(res):
	out = {}
	for name, bysize in res.items():
		out[name] = {}
		for size, xs in bysize.items():
			if xs:
				out[name][size] = {"median": statistics.median(xs), "min": min(xs),
						   "max": max(xs), "runs": xs}
	return out


def table(summary, sizes):
	lines = ["| relay | " + " | ".join(f"{s} B Mpps (median, min–max)" for s in sizes) + " |",
		 "|---|" + "---|" * len(sizes)]
	for name in RELAYS:
		if name not in summary:
			continue
		cells = []
		for s in sizes:
			r = summary[name].get(s)
			cells.append(f"{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})" if r else "—")
		lines.append(f"| {LABEL[name]} | " + " | ".join(cells) + " |")
	if "xviod" in summary:
		for peer in ("testpmd", "ovs"):
			if peer not in summary:
				continue
			cells = []
			for s in sizes:
				a, b = summary["xviod"].get(s), summary[peer].get(s)
				cells.append(f"{a['median'] / b['median']:.2f}×" if a and b else "—")
			lines.append(f"| xviod / {LABEL[peer]} | " + " | ".join(cells) + " |")
	return "\n".join(lines)


def plot(summary, sizes, path, title):
	import matplotlib
	matplotlib.use("Agg")
	import matplotlib.pyplot as plt
	names = [n for n in RELAYS if n in summary]
	fig, axes = plt.subplots(1, len(sizes), figsize=(4.5 * len(sizes), 4), squeeze=False)
	for ax, s in zip(axes[0], sizes):
		med = [summary[n][s]["median"] if s in summary[n] else 0 for n in names]
		lo = [m - summary[n][s]["min"] if s in summary[n] else 0 for n, m in zip(names, med)]
		hi = [summary[n][s]["max"] - m if s in summary[n] else 0 for n, m in zip(names, med)]
		bars = ax.bar([LABEL[n] for n in names], med, yerr=[lo, hi], capsize=6,
			      color=["#d62728" if n == "xviod" else "#7f7f7f" for n in names])
		for b, m, h in zip(bars, med, hi):
			ax.annotate(f"{m:.2f}", (b.get_x() + b.get_width() / 2, m + h),
				    ha="center", va="bottom", fontsize=9,
				    xytext=(0, 3), textcoords="offset points")
		ax.set_title(f"{s}-byte frames")
		ax.set_ylabel("Mpps (both directions)")
		ax.tick_params(axis="x", labelsize=8)
	fig.suptitle(title, fontsize=9)
	fig.tight_layout()
	fig.savefig(path, dpi=110)


# ---------------------------------------------------------------- main

def main():
	ap = argparse.ArgumentParser(description=__doc__,
				     formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--only", action="append", choices=RELAYS,
			help="run only this relay (repeatable)")
	ap.add_argument("--quick", action="store_true", help="1 repetition, 3 s interval")
	ap.add_argument("--reps", type=int, default=3)
	ap.add_argument("--wait-quiet", type=float, default=120, metavar="SECS",
			help="before each run, wait up to SECS for the machine to be <5%% busy")
	ap.add_argument("--interval", type=float, default=10.0, help="seconds measured")
	ap.add_argument("--warmup", type=float, default=2.0)
	ap.add_argument("--sizes", default="64,1518")
	ap.add_argument("--mem", choices=["huge", "nohuge"], default="huge",
			help="memory of every DPDK process (default: 2 MB hugepages)")
	ap.add_argument("--ring", type=int, default=1024, help="virtqueue size")
	ap.add_argument("--burst", type=int, default=32)
	ap.add_argument("--tx-first", type=int, default=16,
			help="bursts injected per port by start tx_first")
	ap.add_argument("--xviod", default=os.environ.get("XVIOD"))
	ap.add_argument("--xvioctl", default=os.environ.get("XVIOCTL"))
	ap.add_argument("--out", default=os.path.join(HERE, "results"))
	ap.add_argument("--no-save", action="store_true", help="print only")
	ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
	ap.add_argument("-v", "--verbose", action="store_true")
	args = ap.parse_args()
	if args.quick:
		args.reps, args.interval, args.warmup = 1, 3.0, 1.0
		args.wait_quiet = min(args.wait_quiet, 10)
	sizes = [int(s) for s in args.sizes.split(",")]
	names = [n for n in RELAYS if n in (args.only or RELAYS)]

	check_env("relay.py", "ovs" in names)
	if "xviod" in names:
		find_tools(args, "relay.py")
	init_run(args)

	res = {n: {s: [] for s in sizes} for n in names}
	errors = []
	busy = []
	runs = []
	contended = []
	for rep in range(args.reps):
		for size in sizes:
			for name in names:
				b = wait_quiet(args)
				busy.append(b)
				try:
					m, share = run_once(args, name, size)
					res[name][size].append(m)
					runs.append({"relay": name, "size": size, "rep": rep + 1, "mpps": m,
						     "busy_before": round(b, 3), "cpu_share": share})
					low = [k for k, v in share.items() if v < 0.9]
					log(f"rep {rep + 1}/{args.reps} {size:5d} B {name:8s} {m:7.3f} Mpps"
					    f"  (cpu {' '.join(f'{k} {v:.2f}' for k, v in share.items())})"
					    + (f"  WARNING: {', '.join(low)} did not get its core" if low else ""))
					if low:
						contended.append(f"{name} {size} B rep {rep + 1}")
				except Exception as e:
					errors.append(f"{name} {size} B rep {rep + 1}: {e}")
					log(f"rep {rep + 1}/{args.reps} {size:5d} B {name:8s} FAILED: {e}")

	summary = summarize(res)
	now = datetime.datetime.now()
	cpu = machine_cpu()
	cmdline = "bench/relay.sh " + " ".join(sys.argv[1:])
	setup = (f"{args.reps} reps × {args.interval:g} s, memory {args.mem}, ring {args.ring}, "
		 f"tx_first {args.tx_first}×{args.burst} pkts/port, generator core {GEN_CPU}, "
		 f"relay core {RELAY_CPU}, {cpu}")
	tbl = table(summary, sizes)
	if contended:
		setup += ("; WARNING: generator or relay got < 90 % of its core in: "
			  + ", ".join(contended))
	if busy and max(busy) > 0.05:
		setup += (f"; WARNING: other load on the machine before runs, up to "
			  f"{max(busy):.0%} of all CPUs")
	print(f"\n{setup}\n\n{tbl}\n")
	for e in errors:
		print("error:", e.splitlines()[0])
	if args.no_save:
		return 1 if errors else 0
	os.makedirs(args.out, exist_ok=True)
	stamp = now.strftime("%Y%m%d-%H%M%S")
	git = git_rev()
	md = os.path.join(args.out, f"relay-{stamp}.md")
	with open(md, "w") as f:
		f.write(f"# vhost loopback relay, {now:%Y-%m-%d %H:%M}\n\n`{cmdline}` "
			f"(git {git})\n\n{setup}\n\nMpps = packets the relay forwarded per "
			f"second, both directions together.\n\n{tbl}\n")
		if errors:
			f.write("\nErrors:\n\n" + "\n".join(f"- {e.splitlines()[0]}" for e in errors) + "\n")
	with open(os.path.join(args.out, f"relay-{stamp}.json"), "w") as f:
		json.dump({"date": now.isoformat(timespec="seconds"), "command": cmdline,
			   "git": git, "cpu": cpu, "args": vars(args), "runs": runs, "summary": {
				   n: {str(s): v for s, v in d.items()} for n, d in summary.items()},
			   "errors": errors}, f, indent=1)
	png = os.path.join(args.out, "relay.png")
	try:
		plot(summary, sizes, png,
		     f"vhost loopback, one relay core — {now:%Y-%m-%d} — {cmdline}")
	except Exception as e:
		print(f"plot failed ({e}); apt-get install python3-matplotlib")
		png = None
	print("wrote", md, "and", png or "no plot")
	return 1 if errors else 0


if __name__ == "__main__":
	sys.exit(main())


def print_config(relay, d):
	"""Write into d the xvioctl commands relay.program() issues, one per line
	in d/config (the rule and route files it writes land in d too), instead
	of running them: bench/dp_bench replays them to count the same datapath
	under callgrind (bench/dp_callgrind.sh)."""
	cmds = []

	def record(*argv, timeout=30):
		argv = list(argv)
		if argv[:1] == ["--timeout"]:
			argv = argv[2:]
		cmds.append(argv)
		return ""
	os.makedirs(d, exist_ok=True)
	relay.xctl = record
	relay.program()
	with open(os.path.join(d, "config"), "w") as f:
		for c in cmds:
			f.write(" ".join(c) + "\n")
