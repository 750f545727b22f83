"""Sandboxed execution engine; knows nothing of the pipeline or LLMs.

Import it as ``from codeio.exec import Sandbox`` (never ``from codeio import exec``).
"""

from __future__ import annotations

from codeio.exec.containment import Containment
from codeio.exec.limits import ExecLimits
from codeio.exec.result import ExecResult, Status
from codeio.exec.sandbox import (
    DEFAULT_PRELUDE,
    DEFAULT_WARM,
    ExecTask,
    Sandbox,
    SandboxUnavailable,
    open_sandboxes,
    run_untrusted,
)

__all__ = [
    "DEFAULT_PRELUDE",
    "DEFAULT_WARM",
    "Containment",
    "ExecLimits",
    "ExecResult",
    "ExecTask",
    "Sandbox",
    "SandboxUnavailable",
    "Status",
    "open_sandboxes",
    "run_untrusted",
]
