#!/bin/sh
# vRouter benchmark (issue 6, scenario b): xviod routing in VRFs with 100k
# routes against xviod's own L2 relay, same run; see bench/README.md and
# ./vrouter.sh --help.  Debian's python3 (python3-matplotlib).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/vrouter.py" "$@"
