"""Send the task's own process SIGSYS (what a seccomp kill would look like).

Contained: `killed` with signal 31 (not `sandbox_error`, which callers would retry).
"""

import os
import signal

SIGNAL = 31
os.kill(os.getpid(), signal.SIGSYS)
