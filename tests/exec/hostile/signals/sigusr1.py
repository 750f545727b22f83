"""Send the task's own process SIGUSR1 (no handler).

Contained: `killed` with signal 10 (not `sandbox_error`, which callers would retry).
"""

import os
import signal

SIGNAL = 10
os.kill(os.getpid(), signal.SIGUSR1)
