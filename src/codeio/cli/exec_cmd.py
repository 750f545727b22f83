"""``codeio exec``: run one file as untrusted code and print one JSON object; ``--explain``
prints what tasks can see and do instead."""

from __future__ import annotations

import json
from pathlib import Path

import typer

__all__ = ["register"]


def exec_script(
    script: Path | None = typer.Argument(
        None, exists=True, dir_okay=False, help="Python file to run (not with --explain)."
    ),
    timeout: float = typer.Option(
        10.0, "--timeout", min=0.001, help="Wall-clock limit in seconds."
    ),
    memory_mb: int = typer.Option(2048, "--memory-mb", min=1, help="Address-space limit in MiB."),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse to run unless every containment mechanism is active."
    ),
    explain: bool = typer.Option(
        False,
        "--explain",
        help="Print, as JSON, the paths tasks see (and with what mode), their namespaces, the "
        "seccomp deny list, limits and the containment level, probed from inside a task.",
    ),
) -> None:
    """Run SCRIPT as __main__ in the sandbox; exit 0 whenever the engine itself worked."""
    from codeio.exec import ExecLimits, Sandbox, SandboxUnavailable
    from codeio.exec.containment import explain as explain_sandbox

    if explain == (script is not None):
        typer.echo(
            json.dumps(
                {"status": "usage_error", "error_message": "give either SCRIPT or --explain"}
            )
        )
        raise typer.Exit(2)
    limits = ExecLimits(timeout_s=timeout, memory_mb=memory_mb)
    try:
        with Sandbox(
            workers=1, limits=limits, containment="strict" if strict else "best", warm=()
        ) as sandbox:
            if explain:
                typer.echo(json.dumps(explain_sandbox(sandbox), indent=2))
                return
            assert script is not None
            result = sandbox.run(script.read_text(encoding="utf-8", errors="replace"))
            containment = sandbox.containment
            missing = list(sandbox.report.missing)
    except SandboxUnavailable as exc:
        typer.echo(json.dumps({"status": "sandbox_error", "error_message": str(exc)}))
        raise typer.Exit(2) from exc
    payload = result.model_dump(mode="json")
    payload["containment"] = containment
    payload["containment_missing"] = missing
    typer.echo(json.dumps(payload, allow_nan=True))
    if result.status.value == "sandbox_error":
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("exec")(exec_script)
