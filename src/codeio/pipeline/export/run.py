"""Export a finished run: SFT rows in one format, DPO pairs and the held-out tasks beside them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codeio.errors import ConfigError
from codeio.pipeline.export.codeio_layout import codeio_row
from codeio.pipeline.export.dpo import dpo_rows
from codeio.pipeline.export.files import atomic_path, json_line, write_jsonl
from codeio.pipeline.export.messages import messages_row
from codeio.pipeline.export.sharegpt import sharegpt_row
from codeio.pipeline.export.split import holdout_functions, holdout_row
from codeio.records import PredictionTask, Sample

if TYPE_CHECKING:
    from codeio.pipeline.export.source import RunSource

__all__ = [
    "FORMATS",
    "ExportFormat",
    "PROCESS_MODES",
    "ExportResult",
    "Include",
    "ProcessMode",
    "default_output",
    "export_run",
    "export_samples",
    "process_marks",
    "run_seed",
    "selected",
]

ExportFormat = Literal["messages", "sharegpt", "codeio", "parquet", "hf", "llamafactory"]
Include = Literal["correct", "wrong", "all"]
FORMATS: tuple[str, ...] = ("messages", "sharegpt", "codeio", "parquet", "hf", "llamafactory")
ProcessMode = Literal["off", "strict", "lenient"]
PROCESS_MODES: tuple[str, ...] = ("off", "strict", "lenient")

_ROW_BUILDERS: dict[str, Callable[[Sample], dict[str, Any]]] = {
    "messages": messages_row,
    "sharegpt": sharegpt_row,
    "codeio": codeio_row,
    "parquet": messages_row,
    "hf": messages_row,
    "llamafactory": messages_row,
}
_SUFFIX = {"messages": ".jsonl", "sharegpt": ".jsonl", "codeio": ".jsonl", "parquet": ".parquet"}

DPO_FILENAME = "dpo.jsonl"
DECONTAM_EXCLUDE_FILE = "decontam_exclude.json"  # written by ``codeio decontaminate --exclude``
HOLDOUT_FILENAME = "holdout.jsonl"


@dataclass
class ExportResult:
    """Where the export went and how many rows each file got."""

    path: Path
    rows: int
    dpo_path: Path
    dpo_rows: int
    holdout_path: Path | None = None
    holdout_rows: int = 0
    holdout_functions: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Samples left out of the SFT file, by why: ``include`` filter or ``holdout``."""
    samples: int = 0
    """Samples the run had to export, before any was left out."""
    seed: int = 0
    """The seed the held-out split was drawn with."""

    def notes(self, fmt: str) -> list[str]:
        """Why a file came out empty, and what that means for its readers (one line each)."""
        notes: list[str] = []
        if self.rows == 0:
            if self.samples == 0:
                why = "the run has no samples (no task got an answer; see `codeio status RUN`)"
            else:
                left = ", ".join(f"{n} by {reason}" for reason, n in self.skipped.items() if n)
                why = f"all {self.samples} samples were left out ({left})"
            if fmt == "hf":
                reader = "datasets.load_from_disk opens it as 0 rows with the usual columns"
            elif fmt == "parquet":
                reader = (
                    "it has the usual columns and 0 rows, which pyarrow reads but "
                    "datasets.load_dataset refuses"
                )
            else:
                reader = (
                    "an empty JSONL file has no columns, so datasets.load_dataset (and "
                    "LLaMA-Factory, TRL) cannot open it"
                )
            notes.append(f"note: no samples to train on: {why}; {reader}")
        if self.dpo_rows == 0:
            notes.append(
                "note: 0 preference pairs: a pair needs a wrong answer that a revision turned "
                "into a verified one, and no sample here has one (revision off, every first "
                f"answer right, or no revision verified); {self.dpo_path.name} is empty"
            )
        return notes


def default_output(out_dir: Path | str, fmt: str) -> Path:
    """``<out_dir>/<format>.jsonl`` (``.parquet``; a folder for ``hf``)."""
    return Path(out_dir) / f"{fmt}{_SUFFIX.get(fmt, '')}"


def selected(sample: Sample, include: Include) -> bool:
    """``correct``: final verdict correct; ``wrong``: every other sample; ``all``: everything."""
    if include == "all":
        return True
    correct = sample.final_status == "correct"
    return correct if include == "correct" else not correct


def process_marks(sample: Sample) -> dict[str, Any]:
    """The final turn's claim counts, the mark ``--process lenient`` adds to each row."""
    last = sample.turns[-1].verdict if sample.turns else None
    process = last.process if last is not None else None
    if process is None:
        return {"checked": False, "supported": 0, "contradicted": 0, "unverifiable": 0}
    return {
        "checked": True,
        "supported": process.supported,
        "contradicted": process.contradicted,
        "unverifiable": process.unverifiable,
    }


def export_samples(
    samples: Iterable[Sample],
    out: Path | str,
    *,
    fmt: ExportFormat = "messages",
    include: Include = "correct",
    tasks: Iterable[PredictionTask] = (),
    holdout: float = 0.0,
    seed: int = 0,
    presorted: bool = False,
    func_ids: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    process: ProcessMode = "off",
) -> ExportResult:
    """Write SFT rows (sorted by task id) to ``out``, DPO pairs and held-out tasks beside it.

    With ``holdout > 0`` a seeded fraction of the functions (``func_ids``, or every sample's and
    task's function) goes to ``holdout.jsonl`` as tasks, and none of their samples enters the
    SFT or DPO files. ``tasks`` supplies the held-out tasks' pairs and code.

    ``presorted=True`` streams: ``samples`` must already come in task-id order (a run store
    pages them so), and memory stays flat however large the run; otherwise they are sorted here.
    ``exclude`` lists function or task ids to leave out everywhere (benchmark overlaps found by
    ``codeio decontaminate --exclude``).

    ``process`` uses the claim checker's verdict on the final turn (docs/PROCESS.md): ``strict``
    leaves out samples whose steps contradict the trace even when the answer is correct,
    ``lenient`` keeps them and adds a ``process`` object with the claim counts to every row,
    ``off`` ignores it. Samples without a process verdict (older runs) are kept.
    """
    if fmt not in _ROW_BUILDERS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if include not in ("correct", "wrong", "all"):
        raise ConfigError(f"unknown --include {include!r}; choose correct, wrong or all")
    if process not in PROCESS_MODES:
        raise ConfigError(f"unknown --process {process!r}; choose strict, lenient or off")
    if not 0.0 <= holdout < 1.0:
        # Checked here, not only where functions are drawn: a negative fraction (or NaN) fails
        # every ``> 0`` test below and would export everything without a word.
        raise ConfigError(f"--holdout must be a fraction in [0, 1), got {holdout}")
    out = Path(out)
    if presorted:
        stream: Iterable[Sample] = _in_task_order(samples)
        task_iter: Iterable[PredictionTask] = tasks
    else:
        listed = sorted(samples, key=lambda s: s.task_id)
        task_iter = sorted(tasks, key=lambda t: t.id)
        stream = listed
        if func_ids is None and holdout > 0:
            func_ids = {s.func_id for s in listed} | {t.func_id for t in task_iter}
    held: set[str] = set()
    if holdout > 0:
        if func_ids is None:
            raise ConfigError("a streamed held-out split needs the run's function ids")
        ids = set(func_ids)
        if not ids:
            raise ConfigError("a held-out split needs the run's prediction tasks")
        held = holdout_functions(ids, holdout, seed)

    excluded = set(exclude)
    skipped = {"holdout": 0, "include": 0, "decontaminated": 0, "process": 0}
    dpo_path = out.parent / DPO_FILENAME
    dpo_count = 0
    seen = 0
    build = _ROW_BUILDERS[fmt]
    with atomic_path(dpo_path) as dpo_tmp, dpo_tmp.open("w", encoding="utf-8") as dpo_handle:

        def rows() -> Iterator[dict[str, Any]]:
            # One pass feeds both files, so a streamed run is read once.
            nonlocal dpo_count, seen
            for sample in stream:
                seen += 1
                if sample.func_id in excluded or sample.task_id in excluded:
                    skipped["decontaminated"] += 1
                    continue
                if sample.func_id in held:
                    skipped["holdout"] += 1
                    continue
                # Preference pairs come from every training sample, whatever ``include`` keeps.
                for row in dpo_rows(sample):
                    dpo_handle.write(json_line(row))
                    dpo_count += 1
                if not selected(sample, include):
                    skipped["include"] += 1
                    continue
                if process == "off":
                    yield build(sample)
                    continue
                marks = process_marks(sample)
                if process == "strict" and marks["contradicted"]:
                    skipped["process"] += 1
                    continue
                row = build(sample)
                yield {**row, "process": marks} if process == "lenient" else row

        if fmt in ("parquet", "hf"):
            from codeio.pipeline.export.parquet import messages_schema

            # A fixed schema: Parquet readers need one type per column, and must get the
            # columns even from an empty export.
            schema = messages_schema(process=process == "lenient")
        if fmt == "parquet":
            from codeio.pipeline.export.parquet import write_parquet

            count = write_parquet(out, rows(), schema=schema)
        elif fmt == "hf":
            from codeio.pipeline.export.hf import write_hf

            count = write_hf(out, rows(), schema=schema)
        elif fmt == "llamafactory":
            from codeio.train.formats import write_llamafactory

            written = 0

            def counted() -> Iterator[dict[str, Any]]:
                nonlocal written
                for row in rows():
                    written += 1
                    yield row

            write_llamafactory(counted(), out, name="codeio")
            count = written
        else:
            count = write_jsonl(out, rows())
    result = ExportResult(
        path=out,
        rows=count,
        dpo_path=dpo_path,
        dpo_rows=dpo_count,
        skipped=skipped,
        samples=seen,
        seed=seed,
    )
    if holdout > 0:
        result.holdout_path = out.parent / HOLDOUT_FILENAME
        result.holdout_rows = write_jsonl(
            result.holdout_path,
            (
                holdout_row(t)
                for t in task_iter
                if t.func_id in held and t.func_id not in excluded and t.id not in excluded
            ),
        )
        result.holdout_functions = sorted(held)
    return result


def _in_task_order(samples: Iterable[Sample]) -> Iterator[Sample]:
    last = ""
    for sample in samples:
        if sample.task_id < last:
            raise ConfigError(
                f"samples are not in task-id order ({sample.task_id} after {last}); "
                "pass presorted=False"
            )
        last = sample.task_id
        yield sample


def export_run(
    run_dir: Path | str,
    *,
    fmt: ExportFormat = "messages",
    include: Include = "correct",
    out: Path | str | None = None,
    holdout: float = 0.0,
    seed: int | None = None,
    process: ProcessMode = "off",
) -> ExportResult:
    """Export a run directory's final samples; ``out`` defaults to ``<run>/export/<format>``.

    ``seed`` (of the held-out split) defaults to the run's own seed, so a re-export holds out
    the functions ``codeio run`` held out: with another seed, a holdout.jsonl written next to
    the run's training file would share functions with it.
    """
    from codeio.pipeline.export.source import RunSource

    target = Path(out) if out is not None else default_output(Path(run_dir) / "export", fmt)
    exclude = _decontam_exclusions(Path(run_dir))
    with RunSource(run_dir) as source:
        if seed is None:
            seed = run_seed(source)
        return export_samples(
            source.samples(),
            target,
            fmt=fmt,
            include=include,
            tasks=source.tasks() if holdout > 0 else (),
            holdout=holdout,
            seed=seed,
            presorted=True,
            func_ids={t.func_id for t in source.tasks()} if holdout > 0 else None,
            exclude=exclude,
            process=process,
        )


def run_seed(source: RunSource) -> int:
    """The seed ``codeio run`` fixed for the run (the store's, else ``run.json``'s); 0 if
    neither says."""
    seed = source.store.get_meta("seed")
    if isinstance(seed, int):
        return seed
    try:
        seed = json.loads((source.run_dir / "run.json").read_text(encoding="utf-8")).get("seed")
    except (OSError, ValueError, AttributeError):
        seed = None
    return seed if isinstance(seed, int) else 0


def _decontam_exclusions(run_dir: Path) -> set[str]:
    """Ids that ``codeio decontaminate RUN --exclude`` found overlapping a benchmark."""
    path = run_dir / DECONTAM_EXCLUDE_FILE
    if not path.exists():
        return set()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the decontamination exclusions: {exc}") from exc
    return {str(i) for key in ("func_ids", "task_ids") for i in data.get(key, [])}
