"""Reading a run directory's store for export and report (the store is the source of truth)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codeio.errors import InputError
from codeio.records import FunctionRecord, PredictionTask, Sample

__all__ = ["RunSource"]

# Stages whose records are Attempts (task + sample), latest first: export reads the last one
# that holds records, so a run without revision exports its verified single turns.
_SAMPLE_STAGES = ("revise", "verify", "generate")
_TASK_STAGE = "prompt"
_FUNCTION_STAGES = ("sample", "unify")


class RunSource:
    """Samples, tasks, functions and the funnel of one run, streamed from its SQLite store."""

    def __init__(self, run_dir: Path | str) -> None:
        from codeio.store.db import RunStore

        self.run_dir = Path(run_dir)
        if not (self.run_dir / RunStore.FILENAME).is_file():
            raise InputError("not a run directory (no state.sqlite)", path=str(self.run_dir))
        self.store = RunStore.open_run(self.run_dir, read_only=True)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> RunSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _first_with_records(self, stages: tuple[str, ...]) -> str | None:
        return next((s for s in stages if self.store.count_records(s) > 0), None)

    def samples(self) -> Iterator[Sample]:
        """Final samples in task-id order (the store pages by id)."""
        from codeio.pipeline.run.attempt import Attempt

        stage = self._first_with_records(_SAMPLE_STAGES)
        if stage is not None:
            for attempt in self.store.iter_records(stage, Attempt):
                yield attempt.sample

    def tasks(self) -> Iterator[PredictionTask]:
        yield from self.store.iter_records(_TASK_STAGE, PredictionTask)

    def functions(self) -> Iterator[FunctionRecord]:
        stage = self._first_with_records(_FUNCTION_STAGES)
        if stage is not None:
            yield from self.store.iter_records(stage, FunctionRecord)

    def funnel(self) -> dict[str, Any]:
        """``{"stages": [{stage, in, out, failures}], "unify_repair": {tried, repaired}}``."""
        from codeio.pipeline.base import STAGE_ORDER

        done = dict(self.store.query("SELECT stage, COUNT(*) FROM done GROUP BY stage"))
        out = dict(self.store.query("SELECT stage, COUNT(*) FROM records GROUP BY stage"))
        failures: dict[str, dict[str, int]] = {}
        for stage, reason, count in self.store.query(
            "SELECT stage, reason, COUNT(*) FROM failures GROUP BY stage, reason"
        ):
            failures.setdefault(stage, {})[reason] = count
        known = [s for s in STAGE_ORDER if s in done or s in out]
        extra = sorted((set(done) | set(out)) - set(known))
        stages = [
            {
                "stage": s,
                "in": done.get(s, 0),
                "out": out.get(s, 0),
                "failures": failures.get(s, {}),
            }
            for s in known + extra
        ]
        sums = dict(
            self.store.query(
                "SELECT key, SUM(value) FROM stats WHERE stage = 'unify'"
                " AND key IN ('repaired', 'repair_tried') GROUP BY key"
            )
        )
        # The unify stage marks a successful repair ``repaired`` and a failed one ``repair_tried``.
        repaired = float(sums.get("repaired") or 0)
        # generate.translate: each answered task is marked ``translate_<accepted|reason>``.
        translate = {
            key.removeprefix("translate_"): int(total)
            for key, total in self.store.query(
                "SELECT key, SUM(value) FROM stats WHERE stage = 'generate'"
                " AND key LIKE 'translate\\_%' ESCAPE '\\' GROUP BY key"
            )
        }
        return {
            "stages": stages,
            "translate": translate,
            "unify_repair": {
                "tried": repaired + float(sums.get("repair_tried") or 0),
                "repaired": repaired,
            },
        }
