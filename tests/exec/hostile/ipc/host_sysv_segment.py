"""Attach the host's world-writable System V segment by id and by key, read it and write it.

Contained: the segment is in another IPC namespace (and the calls are denied), so its bytes
on the host are unchanged.
"""

import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p


def main(ctx):
    out = {}
    ids = [ctx["shm_id"]]
    shmid = libc.shmget(ctypes.c_int(ctx["shm_key"]), ctypes.c_size_t(0), 0o666)
    out["shmget"] = [shmid, ctypes.get_errno()]
    if shmid >= 0:
        ids.append(shmid)
    for i in ids:
        addr = libc.shmat(i, None, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            out[f"shmat {i}"] = ctypes.get_errno()
            continue
        out[f"read {i}"] = ctypes.string_at(addr, 32).hex()
        ctypes.memset(addr, 0x41, 4096)
        out[f"wrote {i}"] = True
    return out
