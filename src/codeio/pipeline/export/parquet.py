"""The messages rows as one Parquet file (pyarrow is imported on first use)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codeio.pipeline.export.files import atomic_path

__all__ = ["write_parquet"]

_BATCH = 1024


def write_parquet(path: Path | str, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows in batches (the schema comes from the first batch); returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = 0
    with atomic_path(path) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= _BATCH:
                    writer = _write(
                        writer, tmp, pa.Table.from_pylist(batch, schema=_schema(writer))
                    )
                    count += len(batch)
                    batch = []
            if batch or writer is None:
                writer = _write(writer, tmp, pa.Table.from_pylist(batch, schema=_schema(writer)))
                count += len(batch)
        finally:
            if writer is not None:
                writer.close()
    return count


def _schema(writer: Any) -> Any:
    return writer.schema if writer is not None else None


def _write(writer: Any, path: Path, table: Any) -> Any:
    import pyarrow.parquet as pq

    if writer is None:
        writer = pq.ParquetWriter(path, table.schema)
    writer.write_table(table)
    return writer
