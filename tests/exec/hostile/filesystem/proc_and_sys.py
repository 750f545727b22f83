"""Look for the host through /proc and /sys: other processes' environ and cmdline, the host's
mount table, kernel memory, sysrq and core_pattern.

Contained: only the task's own PID namespace is listed, no secret in anything read, and every
write to /proc/sys or /proc/sysrq-trigger fails.
"""

import os


def read(path, n=4096):
    try:
        with open(path, "rb") as fh:
            return fh.read(n).decode("latin-1")
    except OSError as exc:
        return type(exc).__name__


def main(ctx):
    out = {"pids": sorted(p for p in os.listdir("/proc") if p.isdigit())}
    for pid in out["pids"]:
        out[pid] = [read(f"/proc/{pid}/environ"), read(f"/proc/{pid}/cmdline")]
    for path in (
        "/proc/1/mountinfo",
        "/proc/kcore",
        "/proc/kallsyms",
        "/sys/kernel",
        f"/proc/{ctx['host_pid']}/environ",
    ):
        out[path] = read(path, 256)
    for path, value in (
        ("/proc/sys/kernel/core_pattern", "|/bin/sh"),
        ("/proc/sysrq-trigger", "h"),
        ("/proc/sys/vm/drop_caches", "3"),
    ):
        try:
            with open(path, "w") as fh:
                fh.write(value)
            out["write " + path] = "done"
        except OSError as exc:
            out["write " + path] = type(exc).__name__
    return out
