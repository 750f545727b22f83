"""codeio: CodeI/O and CodeI/O++ as a pipeline: unify, sample, predict, verify, revise, export."""

from __future__ import annotations

from codeio.records import (
    Failure,
    FunctionRecord,
    IOPair,
    Message,
    PredictionTask,
    RawCode,
    Sample,
    Turn,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "Failure",
    "FunctionRecord",
    "IOPair",
    "Message",
    "PredictionTask",
    "RawCode",
    "Sample",
    "Turn",
    "Verdict",
    "__version__",
]
