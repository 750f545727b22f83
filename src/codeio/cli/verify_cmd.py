"""``codeio verify``: judge model predictions against stored I/O pairs.

Reads the reference pipeline's files as they are (records with refcode/funcname/ios; predictions
with itemid/ioid/io_pred/output) as well as codeio's own layout; see
:mod:`codeio.pipeline.verify.predictions`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from codeio.errors import InputError
from codeio.pipeline.verify.predictions import (
    FunctionIndex,
    RowError,
    function_from_row,
    task_from_prediction,
)
from codeio.records import PredictionTask, Turn

__all__ = ["register", "verify"]


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)


def verify(
    records: Path = typer.Option(
        ..., "--records", help="Records JSONL (refcode, funcname, ios, ...), one function a line."
    ),
    predictions: Path = typer.Option(
        ...,
        "--predictions",
        help="Predictions JSONL: itemid/ioid/io_pred/output (reference) or "
        "func_id|itemid/io_index/kind/response.",
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the judged JSONL."),
    workers: int | None = typer.Option(
        None, "--workers", help="Sandbox workers for input predictions (default: all CPUs)."
    ),
    rel_tol: float = typer.Option(1e-3, "--rel-tol", help="Relative tolerance for floats."),
    abs_tol: float = typer.Option(1e-6, "--abs-tol", help="Absolute tolerance near zero."),
    timeout_s: float = typer.Option(
        10.0, "--timeout", min=0.001, help="Seconds per re-executed input."
    ),
) -> None:
    """Judge each prediction; OUT keeps its fields and adds verdict, feedback and extracted.

    Exits 1 if any line could not be judged (each is reported as file:line).
    """
    from codeio.exec.limits import ExecLimits
    from codeio.pipeline.verify.verifier import Verifier

    err = Console(stderr=True)
    functions, record_errors = _read_records(records, err)
    rows, jobs, bad = _read_predictions(predictions, functions, err)
    needs_exec = any(task.kind == "input" for task, _ in jobs)
    limits = ExecLimits(timeout_s=timeout_s)
    counts: Counter[str] = Counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    sandbox = _open_sandbox(workers, limits) if needs_exec else None
    try:
        verifier = Verifier(sandbox, rel_tol=rel_tol, abs_tol=abs_tol, limits=limits)
        turns = verifier.verify_many(jobs, on_sandbox_error="unverified")
        with output.open("w", encoding="utf-8") as out, _progress(err) as progress:
            bar = progress.add_task("verifying", total=len(jobs))
            for row, turn in zip(rows, turns, strict=True):
                status = turn.verdict.status if turn.verdict else "sandbox_failure"
                counts[status] += 1
                out.write(_dump(_judged(row, turn)) + "\n")
                progress.advance(bar)
    finally:
        if sandbox is not None:
            sandbox.close()
    _summary(Console(), counts, bad, record_errors, output)
    if bad or counts["sandbox_failure"]:
        raise typer.Exit(1)


def _read_records(path: Path, err: Console) -> tuple[FunctionIndex, int]:
    functions = FunctionIndex()
    errors = 0
    for line_no, raw in _lines(path):
        try:
            functions.add(line_no - 1, function_from_row(_json(raw)))
        except (ValueError, RowError) as exc:
            errors += 1
            functions.bad_lines[line_no - 1] = str(exc)
            err.print(
                f"[red]{path}:{line_no}:[/] {_plain(exc)}",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )
    return functions, errors


def _read_predictions(
    path: Path, functions: FunctionIndex, err: Console
) -> tuple[list[dict[str, Any]], list[tuple[PredictionTask, str]], int]:
    rows: list[dict[str, Any]] = []
    jobs: list[tuple[PredictionTask, str]] = []
    bad = 0
    for line_no, raw in _lines(path):
        try:
            row = _json(raw)
            jobs.append(task_from_prediction(row, functions))
            rows.append(row)
        except (ValueError, RowError) as exc:
            bad += 1
            err.print(
                f"[red]{path}:{line_no}:[/] {_plain(exc)}",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )
    return rows, jobs, bad


def _json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RowError(f"not valid UTF-8 at byte {exc.start}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    except RecursionError as exc:
        raise RowError("not valid JSON (nested too deeply)") from exc


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, bytes) of every non-blank line; blank lines still count as lines.

    Bytes, so that one line that is not UTF-8 is that line's error, not the whole file's.
    """
    try:
        with path.open("rb") as fh:
            for line_no, raw in enumerate(fh, start=1):
                if line_no == 1:
                    if raw.startswith(b"\x1f\x8b"):
                        raise InputError("gzip-compressed; decompress it first", path=str(path))
                    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM is not part of the JSON
                if raw.strip():
                    yield line_no, raw
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror or exc}") from exc


def _open_sandbox(workers: int | None, limits: Any) -> Any:
    from codeio.exec import Sandbox

    return Sandbox(workers=workers, limits=limits)


def _judged(row: dict[str, Any], turn: Turn) -> dict[str, Any]:
    out = dict(row)
    verdict = turn.verdict
    out["verdict"] = verdict.status if verdict else None
    out["feedback"] = verdict.feedback if verdict else ""
    out["extracted"] = turn.answer if turn.has_answer else None
    if verdict is not None and verdict.actual_output is not None:
        out["actual_output"] = verdict.actual_output
    if verdict is None:
        out["error"] = "the sandbox failed on this prediction; it was not judged"
    return out


def _dump(obj: dict[str, Any]) -> str:
    # NaN/Infinity stay as the JSON extensions the inputs use; odd values fall back to repr.
    return json.dumps(obj, ensure_ascii=False, allow_nan=True, default=repr)


def _plain(exc: Exception) -> str:
    return str(exc).replace("[", r"\[")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _summary(
    console: Console, counts: Counter[str], bad: int, record_errors: int, output: Path
) -> None:
    table = Table(title="codeio verify", show_header=True)
    table.add_column("verdict")
    table.add_column("count", justify="right")
    for status in ("correct", "wrong", "no_answer", "error", "timeout", "sandbox_failure"):
        if counts[status] or status in ("correct", "wrong"):
            table.add_row(status, str(counts[status]))
    table.add_row("bad prediction lines", str(bad))
    if record_errors:
        table.add_row("bad record lines", str(record_errors))
    judged = sum(counts.values()) - counts["sandbox_failure"]
    accuracy = counts["correct"] / judged if judged else 0.0
    console.print(table)
    console.print(
        f"accuracy {accuracy:.2%} over {judged} judged; written to {output}", soft_wrap=True
    )
