"""Try to create, overwrite, chmod, rename and remove things outside the task dir: next to
the canaries, in the host's /tmp, the checkout and home, and in every mount point visible.

Contained: every attempt fails (EACCES, EROFS or ENOENT); canaries and their directories are
byte-for-byte and mode-for-mode unchanged.
"""

import os


def attempt(fn, *args):
    try:
        fn(*args)
        return "done"
    except OSError as exc:
        return type(exc).__name__


def main(ctx):
    out = {}
    for path in ctx["canary_files"]:
        out["over:" + path] = attempt(lambda p: open(p, "w").write("pwned"), path)
        out["chmod:" + path] = attempt(os.chmod, path, 0o777)
        out["unlink:" + path] = attempt(os.unlink, path)
    for d in [*ctx["canary_dirs"], "/tmp", ctx["repo"], ctx["home"], "/", "/usr/lib", "/etc"]:
        out["new:" + d] = attempt(lambda p: open(os.path.join(p, "pwned"), "w").write("x"), d)
        out["mkdir:" + d] = attempt(os.mkdir, os.path.join(d, "pwned-dir"))
    return out
