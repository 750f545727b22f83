"""Ingest: readers for raw code (JSONL, Parquet, folders) and for records entering after unify.

Every reader is a generator yielding records or Failures (``stage="ingest"``), never raising on
bad input data: a bad line costs that line, with its file and line number in the Failure.
"""

from __future__ import annotations

from codeio.pipeline.ingest.dedup import Deduplicator
from codeio.pipeline.ingest.detect import (
    IngestCounts,
    InputKind,
    detect_input_kind,
    ingest_raw,
    iter_rows,
    read_functions,
    read_input,
    read_raw,
)
from codeio.pipeline.ingest.folder import iter_py_files, read_folder, read_py_file
from codeio.pipeline.ingest.jsonl import iter_jsonl_rows, read_jsonl
from codeio.pipeline.ingest.parquet import iter_parquet_rows, read_parquet
from codeio.pipeline.ingest.records import function_from_row, ios_function_id
from codeio.pipeline.ingest.syntax import SyntaxFilter, syntax_failure

__all__ = [
    "Deduplicator",
    "IngestCounts",
    "InputKind",
    "SyntaxFilter",
    "detect_input_kind",
    "function_from_row",
    "ingest_raw",
    "ios_function_id",
    "iter_jsonl_rows",
    "iter_parquet_rows",
    "iter_py_files",
    "iter_rows",
    "read_folder",
    "read_functions",
    "read_input",
    "read_jsonl",
    "read_parquet",
    "read_py_file",
    "read_raw",
    "syntax_failure",
]
