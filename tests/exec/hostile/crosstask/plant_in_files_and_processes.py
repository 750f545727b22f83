"""Leave a secret behind in files of the task dir, in the environment and in a detached process
that keeps it in memory and argv, then return.

Contained: the next task finds an empty task dir, a clean environment and no such process, and
nothing of the secret in its memory.
"""

import os
import subprocess
import sys


def main(ctx):
    secret = ctx.get("secret", "codeio-secret-" + "0" * 32)
    marker = ctx.get("marker", "codeio-hostile")
    os.makedirs("deep/er", exist_ok=True)
    for path in ("left.txt", "deep/er/left.txt", ".hidden"):
        with open(path, "w") as fh:
            fh.write(secret)
    os.environ["LEFT_BEHIND"] = secret
    keeper = f"import time\ns = {secret!r} * 100\ntime.sleep(3600)\n"
    subprocess.Popen(
        [sys.executable, "-c", keeper, marker, secret],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return "planted"
