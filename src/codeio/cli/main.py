"""The ``codeio`` command: one typer app; each command group lives in its own module."""

from __future__ import annotations

import importlib
import sys

import typer

from codeio import __version__, exit_codes

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


# typer vendors click and exports only BadParameter; its bases are the classes to catch.
_CLICK_EXCEPTION: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _usage_line(exc: Exception) -> str:
    """A parser error as one line that names the command, the cause and where help is."""
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", "") or "codeio"
    message = exc.format_message()  # type: ignore[attr-defined]
    return f"error: {command}: {message} (see '{command} --help')"


def main() -> None:
    # The parser runs non-standalone so a usage error is one line (like every other error),
    # not click's framed box; typer turns Ctrl-C inside a command into exit 130 itself, and
    # everything else that escapes a command ends here as one line and a documented exit code
    # (see codeio.exit_codes).
    from codeio.cli.errors import handle_uncaught, one_line

    try:
        rc = app(standalone_mode=False)
    except SystemExit:
        raise
    except _CLICK_EXCEPTION as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # ``codeio`` alone (or a group without its command) prints the help, as asked.
            typer.echo(exc.format_message())  # type: ignore[attr-defined]
            sys.exit(0)
        typer.echo(one_line(_usage_line(exc)), err=True)
        sys.exit(getattr(exc, "exit_code", exit_codes.USAGE))
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(exit_codes.CANNOT_RUN)
    except BaseException as exc:
        handle_uncaught(exc)
    sys.exit(rc if isinstance(rc, int) else exit_codes.OK)
