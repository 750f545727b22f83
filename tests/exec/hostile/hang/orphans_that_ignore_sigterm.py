"""Leave double-forked orphans behind that ignore SIGTERM and SIGHUP, then return at once.

Contained: the run returns `ok` without waiting for them, and none of them survives the task.
"""

import os
import signal
import time


def main(ctx=None):
    for _ in range(3):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
                while True:
                    time.sleep(3600)
            os._exit(0)
    return "left orphans"
