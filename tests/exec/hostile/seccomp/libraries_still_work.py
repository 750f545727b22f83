"""Not an attack: the scientific stack must keep working under the filter (threads, numpy,
subprocess, multiprocessing's fork start method, ctypes callbacks).

Contained and usable: the run returns normally; the runner checks no side effect as for every
snippet.
"""

import ctypes
import subprocess
import sys
import threading


def main(ctx):
    out = {}
    box = []
    t = threading.Thread(target=lambda: box.append(sum(range(1000))))
    t.start()
    t.join()
    out["thread"] = box[0]
    proc = subprocess.run(
        [sys.executable, "-c", "print(6*7)", ctx["marker"]],
        capture_output=True,
        text=True,
        timeout=20,
    )
    out["subprocess"] = proc.stdout.strip()
    cmp = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    arr = (ctypes.c_int * 4)(3, 1, 2, 0)
    libc = ctypes.CDLL(None)
    libc.qsort(arr, 4, ctypes.sizeof(ctypes.c_int), cmp(lambda a, b: a[0] - b[0]))
    out["ctypes_callback"] = list(arr)
    return out
