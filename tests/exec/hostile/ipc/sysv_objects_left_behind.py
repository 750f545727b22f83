"""Create System V shared memory (12 segments of 64 MiB, each attached, filled and detached in
turn so the address-space limit never sees more than one), message queues and semaphores with
IPC_PRIVATE and with fixed keys, and exit without removing them.

Contained: creation is denied; nothing appears in the host's /proc/sysvipc, nothing is left
for the next task, and no host memory is held.
"""

import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_CREAT = 0o1000


def main(ctx):
    out = {}
    for i in range(12):
        shmid = libc.shmget(0, ctypes.c_size_t(64 << 20), IPC_CREAT | 0o600)
        out[f"shm {i}"] = [shmid, ctypes.get_errno()]
        if shmid < 0:
            break
        addr = libc.shmat(shmid, None, 0)
        if addr not in (None, ctypes.c_void_p(-1).value):
            ctypes.memset(addr, 1, 64 << 20)
            libc.shmdt(ctypes.c_void_p(addr))
    for key in (0x5EED, 0x7001):
        out[f"shm {key}"] = [libc.shmget(key, 4096, IPC_CREAT | 0o666), ctypes.get_errno()]
        out[f"msg {key}"] = [libc.msgget(key, IPC_CREAT | 0o666), ctypes.get_errno()]
        out[f"sem {key}"] = [libc.semget(key, 4, IPC_CREAT | 0o666), ctypes.get_errno()]
    return out
