"""The ``codeio`` command: one typer app; each command group lives in its own module."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import NoReturn

import typer

from codeio import __version__, exit_codes

_app = typer.Typer(
    name="codeio",
    help="CodeI/O and CodeI/O++: turn code into verified input/output reasoning data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module registers its commands on the app in a ``register(app)`` function. The map is
# explicit (no import side effects) so the command set can be read here, and so that `codeio
# sample ...` imports only the module of `sample` (the others cost a few hundred ms at start).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "codeio.cli.exec_cmd": ("exec",),
    "codeio.cli.data_cmd": ("sample", "recheck"),
    "codeio.cli.verify_cmd": ("verify",),
    "codeio.cli.run_cmd": ("run", "status", "demo"),
    "codeio.cli.export_cmd": ("export", "report"),
    "codeio.cli.eval_cmd": ("eval", "decontaminate"),
    "codeio.cli.train_cmd": ("train",),
    "codeio.cli.doctor_cmd": ("doctor",),
    "codeio.cli.view_cmd": ("view",),
}
_MODULE_OF = {command: module for module, names in COMMAND_MODULES.items() for command in names}
_registered: set[str] = set()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codeio {__version__}")
        raise typer.Exit()


@_app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """CodeI/O and CodeI/O++ pipeline."""


def _register(names: Iterable[str]) -> typer.Typer:
    for name in names:
        if name in _registered:
            continue
        _registered.add(name)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command group not built in this checkout
                continue
            raise
        module.register(_app)
    return _app


def __getattr__(name: str) -> typer.Typer:
    # ``from codeio.cli.main import app`` (tests, embedding) gets every command.
    if name == "app":
        return _register(COMMAND_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _app_for(argv: list[str]) -> typer.Typer:
    """The app with the command that ``argv`` names, or all commands (help, a typo)."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    module = _MODULE_OF.get(command or "")
    return _register([module] if module else COMMAND_MODULES)


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


def _stop_on_sigterm() -> list[int]:
    """Make SIGTERM stop a command as Ctrl-C does: context managers close, the LLM cache and
    the run store commit what they hold, and the rerun resumes. Without it SIGTERM (a batch
    scheduler's, a container's stop) killed the process mid-batch, with no word and no flush.
    Returns a list that gets an entry once SIGTERM has arrived."""
    import signal

    seen: list[int] = []
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return seen  # ignored or handled by whoever started us: theirs to decide

    def handler(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    return seen


def _say_terminated() -> NoReturn:
    typer.echo("terminated (SIGTERM); rerun the same command to resume", err=True)
    sys.exit(exit_codes.TERMINATED)


def main() -> None:
    # The parser runs non-standalone so a usage error is one line (like every other error),
    # not click's framed box; typer turns Ctrl-C inside a command into exit 130 itself, and
    # everything else that escapes a command ends here as one line and a documented exit code
    # (see codeio.exit_codes).
    from codeio.cli.errors import handle_uncaught, one_line

    terminated = _stop_on_sigterm()
    try:
        rc = _app_for(sys.argv[1:])(standalone_mode=False)
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
        if terminated and isinstance(exc, KeyboardInterrupt):
            _say_terminated()
        handle_uncaught(exc)
    if rc == exit_codes.INTERRUPTED:
        # typer turns Ctrl-C (and our SIGTERM) inside a command into a bare exit 130 (no
        # command exits 130 by itself), so the line handle_uncaught would print is said here.
        if terminated:
            _say_terminated()
        handle_uncaught(KeyboardInterrupt())
    sys.exit(rc if isinstance(rc, int) else exit_codes.OK)
