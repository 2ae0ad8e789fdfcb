#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_vhost_msg (tests/fuzz/corpus/vhost_msg/).
Run by hand; the files are committed. Each file is a stream of vhost-user
messages (12-byte header + payload); fds are supplied by the harness."""
import os, struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "vhost_msg")
UVA = 0x7F0000000000
NEED_REPLY = 1 << 3
(GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE, SET_LOG_BASE,
 SET_LOG_FD, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE,
 SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR, GET_PROTOCOL_FEATURES,
 SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE, SEND_RARP,
 NET_SET_MTU) = range(1, 21)
SET_STATUS, GET_STATUS = 39, 40
F = (1 << 32) | (1 << 15) | (1 << 29) | (1 << 28) | (1 << 30) | (1 << 22)
PACKED = 1 << 34
P = 0b11111 | (1 << 16)


def msg(req, payload=b"", flags=0):
    return struct.pack("<III", req, 1 | flags, len(payload)) + payload


def u64(req, v, flags=0):
    return msg(req, struct.pack("<Q", v), flags)


def state(req, i, n, flags=0):
    return msg(req, struct.pack("<II", i, n), flags)


def mem_table(regions, flags=0):
    b = struct.pack("<II", len(regions), 0)
    for gpa, size, uva, off in regions:
        b += struct.pack("<QQQQ", gpa, size, uva, off)
    return msg(SET_MEM_TABLE, b, flags)


def vring(i, base=0, num=256, nofd=False):
    gpa = 0x10000 * (i + 1)
    return (state(SET_VRING_NUM, i, num) + state(SET_VRING_BASE, i, base) +
            msg(SET_VRING_ADDR, struct.pack("<IIQQQQ", i, 0, UVA + gpa, UVA + gpa + 0x2000,
                                            UVA + gpa + 0x1000, gpa + 0x2000)) +
            u64(SET_VRING_CALL, i) +
            u64(SET_VRING_KICK, i | (0x100 if nofd else 0)) +
            state(SET_VRING_ENABLE, i, 1))


def qemu(features=F, qps=1, nofd=False):
    s = (msg(GET_FEATURES) + msg(GET_PROTOCOL_FEATURES) + u64(SET_PROTOCOL_FEATURES, P) +
         msg(GET_QUEUE_NUM) + msg(SET_OWNER) + u64(SET_FEATURES, features, NEED_REPLY) +
         mem_table([(0, 1 << 20, UVA, 0)], NEED_REPLY))
    for i in range(2 * qps):
        s += vring(i, base=i, nofd=nofd)
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "qemu_split": qemu() + u64(SET_STATUS, 15) + msg(GET_STATUS),
        "qemu_packed": qemu(F | PACKED) + state(GET_VRING_BASE, 1, 0),
        "qemu_mq2": qemu(qps=2) + u64(NET_SET_MTU, 1500, NEED_REPLY) +
                    u64(SEND_RARP, 0x665544332211),
        "polling": qemu(nofd=True) + u64(SET_VRING_ERR, 0x101),
        "stop_restart": qemu() + state(GET_VRING_BASE, 0, 0) + state(GET_VRING_BASE, 1, 0) +
                        u64(SET_VRING_KICK, 0) + u64(SET_VRING_KICK, 1) +
                        mem_table([(0, 1 << 19, UVA, 0), (1 << 19, 1 << 19, UVA + (1 << 19), 1 << 19)]),
        "migration": qemu() + msg(SET_LOG_BASE, struct.pack("<QQ", 4096, 0)) + msg(SET_LOG_FD) +
                     u64(SET_FEATURES, F | (1 << 26)) +
                     msg(SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 1, UVA + 0x10000, UVA + 0x12000,
                                                     UVA + 0x11000, 0x12000)),
        "reset": qemu() + msg(RESET_OWNER) + qemu(),
        "bad_region": mem_table([(0, 2 << 20, UVA, 0)]) + qemu(),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
