"""Hold 768 MiB in memfds (not counted by the address-space limit), and in anonymous shared
mappings.

Contained: memfd_create is denied; the anonymous mapping counts against memory_mb; the
system's shared memory never grows by anything near 768 MiB.
"""

import mmap
import os
import time


def main(ctx):
    out = {}
    held = []
    block = b"x" * (1 << 20)
    # 52 memfds of 15 MiB (each under the file-size limit), written with write(), never
    # mapped: the address space never grows.
    for i in range(52):
        try:
            fd = os.memfd_create(f"hold{i}")
            for _ in range(15):
                os.write(fd, block)
            held.append(fd)
            out[f"memfd{i}"] = "held"
        except OSError as exc:
            out[f"memfd{i}"] = type(exc).__name__
            break
    try:
        m = mmap.mmap(-1, 768 << 20, flags=mmap.MAP_SHARED)
        m.write(b"y" * (768 << 20))
        held.append(m)
        out["shared_anon"] = "held"
    except (OSError, ValueError, MemoryError) as exc:
        out["shared_anon"] = type(exc).__name__
    time.sleep(0.5)  # hold it while the runner samples the host's memory
    return out
