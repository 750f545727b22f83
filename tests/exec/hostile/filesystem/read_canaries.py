"""Read every planted canary file, directly and through /proc and path tricks.

Contained: none of the canaries' tokens appears in the result (they are not in the task's
root at all, or unreadable), and nothing is written next to them.
"""

import os


def main(ctx):
    found = {}
    for path in ctx["canary_files"]:
        for variant in (
            path,
            "/proc/self/root" + path,
            "/proc/1/root" + path,
            "/proc/1/cwd/../../.." + path,
            "//" + path + "/."[:-2],
        ):
            try:
                with open(variant, errors="replace") as fh:
                    found[variant] = fh.read()
            except OSError as exc:
                found[variant] = type(exc).__name__
    for d in ctx["canary_dirs"]:
        try:
            found[d] = os.listdir(d)
        except OSError as exc:
            found[d] = type(exc).__name__
    print(found)
    return found
