#!/usr/bin/env python3
"""Writes config/k8s/pcap/<namespace>-<pod>.pcap: each pod of cluster.yaml sends every
other pod a TCP SYN and a UDP datagram to ports 80 and 81 (32 frames per pod), from the
MACs gbpd derives (0a:58 + IPv4 address). Run from the repository root."""
import os, struct

NS, PODS = ["x", "y", "z"], ["a", "b", "c"]

def ip(ns, pod): return bytes([10, 0, NS.index(ns) + 1, PODS.index(pod) + 1])
def mac(ns, pod): return bytes([0x0A, 0x58]) + ip(ns, pod)

def csum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def frame(src, dst, proto, sport, dport):
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8, 0)
    pseudo = ip(*src) + ip(*dst) + struct.pack("!BBH", 0, proto, len(l4))
    c = csum(pseudo + l4)
    l4 = l4[:16] + struct.pack("!H", c) + l4[18:] if proto == 6 else l4[:6] + struct.pack("!H", c or 0xFFFF)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, ip(*src), ip(*dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    f = mac(*dst) + mac(*src) + b"\x08\x00" + hdr + l4
    return f + b"\0" * max(0, 60 - len(f))

os.makedirs("config/k8s/pcap", exist_ok=True)
pods = [(n, p) for n in NS for p in PODS]
for i, s in enumerate(pods):
    with open(f"config/k8s/pcap/{s[0]}-{s[1]}.pcap", "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        n = 0
        for j, d in enumerate(pods):
            if d == s: continue
            for k, (proto, port) in enumerate([(6, 80), (6, 81), (17, 80), (17, 81)]):
                f = frame(s, d, proto, 20000 + i * 1000 + j * 10 + k, port)
                out.write(struct.pack("<IIII", 1, n, len(f), len(f)) + f)
                n += 1
