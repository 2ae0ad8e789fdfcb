#!/bin/sh
# vhost loopback relay benchmark; see bench/README.md and ./relay.py --help.
exec python3 "$(dirname "$0")/relay.py" "$@"
