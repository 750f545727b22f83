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


def write_hf(path: Path | str, rows: Iterable[dict[str, Any]], schema: Any = None) -> int:
    """``save_to_disk`` into a folder at ``path``, atomically; returns the row count.

    ``schema`` (Arrow) fixes the columns, as for ``write_parquet``; an empty export then still
    loads, as 0 rows with those columns.
    """
    datasets = require("datasets", "hf", "export --format hf")
    with tempfile.TemporaryDirectory(prefix="codeio-hf-") as scratch:
        # Rows stream into Parquet first and Arrow memory-maps them back, so a large export
        # never holds every row in Python objects at once.
        staged = Path(scratch) / "rows.parquet"
        count = write_parquet(staged, rows, schema=schema)
        num_shards = None
        if count:
            dataset = datasets.Dataset.from_parquet(
                str(staged), cache_dir=str(Path(scratch) / "cache"), keep_in_memory=False
            )
        else:
            features = datasets.Features.from_arrow_schema(schema) if schema is not None else None
            dataset = datasets.Dataset.from_dict(
                {name: [] for name in (schema.names if schema is not None else [])},
                features=features,
            )
            # save_to_disk writes no shard at all for 0 rows, and load_from_disk then fails
            # (IndexError in datasets 5.x); one empty shard loads as 0 rows.
            num_shards = 1
        with atomic_dir(path) as tmp:
            dataset.save_to_disk(str(tmp), num_shards=num_shards)
    return count
