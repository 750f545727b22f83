"""The messages rows as a ``datasets`` dataset on disk (``datasets.load_from_disk`` opens it)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codeio.errors import require
from codeio.pipeline.export.files import atomic_dir
from codeio.pipeline.export.parquet import write_parquet

__all__ = ["write_hf"]


def write_hf(path: Path | str, rows: Iterable[dict[str, Any]]) -> int:
    """``save_to_disk`` into a folder at ``path``, atomically; returns the row count."""
    datasets = require("datasets", "hf", "export --format hf")
    with tempfile.TemporaryDirectory(prefix="codeio-hf-") as scratch:
        # Rows stream into Parquet first and Arrow memory-maps them back, so a large export
        # never holds every row in Python objects at once.
        staged = Path(scratch) / "rows.parquet"
        count = write_parquet(staged, rows)
        if count:
            dataset = datasets.Dataset.from_parquet(
                str(staged), cache_dir=str(Path(scratch) / "cache"), keep_in_memory=False
            )
        else:  # an empty Parquet file has no schema; an empty dataset still loads
            dataset = datasets.Dataset.from_list([])
        with atomic_dir(path) as tmp:
            dataset.save_to_disk(str(tmp))
    return count
