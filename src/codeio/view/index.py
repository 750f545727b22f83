"""The viewer's sidecar index: flat, indexed sample columns and cached counts beside a run store.

The run store keeps every record as one JSON payload keyed by ``(stage, id)``, which is right for
resumable writing and wrong for browsing: filtering a million samples by kind and turn-1 verdict,
or counting records per stage, would parse or walk gigabytes on every page. The viewer never
writes the user's store; it builds this small SQLite file instead (``RUN_DIR/view_index.sqlite``,
or a per-store file under the user's cache folder when the run folder is not writable) and keeps
it current while a run is in progress:

* ``samples``: one row per final sample (the last of revise/verify/generate holding records, the
  stage export reads) with kind, per-turn verdicts, final status, turn count, function and model,
  plus indexes that make every filter a keyset range scan;
* ``seen``: the store's ``done`` ids already indexed, so a refresh reads only new ones;
* ``fails``: ``(stage, reason, record_id)`` of every failure, for the failures-by-reason pages;
* ``meta``: the summary (funnel, failure counts, correctness) computed at the last refresh.

A refresh runs only when the store's files changed (size/mtime of ``state.sqlite`` and its WAL)
and costs O(new records) plus a few counts over the small ``done`` rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from codeio.cache_dir import cache_root

__all__ = [
    "INDEX_FILENAME",
    "MAX_VERDICT_TURNS",
    "SAMPLE_STAGES",
    "STAGES",
    "ViewIndex",
    "default_index_path",
    "open_store_readonly",
    "store_uri",
]

INDEX_FILENAME = "view_index.sqlite"
SAMPLE_STAGES = ("revise", "verify", "generate")
"""Stages whose records are Attempts, latest first (the same choice export makes)."""
STAGES = ("ingest", "unify", "sample", "prompt", "generate", "verify", "revise")
MAX_VERDICT_TURNS = 4
"""Turns whose verdict gets its own indexed column (CodeI/O++ uses two)."""
_SCHEMA_VERSION = 2
_BATCH = 5000

_VERDICT_COLS = ", ".join(f"v{n} TEXT NOT NULL" for n in range(1, MAX_VERDICT_TURNS + 1))
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    id TEXT PRIMARY KEY,
    func_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    final TEXT NOT NULL,
    n_turns INTEGER NOT NULL,
    {_VERDICT_COLS},
    model TEXT NOT NULL,
    io_index INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fails (
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (stage, reason, record_id)
) WITHOUT ROWID;
"""


_INDEXES = {
    "samples_kind_v1": "kind, v1, id",
    "samples_kind_final": "kind, final, id",
    "samples_final": "final, id",
    "samples_v1": "v1, id",
    "samples_v2": "v2, id",
    "samples_func_id": "func_id, id",
    "samples_model": "model, id",
    "samples_turns": "n_turns, id",
}


def _create_indexes(db: sqlite3.Connection) -> None:
    for name, cols in _INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON samples({cols})")


def _drop_indexes(db: sqlite3.Connection) -> None:
    for name in _INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")


def _turn_status(n: int) -> str:
    return f"coalesce(json_extract(r.payload, '$.sample.turns[{n}].verdict.status'), '')"


# Extracting in SQL keeps the per-record cost in C: a million payloads index in seconds.
_SELECT_SAMPLE = (
    "SELECT r.id, coalesce(json_extract(r.payload, '$.sample.func_id'), ''),"
    " coalesce(json_extract(r.payload, '$.sample.kind'), ''),"
    " coalesce(json_extract(r.payload, '$.sample.turns[#-1].verdict.status'), ''),"
    " coalesce(json_array_length(r.payload, '$.sample.turns'), 0),"
    + ", ".join(_turn_status(n) for n in range(MAX_VERDICT_TURNS))
    + ", coalesce(json_extract(r.payload, '$.sample.model'), ''),"
    " coalesce(json_extract(r.payload, '$.task.io_index'), -1)"
    " FROM st.records r"
)
_INSERT_SAMPLE = "INSERT OR REPLACE INTO samples " + _SELECT_SAMPLE


def store_uri(store_path: Path, *, immutable: bool = False) -> str:
    """A read-only SQLite URI for the run store (``immutable`` when no -shm can be made)."""
    from urllib.parse import quote

    mode = "immutable=1" if immutable else "mode=ro"
    return f"file:{quote(str(store_path.resolve()))}?{mode}"


def open_store_readonly(store_path: Path) -> sqlite3.Connection:
    """Open the store read-only; works while a WAL writer is active, never writes the file."""
    try:
        db = sqlite3.connect(store_uri(store_path), uri=True, check_same_thread=False)
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.OperationalError:
        # A WAL store in a folder we cannot write has no -shm to share: no writer can be
        # active there, so reading it as immutable is safe.
        db = sqlite3.connect(
            store_uri(store_path, immutable=True), uri=True, check_same_thread=False
        )
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    db.execute("PRAGMA query_only=ON")
    return db


def default_index_path(run_dir: Path) -> Path:
    """``RUN_DIR/view_index.sqlite``, or a per-store file in the cache when RUN_DIR is read-only
    or its sidecar files are symlinks.

    A run folder may come from someone else: SQLite follows a symlink named like the sidecar and
    would create or write a database wherever it points.
    """
    beside = run_dir / INDEX_FILENAME
    planted = any(
        Path(f"{beside}{suffix}").is_symlink() for suffix in ("", "-wal", "-shm", "-journal")
    )
    if os.access(run_dir, os.W_OK) and not planted:
        return beside
    digest = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:16]
    return cache_root() / "view" / f"{digest}.sqlite"


def _signature(store_path: Path) -> list[int]:
    sig: list[int] = []
    for p in (store_path, store_path.with_name(store_path.name + "-wal")):
        try:
            st = p.stat()
            sig += [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            sig += [0, 0]
    return sig


class ViewIndex:
    """Builds and refreshes the sidecar; hands out read-only connections for page queries."""

    def __init__(self, run_dir: Path, index_path: Path | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.store_path = self.run_dir / "state.sqlite"
        if not self.store_path.is_file():
            raise FileNotFoundError(f"not a run directory (no state.sqlite): {self.run_dir}")
        self.path = index_path or default_index_path(self.run_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writer = self._connect_writer()
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self.last_refresh = 0.0
        self.last_change = 0.0
        self._unreadable: set[str] = set()

    # -- connections ---------------------------------------------------------------------------
    def _connect_writer(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        if db.execute("PRAGMA user_version").fetchone()[0] not in (0, _SCHEMA_VERSION):
            # An index from another viewer version: it is only a cache, start it over.
            db.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # a lost index is rebuilt, never trusted blindly
        # Room for the indexes' working set: a million-sample build otherwise thrashes 2 MB.
        db.execute("PRAGMA cache_size=-262144")
        db.executescript(_SCHEMA)
        _create_indexes(db)
        db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self._attach(db)
        return db

    def _attach(self, db: sqlite3.Connection) -> None:
        db.execute("ATTACH DATABASE ? AS st", (store_uri(self.store_path),))
        try:
            db.execute("SELECT 1 FROM st.sqlite_master LIMIT 1").fetchall()
        except sqlite3.OperationalError:
            # No -shm can be created next to the store (read-only folder): see open_store_readonly.
            db.execute("DETACH DATABASE st")
            db.execute("ATTACH DATABASE ? AS st", (store_uri(self.store_path, immutable=True),))

    def connection(self) -> sqlite3.Connection:
        """A pooled read-only connection: the index as ``main``, the store as ``st``."""
        with self._pool_lock:
            if self._pool:
                return self._pool.pop()
        from urllib.parse import quote

        db = sqlite3.connect(
            f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True, check_same_thread=False
        )
        self._attach(db)
        db.execute("PRAGMA query_only=ON")
        return db

    def release(self, db: sqlite3.Connection) -> None:
        if db.in_transaction:
            db.rollback()
        with self._pool_lock:
            if len(self._pool) < 16:
                self._pool.append(db)
                return
        db.close()

    def close(self) -> None:
        with self._pool_lock:
            for db in self._pool:
                db.close()
            self._pool.clear()
        with self._lock:
            self._writer.close()

    # -- refresh -------------------------------------------------------------------------------
    def _meta(self, key: str, default: Any = None) -> Any:
        row = self._writer.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _set_meta(self, key: str, value: Any) -> None:
        self._writer.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def summary(self, db: sqlite3.Connection) -> dict[str, Any]:
        """The counts of the last refresh, plus ``running``: the run is unfinished (a stage
        incomplete, or no export yet) and its store was written within the last two minutes
        (a killed run is unfinished, not running)."""
        row = db.execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
        summary: dict[str, Any] = json.loads(row[0]) if row else {}
        mtimes = _signature(self.store_path)[1::2]
        recent = time.time() - max(mtimes) / 1e9 < 120
        unfinished = bool(summary.get("incomplete")) or not summary.get("exported", True)
        summary["running"] = unfinished and recent
        return summary

    def refresh(self, *, force: bool = False, progress: Any = None) -> bool:
        """Bring the index up to date with the store; returns whether anything was read."""
        with self._lock:
            sig = _signature(self.store_path)
            if not force and sig == self._meta("signature"):
                self.last_refresh = time.time()
                return False
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                # One transaction: the store is read at one snapshot, so the counts, the
                # indexed samples and the ``seen`` ids agree with each other.
                self._refresh_samples(progress)
                self._refresh_failures()
                self._set_meta("summary", self._compute_summary())
                self._set_meta("signature", sig)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if self._meta("analyzed") is None and self._count("samples") > 0:
                db.execute("ANALYZE main")  # never the attached store
                self._set_meta("analyzed", True)
            now = time.time()
            self.last_refresh = self.last_change = now
            return True

    def _count(self, table: str) -> int:
        return self._writer.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def sample_stage(self) -> str | None:
        for stage in SAMPLE_STAGES:
            if self._writer.execute(
                "SELECT 1 FROM st.records WHERE stage = ? LIMIT 1", (stage,)
            ).fetchone():
                return stage
        return None

    def _refresh_samples(self, progress: Any) -> None:
        db = self._writer
        stage = self.sample_stage()
        row = db.execute("SELECT value FROM st.meta WHERE key = 'created'").fetchone()
        created = row[0] if row else None
        if created != self._meta("store_created"):
            # A new run in the same folder: nothing indexed so far belongs to it.
            self._set_meta("store_created", created)
            self._set_meta("stage", None)
            db.execute("DELETE FROM samples")
            db.execute("DELETE FROM seen")
        if stage != self._meta("stage"):
            self._set_meta("unreadable", [])
            self._unreadable.clear()
            db.execute("DELETE FROM samples")
            db.execute("DELETE FROM seen")
            self._set_meta("stage", stage)
            self._set_meta("analyzed", None)
        if stage is None:
            return
        if not self._count("seen"):
            # First build: every record of the stage, streamed by the store's primary key into
            # the table alone; the indexes are then built by one sort each, not row by row.
            _drop_indexes(db)
            total = db.execute("SELECT COUNT(*) FROM st.done WHERE stage = ?", (stage,)).fetchone()[
                0
            ]
            last, done = "", 0
            while True:
                ids = [
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM st.records WHERE stage = ? AND id > ? ORDER BY id LIMIT ?",
                        (stage, last, _BATCH),
                    )
                ]
                if not ids:
                    break
                self._index_ids(stage, ids)
                last, done = ids[-1], done + len(ids)
                if progress is not None:
                    progress(done, total)
            db.execute(
                "INSERT OR IGNORE INTO seen SELECT id FROM st.done WHERE stage = ?", (stage,)
            )
            _create_indexes(db)
            return
        stored = db.execute("SELECT COUNT(*) FROM st.done WHERE stage = ?", (stage,)).fetchone()[0]
        if stored == self._count("seen"):
            return  # done rows are only ever added: same count, nothing new
        new = [
            r[0]
            for r in db.execute(
                "SELECT d.id FROM st.done d WHERE d.stage = ?"
                " AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.id = d.id)",
                (stage,),
            )
        ]
        for i in range(0, len(new), _BATCH):
            chunk = new[i : i + _BATCH]
            self._index_ids(stage, chunk)
            db.executemany("INSERT OR IGNORE INTO seen(id) VALUES (?)", [(x,) for x in chunk])

    def _index_ids(self, stage: str, ids: list[str]) -> None:
        sql = _INSERT_SAMPLE + " WHERE r.stage = ? AND r.id IN (SELECT value FROM json_each(?))"
        try:
            self._writer.execute(sql, (stage, json.dumps(ids)))
        except sqlite3.OperationalError as exc:
            if "JSON" not in str(exc):
                raise
            # A payload that is not JSON (a damaged store) fails the whole batch: index the
            # rest one by one and count the unreadable ones instead of refusing to start.
            for ident in ids:
                try:
                    self._writer.execute(sql, (stage, json.dumps([ident])))
                except sqlite3.OperationalError:
                    self._unreadable.add(ident)

    def _refresh_failures(self) -> None:
        db = self._writer
        stored = db.execute("SELECT COUNT(*) FROM st.failures").fetchone()[0]
        if stored == self._count("fails"):
            return
        db.execute("DELETE FROM fails")
        db.execute(
            "INSERT OR IGNORE INTO fails(stage, reason, record_id)"
            " SELECT stage, reason, record_id FROM st.failures"
        )

    def _compute_summary(self) -> dict[str, Any]:
        db = self._writer
        old = self._meta("summary") or {}
        old_done = {s["stage"]: s for s in old.get("stages", [])}
        done = {}
        n_out = {}
        for s, n, ok, outs in db.execute(
            "SELECT stage, COUNT(*), SUM(ok), SUM(n_out) FROM st.done GROUP BY stage"
        ):
            done[s] = (n, int(ok or 0))
            n_out[s] = int(outs or 0)
        complete = dict(db.execute("SELECT stage, complete FROM st.stage_state").fetchall())
        reasons: dict[str, dict[str, int]] = defaultdict(dict)
        for s, reason, n in db.execute(
            "SELECT stage, reason, COUNT(*) FROM fails GROUP BY stage, reason ORDER BY stage, 3 DESC"
        ):
            reasons[s][reason] = n
        stages = []
        for s in [*STAGES, *sorted(set(done) - set(STAGES))]:
            if s not in done and s not in complete:
                continue
            entered, passed = done.get(s, (0, 0))
            prev = old_done.get(s)
            is_complete = bool(complete.get(s, 0))
            unchanged = prev is not None and (prev["entered"], prev["passed"]) == (entered, passed)
            if unchanged and (prev.get("out_exact") or not is_complete):
                out, exact = (
                    prev["out"],
                    bool(prev.get("out_exact")),
                )  # records come with their done rows
            elif is_complete:
                # Counting a stage's records walks all its pages (gigabytes on a big run): done
                # once, when the stage is complete.
                out = db.execute(
                    "SELECT COUNT(*) FROM st.records WHERE stage = ?", (s,)
                ).fetchone()[0]
                exact = True
            else:
                # While it runs: the outputs its done rows announce (shared outputs count twice).
                out, exact = n_out.get(s, 0), False
            stages.append(
                {
                    "stage": s,
                    "entered": entered,
                    "passed": passed,
                    "failed": sum(reasons.get(s, {}).values()),
                    "out": out,
                    "out_exact": exact,
                    "complete": is_complete,
                    "failures": reasons.get(s, {}),
                }
            )
        by_kind: dict[str, dict[str, Any]] = {}
        for kind, final, n in db.execute(
            "SELECT kind, final, COUNT(*) FROM samples GROUP BY kind, final"
        ):
            entry = by_kind.setdefault(kind, {"samples": 0, "final": {}, "turn1": {}})
            entry["samples"] += n
            entry["final"][final or "none"] = n
        for kind, v1, n in db.execute("SELECT kind, v1, COUNT(*) FROM samples GROUP BY kind, v1"):
            by_kind.setdefault(kind, {"samples": 0, "final": {}, "turn1": {}})["turn1"][
                v1 or "none"
            ] = n
        models = [m for (m,) in db.execute("SELECT DISTINCT model FROM samples LIMIT 50")]
        bad = sorted(set(self._meta("unreadable") or []) | self._unreadable)
        self._set_meta("unreadable", bad)  # kept across restarts: those ids are already seen
        max_turns = db.execute("SELECT coalesce(MAX(n_turns), 0) FROM samples").fetchone()[0]
        return {
            "stages": stages,
            "sample_stage": self._meta("stage"),
            "samples": sum(k["samples"] for k in by_kind.values()),
            "by_kind": by_kind,
            "models": models,
            "unreadable": bad[:20],
            "unreadable_count": len(bad),
            "max_turns": max_turns,
            "incomplete": not all(s["complete"] for s in stages) if stages else True,
            # The pipeline records its export last: without it the run may have stages to go.
            "exported": db.execute("SELECT 1 FROM st.meta WHERE key = 'export'").fetchone()
            is not None,
            "refreshed_at": time.time(),
        }


class Refresher(threading.Thread):
    """Re-reads the store every ``interval`` seconds while the server runs (cheap when idle)."""

    def __init__(self, index: ViewIndex, interval: float = 3.0) -> None:
        super().__init__(daemon=True, name="codeio-view-refresh")
        self.index = index
        self.interval = interval
        self.stopped = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        wait = self.interval
        while not self.stopped.wait(wait):
            start = time.monotonic()
            try:
                self.index.refresh()
                self.error = None
            except sqlite3.Error as exc:  # a store mid-checkpoint: try again next tick
                self.error = str(exc)
            # A big live run makes each refresh cost seconds: keep it under a fifth of the time.
            wait = max(self.interval, 4 * (time.monotonic() - start))

    def stop(self) -> None:
        self.stopped.set()
