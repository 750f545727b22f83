"""Use multiprocessing.shared_memory and named semaphores (files in /dev/shm) and leave them.

Contained: creation fails or stays in the worker's private /dev/shm; nothing reaches the host's
/dev/shm and nothing is left for the next task.
"""


def main(ctx):
    out = {}
    try:
        from multiprocessing import shared_memory

        seg = shared_memory.SharedMemory(name="codeio-hostile", create=True, size=8 << 20)
        seg.buf[:4] = b"LEFT"
        out["shared_memory"] = "created"
    except Exception as exc:  # noqa: BLE001 - any failure is a contained outcome
        out["shared_memory"] = type(exc).__name__
    try:
        import multiprocessing

        lock = multiprocessing.Lock()
        out["semaphore"] = repr(lock)
    except Exception as exc:  # noqa: BLE001
        out["semaphore"] = type(exc).__name__
    return out
