"""What every benchmark provides: items to ask about, and a judge for the responses."""

from __future__ import annotations

import abc
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from codeio.errors import InputError
from codeio.records import Message

if TYPE_CHECKING:
    from codeio.exec import Sandbox

__all__ = ["Benchmark", "EvalItem", "Judgement", "JudgeStatus", "read_jsonl"]

JudgeStatus = Literal["correct", "wrong", "no_answer", "rejected", "error", "timeout"]
"""``rejected``: an answer the rules forbid (e.g. a CRUXEval output that calls ``f``)."""


@dataclass(frozen=True)
class EvalItem:
    """One question (a test case); ``group`` is the problem it belongs to (the pass@k unit)."""

    id: str
    messages: list[Message]
    kind: str
    group: str
    difficulty: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    """Structured facts for offline teachers (``request.context``); never shown to a model."""
    truth: dict[str, Any] = field(default_factory=dict)
    """What the judge needs; benchmark-specific."""

    @property
    def prompt(self) -> str:
        return self.messages[-1].content


@dataclass(frozen=True)
class Judgement:
    status: JudgeStatus
    answer: str | None = None
    """The extracted answer as text (a Python literal or JSON), None when nothing was found."""
    detail: str = ""

    @property
    def correct(self) -> bool:
        return self.status == "correct"


class Benchmark(abc.ABC):
    """A named benchmark: ``load`` builds the items, ``judge`` scores responses in a batch."""

    name: ClassVar[str] = ""
    needs_data: ClassVar[bool] = True
    """``False`` when the benchmark can be fetched online without ``--data``."""

    def __init__(self, *, cot: bool = True) -> None:
        self.cot = cot

    @abc.abstractmethod
    def load(self, data: Path | None) -> list[EvalItem]:
        """All items, in a stable order."""

    @abc.abstractmethod
    def judge(self, pairs: Sequence[tuple[EvalItem, str]], sandbox: Sandbox) -> list[Judgement]:
        """One judgement per (item, response), in order."""


_GZIP_MAGIC = b"\x1f\x8b"


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; a bad line raises InputError naming it."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path=str(path)) from exc
    # Bytes, decoded line by line: a bad byte is an error naming its line, not a crash, and a
    # byte-order mark (Windows editors) is not part of the first object.
    with handle:
        for lineno, raw in enumerate(handle, 1):
            if lineno == 1:
                if raw.startswith(_GZIP_MAGIC):
                    raise InputError(
                        "gzip-compressed; decompress it first (gunzip)", path=str(path)
                    )
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"not valid UTF-8 at byte {exc.start}", path=str(path), line=lineno
                ) from exc
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise InputError(f"not JSON: {exc}", path=str(path), line=lineno) from exc
            if not isinstance(obj, dict):
                raise InputError("a line must be a JSON object", path=str(path), line=lineno)
            yield lineno, obj
