"""Hold 768 MiB in files (task dir, /tmp, /dev/shm) with memory_mb far below that.

Contained: the writes stop at the tmpfs caps (ENOSPC/EFBIG/EACCES), the system's shared
memory never grows past those caps, and the files are gone after the task.
"""

import time


def fill(path, mib):
    written = 0
    block = b"x" * (1 << 20)
    try:
        with open(path, "wb") as fh:
            for _ in range(mib):
                fh.write(block)
                written += 1
    except OSError as exc:
        return [written, type(exc).__name__]
    return [written, "ok"]


def main(ctx):
    out = {}
    # Many files of 16 MiB: the per-file size limit alone does not bound the total.
    for i in range(48):
        out[f"task{i}"] = fill(f"big{i}", 16)
    for i in range(48):
        out[f"tmp{i}"] = fill(f"/tmp/big{i}", 16)
        out[f"shm{i}"] = fill(f"/dev/shm/big{i}", 16)
    time.sleep(0.5)  # hold it while the runner samples the host's memory
    return out
