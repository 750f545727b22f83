"""``codeio eval`` and ``codeio decontaminate``."""

from __future__ import annotations

from pathlib import Path

import typer

from codeio.cli.errors import fail
from codeio.errors import CodeioError, ConfigError

__all__ = ["register"]


def _ks(text: str) -> list[int]:
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise typer.BadParameter("a comma-separated list of integers", param_hint="--k") from exc
    if not ks or min(ks) < 1:
        raise typer.BadParameter("k values must be >= 1", param_hint="--k")
    return ks


def eval_command(
    benchmark: str = typer.Option(
        ..., "--benchmark", "-b", help="cruxeval-o | cruxeval-i | codeio-holdout | leetcode-o"
    ),
    llm: str = typer.Option(..., "--llm", help="LLM spec: openai:MODEL, transformers:PATH, trace"),
    data: Path | None = typer.Option(None, "--data", help="Local benchmark file (JSONL)."),
    n: int = typer.Option(1, "--n", min=1, help="Samples per item."),
    k: str = typer.Option("1", "--k", help="pass@k values, e.g. 1,5 (k <= n are reported)."),
    cot: bool = typer.Option(True, "--cot/--direct", help="Reason step by step, or answer only."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="First N problems only."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output dir (results, summary, cache); default eval/<bench>."
    ),
    temperature: float | None = typer.Option(
        None, "--temperature", help="Default 0 for --n 1, else 0.8."
    ),
    max_tokens: int = typer.Option(2048, "--max-tokens", min=1),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint."),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Env var holding the API key."
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Sandbox workers."),
    concurrency: int = typer.Option(16, "--concurrency", min=1, help="LLM requests in flight."),
) -> None:
    """Evaluate a model on a benchmark: pass@k, per-item results, a summary table."""
    from rich.console import Console

    from codeio.evaluate import evaluate
    from codeio.llm import make_client
    from codeio.llm.breaker import BreakerPolicy

    out_dir = out or Path("eval") / benchmark
    console = Console(stderr=True)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            client = make_client(
                llm,
                base_url=base_url,
                api_key_env=api_key_env,
                cache_path=out_dir / "llm_cache.sqlite",
                concurrency=concurrency,
                breaker=BreakerPolicy(),
            )
        except ValueError as exc:  # the backend's own check of its spec (trace:NAME=VALUE)
            raise ConfigError(f"--llm {llm!r}: {exc}") from exc
        with client:
            summary = evaluate(
                benchmark,
                client,
                data=data,
                n=n,
                k=_ks(k),
                cot=cot,
                limit=limit,
                out=out_dir,
                temperature=temperature,
                max_tokens=max_tokens,
                workers=workers,
                progress=lambda done, total: console.log(f"{done}/{total} responses judged"),
            )
    except CodeioError as exc:
        fail(exc)
    _print_summary(summary)
    typer.echo(f"results -> {out_dir / 'results.jsonl'}; summary -> {out_dir / 'summary.json'}")
    breaker = client.breaker
    _exit_for_missing(summary, breaker.message if breaker.trip_if_key_rejected() else None)


def _exit_for_missing(summary: object, breaker_message: str | None) -> None:
    """Exit LLM_ENDPOINT_DOWN when the endpoint failed systematically, RETRY_PENDING when some
    responses are missing: the summary was written either way, and a rerun asks them again."""
    from codeio.exit_codes import LLM_ENDPOINT_DOWN, RETRY_PENDING

    if breaker_message:
        typer.echo(f"error: {breaker_message}", err=True)
        raise typer.Exit(LLM_ENDPOINT_DOWN)
    if getattr(summary, "missing", 0):
        typer.echo(
            f"{summary.missing} response(s) missing (scored as wrong):"  # type: ignore[attr-defined]
            " rerun the same command to ask them again",
            err=True,
        )
        raise typer.Exit(RETRY_PENDING)


def _print_summary(summary: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from codeio.evaluate import EvalSummary

    assert isinstance(summary, EvalSummary)
    keys = list(summary.pass_at_k)
    table = Table(title=f"{summary.benchmark} · {summary.model} · n={summary.n}")
    table.add_column("split")
    table.add_column("problems", justify="right")
    for key in keys:
        table.add_column(key, justify="right")
    table.add_row("all", str(summary.problems), *(f"{summary.pass_at_k[k]:.1%}" for k in keys))
    for title, part in (("", summary.by_difficulty), ("kind ", summary.by_kind)):
        for label, br in part.items():
            table.add_row(f"{title}{label}", str(br.problems),
                          *(f"{br.pass_at_k.get(k, 0.0):.1%}" for k in keys))  # fmt: skip
    console = Console()
    console.print(table)
    statuses = ", ".join(f"{s} {c}" for s, c in sorted(summary.statuses.items()))
    why = ", ".join(f"{r} {c}" for r, c in sorted(summary.missing_reasons.items()))
    why = f" ({why})" if why else ""
    console.print(
        f"problems {summary.problems} ({summary.answered_problems} with a complete answer), "
        f"cases {summary.cases}, responses {summary.responses} ({statuses}); "
        f"case accuracy {summary.case_accuracy:.1%}; missing {summary.missing}{why}; "
        f"truncated {summary.truncated}; {summary.elapsed_s:.1f}s"
    )


def decontaminate_command(
    source: Path = typer.Argument(..., help="A run directory, or a JSONL of training records."),
    against: list[Path] = typer.Option(
        ..., "--against", "-a", help="Benchmark JSONL (repeatable): cruxeval, leetcode-o, any."
    ),
    n: int = typer.Option(13, "--n", min=1, help="n-gram length (tokens)."),
    exclude: bool = typer.Option(
        False, "--exclude", help="Write an exclusion list (run dir) or a filtered JSONL."
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="Report JSON file."),
) -> None:
    """Find n-gram overlaps between training records and benchmark items."""
    from codeio.evaluate.decontaminate import decontaminate

    try:
        report = decontaminate(source, against, n=n, exclude=exclude, report_path=output)
    except CodeioError as exc:
        fail(exc)
    typer.echo(
        f"{report.records_checked} records vs {report.items_checked} benchmark items "
        f"({report.n}-grams): {len(report.overlapping_records)} records overlap"
    )
    for hit in report.overlaps[:20]:
        typer.echo(f"  {hit.record_id} ~ {hit.benchmark}:{hit.item_id}: {hit.ngram!r}")
    if report.report_path:
        typer.echo(f"report -> {report.report_path}")
    if report.excluded_path:
        typer.echo(f"exclusions -> {report.excluded_path}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("decontaminate")(decontaminate_command)
