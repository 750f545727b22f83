"""``codeio run``, ``codeio status`` and ``codeio demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from codeio.cli.errors import fail
from codeio.errors import CodeioError, InputError, StageFailedError

__all__ = ["register"]

_console = Console(stderr=True)


class RichProgress:
    """One bar per stage with rate and ETA (the pipeline's Progress protocol)."""

    def __init__(self, progress: Progress) -> None:
        self._p = progress
        self._tasks: dict[str, TaskID] = {}

    def start(self, stage: str, total: int | None) -> None:
        self._tasks[stage] = self._p.add_task(stage, total=total)

    def advance(self, stage: str, n: int) -> None:
        self._p.advance(self._tasks[stage], n)

    def finish(self, stage: str) -> None:
        task = self._tasks[stage]
        done = self._p.tasks[task].completed
        self._p.update(task, total=done or 0, completed=done)


class _RateColumn(ProgressColumn):
    """Records per second (rich's own speed column speaks bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} rec/s" if speed else "- rec/s", style="cyan")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=_console,
    )


def _fail(exc: CodeioError) -> None:
    # Plain text, one line: messages such as "pip install 'codeio[ray]'" are not rich markup,
    # and a long path must not wrap.
    fail(exc)


def _funnel_then_fail(exc: StageFailedError, run_dir: Path) -> None:
    """A stopped run still shows its funnel (stdout), then the one error line (stderr)."""
    from codeio.store.funnel import funnel

    try:
        print_funnel(funnel(run_dir), Console())
    except Exception:  # the error line matters more than the table
        pass
    _fail(exc)


def _build_config(
    config_path: Path | None,
    sets: list[str],
    flags: dict[str, Any],
    base: dict[str, Any] | None = None,
) -> Any:
    from codeio.config import load_config

    overrides = list(sets)
    for key, value in flags.items():
        if value is not None:
            overrides.append(f"{key}={json.dumps(value) if not isinstance(value, str) else value}")
    return load_config(config_path, overrides, base=base)


def _run(
    config: Any,
    out: Path,
    from_stage: str | None,
    to_stage: str | None,
    retry_failed: bool = True,
) -> dict[str, Any]:
    from codeio.pipeline.pipeline import Pipeline
    from codeio.store.funnel import funnel

    pipeline = Pipeline(config, out, retry_failed=retry_failed)
    pipeline.check(from_stage=from_stage, to_stage=to_stage)  # refused before any output
    with _progress() as bars:
        pipeline.progress = RichProgress(bars)
        pipeline.run(from_stage=from_stage, to_stage=to_stage)
    return funnel(out)


def _exit_if_retry_pending(data: dict[str, Any]) -> None:
    """A run that finished with retryable LLM failures left exits RETRY_PENDING, not 0."""
    from codeio.exit_codes import RETRY_PENDING

    if data.get("retry_pending"):
        raise typer.Exit(RETRY_PENDING)


def print_funnel(data: dict[str, Any], console: Console) -> None:
    table = Table(title="funnel", show_lines=False)
    cols = ("stage", "entered", "passed", "failed", "retry", "out", "top failure reasons")
    for col in cols:
        table.add_column(
            col, justify="left" if col in ("stage", "top failure reasons") else "right"
        )
    for row in data["stages"]:
        reasons = ", ".join(f"{r} {n}" for r, n in list(row["failures"].items())[:3])
        table.add_row(
            row["stage"],
            str(row["entered"]),
            str(row["passed"]),
            str(row["failed"]),
            str(row.get("retry_pending", 0)),
            str(row["out"]),
            reasons,
        )
    console.print(table)
    _print_input_problems(data, console)
    _print_retry(data, console)
    _print_translate(data, console)
    uni = data.get("unify") or {}
    if uni.get("repaired"):
        console.print(f"unify: {uni['repaired']} records recovered by the repair loop")
    llm = data["llm"]
    cost = f", cost ${llm['cost']:.4f}" if llm.get("cost") is not None else ""
    per = llm.get("cost_per_verified_sample")
    per_s = f" (${per:.6f} per verified sample)" if per is not None else ""
    console.print(
        f"LLM: {llm['calls']} calls ({llm['cached_calls']} cached), "
        f"{llm['prompt_tokens']} prompt + {llm['completion_tokens']} completion tokens{cost}{per_s}"
    )
    ver = data.get("verified") or {}
    if ver.get("samples"):
        rates = ", ".join(f"turn {r['turn']}: {r['rate']:.1%}" for r in ver["by_turn"])
        console.print(f"verified correct ({ver['samples']} samples): {rates}")
        for kind, v in ver["by_kind"].items():
            k_rates = ", ".join(f"turn {r['turn']}: {r['rate']:.1%}" for r in v["by_turn"])
            console.print(f"  {kind}-prediction ({v['samples']}): {k_rates}")


def _print_translate(data: dict[str, Any], console: Console) -> None:
    """generate.translate: how many rewrites were kept, and why the others were not."""
    row = next((r for r in data["stages"] if r["stage"] == "generate"), None)
    counts = {
        k.removeprefix("translate_"): int(v)
        for k, v in ((row or {}).get("stats") or {}).items()
        if k.startswith("translate_") and v
    }
    if counts:
        kept = counts.pop("accepted", 0)
        why = ", ".join(f"{r} {n}" for r, n in sorted(counts.items(), key=lambda x: -x[1]))
        rest = f"; template kept for {sum(counts.values())} ({why})" if counts else ""
        console.print(f"translate: {kept} rewrite(s) accepted{rest}")


def _print_retry(data: dict[str, Any], console: Console) -> None:
    pending = data.get("retry_pending") or {}
    if pending:
        where = ", ".join(f"{s} {n}" for s, n in pending.items())
        console.print(
            f"{sum(pending.values())} LLM failure(s) pending retry ({where}):"
            " rerun the same command to ask them again"
        )
    truncated = {r["stage"]: r["truncated"] for r in data["stages"] if r.get("truncated")}
    if truncated:
        where = ", ".join(f"{s} {n}" for s, n in truncated.items())
        console.print(
            f"{sum(truncated.values())} answer(s) cut at llm.max_tokens ({where}):"
            " raise it and rerun to ask them again"
        )


def _print_input_problems(data: dict[str, Any], console: Console) -> None:
    """Name the bad input lines (``path:line: why``), so a user can find and fix them."""
    row = next((r for r in data["stages"] if r["stage"] == "ingest"), None)
    if row is None or not row["failed"]:
        return
    console.print(f"ingest: {row['failed']} input item(s) skipped; examples:")
    for reason, details in (row.get("failure_examples") or {}).items():
        for detail in details:
            # soft_wrap: a long path must stay on one line to be copy-pasteable.
            console.print(f"  {reason}: {escape(detail)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        config: Path = typer.Argument(..., help="YAML or TOML run configuration."),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Run directory (resumes if it exists)."
        ),
        from_stage: str | None = typer.Option(None, "--from", help="First stage to run."),
        to_stage: str | None = typer.Option(None, "--to", help="Last stage to run."),
        llm: str | None = typer.Option(None, "--llm", help="LLM spec, e.g. openai:MODEL or trace."),
        seed: int | None = typer.Option(None, "--seed"),
        workers: int | None = typer.Option(None, "--workers", help="Sandbox worker processes."),
        batch_size: int | None = typer.Option(None, "--batch-size"),
        runner: str | None = typer.Option(
            None, "--runner", help="Where batches run: local (default) or ray."
        ),
        address: str | None = typer.Option(
            None, "--address", help="Ray cluster: auto, HOST:6379 or ray://HOST:10001."
        ),
        no_cache: bool = typer.Option(False, "--no-cache", help="Do not reuse cached LLM answers."),
        sets: list[str] = typer.Option([], "--set", help="Override a config key: key.sub=value."),
        retry_failed: bool = typer.Option(
            True,
            "--retry-failed/--no-retry-failed",
            help="Ask again the LLM calls earlier runs left failed in a retryable way"
            " (auth, connection, timeout, 5xx/429, malformed; cut answers once max_tokens grew).",
        ),
    ) -> None:
        """Run the pipeline (or a slice of it); rerunning the same command resumes."""
        try:
            flags: dict[str, Any] = {
                "llm.spec": llm,
                "seed": seed,
                "exec.workers": workers,
                "runner.batch_size": batch_size,
                "runner.kind": runner,
                "runner.address": address,
            }
            if no_cache:
                flags["llm.cache"] = False
            cfg = _build_config(config, sets, flags)
            run_dir = out or (Path(cfg.out) if cfg.out else None)
            if run_dir is None:
                raise CodeioError("no run directory: pass --out DIR or set 'out' in the config")
            data = _run(cfg, run_dir, from_stage, to_stage, retry_failed)
        except StageFailedError as exc:
            _funnel_then_fail(exc, run_dir)
            return
        except CodeioError as exc:
            _fail(exc)
            return
        out_console = Console()
        print_funnel(data, out_console)
        _print_paths(data, out_console, run_dir)
        _exit_if_retry_pending(data)

    @app.command("status")
    def status_cmd(
        run_dir: Path = typer.Argument(..., help="A run directory."),
        as_json: bool = typer.Option(False, "--json", help="Print the funnel as JSON."),
    ) -> None:
        """The funnel of a run: records in and out of each stage, failures, tokens, correctness."""
        from codeio.store.funnel import funnel

        try:
            data = funnel(run_dir)
        except FileNotFoundError:
            _fail(InputError("not a run directory (no state.sqlite)", path=str(run_dir)))
            return
        if as_json:
            typer.echo(json.dumps(data, indent=2, sort_keys=True))
        else:
            print_funnel(data, Console())

    @app.command("demo")
    def demo_cmd(
        out: Path = typer.Option(Path("codeio-demo-run"), "--out", "-o", help="Run directory."),
        seed: int = typer.Option(0, "--seed"),
        workers: int | None = typer.Option(None, "--workers"),
        sets: list[str] = typer.Option([], "--set", help="Override a config key: key.sub=value."),
    ) -> None:
        """The whole pipeline on the bundled examples: offline teacher, no network, no API key."""
        from codeio.demo_data import demo_config

        try:
            cfg = _build_config(
                None, sets, {"seed": seed, "exec.workers": workers}, base=demo_config()
            )
            data = _run(cfg, out, None, None)
        except StageFailedError as exc:
            _funnel_then_fail(exc, out)
            return
        except CodeioError as exc:
            _fail(exc)
            return
        console = Console()
        print_funnel(data, console)
        _print_paths(data, console, out)
        rows = (data.get("export") or {}).get("sft_rows")
        if rows == 0:
            # The demo exists to show the pipeline working: an empty export means it did not.
            _fail(
                StageFailedError(
                    f"demo: exported 0 samples (see the funnel above and `codeio status {out}`);"
                    " run `codeio doctor`"
                )
            )


def _print_paths(data: dict[str, Any], console: Console, run_dir: Path) -> None:
    console.print(f"run directory: {run_dir}", soft_wrap=True)
    export = data.get("export") or {}
    for key in ("sft", "dpo", "holdout", "report"):
        if export.get(key):
            console.print(f"{key}: {export[key]}", soft_wrap=True)
