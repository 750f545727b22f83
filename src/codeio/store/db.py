"""The run store: one SQLite database (WAL) that is the single source of truth of a run.

A stage reads the records another stage left (``records`` rows of its input stage), and for
each input record writes, in one transaction per batch, its outputs, a ``done`` row and, when
it failed, a ``failures`` row. A record is done for a stage iff its ``done`` row exists, so a
run killed at any moment resumes by processing exactly the records without one: nothing is
lost (uncommitted batches are redone) and nothing is duplicated (committed ones are skipped).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from codeio.records import Failure

__all__ = ["LLMUsage", "Outcome", "RunStore", "connect_read_only", "create_with_umask"]

M = TypeVar("M", bound=BaseModel)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    stage TEXT NOT NULL,
    id TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (stage, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS done (
    stage TEXT NOT NULL,
    id TEXT NOT NULL,
    ok INTEGER NOT NULL,
    n_out INTEGER NOT NULL,
    PRIMARY KEY (stage, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS failures (
    stage TEXT NOT NULL,
    record_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (stage, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats (
    stage TEXT NOT NULL,
    id TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (stage, id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS llm_usage (
    stage TEXT NOT NULL,
    id TEXT NOT NULL,
    call INTEGER NOT NULL,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    PRIMARY KEY (stage, id, call)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stage_state (
    stage TEXT PRIMARY KEY,
    complete INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class LLMUsage:
    """Tokens of one LLM call, stored with the result it produced (so resume never double-counts)."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False


@dataclass
class Outcome:
    """What one input record became in one stage: outputs, or a failure, plus counters."""

    input_id: str
    outputs: list[BaseModel] = field(default_factory=list)
    failure: Failure | None = None
    stats: dict[str, float] = field(default_factory=dict)
    """Per-record counters the funnel sums (e.g. ``unify_repaired``)."""
    usage: list[LLMUsage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None


def create_with_umask(path: Path) -> None:
    """Create ``path`` empty if it does not exist, with the user's umask applied to 0666.

    SQLite creates its files 0644 whatever the umask; its -wal and -shm files copy the
    database's mode, so creating the database first makes the whole store follow the umask
    (a group-shared run directory under umask 002 stays group-writable).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return
    os.close(fd)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes: ``mode=ro``, or ``immutable=1`` where the directory is
    read-only and SQLite cannot create the shared-memory file a WAL reader needs."""
    if not path.is_file():
        raise FileNotFoundError(f"no run store at {path}")
    uri = f"file:{quote(str(path.resolve()))}"
    con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60.0, isolation_level=None)
    try:
        con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:
        con.close()
    # Nobody can be writing to a store in a directory this process cannot write to either.
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


def _dump(record: BaseModel) -> str:
    return record.model_dump_json()


class RunStore:
    """State of one run in ``<run>/state.sqlite``; one instance per process, not thread-safe."""

    FILENAME = "state.sqlite"

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            # Readers (status, export, report) must work on a finished run that is read-only
            # (a shared dataset, a mounted archive): no WAL switch, no schema, no writes.
            self._db = connect_read_only(self.path)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        create_with_umask(self.path)
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across a process kill (the OS keeps the WAL); only power loss can
        # drop the last commits, and those batches would simply be redone.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def open_run(cls, run_dir: str | Path, *, read_only: bool = False) -> RunStore:
        return cls(Path(run_dir) / cls.FILENAME, read_only=read_only)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata -----------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def delete_meta(self, key: str) -> None:
        self._db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def forget_failed(self, stage: str) -> int:
        """Drop ``stage``'s failed done rows (with their failures and stats), so a rerun
        processes those records again; returns how many. Outputs and successes stay."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            ids = "SELECT id FROM done WHERE stage = ? AND ok = 0"
            cur.execute(
                f"DELETE FROM failures WHERE stage = ? AND record_id IN ({ids})", (stage, stage)
            )
            cur.execute(f"DELETE FROM stats WHERE stage = ? AND id IN ({ids})", (stage, stage))
            n = cur.execute("DELETE FROM done WHERE stage = ? AND ok = 0", (stage,)).rowcount
            cur.execute(
                "INSERT OR REPLACE INTO stage_state(stage, complete) VALUES (?, 0)", (stage,)
            )
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return n

    def mark_complete(self, stage: str, complete: bool = True) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO stage_state(stage, complete) VALUES (?, ?)",
            (stage, int(complete)),
        )

    def is_complete(self, stage: str) -> bool:
        row = self._db.execute(
            "SELECT complete FROM stage_state WHERE stage = ?", (stage,)
        ).fetchone()
        return bool(row and row[0])

    # -- writing ------------------------------------------------------------------------------
    def commit_outcomes(self, stage: str, outcomes: Sequence[Outcome]) -> None:
        """Write one batch atomically: outputs, done rows, failures, stats and LLM usage.

        Rows are gathered first and written with one ``executemany`` per table, so a batch
        costs a handful of statements and one commit, not several statements per record.
        """
        records: list[tuple[str, str, str]] = []
        done: list[tuple[str, str, int, int]] = []
        failures: list[tuple[str, str, str, str]] = []
        stats: list[tuple[str, str, str, float]] = []
        usage: list[tuple[str, str, int, str, int, int, int]] = []
        for oc in outcomes:
            records.extend((stage, rec.id, _dump(rec)) for rec in oc.outputs)  # type: ignore[attr-defined]
            done.append((stage, oc.input_id, int(oc.ok), len(oc.outputs)))
            if oc.failure is not None:
                f = oc.failure
                failures.append((stage, oc.input_id, f.reason, f.detail[:4000]))
            stats.extend((stage, oc.input_id, k, float(v)) for k, v in oc.stats.items())
            usage.extend(
                (
                    stage,
                    oc.input_id,
                    i,
                    u.model,
                    u.prompt_tokens,
                    u.completion_tokens,
                    int(u.cached),
                )
                for i, u in enumerate(oc.usage)
            )
        if usage:
            # A record asked again after a retryable failure keeps the usage rows of its
            # earlier calls (tokens a `length` answer billed): number the new ones after them.
            base = self._next_calls(stage, {u[1] for u in usage})
            if base:
                usage = [(s, i, c + base.get(i, 0), *rest) for s, i, c, *rest in usage]
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            # OR IGNORE: ids are content hashes, so an output two inputs share is one row.
            cur.executemany(
                "INSERT OR IGNORE INTO records(stage, id, payload) VALUES (?, ?, ?)", records
            )
            cur.executemany(
                "INSERT OR REPLACE INTO done(stage, id, ok, n_out) VALUES (?, ?, ?, ?)", done
            )
            cur.executemany(
                "INSERT OR REPLACE INTO failures(stage, record_id, reason, detail)"
                " VALUES (?, ?, ?, ?)",
                failures,
            )
            cur.executemany(
                "INSERT OR REPLACE INTO stats(stage, id, key, value) VALUES (?, ?, ?, ?)", stats
            )
            cur.executemany(
                "INSERT OR REPLACE INTO llm_usage(stage, id, call, model, prompt_tokens,"
                " completion_tokens, cached) VALUES (?, ?, ?, ?, ?, ?, ?)",
                usage,
            )
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite has already rolled back after some errors (SQLITE_FULL: disk full); a second
        # ROLLBACK would raise "no transaction is active" and hide the real error.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _next_calls(self, stage: str, ids: Iterable[str]) -> dict[str, int]:
        ids = list(ids)
        out: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = (
                "SELECT id, MAX(call) + 1 FROM llm_usage WHERE stage = ?"
                f" AND id IN ({','.join('?' * len(chunk))}) GROUP BY id"
            )
            out.update((rid, int(n)) for rid, n in self._db.execute(q, (stage, *chunk)))
        return out

    def reopen_failures(
        self,
        stage: str,
        reasons: Iterable[str],
        *,
        below: tuple[str, str, float] | None = None,
    ) -> int:
        """Make failed records of ``stage`` pending again; returns how many.

        Reopens failures whose reason is in ``reasons``, and with ``below = (reason, stat,
        value)`` also those of ``reason`` whose per-record ``stat`` is under ``value``. Their
        done, failure and stats rows go, and so do the outputs a failed record kept (revise
        keeps the unrevised sample under the input's id); their LLM usage rows stay.
        """
        reasons = list(reasons)
        ids: list[str] = []
        if reasons:
            q = (
                "SELECT record_id FROM failures WHERE stage = ?"
                f" AND reason IN ({','.join('?' * len(reasons))})"
            )
            ids += [r[0] for r in self._db.execute(q, (stage, *reasons))]
        if below is not None:
            reason, key, value = below
            ids += [
                r[0]
                for r in self._db.execute(
                    "SELECT f.record_id FROM failures f JOIN stats s ON s.stage = f.stage"
                    " AND s.id = f.record_id AND s.key = ? WHERE f.stage = ? AND f.reason = ?"
                    " AND s.value < ?",
                    (key, stage, reason, value),
                )
            ]
        if not ids:
            return 0
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                cur.execute(
                    f"DELETE FROM records WHERE stage = ? AND id IN (SELECT id FROM done"
                    f" WHERE stage = ? AND n_out > 0 AND id IN ({marks}))",
                    (stage, stage, *chunk),
                )
                for table, col in (("done", "id"), ("failures", "record_id"), ("stats", "id")):
                    cur.execute(
                        f"DELETE FROM {table} WHERE stage = ? AND {col} IN ({marks})",
                        (stage, *chunk),
                    )
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return len(ids)

    # -- reading ------------------------------------------------------------------------------
    def is_done(self, stage: str, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` already have a done row for ``stage``."""
        ids = list(ids)
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT id FROM done WHERE stage = ? AND id IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self._db.execute(q, (stage, *chunk)))
        return found

    def existing_ids(self, stage: str, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` already are records of ``stage``."""
        ids = list(ids)
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT id FROM records WHERE stage = ? AND id IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self._db.execute(q, (stage, *chunk)))
        return found

    def iter_payloads(
        self, stage: str, *, pending_for: str | None = None, page: int = 256
    ) -> Iterator[tuple[str, str]]:
        """(id, payload JSON) of ``stage``'s records in id order, read in pages of ``page``.

        With ``pending_for``, only records that stage ``pending_for`` has not done yet. Keyset
        pagination keeps memory flat and lets the caller commit between pages.
        """
        last = ""
        while True:
            if pending_for is None:
                rows = self._db.execute(
                    "SELECT id, payload FROM records WHERE stage = ? AND id > ?"
                    " ORDER BY id LIMIT ?",
                    (stage, last, page),
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT r.id, r.payload FROM records r LEFT JOIN done d"
                    " ON d.stage = ? AND d.id = r.id"
                    " WHERE r.stage = ? AND r.id > ? AND d.id IS NULL ORDER BY r.id LIMIT ?",
                    (pending_for, stage, last, page),
                ).fetchall()
            if not rows:
                return
            yield from rows
            last = rows[-1][0]

    def iter_records(
        self, stage: str, model: type[M], *, pending_for: str | None = None, page: int = 256
    ) -> Iterator[M]:
        """Records of ``stage`` decoded as ``model``, in id order (export reads final samples so)."""
        for _, payload in self.iter_payloads(stage, pending_for=pending_for, page=page):
            yield model.model_validate_json(payload)

    def count_records(self, stage: str) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM records WHERE stage = ?", (stage,)
        ).fetchone()[0]

    def count_pending(self, stage: str, input_stage: str) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM records r LEFT JOIN done d ON d.stage = ? AND d.id = r.id"
            " WHERE r.stage = ? AND d.id IS NULL",
            (stage, input_stage),
        ).fetchone()[0]

    def iter_failures(self, stage: str | None = None) -> Iterator[Failure]:
        q = "SELECT stage, record_id, reason, detail FROM failures"
        args: tuple[str, ...] = ()
        if stage is not None:
            q += " WHERE stage = ?"
            args = (stage,)
        for s, rid, reason, detail in self._db.execute(q + " ORDER BY stage, record_id", args):
            yield Failure(stage=s, record_id=rid, reason=reason, detail=detail)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only aggregate queries for the funnel and report."""
        return self._db.execute(sql, tuple(args)).fetchall()
