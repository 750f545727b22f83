"""Reach the host over TCP/UDP loopback, IPv6, and AF_VSOCK (the hypervisor's host side), and
open raw and packet sockets.

Contained: the network namespace has only a down loopback, vsock and packet sockets are
refused: the recording TCP listener sees nothing.
"""

import socket


def main(ctx):
    out = {}
    port = ctx["tcp_port"]
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.connect((host, port))
            out[host] = "connected"
        except OSError as exc:
            out[host] = type(exc).__name__
        finally:
            s.close()
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"x", ("127.0.0.1", port))
        out["udp"] = "sent"
    except OSError as exc:
        out["udp"] = type(exc).__name__
    for name, args in (
        ("vsock", (40, socket.SOCK_STREAM)),
        ("packet", (17, socket.SOCK_RAW)),
        ("raw", (socket.AF_INET, socket.SOCK_RAW, 1)),
    ):
        try:
            s = socket.socket(*args)
            if name == "vsock":
                s.settimeout(1)
                s.connect((2, port))  # CID 2: the host
            out[name] = "opened"
        except OSError as exc:
            out[name] = type(exc).__name__
    return out
