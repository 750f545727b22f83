"""The typed outcome of one sandboxed task."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ExecResult", "Status"]


class Status(str, Enum):
    OK = "ok"
    ERROR = "error"
    """The code raised; ``error_type``/``error_message``/``traceback`` say what."""
    TIMEOUT = "timeout"
    """Wall-clock or CPU limit hit."""
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    """stdout/stderr exceeded the cap."""
    KILLED = "killed"
    """Ended by a signal that is not one of the limits above (e.g. a segfault)."""
    SANDBOX_ERROR = "sandbox_error"
    """The engine itself failed; callers retry and never blame the code."""


class ExecResult(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")

    status: Status
    value: Any = None
    """The entry function's return value, decoded from JSON (None when there is no entry)."""
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    """The last lines of the traceback."""
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    peak_memory_mb: float | None = None
    signal: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK
