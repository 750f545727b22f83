"""Streaming Parquet reading, one record batch at a time (pyarrow is imported on first use)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from codeio.errors import InputError
from codeio.pipeline.ingest.jsonl import Row, raw_from_row
from codeio.records import Failure, RawCode

__all__ = ["iter_parquet_rows", "read_parquet"]


def iter_parquet_rows(path: Path | str, *, batch_size: int = 256) -> Iterator[Row | Failure]:
    """Each row as a dict with location ``path:row`` (1-based); an unreadable file is one Failure."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        message = f"not a readable Parquet file: {exc}"
        yield Failure(
            stage="ingest",
            record_id=str(path),
            reason="unreadable_parquet",
            detail=str(InputError(message, path=str(path))),
        )
        return
    number = 0
    with parquet:
        # Small batches keep memory bounded by the batch, not the file or its row groups.
        for batch in parquet.iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                number += 1
                yield f"{path}:{number}", row


def read_parquet(
    path: Path | str, *, text_field: str = "content", batch_size: int = 256
) -> Iterator[RawCode | Failure]:
    """Raw code files from a Parquet file, the code in column ``text_field``."""
    for item in iter_parquet_rows(path, batch_size=batch_size):
        yield item if isinstance(item, Failure) else raw_from_row(*item, text_field)
