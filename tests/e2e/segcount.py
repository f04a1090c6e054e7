#!/usr/bin/env python3
"""Counts the TCP segments of loopback connections to one port (stdlib only;
needs CAP_NET_RAW): an AF_PACKET socket on "lo" sees every segment.

  segcount.py --port P --fins N [--timeout S] --ready FILE
      Captures until N segments carrying FIN came from each side (the
      server's source port is P), then prints one line per side and connection:
        server <segments> <data segments> <bare FINs>
        client <segments> <data segments> <bare FINs>
      in the order the connections started. A bare FIN is a FIN segment
      without payload: the last bytes left in an earlier segment. Writes
      "capturing" to FILE once the socket is open; exit 1 on timeout.
"""
import argparse
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
FIN = 0x01


def parse(frame):
    """(src port, dst port, flags, payload bytes) of an IPv4 TCP frame on lo."""
    if len(frame) < 14 + 20 or struct.unpack("!H", frame[12:14])[0] != 0x0800:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != socket.IPPROTO_TCP:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:]
    sport, dport = struct.unpack("!HH", tcp[0:4])
    doff = (tcp[12] >> 4) * 4
    return sport, dport, tcp[13], total - ihl - doff


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--fins", type=int, required=True)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--ready", required=True)
    a = p.parse_args()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind(("lo", 0))
    s.settimeout(0.2)
    with open(a.ready, "w") as f:
        f.write("capturing\n")
    conns = {}   # client port -> {"server": [...], "client": [...]}
    order = []
    fins = {"server": 0, "client": 0}
    deadline = time.monotonic() + a.timeout
    while min(fins.values()) < a.fins and time.monotonic() < deadline:
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:   # lo shows each frame twice
            continue
        seg = parse(frame)
        if seg is None:
            continue
        sport, dport, flags, payload = seg
        if sport == a.port:
            side, cport = "server", dport
        elif dport == a.port:
            side, cport = "client", sport
        else:
            continue
        if cport not in conns:
            conns[cport] = {"server": [0, 0, 0], "client": [0, 0, 0]}
            order.append(cport)
        c = conns[cport][side]
        c[0] += 1
        c[1] += payload > 0
        c[2] += (flags & FIN) != 0 and payload == 0
        if flags & FIN:
            fins[side] += 1
    for cport in order:
        for side in ("server", "client"):
            print(side, *conns[cport][side])
    return 0 if min(fins.values()) >= a.fins else 1


if __name__ == "__main__":
    sys.exit(main())
