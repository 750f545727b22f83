"""Connect to the host's abstract unix socket (a name, no file), as used by dbus, X11 and many
local services.

Contained: abstract names belong to the network namespace (and Landlock scopes them): the
recording listener sees nothing.
"""

import socket


def main(ctx):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect("\0" + ctx["abstract_socket"])
        s.send(b"hostile")
        return "connected"
    except OSError as exc:
        return type(exc).__name__
