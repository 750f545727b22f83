"""Stage orchestrators: thin wrappers that run each stage's logic module over store batches."""

from __future__ import annotations

from codeio.pipeline.run.attempt import Attempt

__all__ = ["Attempt"]
