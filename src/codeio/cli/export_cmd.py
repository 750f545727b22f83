"""``codeio export`` and ``codeio report``: files out of a finished run directory."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from codeio.cli.errors import fail
from codeio.errors import CodeioError, ConfigError, InputError

__all__ = ["register"]

_FOLDER_FORMATS = ("hf", "llamafactory")
"""Formats whose output is a folder (``datasets.save_to_disk``; LLaMA-Factory's data folder)."""


def export(
    run_dir: Path = typer.Argument(..., help="Run directory (holds state.sqlite)."),
    fmt: str = typer.Option(
        "messages",
        "--format",
        "-f",
        help="messages | sharegpt | codeio | parquet | hf | llamafactory",
    ),
    include: str = typer.Option(
        "correct", "--include", help="correct (final verdict correct) | wrong | all"
    ),
    out: Path | None = typer.Option(
        None, "-o", "--output", help="Output file (folder for hf); default <run>/export/<format>."
    ),
    holdout: float = typer.Option(
        0.0, "--holdout", help="Fraction of functions held out into holdout.jsonl."
    ),
    seed: int | None = typer.Option(
        None,
        "--seed",
        help="Seed of the held-out split; default: the run's seed, so the split is the one "
        "`codeio run` wrote.",
    ),
    process: str = typer.Option(
        "off",
        "--process",
        help="strict (drop samples whose steps contradict the trace) | lenient (keep, mark each "
        "row) | off",
    ),
) -> None:
    """Write SFT data, DPO pairs (dpo.jsonl) and an optional held-out split."""
    from codeio.pipeline.export import FORMATS, export_run
    from codeio.pipeline.export.run import PROCESS_MODES

    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    if include not in ("correct", "wrong", "all"):
        raise typer.BadParameter("choose correct, wrong or all", param_hint="--include")
    if process not in PROCESS_MODES:
        raise typer.BadParameter("choose strict, lenient or off", param_hint="--process")
    try:
        from codeio.doctor import writable_target
        from codeio.pipeline.export import default_output

        if not (run_dir / "state.sqlite").is_file():
            # Before the output check: its "not writable" would blame the wrong thing.
            raise InputError("not a run directory (no state.sqlite)", path=str(run_dir))
        target = out if out is not None else default_output(run_dir / "export", fmt)
        if fmt in _FOLDER_FORMATS:
            _replaceable_folder(target, fmt)
        writable_target(target, "-o PATH", folder_ok=fmt in _FOLDER_FORMATS)
        result = export_run(
            run_dir,
            fmt=fmt,
            include=include,
            out=out,
            holdout=holdout,
            seed=seed,
            process=process,  # type: ignore[arg-type]
        )
    except CodeioError as exc:
        fail(exc)
    except OSError as exc:
        fail(_unwritable(exc, "-o PATH"))
    typer.echo(f"{result.rows} rows -> {result.path}")
    typer.echo(f"{result.dpo_rows} preference pairs -> {result.dpo_path}")
    if result.holdout_path is not None:
        typer.echo(
            f"{result.holdout_rows} held-out tasks from {len(result.holdout_functions)} "
            f"functions (seed {result.seed}) -> {result.holdout_path}"
        )
    skipped = ", ".join(f"{n} by {why}" for why, n in result.skipped.items() if n)
    if skipped:
        typer.echo(f"samples left out: {skipped}")
    for note in result.notes(fmt):
        typer.echo(note)


def report(
    run_dir: Path = typer.Argument(..., help="Run directory (holds state.sqlite)."),
    out: Path | None = typer.Option(
        None, "-o", "--output", help="HTML file; default <run>/report.html."
    ),
) -> None:
    """Write a self-contained HTML report: funnel, failures, correctness, sizes, samples."""
    from codeio.report import report_run

    try:
        from codeio.doctor import writable_target

        writable_target(out if out is not None else run_dir / "report.html", "-o FILE.html")
        path = report_run(run_dir, out)
    except CodeioError as exc:
        fail(exc)
    except OSError as exc:
        fail(_unwritable(exc, "-o FILE.html"))
    typer.echo(f"report -> {path}")


def _replaceable_folder(target: Path, fmt: str) -> None:
    """Refuse a folder output that is neither new, empty nor an earlier export: the export
    replaces the whole folder, so ``-o ~/data`` would delete everything in it."""
    if not target.is_dir() or (target / "dataset_info.json").is_file():
        return  # both folder formats write dataset_info.json
    if any(target.iterdir()):
        raise ConfigError(
            f"{target}: a folder with other files in it; --format {fmt} replaces the whole "
            "folder, so pass -o PATH with a new or empty folder"
        )


def _unwritable(exc: OSError, option: str) -> CodeioError:
    """A file the command could not write (read-only run directory, permissions, full disk)."""
    where = str(exc.filename or "the output")
    # Name the file the user asked for, not the temp file it is written through.
    where = re.sub(r"/\.([^/]+)\.\d+\.[^./]+\.tmp$", r"/\1", where)
    return CodeioError(
        f"cannot write {where}: {exc.strerror or exc}; pass {option} to write somewhere else"
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("report")(report)
