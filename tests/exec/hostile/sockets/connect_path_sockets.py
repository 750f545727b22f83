"""Connect to the host's path-based unix sockets the runner planted (mode 777), stream and
datagram, by path and through /proc/*/root.

Contained: the paths do not exist in the task's root; the recording listeners see nothing.
"""

import socket


def main(ctx):
    out = {}
    for path in ctx["unix_sockets"]:
        for variant in (path, "/proc/1/root" + path, "/proc/self/root" + path):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_UNIX, kind)
                s.settimeout(1)
                try:
                    s.connect(variant)
                    s.send(b"hostile")
                    out[f"{variant} {kind}"] = "connected"
                except OSError as exc:
                    out[f"{variant} {kind}"] = type(exc).__name__
                finally:
                    s.close()
    return out
