#!/bin/sh
# Conntrack benchmark (issue 5, item 6): the L2 relay plus ct(commit), a
# security-group table, new connections per second and memory per connection,
# xviod against OVS-DPDK with the same flows; see bench/README.md and
# ./ct.sh --help.  Debian's python3 (python3-matplotlib), as flows.sh.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/ct.py" "$@"
