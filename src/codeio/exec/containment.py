"""What the workers could actually set up, as a level name plus the missing mechanisms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Containment", "describe", "explain"]

# Mechanism -> what it guarantees; the order is the order of reporting.
MECHANISMS: dict[str, str] = {
    "net": "no network (own network namespace)",
    "pid": "own PID namespace: leftovers killed, host processes invisible",
    "proc": "fresh /proc: no other process's environment readable",
    "landlock": "writes only inside the task directory",
    "nproc": "process/thread count limited",
    "root": "minimal read-only root: only the interpreter, its libraries, devices, task dir",
    "ipc": "own IPC namespace: no System V / POSIX IPC shared with the host or other sandboxes",
    "seccomp": "seccomp filter: ptrace, keyrings, bpf, mounts, namespaces, memfd, IPC denied",
    "keyring": "fresh session keyring: the caller's keys are out of reach",
}


@dataclass(frozen=True)
class Containment:
    level: str
    """``full``, ``partial`` or ``minimal`` (rlimits, scrubbed env and process group only)."""
    active: tuple[str, ...]
    missing: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return not self.missing


def describe(report: dict[str, Any]) -> Containment:
    names = set(report.get("namespaces", []))
    present = {
        "net": "net" in names,
        "pid": "pid" in names,
        "proc": "proc" in names,
        "landlock": "landlock" in report,
        "nproc": bool(report.get("task_uid")) or report.get("uid", 0) != 0,
        "root": "root" in report,
        "ipc": "ipc" in names,
        "seccomp": "seccomp" in report,
        "keyring": "keyring" in report,
    }
    active = tuple(k for k in MECHANISMS if present[k])
    missing = tuple(k for k in MECHANISMS if not present[k])
    level = "full" if not missing else ("partial" if active else "minimal")
    return Containment(level=level, active=active, missing=missing, detail=report)


# Run as a task: what a task sees is read from inside, not assumed from the set-up.
_PROBE = r"""
import os, re, resource, socket

def _unescape(text):
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), text)

def _status():
    out = {}
    with open('/proc/self/status') as fh:
        for line in fh:
            key, _, value = line.partition(':')
            if key in ('Uid', 'Gid', 'CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs', 'Seccomp',
                       'Seccomp_filters'):
                out[key] = value.split()[0] if key in ('Uid', 'Gid') else value.strip()
    return out

def _mounts():
    found = []
    with open('/proc/self/mountinfo') as fh:
        for line in fh:
            left, _, right = line.partition(' - ')
            fields = left.split()
            fstype = right.split()[0]
            opts = fields[5].split(',')
            found.append({'path': _unescape(fields[4]), 'mode': opts[0],
                          'fs': fstype, 'options': ','.join(opts[1:])})
    return found

def _namespaces():
    try:  # unreadable where the task process is not dumpable
        return {n: os.readlink('/proc/self/ns/' + n) for n in sorted(os.listdir('/proc/self/ns'))}
    except OSError:
        return {}

def _limit(name):
    soft, hard = resource.getrlimit(getattr(resource, name))
    return None if soft == resource.RLIM_INFINITY else soft

def probe():
    return {
        'mounts': _mounts(),
        'root_entries': sorted(os.listdir('/')),
        'status': _status(),
        'hostname': socket.gethostname(),
        'cwd': os.getcwd(),
        'namespaces': _namespaces(),
        'rlimits': {n[7:].lower(): _limit(n) for n in ('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_FSIZE',
                    'RLIMIT_NOFILE', 'RLIMIT_NPROC', 'RLIMIT_CORE')},
    }
"""


def _host_namespaces() -> dict[str, str]:
    import os

    try:
        return {n: os.readlink(f"/proc/self/ns/{n}") for n in os.listdir("/proc/self/ns")}
    except OSError:
        return {}


def explain(sandbox: Any) -> dict[str, Any]:
    """What tasks of ``sandbox`` can see and do: probed from inside a task, plus the worker's
    report of what it set up (for ``codeio exec --explain``)."""
    report: Containment = sandbox.report
    result = sandbox.run(_PROBE, "probe")
    inside: dict[str, Any] = result.value if isinstance(result.value, dict) else {}
    host_ns = _host_namespaces()
    seen = inside.get("namespaces", {})
    detail = report.detail
    out: dict[str, Any] = {
        "containment": report.level,
        "active": {k: MECHANISMS[k] for k in report.active},
        "missing": {k: MECHANISMS[k] for k in report.missing},
        "namespaces_own": [n for n in detail.get("namespaces", []) if n not in ("proc", "tmp")],
        "namespaces_shared_with_host": sorted(n for n, v in seen.items() if host_ns.get(n) == v),
        "paths": inside.get("mounts", []),
        "root_entries": inside.get("root_entries", []),
        # Landlock narrows the writable mounts further, to the task dir (and /dev/null).
        "writable": [inside.get("cwd"), "/dev/null"]
        if "landlock" in report.active
        else [m["path"] for m in inside.get("mounts", []) if m["mode"] == "rw"],
        "task": {
            "cwd": inside.get("cwd"),
            "hostname": inside.get("hostname"),
            **inside.get("status", {}),
        },
        "limits": {"configured": sandbox.limits.model_dump(), "in_task": inside.get("rlimits")},
        "seccomp": detail.get("seccomp") or {"error": detail.get("seccomp_error", "not applied")},
        "landlock": detail.get("landlock") or {"error": detail.get("landlock_error")},
        "keyring": detail.get("keyring") or detail.get("keyring_error"),
        "ipc_limits": detail.get("ipc_limits", {}),
        "worker_report": {
            k: v
            for k, v in detail.items()
            if k not in ("seccomp", "root", "warm_loaded", "warm_modules")
        },
    }
    if result.status.value != "ok":
        out["probe_error"] = f"{result.status.value}: {result.error_message}"
    return out
