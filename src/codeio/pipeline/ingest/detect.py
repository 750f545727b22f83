"""One front door for input files: pick the reader by file type and the record kind by fields."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from codeio.errors import InputError
from codeio.pipeline.ingest.dedup import Deduplicator
from codeio.pipeline.ingest.folder import read_folder, read_py_file
from codeio.pipeline.ingest.jsonl import Row, iter_jsonl_rows, raw_from_row
from codeio.pipeline.ingest.parquet import iter_parquet_rows
from codeio.pipeline.ingest.records import function_from_row
from codeio.pipeline.ingest.syntax import SyntaxFilter
from codeio.records import Failure, FunctionRecord, RawCode

__all__ = [
    "IngestCounts",
    "InputKind",
    "detect_input_kind",
    "ingest_raw",
    "iter_rows",
    "read_functions",
    "read_input",
    "read_raw",
]

InputKind = Literal["raw", "unified", "ios"]

_PARQUET_SUFFIXES = (".parquet", ".pq")
# How many leading rows detection may look at before giving up on a file of bad lines.
_DETECT_ROWS = 50


def iter_rows(path: Path | str) -> Iterator[Row | Failure]:
    """Rows of a JSONL or Parquet file (chosen by suffix; anything else is read as JSONL)."""
    path = Path(path)
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return iter_parquet_rows(path)
    return iter_jsonl_rows(path)


def detect_input_kind(path: Path | str, *, text_field: str = "content") -> InputKind:
    """``raw`` for code files, ``unified`` for refcode + inputgen, ``ios`` for records with pairs.

    A folder or ``.py`` file is raw; an empty file is raw (there is nothing to misread).
    """
    path = Path(path)
    if path.is_dir() or path.suffix == ".py":
        return "raw"
    if not path.exists():
        raise InputError("no such file or folder", path=str(path))
    for item in itertools.islice(iter_rows(path), _DETECT_ROWS):
        if isinstance(item, Failure):
            continue
        _, obj = item
        if "refcode" in obj:
            return "ios" if isinstance(obj.get("ios"), list) else "unified"
        if text_field in obj:
            return "raw"
        fields = ", ".join(sorted(obj)) or "none"
        raise InputError(
            f"cannot tell the input kind: no 'refcode' or {text_field!r} field (fields: {fields})",
            path=str(path),
        )
    return "raw"


def read_raw(path: Path | str, *, text_field: str = "content") -> Iterator[RawCode | Failure]:
    """Raw code from a folder, a ``.py`` file, a JSONL file or a Parquet file."""
    path = Path(path)
    if path.is_dir():
        yield from read_folder(path)
    elif path.suffix == ".py":
        yield read_py_file(path)
    else:
        for item in iter_rows(path):
            yield item if isinstance(item, Failure) else raw_from_row(*item, text_field)


def read_functions(
    path: Path | str, kind: Literal["unified", "ios"]
) -> Iterator[FunctionRecord | Failure]:
    """Unified or ios records from a JSONL or Parquet file."""
    for item in iter_rows(path):
        yield item if isinstance(item, Failure) else function_from_row(*item, kind)


def read_input(
    path: Path | str, *, kind: InputKind | None = None, text_field: str = "content"
) -> Iterator[RawCode | FunctionRecord | Failure]:
    """Whatever the file holds, as records; ``kind=None`` detects it from the fields."""
    kind = kind or detect_input_kind(path, text_field=text_field)
    if kind == "raw":
        return read_raw(path, text_field=text_field)
    return read_functions(path, kind)


@dataclass
class IngestCounts:
    """What ingest did with its input: records kept and failures by reason."""

    kept: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def read(self) -> int:
        return self.kept + sum(self.failures.values())

    def add(self, item: RawCode | FunctionRecord | Failure) -> None:
        if isinstance(item, Failure):
            self.failures[item.reason] = self.failures.get(item.reason, 0) + 1
        else:
            self.kept += 1


def ingest_raw(
    paths: Iterable[Path | str],
    *,
    text_field: str = "content",
    parse_filter: bool = True,
    dedup: bool | Deduplicator = True,
    counts: IngestCounts | None = None,
) -> Iterator[RawCode | Failure]:
    """Read raw code from every path, drop what does not parse and exact duplicates (as Failures).

    Pass a Deduplicator to share duplicate detection across calls (e.g. a resumed run);
    pass ``counts`` to have it filled in as records stream by.
    """
    syntax = SyntaxFilter() if parse_filter else None
    dedupe = dedup if isinstance(dedup, Deduplicator) else (Deduplicator() if dedup else None)
    for path in paths:
        for item in read_raw(path, text_field=text_field):
            if syntax is not None:
                item = syntax(item)
            if dedupe is not None:
                item = dedupe(item)
            if counts is not None:
                counts.add(item)
            yield item
