#!/bin/sh
# Flow-table benchmark (issue 4): xviod vs OVS-DPDK with the same OpenFlow
# rules; see bench/README.md and ./flows.sh --help.  Debian's python3 (it has
# python3-matplotlib), not whatever python3 is first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/flows.py" "$@"
