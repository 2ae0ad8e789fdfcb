#!/bin/sh
# Tunnel benchmark (issue 6a): VXLAN + 1,000 rules, xviod vs OVS-DPDK with the same
# rules and a VXLAN port; see bench/README.md and ./tnl.sh --help.  Debian's python3 (it has
# python3-matplotlib), not whatever python3 is first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/tnl.py" "$@"
