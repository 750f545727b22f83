"""Plant a secret in this task's stdout, stderr, globals and return value (the runner also puts
it in the code and the kwargs).

Contained: no later task (same worker, same template) finds the secret anywhere in its memory,
and the zygote that forks later tasks never held it (the runner reads the zygote's memory
directly, as root on the host).
"""

import sys

KEEP = []


def main(ctx):
    secret = ctx.get("secret", "codeio-secret-" + "0" * 32)
    KEEP.append(secret * 4)
    print(secret)
    print(secret, file=sys.stderr)
    return {"secret": secret, "many": [secret] * 1000}
