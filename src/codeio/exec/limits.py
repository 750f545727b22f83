"""Per-task resource limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ExecLimits"]


class ExecLimits(BaseModel):
    """Limits applied to every task; all are per task, not per worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(10.0, gt=0, description="wall-clock limit")
    cpu_s: float | None = Field(None, gt=0, description="CPU-time limit; default: timeout_s + 1")
    memory_mb: int = Field(2048, gt=0, description="address-space limit")
    file_size_mb: int = Field(16, gt=0, description="largest file the code may write")
    open_files: int = Field(256, gt=0)
    processes: int = Field(64, gt=0, description="processes/threads the task may have at once")
    output_bytes: int = Field(1 << 20, gt=0, description="cap on captured stdout + stderr each")
    result_bytes: int = Field(
        16 << 20, gt=0, description="cap on the entry's return value, encoded as JSON"
    )
    result_values: int = Field(
        1_000_000,
        gt=0,
        description="cap on the values (lists, dicts, items) of the return value",
    )
    # Why a second cap: decoding multiplies a value's size in the host's memory, up to ~20x for
    # 16 MiB of `[[],[],...]` (one list object per 3 bytes), and every worker's result is
    # decoded there. A million values keep a decoded result within tens of MB.
