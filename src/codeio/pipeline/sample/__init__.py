"""Sampling: run each function's input generator and reference code in the sandbox to get
distinct, size-limited, reproducible I/O pairs; and re-check pairs that were stored already."""

from __future__ import annotations

from codeio.pipeline.sample.recheck import PairCheck, RecheckResult, recheck
from codeio.pipeline.sample.sampler import SampleConfig, Sampler
from codeio.pipeline.sample.sizes import SizeLimits, size_violation

__all__ = [
    "PairCheck",
    "RecheckResult",
    "SampleConfig",
    "Sampler",
    "SizeLimits",
    "recheck",
    "size_violation",
]
