"""Page queries over the sidecar index and the read-only store: filters, keyset pages, records.

Every list is a keyset page: ``WHERE (sort_key, id) > (last_key, last_id) ORDER BY sort_key, id
LIMIT n`` on an index, so the millionth row costs what the first does. Text search cannot use an
index (prompts and responses stay in the store's JSON payloads), so it filters candidate pages in
id/sort order under a time budget and hands back a cursor to continue from where it stopped.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from codeio.view.index import MAX_VERDICT_TURNS

__all__ = [
    "KINDS",
    "SORTS",
    "STATUSES",
    "BadParam",
    "BadRecord",
    "SampleFilter",
    "Page",
    "count_samples",
    "decode_cursor",
    "decode_payload",
    "encode_cursor",
    "failure_page",
    "find_record",
    "function_record",
    "iter_filtered_payloads",
    "sample_page",
    "sample_payload",
]

KINDS = ("input", "output")
STATUSES = ("correct", "wrong", "no_answer", "error", "timeout", "none")
"""Verdict statuses a filter may name; ``none`` is a turn without a verdict (not verified yet)."""
SORTS = {
    "id": "id",
    "func": "func_id",
    "turns": "n_turns",
    "kind": "kind",
    "final": "final",
    "model": "model",
}
PAGE_SIZES = (25, 50, 100, 200)
COUNT_CAP = 10_000
COUNT_BUDGET_S = 0.08
PAGE_BUDGET_S = 0.15
SEARCH_BUDGET_S = 0.15
SEARCH_BATCH = 250
DOWNLOAD_BATCH = 1000
MAX_QUERY_LEN = 200


class BadRecord(ValueError):
    """A store record the viewer cannot decode (answered with HTTP 500 naming it)."""


class BadParam(ValueError):
    """A query parameter the viewer cannot use (answered with HTTP 400 naming it)."""


@dataclass
class SampleFilter:
    kind: str = ""
    final: str = ""
    verdicts: dict[int, str] = field(default_factory=dict)
    n_turns: int | None = None
    func_id: str = ""
    model: str = ""
    text: str = ""
    sort: str = "id"
    desc: bool = False
    limit: int = 50

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SampleFilter:
        f = cls()
        f.kind = params.get("kind", "")
        if f.kind and f.kind not in KINDS:
            raise BadParam(f"kind must be one of {', '.join(KINDS)}")
        f.final = params.get("final", "")
        if f.final and f.final not in STATUSES:
            raise BadParam(f"final must be one of {', '.join(STATUSES)}")
        for n in range(1, MAX_VERDICT_TURNS + 1):
            value = params.get(f"v{n}", "")
            if value:
                if value not in STATUSES:
                    raise BadParam(f"v{n} must be one of {', '.join(STATUSES)}")
                f.verdicts[n] = value
        turns = params.get("turns", "")
        if turns:
            if not turns.isdigit() or not 0 < int(turns) < 1000:
                raise BadParam("turns must be a positive integer")
            f.n_turns = int(turns)
        f.func_id = params.get("func", "")[:100]
        f.model = params.get("model", "")[:200]
        f.text = params.get("q", "")
        if len(f.text) > MAX_QUERY_LEN:
            raise BadParam(f"q must be at most {MAX_QUERY_LEN} characters")
        f.sort = params.get("sort", "id") or "id"
        if f.sort not in SORTS:
            raise BadParam(f"sort must be one of {', '.join(SORTS)}")
        order = params.get("order", "asc") or "asc"
        if order not in ("asc", "desc"):
            raise BadParam("order must be asc or desc")
        f.desc = order == "desc"
        limit = params.get("limit", "50") or "50"
        if not limit.isdigit() or int(limit) not in PAGE_SIZES:
            raise BadParam(f"limit must be one of {', '.join(map(str, PAGE_SIZES))}")
        f.limit = int(limit)
        return f

    def params(self, **override: Any) -> dict[str, str]:
        """The filter as query parameters (for links), without empty ones."""
        out: dict[str, str] = {
            "kind": self.kind,
            "final": self.final,
            **{f"v{n}": v for n, v in self.verdicts.items()},
            "turns": str(self.n_turns) if self.n_turns else "",
            "func": self.func_id,
            "model": self.model,
            "q": self.text,
            "sort": self.sort if self.sort != "id" else "",
            "order": "desc" if self.desc else "",
            "limit": str(self.limit) if self.limit != 50 else "",
        }
        out.update({k: str(v) for k, v in override.items()})
        return {k: v for k, v in out.items() if v}

    def where(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []

        def status(col: str, value: str) -> None:
            clauses.append(f"{col} = ?")
            args.append("" if value == "none" else value)

        if self.kind:
            clauses.append("kind = ?")
            args.append(self.kind)
        for n, value in sorted(self.verdicts.items()):
            status(f"v{n}", value)
        if self.final:
            status("final", self.final)
        if self.n_turns is not None:
            clauses.append("n_turns = ?")
            args.append(self.n_turns)
        if self.func_id:
            clauses.append("func_id = ?")
            args.append(self.func_id)
        if self.model:
            clauses.append("model = ?")
            args.append(self.model)
        return clauses, args


def decode_payload(text: str) -> Any:
    """A stored payload as Python data; ValueError when it cannot be decoded.

    SQLite's JSON functions (which built the index) accept nesting about twice as deep as
    Python's parser: such a payload is a ValueError here, never a RecursionError that would take
    a whole search page or download down with it.
    """
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to decode") from exc


def encode_cursor(key: Any, ident: str) -> str:
    raw = json.dumps([key, ident], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, ident = json.loads(raw)
    except (ValueError, binascii.Error, TypeError, RecursionError) as exc:
        raise BadParam("after is not a cursor this viewer made") from exc
    want = int if sort == "turns" else str
    if not isinstance(ident, str) or not isinstance(key, want) or isinstance(key, bool):
        raise BadParam("after is not a cursor this viewer made")
    return key, ident


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    scanned: int = 0
    """Text search: candidates read to fill this page (0 without text search)."""
    search_stopped: bool = False
    """Text search hit its time budget before the page was full."""
    elapsed_ms: float = 0.0
    too_slow: bool = False
    """The filters match too few of the rows their best index offers: stopped at the budget."""


class _TimeUp(Exception):
    pass


@contextmanager
def _time_limit(db: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Interrupt the statements run inside after ``seconds`` (raises ``_TimeUp``)."""
    deadline = time.perf_counter() + seconds
    db.set_progress_handler(lambda: int(time.perf_counter() > deadline), 20_000)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):
            raise _TimeUp from exc
        raise
    finally:
        db.set_progress_handler(None, 0)


_ROW_COLS = (
    "id, func_id, kind, final, n_turns, "
    + ", ".join(f"v{n}" for n in range(1, MAX_VERDICT_TURNS + 1))
    + ", model, io_index"
)


def _row(values: tuple[Any, ...]) -> dict[str, Any]:
    ident, func_id, kind, final, n_turns, *rest = values
    verdicts = [v for v in rest[:MAX_VERDICT_TURNS]][:n_turns]
    return {
        "id": ident,
        "func_id": func_id,
        "kind": kind,
        "final": final,
        "n_turns": n_turns,
        "verdicts": [v or "none" for v in verdicts],
        "model": rest[MAX_VERDICT_TURNS],
        "io_index": rest[MAX_VERDICT_TURNS + 1],
    }


def _keyset_sql(
    f: SampleFilter, cursor: tuple[Any, str] | None, limit: int
) -> tuple[str, list[Any]]:
    clauses, args = f.where()
    col = SORTS[f.sort]
    op, direction = ("<", "DESC") if f.desc else (">", "ASC")
    if cursor is not None:
        if col == "id":
            clauses.append(f"id {op} ?")
            args.append(cursor[1])
        else:
            clauses.append(f"({col}, id) {op} (?, ?)")
            args.extend(cursor)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    order = f"id {direction}" if col == "id" else f"{col} {direction}, id {direction}"
    return f"SELECT {_ROW_COLS} FROM samples{where} ORDER BY {order} LIMIT ?", [*args, limit]


def _cursor_of(f: SampleFilter, row: dict[str, Any]) -> str:
    col = SORTS[f.sort]
    return encode_cursor(row[col] if col != "id" else row["id"], row["id"])


def sample_page(
    db: sqlite3.Connection, stage: str | None, f: SampleFilter, after: str | None
) -> Page:
    """One page of samples matching ``f`` after the cursor ``after`` (None: the first page)."""
    start = time.perf_counter()
    cursor = decode_cursor(after, f.sort) if after else None
    if not f.text:
        sql, args = _keyset_sql(f, cursor, f.limit + 1)
        try:
            with _time_limit(db, PAGE_BUDGET_S):
                rows = [_row(r) for r in db.execute(sql, args)]
        except _TimeUp:
            return Page([], None, too_slow=True, elapsed_ms=(time.perf_counter() - start) * 1000)
        more = len(rows) > f.limit
        rows = rows[: f.limit]
        nxt = _cursor_of(f, rows[-1]) if more and rows else None
        return Page(rows, nxt, elapsed_ms=(time.perf_counter() - start) * 1000)
    # Text search: walk candidates in the page's order, keep those whose prompt or responses
    # contain the text, stop when the page is full or the time budget is spent.
    found: list[dict[str, Any]] = []
    scanned = 0
    stopped = False
    last: dict[str, Any] | None = None
    exhausted = False
    while len(found) < f.limit:
        if time.perf_counter() - start > SEARCH_BUDGET_S:
            stopped = True
            break
        sql, args = _keyset_sql(f, cursor, SEARCH_BATCH)
        batch = [_row(r) for r in db.execute(sql, args)]
        if not batch:
            exhausted = True
            break
        hits = _text_hits(db, stage, [r["id"] for r in batch], f.text)
        for r in batch:
            scanned += 1
            last = r
            if r["id"] in hits:
                found.append(r)
                if len(found) == f.limit:
                    break
        assert last is not None
        cursor = (last[SORTS[f.sort]] if f.sort != "id" else last["id"], last["id"])
        if len(batch) < SEARCH_BATCH and last is batch[-1]:
            exhausted = True
            break
    nxt = None
    if not exhausted and last is not None:
        nxt = _cursor_of(f, last)
    return Page(found, nxt, scanned, stopped, (time.perf_counter() - start) * 1000)


def _needs_python_match(text: str) -> bool:
    # The SQL prefilter looks at the JSON text, where quotes, backslashes and control characters
    # are escaped and only ASCII letters fold case: other queries are matched in Python only.
    return not text.isascii() or any(c in text for c in '"\\') or any(ord(c) < 32 for c in text)


def _text_hits(db: sqlite3.Connection, stage: str | None, ids: list[str], text: str) -> set[str]:
    if stage is None or not ids:
        return set()
    sql = "SELECT id, payload FROM st.records WHERE stage = ? AND id IN (SELECT value FROM json_each(?))"
    args: list[Any] = [stage, json.dumps(ids)]
    if not _needs_python_match(text):
        sql += " AND instr(lower(payload), ?) > 0"
        args.append(text.lower())
    needle = text.casefold()
    hits: set[str] = set()
    for ident, payload in db.execute(sql, args):
        try:
            sample = decode_payload(payload).get("sample") or {}
        except (ValueError, AttributeError):
            continue  # undecodable: its own page says so; no search depends on it
        texts = [sample.get("prompt") or ""] + [
            (t or {}).get("response") or "" for t in sample.get("turns") or []
        ]
        if any(needle in str(t).casefold() for t in texts):
            hits.add(ident)
    return hits


def count_samples(db: sqlite3.Connection, f: SampleFilter) -> tuple[int | None, bool]:
    """How many samples match the index filters (not the text): ``(n, capped)``.

    Capped at ``COUNT_CAP`` matches and at ``COUNT_BUDGET_S`` seconds: filters that no single
    index covers make SQLite read each candidate's row, and a page must not wait on a count.
    ``n`` is None when the time ran out.
    """
    clauses, args = f.where()
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    try:
        with _time_limit(db, COUNT_BUDGET_S):
            n = db.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM samples{where} LIMIT ?)",
                [*args, COUNT_CAP + 1],
            ).fetchone()[0]
    except _TimeUp:
        return None, False
    return min(n, COUNT_CAP), n > COUNT_CAP


def iter_filtered_payloads(
    db: sqlite3.Connection, stage: str | None, f: SampleFilter
) -> Iterator[dict[str, Any] | None]:
    """Every matching sample's payload (decoded), in the filter's order; no time budget.

    None stands for a payload that cannot be decoded, so the caller can count what it skips.
    """
    if stage is None:
        return
    cursor: tuple[Any, str] | None = None
    while True:
        sql, args = _keyset_sql(f, cursor, DOWNLOAD_BATCH)
        batch = [_row(r) for r in db.execute(sql, args)]
        if not batch:
            return
        ids = [r["id"] for r in batch]
        payloads = dict(
            db.execute(
                "SELECT id, payload FROM st.records WHERE stage = ?"
                " AND id IN (SELECT value FROM json_each(?))",
                (stage, json.dumps(ids)),
            ).fetchall()
        )
        hits = _text_hits(db, stage, ids, f.text) if f.text else None
        for r in batch:
            if r["id"] in payloads and (hits is None or r["id"] in hits):
                try:
                    yield decode_payload(payloads[r["id"]])
                except ValueError:
                    yield None
        last = batch[-1]
        cursor = (last[SORTS[f.sort]] if f.sort != "id" else last["id"], last["id"])


def sample_payload(db: sqlite3.Connection, stage: str | None, ident: str) -> dict[str, Any] | None:
    if stage is None:
        return None
    row = db.execute(
        "SELECT payload FROM st.records WHERE stage = ? AND id = ?", (stage, ident)
    ).fetchone()
    if row is None:
        return None
    return _decode_record(row[0], f"sample {ident!r} in stage {stage}")


def _decode_record(payload: str, what: str) -> dict[str, Any]:
    try:
        data = decode_payload(payload)
    except ValueError as exc:
        raise BadRecord(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRecord(f"{what} is not a JSON object")
    return data


def function_record(db: sqlite3.Connection, func_id: str) -> dict[str, Any] | None:
    """The function as sampled (with pairs), else as unified; None when unknown."""
    for stage in ("sample", "unify"):
        row = db.execute(
            "SELECT payload FROM st.records WHERE stage = ? AND id = ?", (stage, func_id)
        ).fetchone()
        if row:
            return {"stage": stage, **_decode_record(row[0], f"function {func_id!r}")}
    return None


def find_record(db: sqlite3.Connection, ident: str) -> list[tuple[str, dict[str, Any]]]:
    """Every stage's record with this id (a failure names its input record this way)."""
    from codeio.view.index import STAGES

    out = []
    for stage in STAGES:
        row = db.execute(
            "SELECT payload FROM st.records WHERE stage = ? AND id = ?", (stage, ident)
        ).fetchone()
        if row:
            out.append((stage, _decode_record(row[0], f"record {ident!r} of stage {stage}")))
    return out


def failure_page(
    db: sqlite3.Connection, stage: str, reason: str, after: str | None, limit: int = 50
) -> tuple[list[dict[str, str]], str | None]:
    """Failing records of one stage and reason with their detail, keyset-paged by record id."""
    rows = db.execute(
        "SELECT f.record_id, s.detail FROM fails f JOIN st.failures s"
        " ON s.stage = f.stage AND s.record_id = f.record_id"
        " WHERE f.stage = ? AND f.reason = ? AND f.record_id > ? ORDER BY f.record_id LIMIT ?",
        (stage, reason, after or "", limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    out = [{"record_id": r, "detail": d} for r, d in rows]
    return out, (rows[-1][0] if more and rows else None)
