"""Create System V shared memory (256 MiB, touched), message queues and semaphores with
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
    for key in (0, 0x5EED, 0x7001):
        shmid = libc.shmget(key, ctypes.c_size_t(256 << 20), IPC_CREAT | 0o666)
        out[f"shm {key}"] = [shmid, ctypes.get_errno()]
        if shmid >= 0:
            addr = libc.shmat(shmid, None, 0)
            if addr not in (None, ctypes.c_void_p(-1).value):
                ctypes.memset(addr, 1, 256 << 20)
        out[f"msg {key}"] = [libc.msgget(key, IPC_CREAT | 0o666), ctypes.get_errno()]
        out[f"sem {key}"] = [libc.semget(key, 4, IPC_CREAT | 0o666), ctypes.get_errno()]
    return out
