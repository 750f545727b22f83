"""Streaming JSONL reading: one object per line, every bad line a counted Failure.

Lines are read as bytes and decoded one at a time, so a file with one non-UTF-8 line loses only
that line, and a single 10 MB line costs only its own memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codeio.errors import InputError
from codeio.records import Failure, RawCode

__all__ = [
    "Row",
    "iter_jsonl_rows",
    "line_failure",
    "location_failure",
    "raw_from_row",
    "read_jsonl",
]

Row = tuple[str, dict[str, Any]]
"""``(location, object)``: where the record came from (``path:line``) and the decoded object."""

STAGE = "ingest"

_GZIP_MAGIC = b"\x1f\x8b"
_ARRAY_HINT = " (a JSON array? JSONL holds one object per line)"


def line_failure(path: Path | str, line: int, reason: str, message: str) -> Failure:
    """A Failure for one bad input line, with the InputError text (``path:line: message``)."""
    error = InputError(message, path=str(path), line=line)
    return Failure(stage=STAGE, record_id=f"{path}:{line}", reason=reason, detail=str(error))


def iter_jsonl_rows(path: Path | str) -> Iterator[Row | Failure]:
    """Yield each line's JSON object with its location, or a Failure naming file and line."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(_GZIP_MAGIC):
                # One failure for the file, not one per chunk of compressed bytes that happens
                # to end in a newline byte.
                yield location_failure(
                    str(path), "compressed", "gzip-compressed; decompress it first (gunzip)"
                )
                return
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark is not part of the JSON
            if not raw.strip():
                continue  # blank lines (and the trailing newline) are not records
            if b"\x00" in raw:
                yield line_failure(path, number, "binary", "line contains NUL bytes (binary data?)")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield line_failure(
                    path, number, "not_utf8", f"not valid UTF-8 at byte {exc.start}: {exc.reason}"
                )
                continue
            try:
                obj = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                hint = _ARRAY_HINT if number == 1 and text.lstrip().startswith("[") else ""
                yield line_failure(path, number, "malformed_json", f"malformed JSON: {exc}{hint}")
                continue
            if not isinstance(obj, dict):
                kind = type(obj).__name__
                hint = _ARRAY_HINT if isinstance(obj, list) else ""
                yield line_failure(
                    path, number, "not_an_object", f"expected a JSON object, got {kind}{hint}"
                )
                continue
            yield f"{path}:{number}", obj


def raw_from_row(location: str, obj: dict[str, Any], text_field: str) -> RawCode | Failure:
    """Turn one input object into RawCode; the fields other than the text go to ``meta``."""
    from codeio.ids import normalize_code

    text = obj.get(text_field)
    if text is None:
        return location_failure(location, "missing_field", f"missing field {text_field!r}")
    if not isinstance(text, str):
        kind = type(text).__name__
        return location_failure(
            location, "bad_field", f"field {text_field!r} is {kind}, not a string"
        )
    meta = {key: value for key, value in obj.items() if key != text_field}
    return RawCode(
        id=RawCode.make_id(normalize_code(text)), content=text, source=location, meta=meta
    )


def location_failure(location: str, reason: str, message: str) -> Failure:
    """A Failure for the record at ``location`` (``path:line`` or just a path)."""
    path, _, line = location.rpartition(":")
    if line.isdigit():
        return line_failure(path, int(line), reason, message)
    return Failure(stage=STAGE, record_id=location, reason=reason, detail=f"{location}: {message}")


def read_jsonl(path: Path | str, *, text_field: str = "content") -> Iterator[RawCode | Failure]:
    """Raw code files from JSONL, one per line, the code in ``text_field``."""
    for item in iter_jsonl_rows(path):
        yield item if isinstance(item, Failure) else raw_from_row(*item, text_field)
