"""The messages rows as one Parquet file (pyarrow is imported on first use)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codeio.pipeline.export.files import atomic_path

__all__ = ["messages_schema", "write_parquet"]

_BATCH = 1024


def messages_schema(*, process: bool = False) -> Any:
    """The Arrow schema of a messages row (``messages_row``; ``process`` adds the claim counts
    ``--process lenient`` puts on every row).

    Written out rather than inferred from the first rows: a column that is null there (a
    sample without a verdict) would otherwise be typed ``null`` and fail the first later row
    that has a value, and an empty export would have no columns at all.
    """
    import pyarrow as pa

    fields = [
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("id", pa.string()),
        ("func_id", pa.string()),
        ("kind", pa.string()),
        ("final_status", pa.string()),
        ("num_turns", pa.int64()),
        ("model", pa.string()),
    ]
    if process:
        fields.append(
            (
                "process",
                pa.struct(
                    [
                        ("checked", pa.bool_()),
                        ("supported", pa.int64()),
                        ("contradicted", pa.int64()),
                        ("unverifiable", pa.int64()),
                    ]
                ),
            )
        )
    return pa.schema(fields)


def write_parquet(path: Path | str, rows: Iterable[dict[str, Any]], schema: Any = None) -> int:
    """Write rows in batches; returns the row count.

    With ``schema`` every row must have exactly its columns (a stray key would be dropped by
    pyarrow without a word, so it is an error) and an empty export still carries the columns;
    without it the schema comes from the first batch.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = set(schema.names) if schema is not None else None
    count = 0
    with atomic_path(path) as tmp:
        writer: pq.ParquetWriter | None = (
            pq.ParquetWriter(tmp, schema) if schema is not None else None
        )
        try:
            batch: list[dict[str, Any]] = []
            for row in rows:
                if names is not None and row.keys() != names:
                    raise ValueError(
                        f"row {row.get('id', count + len(batch))} has columns {sorted(row)}, "
                        f"the Parquet schema has {sorted(names)}"
                    )
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
            # With a schema and no rows nothing is written: a file without row groups reads as
            # 0 rows with every column (an empty row group trips some readers' batch sizing).
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
