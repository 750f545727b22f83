"""Revise (CodeI/O++): feedback turns and the assembly of multi-turn responses."""

from __future__ import annotations

from codeio.pipeline.revise.assemble import CHECK_BRIDGE, REDO_BRIDGE, assemble, to_codeio_layout

__all__ = ["CHECK_BRIDGE", "REDO_BRIDGE", "assemble", "to_codeio_layout"]
