"""n-gram decontamination: training records that share a 13-gram with a benchmark item.

The paper's method: lowercase, punctuation to spaces, whitespace-split tokens, token 13-grams;
a record overlaps an item when they share one n-gram. Training records come from a run
directory (functions and samples, through the run store) or from JSONL files (any records or
``messages`` conversations); benchmark items from any JSONL (CRUXEval code+input+output,
LeetCode-O messages, ...). Every string field counts, except id-like fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codeio.errors import ConfigError
from codeio.evaluate.benchmarks.base import read_jsonl

__all__ = [
    "EXCLUDE_FILE",
    "DecontamReport",
    "NgramIndex",
    "Overlap",
    "TextRecord",
    "decontaminate",
    "ngrams",
    "normalize_tokens",
]

EXCLUDE_FILE = "decontam_exclude.json"
"""Written into a run directory by ``--exclude``; export should skip the ids it lists."""

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_ID_KEYS = frozenset(
    {"id", "task_id", "func_id", "blob_id", "raw_id", "problem_id", "question_id", "case_id",
     "uid", "msgidx", "role", "from", "kind", "difficulty", "repo_name", "path", "source"}
)  # fmt: skip
_RECORD_ID_KEYS = ("id", "task_id", "func_id", "blob_id", "problem_id", "question_id", "title")


def normalize_tokens(text: str) -> list[str]:
    """Lowercased words with punctuation and underscores removed (``foo_bar(x)`` -> foo bar x)."""
    return _NON_WORD.sub(" ", text.lower()).split()


def ngrams(tokens: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    for i in range(len(tokens) - n + 1):
        yield tuple(tokens[i : i + n])


@dataclass(frozen=True)
class TextRecord:
    id: str
    text: str
    source: str
    """Where it came from: ``function``, ``sample``, or a file name."""
    func_id: str | None = None
    line: int | None = None
    """1-based line in a JSONL source."""


class Overlap(BaseModel):
    model_config = ConfigDict(frozen=True)

    record_id: str
    source: str
    item_id: str
    benchmark: str
    ngram: str


class DecontamReport(BaseModel):
    n: int
    records_checked: int
    items_checked: int
    against: list[str]
    overlapping_records: list[str] = Field(default_factory=list)
    overlaps: list[Overlap] = Field(default_factory=list)
    report_path: str | None = None
    excluded_path: str | None = None


class NgramIndex:
    """Benchmark n-grams -> the first (benchmark, item) that has each."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ConfigError("n must be at least 1")
        self.n = n
        self._owner: dict[tuple[str, ...], tuple[str, str]] = {}
        self.items = 0

    def add(self, benchmark: str, item_id: str, text: str) -> None:
        self.items += 1
        for gram in ngrams(normalize_tokens(text), self.n):
            self._owner.setdefault(gram, (benchmark, item_id))

    def find(self, text: str) -> dict[tuple[str, str], tuple[str, ...]]:
        """``(benchmark, item) -> the first shared n-gram`` for every item ``text`` overlaps."""
        hits: dict[tuple[str, str], tuple[str, ...]] = {}
        for gram in ngrams(normalize_tokens(text), self.n):
            owner = self._owner.get(gram)
            if owner is not None and owner not in hits:
                hits[owner] = gram
        return hits


def _strings(value: Any, key: str | None = None) -> Iterator[str]:
    if key in _ID_KEYS:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v, None)


def _row_id(row: dict[str, Any], fallback: str) -> str:
    return next((str(row[k]) for k in _RECORD_ID_KEYS if row.get(k) not in (None, "")), fallback)


def jsonl_records(path: Path) -> Iterator[TextRecord]:
    for lineno, row in read_jsonl(path):
        yield TextRecord(
            id=_row_id(row, f"{path.name}:{lineno}"),
            text="\n".join(_strings(row)),
            source=path.name,
            func_id=row.get("func_id"),
            line=lineno,
        )


def run_records(run_dir: Path) -> Iterator[TextRecord]:
    """A run's functions (code, problem, I/O description) and samples (prompt, every turn)."""
    from codeio.pipeline.export.source import RunSource

    with RunSource(run_dir) as source:
        for fn in source.functions():
            text = "\n".join([fn.refcode, fn.problem, fn.io_description])
            yield TextRecord(fn.id, text, "function", fn.id)
        for sample in source.samples():
            text = "\n".join([sample.prompt, *(turn.response for turn in sample.turns)])
            yield TextRecord(sample.task_id, text, "sample", sample.func_id)


def _is_run(path: Path) -> bool:
    return path.is_dir() and (path / "state.sqlite").is_file()


def training_records(path: Path) -> Iterator[TextRecord]:
    if _is_run(path):
        yield from run_records(path)
    elif path.is_dir():
        for file in sorted(path.rglob("*.jsonl")):
            yield from jsonl_records(file)
    elif path.is_file():
        yield from jsonl_records(path)
    else:
        raise ConfigError(f"{path}: no such run directory or JSONL file")


def build_index(against: Iterable[Path], n: int) -> NgramIndex:
    index = NgramIndex(n)
    for path in against:
        for record in jsonl_records(path):
            index.add(path.stem, record.id, record.text)
    return index


def decontaminate(
    source: str | Path,
    against: Sequence[str | Path],
    *,
    n: int = 13,
    exclude: bool = False,
    report_path: str | Path | None = None,
) -> DecontamReport:
    """Overlaps of ``source``'s records with the ``against`` benchmarks; optionally exclude them.

    With ``exclude``: a run directory gets ``decontam_exclude.json`` (``func_ids``, ``task_ids``);
    a JSONL file gets ``<name>.decontam.jsonl`` without the overlapping lines.
    """
    if not against:
        raise ConfigError("give at least one benchmark file to check against")
    src = Path(source)
    paths = [Path(p) for p in against]
    index = build_index(paths, n)
    overlaps: list[Overlap] = []
    bad: list[TextRecord] = []
    checked = 0
    for record in training_records(src):
        checked += 1
        hits = index.find(record.text)
        if hits:
            bad.append(record)
        for (bench, item), gram in hits.items():
            overlaps.append(Overlap(record_id=record.id, source=record.source, item_id=item,
                                    benchmark=bench, ngram=" ".join(gram)))  # fmt: skip
    report = DecontamReport(
        n=n,
        records_checked=checked,
        items_checked=index.items,
        against=[str(p) for p in paths],
        overlapping_records=list(dict.fromkeys(r.id for r in bad)),
        overlaps=overlaps,
    )
    if exclude:
        report.excluded_path = str(_write_exclusion(src, bad, report))
    if report_path is not None:
        report.report_path = str(report_path)
        Path(report_path).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return report


def _write_exclusion(src: Path, bad: list[TextRecord], report: DecontamReport) -> Path:
    if _is_run(src):
        func_ids = sorted({r.func_id for r in bad if r.func_id})
        task_ids = sorted({r.id for r in bad if r.source == "sample"})
        path = src / EXCLUDE_FILE
        payload = {"n": report.n, "against": report.against, "func_ids": func_ids,
                   "task_ids": task_ids}  # fmt: skip
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        return path
    if not src.is_file():
        raise ConfigError("--exclude needs a run directory or a single JSONL file")
    drop = {r.line for r in bad}
    path = src.with_name(f"{src.stem}.decontam.jsonl")
    with path.open("w", encoding="utf-8") as handle:
        for lineno, row in read_jsonl(src):
            if lineno not in drop:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
