"""Persistent response cache and usage totals in one SQLite file (WAL).

Tables (named so they can share a file with the run store's own tables):
    llm_responses(key, backend, model, text, finish_reason, prompt_tokens, completion_tokens,
                  stage, created)
    llm_usage_totals(stage, model, <every Counters field>, failures_json)
An answer and its accounting are written in one transaction, so after a kill a response is
either cached and counted, or neither (and will be asked again). Writes may be deferred and
committed in batches (``record(defer=True)`` + ``flush()``): a kill -9 then loses at most the
batch not yet committed, whose requests are simply asked again by the next run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from codeio.errors import CodeioError
from codeio.ids import canonical_json
from codeio.llm.base import Completion, LLMBackend, LLMRequest
from codeio.llm.usage import COUNTERS, Counters, summarize

__all__ = ["ResponseCache", "cache_key", "read_usage"]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS llm_responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    stage TEXT NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS llm_usage_totals (
    stage TEXT NOT NULL,
    model TEXT NOT NULL,
    {", ".join(f"{name} {'REAL' if name == 'cost_usd' else 'INTEGER'} NOT NULL DEFAULT 0" for name in COUNTERS)},
    failures_json TEXT NOT NULL DEFAULT '{{}}',
    PRIMARY KEY (stage, model)
) WITHOUT ROWID;
"""

_UPSERT = (
    f"INSERT INTO llm_usage_totals(stage, model, {', '.join(COUNTERS)}) "
    f"VALUES (?, ?, {', '.join('?' for _ in COUNTERS)}) "
    "ON CONFLICT(stage, model) DO UPDATE SET "
    + ", ".join(f"{n} = {n} + excluded.{n}" for n in COUNTERS)
)


def cache_key(backend: LLMBackend, request: LLMRequest) -> str:
    """sha256 over backend, model, messages, sampling params and sample index (not the stage)."""
    parts: dict[str, Any] = {
        **backend.describe(),
        "messages": [[m.role, m.content] for m in request.messages],
        "params": request.params.model_dump(),
        "sample": request.sample,
    }
    if backend.uses_context:
        parts["context"] = request.context
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


class ResponseCache:
    """One connection shared by the client's threads behind a lock; other processes may share the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        from codeio.store.db import create_with_umask

        create_with_umask(self.path)  # SQLite would make it 0644 whatever the umask
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=60.0, isolation_level=None, check_same_thread=False
        )
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # Losing the last commits to a power cut only means asking those requests again.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            _add_new_counters(self._db)
        except sqlite3.DatabaseError as exc:
            # A damaged or foreign file (or one locked past the busy timeout) is the user's to
            # fix, not a bug: the run must say which file and what to do instead of exiting 70.
            self._db.close()
            raise CodeioError(
                f"the LLM response cache {self.path} cannot be used ({exc}): move it aside and"
                " rerun (its answers are then asked again), or stop the program that holds it"
            ) from exc
        # Deferred writes (see ``record``): rows by key, summed counters and failure counts.
        self._rows: dict[str, tuple[Any, ...]] = {}
        self._sums: dict[tuple[str, str], list[Any]] = {}
        self._fails: dict[tuple[str, str], dict[str, int]] = {}

    def get(self, key: str) -> Completion | None:
        with self._lock:
            pending = self._rows.get(key)
            if pending is not None:  # answered, not committed yet: still a hit
                _, _, model, text, finish, pt, ct, _, _ = pending
            else:
                row = self._db.execute(
                    "SELECT text, finish_reason, prompt_tokens, completion_tokens, model "
                    "FROM llm_responses WHERE key = ?",
                    (key,),
                ).fetchone()
                if row is None:
                    return None
                text, finish, pt, ct, model = row
        return Completion(
            text=text, finish_reason=finish, prompt_tokens=pt, completion_tokens=ct,
            model=model, cached=True,
        )  # fmt: skip

    def record(
        self,
        stage: str,
        model: str,
        delta: Counters,
        *,
        failure_reason: str | None = None,
        store: tuple[str, str, Completion] | None = None,
        defer: bool = False,
    ) -> None:
        """Add ``delta`` to the totals and, with ``store=(key, backend, completion)``, cache it.

        With ``defer`` the write waits in memory for the next ``flush()`` (one transaction for
        many requests: a commit per request is most of the client's CPU at high throughput);
        ``get`` already sees it. An answer and its accounting always land in the same commit.
        """
        with self._lock:
            if store is not None:
                key, backend, c = store
                self._rows[key] = (
                    key, backend, c.model or model, c.text, c.finish_reason,
                    c.prompt_tokens, c.completion_tokens, stage, time.time(),
                )  # fmt: skip
            sums = self._sums.get((stage, model))
            if sums is None:
                self._sums[(stage, model)] = [getattr(delta, n) for n in COUNTERS]
            else:
                for i, n in enumerate(COUNTERS):
                    sums[i] += getattr(delta, n)
            if failure_reason is not None:
                fails = self._fails.setdefault((stage, model), {})
                fails[failure_reason] = fails.get(failure_reason, 0) + 1
        if not defer:
            self.flush()

    def flush(self) -> None:
        """Commit every deferred write in one transaction (kept for the next try if it fails)."""
        with self._lock:
            if not self._sums and not self._rows:
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._rows:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO llm_responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        self._rows.values(),
                    )
                for (stage, model), values in self._sums.items():
                    self._db.execute(_UPSERT, (stage, model, *values))
                for (stage, model), fails in self._fails.items():
                    (raw,) = self._db.execute(
                        "SELECT failures_json FROM llm_usage_totals WHERE stage = ? AND model = ?",
                        (stage, model),
                    ).fetchone()
                    failures = json.loads(raw)
                    for reason, n in fails.items():
                        failures[reason] = failures.get(reason, 0) + n
                    self._db.execute(
                        "UPDATE llm_usage_totals SET failures_json = ? WHERE stage = ? AND model = ?",
                        (json.dumps(failures, sort_keys=True), stage, model),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._rows.clear()
            self._sums.clear()
            self._fails.clear()

    def __len__(self) -> int:
        self.flush()
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM llm_responses").fetchone()
        return int(n)

    def usage(self) -> dict[str, Any]:
        """Totals over every session that used this file (all runs, all resumes)."""
        self.flush()
        with self._lock:
            return _usage_from(self._db)

    def close(self) -> None:
        """Commit deferred writes, then close the file."""
        try:
            self.flush()
        finally:
            with self._lock:
                self._db.close()


def _counter_columns(db: sqlite3.Connection) -> list[str]:
    cols = {row[1] for row in db.execute("PRAGMA table_info(llm_usage_totals)")}
    return [name for name in COUNTERS if name in cols]


def _add_new_counters(db: sqlite3.Connection) -> None:
    """Give a file written before a counter existed (e.g. ``unknown_usage``) its column."""
    have = set(_counter_columns(db))
    for name in COUNTERS:
        if name in have:
            continue
        kind = "REAL" if name == "cost_usd" else "INTEGER"
        try:
            db.execute(f"ALTER TABLE llm_usage_totals ADD COLUMN {name} {kind} NOT NULL DEFAULT 0")
        except sqlite3.OperationalError as exc:
            # Another process sharing the file added it first.
            if "duplicate column" not in str(exc):
                raise


def _usage_from(db: sqlite3.Connection) -> dict[str, Any]:
    # Only the columns the file has: read_usage may read a file an older codeio wrote.
    names = _counter_columns(db)
    cur = db.execute(
        f"SELECT stage, model, {', '.join(names)}, failures_json FROM llm_usage_totals"
    )
    rows: list[tuple[str, str, Counters]] = []
    failures: dict[str, int] = {}
    for row in cur.fetchall():
        stage, model, *vals, raw = row
        rows.append((stage, model, Counters(**dict(zip(names, vals, strict=True)))))
        for reason, n in json.loads(raw).items():
            failures[reason] = failures.get(reason, 0) + n
    return summarize(rows, failures)


def read_usage(path: str | Path) -> dict[str, Any]:
    """Usage totals of a cache file, read-only (for ``codeio status``); empty if there is none."""
    p = Path(path)
    if not p.exists():
        return summarize([], {})
    db = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=60.0)
    try:
        has = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'llm_usage_totals'"
        ).fetchone()
        return _usage_from(db) if has else summarize([], {})
    finally:
        db.close()
