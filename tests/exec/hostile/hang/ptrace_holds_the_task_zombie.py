"""Have a child of the task trace the task's own process, then sleep forever in both: once the
task is killed, its zombie can only be reaped after the tracer lets go.

Contained: `timeout` within about its deadline (not the deadline plus many seconds), no process
survives, and the worker serves the next task. (Where seccomp denies ptrace the attach just
fails and the task times out all the same.)
"""

import ctypes
import os
import time

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE, PR_SET_PTRACER, PTRACE_SEIZE = 4, 0x59616D61, 0x4206
libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
libc.prctl(PR_SET_PTRACER, ctypes.c_ulong(-1), 0, 0, 0)  # any process may trace us
parent = os.getpid()
if os.fork() == 0:
    libc.ptrace(PTRACE_SEIZE, parent, None, None)
    while True:
        time.sleep(3600)
while True:
    time.sleep(3600)
