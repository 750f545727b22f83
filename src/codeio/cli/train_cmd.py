"""``codeio train CONFIG``: the two-stage SFT recipe (needs the ``train`` extra)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

from codeio.cli.errors import fail
from codeio.errors import CodeioError, ConfigError

__all__ = ["register"]


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        # YAML scalars so that numbers, booleans, null and [lists] keep their types.
        out[key.strip()] = yaml.safe_load(value)
    return out


def train(
    config: Path = typer.Argument(..., help="Training config: YAML, TOML or JSON."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="Override a config key, dotted: --set stage1.max_steps=10 --set lora.r=8",
    ),
    output_dir: str | None = typer.Option(None, "--output-dir", "-o", help="Override output_dir."),
    resume: bool = typer.Option(
        False, "--resume", help="Skip finished stages; continue from the last checkpoint."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fine-tune a model: stage 1 on CodeI/O data, then (optional) stage 2 on instruction data.

    Prints one JSON line at the end: the final model folder and per-stage numbers.
    """
    from codeio.train.config import load_train_config
    from codeio.train.recipe import run_training

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        overrides = _parse_overrides(set_)
        if output_dir:
            overrides["output_dir"] = output_dir
        if resume:
            overrides["resume"] = True
        if quiet:
            overrides["progress_bar"] = False
        cfg = load_train_config(config, overrides)
        result = run_training(cfg)
    except CodeioError as exc:
        fail(exc)
    for stage in result.stages:
        state = "skipped (done)" if stage.skipped else f"{stage.global_step} steps"
        typer.echo(
            f"{stage.name}: {state}, {stage.train_samples} samples, loss "
            f"{stage.first_loss} -> {stage.last_loss}, {stage.tokens_per_s} tok/s on "
            f"{stage.device}/{stage.precision} -> {stage.model_dir}",
            err=True,
        )
    typer.echo(json.dumps(result.model_dump(mode="json")))


def register(app: typer.Typer) -> None:
    app.command("train")(train)
