"""Send the task's own process SIGHUP.

Contained: `killed` with signal 1 (not `sandbox_error`, which callers would retry).
"""

import os
import signal

SIGNAL = 1
os.kill(os.getpid(), signal.SIGHUP)
