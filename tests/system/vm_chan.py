#!/usr/bin/env python3
"""Talk to a test guest (scripts/guest-image.sh) or its QEMU, over unix sockets.

  vm_chan.py cmd SOCK TIMEOUT COMMAND   run COMMAND in the guest; print its
                                        output, exit with its status (124: timeout)
  vm_chan.py qmp SOCK TIMEOUT JSON      send one QMP command, print the "return"
                                        as JSON (exit 1 on a QMP error)
  vm_chan.py hmp SOCK TIMEOUT COMMAND   one human-monitor command (info ...)
                                        through QMP, print its text

The guest's command channel is its second serial port: we send
"NONCE COMMAND\\n" and read until "@@XVIO-DONE NONCE RC"; anything before that
marker from an earlier, abandoned command is skipped by the nonce.
"""
import json
import os
import socket
import sys
import time


def connect(path, deadline):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def run_cmd(path, timeout, command):
    deadline = time.monotonic() + timeout
    try:
        s = connect(path, deadline)
    except OSError as e:
        print("vm_chan: cannot connect to %s: %s" % (path, e), file=sys.stderr)
        return 124
    nonce = os.urandom(6).hex()
    s.sendall(("%s %s\n" % (nonce, command)).encode())
    marker = ("@@XVIO-DONE %s " % nonce).encode()
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.stdout.write(buf.decode(errors="replace"))
            print("vm_chan: timeout after %ss: %s" % (timeout, command), file=sys.stderr)
            return 124
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            print("vm_chan: guest closed the channel", file=sys.stderr)
            return 124
        buf += chunk
        i = buf.find(marker)
        if i >= 0:
            end = buf.find(b"\n", i)
            if end < 0:
                continue
            rc = int(buf[i + len(marker):end].strip() or b"1")
            out = buf[:i]
            # Output of an earlier command we gave up on ends in its own marker.
            j = out.rfind(b"@@XVIO-DONE ")
            if j >= 0:
                nl = out.find(b"\n", j)
                out = out[nl + 1:] if nl >= 0 else b""
            sys.stdout.write(out.decode(errors="replace"))
            return rc


def qmp(path, timeout, command, text=False):
    deadline = time.monotonic() + timeout
    s = connect(path, deadline)
    f = s.makefile("rwb")
    s.settimeout(timeout)

    def read_reply():
        while True:
            line = f.readline()
            if not line:
                raise OSError("QMP closed")
            msg = json.loads(line)
            if "return" in msg or "error" in msg:
                return msg

    json.loads(f.readline())  # greeting
    f.write(b'{"execute":"qmp_capabilities"}\n')
    f.flush()
    read_reply()
    f.write(command.encode() + b"\n")
    f.flush()
    msg = read_reply()
    if "error" in msg:
        print("qmp error: %s" % msg["error"].get("desc"), file=sys.stderr)
        return 1
    print(msg["return"] if text else json.dumps(msg["return"]), end="" if text else "\n")
    return 0


def hmp(path, timeout, command):
    return qmp(path, timeout, json.dumps({"execute": "human-monitor-command",
                                          "arguments": {"command-line": command}}), True)


def main():
    fns = {"cmd": run_cmd, "qmp": qmp, "hmp": hmp}
    if len(sys.argv) != 5 or sys.argv[1] not in fns:
        print(__doc__, file=sys.stderr)
        return 2
    fn = fns[sys.argv[1]]
    return fn(sys.argv[2], float(sys.argv[3]), sys.argv[4])


if __name__ == "__main__":
    sys.exit(main())
