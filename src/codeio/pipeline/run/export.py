"""Export stage: the final samples of a run, in id order, through codeio.pipeline.export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeio.pipeline.run.attempt import Attempt
from codeio.records import PredictionTask, Sample

if TYPE_CHECKING:
    from codeio.config import RunConfig
    from codeio.store.db import RunStore

__all__ = ["EXPORT_DIR", "REPORT_FILE", "export_run", "final_samples"]

EXPORT_DIR = "export"
REPORT_FILE = "report.html"


def final_samples(store: RunStore, last_stage: str) -> Iterator[Sample]:
    """The samples the last prediction stage left, sorted by task id (streamed from the store)."""
    for attempt in store.iter_records(last_stage, Attempt):
        yield attempt.sample


def export_run(
    store: RunStore, config: RunConfig, run_dir: Path, last_stage: str
) -> dict[str, Any]:
    from codeio.pipeline.export import default_output, export_samples

    s = config.export
    out_dir = Path(run_dir) / EXPORT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    from codeio.pipeline.export.files import remove_stale_temps

    remove_stale_temps(out_dir)  # left by an export that was killed mid-write
    tasks = store.iter_records("prompt", PredictionTask) if s.holdout > 0 else ()
    result = export_samples(
        final_samples(store, last_stage),
        default_output(out_dir, s.format),
        fmt=s.format,
        include=s.include,
        tasks=tasks,
        holdout=s.holdout,
        seed=config.seed,
    )
    paths: dict[str, Any] = {
        "sft": str(result.path),
        "sft_rows": result.rows,
        "dpo": str(result.dpo_path),
        "dpo_rows": result.dpo_rows,
    }
    if result.holdout_path is not None:
        paths["holdout"] = str(result.holdout_path)
    store.set_meta("export", paths)
    if s.report:
        report = _write_report(run_dir)
        if report is not None:
            paths["report"] = report
            store.set_meta("export", paths)
    return paths


def _write_report(run_dir: Path) -> str | None:
    """The HTML report, when this build has the report module (it reads the run store)."""
    try:
        from codeio.report import report_run
    except ImportError:
        return None
    return str(report_run(run_dir, Path(run_dir) / REPORT_FILE))
