"""``codeio doctor``: can this machine run codeio, and what is missing?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from codeio import exit_codes
from codeio.cli.errors import fail, one_line
from codeio.errors import CodeioError

__all__ = ["register"]

_MARK = {"ok": "ok  ", "warn": "warn", "FAIL": "FAIL"}


def doctor(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="A run configuration: also check its LLM backend."
    ),
    llm: str | None = typer.Option(
        None, "--llm", help="Check this LLM spec (overrides the config's llm.spec)."
    ),
    sets: list[str] = typer.Option([], "--set", help="Override a config key: key.sub=value."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    quick: bool = typer.Option(
        False, "--quick", help="Skip the slow checks: library imports in the sandbox, the GPU."
    ),
) -> None:
    """Check Python, the sandbox (containment, prelude and library imports inside it), the
    extras, the GPU and the LLM endpoint. Exit 1 when the main job cannot work."""
    from codeio.config import load_config
    from codeio.doctor import failed, run_checks

    cfg: Any = None
    try:
        if config is not None or llm is not None or sets:
            overrides = list(sets) + ([f"llm.spec={llm}"] if llm is not None else [])
            cfg = load_config(config, overrides)
    except CodeioError as exc:
        fail(exc)
    checks = run_checks(cfg, quick=quick)
    bad = failed(checks)
    if as_json:
        payload = {"ok": not bad, "checks": [c.as_dict() for c in checks]}
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        for check in checks:
            typer.echo(
                f"{_MARK.get(check.verdict, check.verdict)}  {check.name}: "
                f"{one_line(check.summary)}"
            )
        if bad:
            typer.echo(
                f"codeio cannot run here: {len(bad)} check(s) failed "
                f"({', '.join(c.name for c in bad)})",
                err=True,
            )
        else:
            typer.echo("codeio can run here")
    if bad:
        raise typer.Exit(exit_codes.CANNOT_RUN)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
