"""Plant symlinks and hard links in the task dir that point at the canaries and at the
host's directories, then read through them (and leave them for the cleanup to trip on).

Contained: the links resolve inside the task's root only; no token appears; cleanup does not
follow them (canary files and directories unchanged).
"""

import os


def main(ctx):
    out = {}
    for i, path in enumerate(ctx["canary_files"] + ctx["canary_dirs"]):
        link = f"link{i}"
        try:
            os.symlink(path, link)
            out[link] = open(link).read() if os.path.isfile(link) else os.listdir(link)
        except OSError as exc:
            out[link] = type(exc).__name__
        try:
            os.link(path, f"hard{i}")
            out[f"hard{i}"] = "linked"
        except OSError as exc:
            out[f"hard{i}"] = type(exc).__name__
    os.makedirs("deep/er", exist_ok=True)
    for i, d in enumerate(ctx["canary_dirs"]):
        try:
            os.symlink(d, f"deep/er/dir{i}")
        except OSError:
            pass
    return out
