"""The ``codeio`` command: one typer app; each command group lives in its own module."""

from __future__ import annotations

import importlib

import typer

from codeio import __version__

app = typer.Typer(
    name="codeio",
    help="CodeI/O and CodeI/O++: turn code into verified input/output reasoning data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module registers its commands on ``app`` in a ``register(app)`` function. The list is
# explicit (no import side effects) so the command set can be read here.
COMMAND_MODULES = [
    "codeio.cli.exec_cmd",  # exec
    "codeio.cli.data_cmd",  # sample, recheck
    "codeio.cli.verify_cmd",  # verify
    "codeio.cli.run_cmd",  # run, status, demo
    "codeio.cli.export_cmd",  # export, report
    "codeio.cli.eval_cmd",  # eval, decontaminate
    "codeio.cli.train_cmd",  # train
    "codeio.cli.doctor_cmd",  # doctor
    "codeio.cli.view_cmd",  # view
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codeio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """CodeI/O and CodeI/O++ pipeline."""


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command group not built in this checkout
                continue
            raise
        module.register(app)


_register_all()


def main() -> None:
    # typer turns Ctrl-C inside a command into exit 130 itself; everything else that escapes a
    # command ends here as one line and a documented exit code (see codeio.exit_codes).
    try:
        app()
    except SystemExit:
        raise
    except BaseException as exc:
        from codeio.cli.errors import handle_uncaught

        handle_uncaught(exc)
