"""``codeio view``: a local web app over one run's store (read-only)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import typer

from codeio import exit_codes

__all__ = ["register"]


def view(
    run_dir: Path = typer.Argument(..., help="Run directory (holds state.sqlite)."),
    port: int = typer.Option(8765, "--port", help="TCP port (0: any free port)."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; anything but loopback exposes the run."
    ),
    index: Path | None = typer.Option(
        None, "--index", help="Sidecar index file; default RUN_DIR/view_index.sqlite."
    ),
    refresh: float = typer.Option(
        3.0, "--refresh", help="Seconds between store checks while serving (0: never)."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Log every request."),
) -> None:
    """Browse a run: funnel, failures, samples (filters, search), turns, diffs, downloads."""
    from codeio.view import ViewApp, make_server

    if not (run_dir / "state.sqlite").is_file():
        typer.echo(f"error: {run_dir}: not a run directory (no state.sqlite)", err=True)
        raise typer.Exit(exit_codes.CANNOT_RUN)
    if not 0 <= port <= 65535:
        raise typer.BadParameter("must be 0..65535", param_hint="--port")
    try:
        app = ViewApp(run_dir, index_path=index, refresh_s=refresh)
    except (OSError, sqlite3.Error) as exc:
        typer.echo(f"error: {run_dir}: cannot open the store or the index: {exc}", err=True)
        raise typer.Exit(exit_codes.CANNOT_RUN) from exc

    def progress(done: int, total: int) -> None:
        typer.echo(f"\rindexing samples: {done}/{total}", nl=False, err=True)

    try:
        app.start(progress=progress)
    except sqlite3.Error as exc:
        typer.echo(f"\nerror: {run_dir}/state.sqlite: cannot read the store: {exc}", err=True)
        app.close()
        raise typer.Exit(exit_codes.CANNOT_RUN) from exc
    try:
        server = make_server(app, host, port, verbose=verbose)
    except OSError as exc:
        typer.echo(f"\nerror: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        app.close()
        raise typer.Exit(exit_codes.CANNOT_RUN) from exc
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    typer.echo(
        f"\ncodeio view: http://{shown}:{bound_port}/  (index {app.index.path}; Ctrl-C stops)"
    )
    if not server.loopback:
        typer.echo(f"warning: bound to {host}: anyone who can reach it can read this run", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        # Ctrl-C (or SIGTERM, which the CLI turns into the same) is how a viewer ends: exit 0,
        # with a word so a terminal or a service log shows it stopped rather than died.
        typer.echo("codeio view: stopped", err=True)
    finally:
        server.server_close()
        app.close()


def register(app: typer.Typer) -> None:
    app.command("view")(view)
