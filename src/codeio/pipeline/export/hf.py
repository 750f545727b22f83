"""The messages rows as a ``datasets`` dataset on disk (``datasets.load_from_disk`` opens it)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codeio.errors import require
from codeio.pipeline.export.files import atomic_dir

__all__ = ["write_hf"]


def write_hf(path: Path | str, rows: Iterable[dict[str, Any]]) -> int:
    """``save_to_disk`` into a folder at ``path``, atomically; returns the row count."""
    datasets = require("datasets", "hf", "export --format hf")
    # from_list rather than from_generator: no fingerprinting of a closure, and an empty
    # export still gives a loadable (empty) dataset.
    dataset = datasets.Dataset.from_list(list(rows))
    with atomic_dir(path) as tmp:
        dataset.save_to_disk(str(tmp))
    return len(dataset)
