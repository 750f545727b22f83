"""Raw-code readers on real files, including every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codeio.pipeline.ingest import (
    IngestCounts,
    ingest_raw,
    iter_py_files,
    read_folder,
    read_jsonl,
    read_parquet,
    read_raw,
)
from codeio.records import Failure, RawCode

DEMO = Path(__file__).resolve().parents[4] / "shared" / "data" / "codeio-demo"
RAW_1K = DEMO / "rawcode_1k.jsonl"


def _split(items: list[RawCode | Failure]) -> tuple[list[RawCode], list[Failure]]:
    return [i for i in items if isinstance(i, RawCode)], [
        i for i in items if isinstance(i, Failure)
    ]


def test_jsonl_keeps_other_fields_in_meta(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"blob_id": "b1", "repo_name": "r", "content": "x = 1\n"}) + "\n")
    (raw,) = list(read_jsonl(path))
    assert isinstance(raw, RawCode)
    assert raw.content == "x = 1\n"
    assert raw.meta == {"blob_id": "b1", "repo_name": "r"}
    assert raw.source == f"{path}:1"


def test_jsonl_text_field_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"code": "y = 2", "content": "ignored"}) + "\n")
    (raw,) = list(read_jsonl(path, text_field="code"))
    assert isinstance(raw, RawCode) and raw.content == "y = 2"
    assert raw.meta == {"content": "ignored"}


def test_malformed_lines_are_counted_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        json.dumps({"content": "a = 1"}),
        "{not json",
        "[1, 2]",
        json.dumps({"other": 1}),
        "",
        json.dumps({"content": 5}),
        json.dumps({"content": "b = 2"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    kept, failures = _split(list(read_jsonl(path)))
    assert [r.content for r in kept] == ["a = 1", "b = 2"]
    assert [(f.reason, f.record_id) for f in failures] == [
        ("malformed_json", f"{path}:2"),
        ("not_an_object", f"{path}:3"),
        ("missing_field", f"{path}:4"),
        ("bad_field", f"{path}:6"),
    ]
    assert all(f.stage == "ingest" for f in failures)
    assert failures[0].detail.startswith(f"{path}:2: malformed JSON")
    assert "'content'" in failures[2].detail and failures[2].detail.startswith(f"{path}:4: ")


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(read_jsonl(path)) == []


def test_binary_file_is_rejected_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "blob.jsonl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\n")
    items = list(read_jsonl(path))
    kept, failures = _split(items)
    assert kept == []
    assert len(failures) == 3
    assert {f.reason for f in failures} <= {"binary", "not_utf8", "malformed_json"}
    assert [f.record_id for f in failures] == [f"{path}:1", f"{path}:2", f"{path}:3"]


def test_non_utf8_line_is_rejected_and_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({"content": "s = 'caf\u00e9'"}, ensure_ascii=False).encode("utf-8")
    bad = '{"content": "s = \'caf\u00e9\'"}'.encode("latin-1")
    path.write_bytes(good + b"\n" + bad + b"\n" + good.replace(b"s =", b"t =") + b"\n")
    kept, failures = _split(list(read_jsonl(path)))
    assert [r.content for r in kept] == ["s = 'caf\u00e9'", "t = 'caf\u00e9'"]
    (failure,) = failures
    assert failure.reason == "not_utf8"
    assert failure.record_id == f"{path}:2"
    assert failure.detail.startswith(f"{path}:2: not valid UTF-8")


def test_ten_megabyte_single_line(tmp_path: Path) -> None:
    body = "x = 1\n" + "# " + "a" * (10 * 1024 * 1024) + "\n"
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"content": body}))  # one line, no trailing newline
    (raw,) = list(read_jsonl(path))
    assert isinstance(raw, RawCode) and len(raw.content) == len(body)


def test_reader_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"content": "a = 1"}) + "\n")
    items = read_jsonl(path)
    path.unlink()  # nothing is opened until the first record is asked for
    with pytest.raises(FileNotFoundError):
        next(items)


def test_folder_is_recursive_sorted_and_reports_bad_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.py").write_text("z = 1\n")
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "b" / "m.py").write_bytes(b"s = '\xe9'\n")  # latin-1, not UTF-8
    (tmp_path / "notes.txt").write_text("not code")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "hook.py").write_text("h = 1\n")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_py_files(tmp_path)] == [
        "a.py",
        "b/m.py",
        "b/z.py",
    ]
    kept, failures = _split(list(read_folder(tmp_path)))
    assert [r.meta["path"] for r in kept] == ["a.py", "b/z.py"]
    (failure,) = failures
    assert failure.reason == "not_utf8" and failure.record_id == str(tmp_path / "b" / "m.py")
    assert failure.detail.startswith(f"{tmp_path / 'b' / 'm.py'}: ")
    assert list(read_raw(tmp_path / "a.py"))[0].content == "a = 1\n"  # type: ignore[union-attr]


def test_parquet_streams_batches_and_flags_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "raw.parquet"
    contents = [f"v{i} = {i}" for i in range(10)]
    contents[4] = None  # type: ignore[call-overload]
    table = pa.table({"content": contents, "repo": [f"r{i}" for i in range(10)]})
    pq.write_table(table, path, row_group_size=3)
    kept, failures = _split(list(read_parquet(path, batch_size=2)))
    assert [r.content for r in kept] == [c for c in contents if c is not None]
    assert kept[0].meta == {"repo": "r0"} and kept[0].source == f"{path}:1"
    (failure,) = failures
    assert failure.reason == "missing_field" and failure.record_id == f"{path}:5"


def test_parquet_reader_rejects_a_non_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_bytes(b"\x00\x01 not parquet at all")
    (failure,) = list(read_parquet(path))
    assert isinstance(failure, Failure) and failure.reason == "unreadable_parquet"
    assert failure.detail.startswith(f"{path}: ")


def test_parse_filter_and_dedup(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    rows = [
        {"content": "def f(x):\n    return x\n"},
        {"content": "print 'py2'\n"},
        {"content": "def f(x):  \r\n\r\n    return x"},  # same code, other whitespace
        {"content": "if True:\n\tx = 1\n        y = 2\n"},  # tabs and spaces mixed
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    counts = IngestCounts()
    items = list(ingest_raw([path], counts=counts))
    kept, failures = _split(items)
    assert len(kept) == 1
    assert [f.reason for f in failures] == ["syntax_error", "duplicate", "syntax_error"]
    assert f"{path}:2: SyntaxError" in failures[0].detail
    assert f"as {path}:1" in failures[1].detail
    assert "TabError" in failures[2].detail
    assert failures[1].record_id == kept[0].id
    assert counts.kept == 1 and counts.failures == {"syntax_error": 2, "duplicate": 1}


def test_demo_corpus_has_157_files_that_do_not_parse() -> None:
    if not RAW_1K.exists():
        pytest.skip("shared demo data not present")
    counts = IngestCounts()
    items = list(ingest_raw([RAW_1K], counts=counts))
    assert len(items) == 1000
    assert counts.failures == {"syntax_error": 157}
    assert counts.kept == 843
    first = next(i for i in items if isinstance(i, RawCode))
    assert set(first.meta) == {"blob_id", "repo_name", "path", "length_bytes", "score", "int_score"}
