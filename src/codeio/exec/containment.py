"""What the workers could actually set up, as a level name plus the missing mechanisms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Containment", "describe"]

# Mechanism -> what it guarantees; the order is the order of reporting.
MECHANISMS: dict[str, str] = {
    "net": "no network (own network namespace)",
    "pid": "own PID namespace: leftovers killed, host processes invisible",
    "proc": "fresh /proc: no other process's environment readable",
    "landlock": "writes only inside the task directory",
    "nproc": "process/thread count limited",
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
    }
    active = tuple(k for k in MECHANISMS if present[k])
    missing = tuple(k for k in MECHANISMS if not present[k])
    level = "full" if not missing else ("partial" if active else "minimal")
    return Containment(level=level, active=active, missing=missing, detail=report)
