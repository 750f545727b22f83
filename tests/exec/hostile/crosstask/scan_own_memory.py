"""Look for anything an earlier task left: scan this process's whole readable memory through
/proc/self/mem, the strings the garbage collector knows, sys.modules, the environment, the task
dir, /tmp, and the other processes visible in /proc.

Contained: nothing an earlier task planted is found (the runner checks the hits against the
secrets it planted, and independently reads the zygote's memory itself).
"""

import ctypes
import gc
import os
import re
import sys

PATTERN = re.compile(rb"codeio-secret-[0-9a-f]{32}")


def _memory_hits():
    hits = set()
    # A task's process starts non-dumpable (so /proc/self/mem is root's); a process may always
    # make itself dumpable again.
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
    with open("/proc/self/maps") as fh:
        regions = [line.split() for line in fh]
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        for fields in regions:
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            hits.update(m.group().decode() for m in PATTERN.finditer(data))
    return hits


def main(ctx=None):
    hits = _memory_hits()
    for obj in gc.get_objects():
        for value in (
            obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
        ):
            if isinstance(value, str) and "codeio-secret-" in value:
                hits.update(m.group().decode() for m in PATTERN.finditer(value.encode()))
    hits.update(m for m in sys.modules if "codeio-secret-" in m)
    hits.update(f"env:{k}" for k, v in os.environ.items() if "codeio-secret-" in v)
    for top in (".", "/tmp"):
        for root, _dirs, files in os.walk(top):
            for name in files:
                try:
                    with open(os.path.join(root, name), "rb") as fh:
                        hits.update(m.group().decode() for m in PATTERN.finditer(fh.read(1 << 20)))
                except OSError:
                    pass
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                hits.update(m.group().decode() for m in PATTERN.finditer(fh.read()))
        except OSError:
            pass
    return sorted(hits)
