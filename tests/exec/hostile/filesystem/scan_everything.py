"""Walk the whole visible filesystem and print every file that contains a canary prefix,
plus secrets a host usually holds (/etc/shadow, ssh keys, shell history, /run sockets).

Contained: no token appears; the walk sees only the interpreter, its libraries, devices,
/proc of its own namespace and the task dir.
"""

import os

SKIP = ("/proc", "/sys", "/dev")


def main(ctx):
    prefix = ctx["canary_prefix"].encode()
    hits, seen, tops = [], 0, sorted(os.listdir("/"))
    for top, dirs, files in os.walk("/"):
        if top.startswith(SKIP):
            dirs[:] = []
            continue
        for name in files:
            seen += 1
            if seen > 200_000:
                return {"hits": hits, "seen": seen, "tops": tops}
            path = os.path.join(top, name)
            try:
                with open(path, "rb") as fh:
                    data = fh.read(1 << 16)
            except OSError:
                continue
            if prefix in data:
                hits.append([path, data[:200].decode("latin-1")])
    for path in ("/etc/shadow", "/root/.ssh/id_rsa", "/root/.bash_history", ctx["home"]):
        try:
            hits.append([path, os.listdir(path) if os.path.isdir(path) else open(path).read()])
        except OSError:
            pass
    print(hits)
    return {"hits": hits, "seen": seen, "tops": tops}
