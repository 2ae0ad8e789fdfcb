#!/bin/sh
# vhost loopback relay benchmark; see bench/README.md and ./relay.sh --help.
# Debian's python3 (it has python3-matplotlib), not whatever python3 is first
# on PATH (a pyenv or venv one would not).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/relay.py" "$@"
