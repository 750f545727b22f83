"""Parser errors end like every other error: one line on stderr naming the command, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


def codeio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeio", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "command", "cause"),
    [
        (["sample", "/nonexistent/records.jsonl"], "codeio sample", "does not exist"),
        (["verify"], "codeio verify", "Missing option '--records'"),
        (["run", "--bogus", "x.yaml"], "codeio run", "No such option: --bogus"),
        (["export", "--process", "bogus", "."], "codeio export", "strict, lenient or off"),
        (["no-such-command"], "codeio", "No such command"),
    ],
)
def test_usage_error_is_one_line(args: list[str], command: str, cause: str) -> None:
    res = codeio(*args)
    assert res.returncode == 2, res
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    # ``python -m codeio`` names itself that way; the installed script says ``codeio``.
    assert lines[0].startswith("error: ") and f"{command}: " in lines[0], lines[0]
    assert cause in lines[0] and f"{command} --help'" in lines[0], lines[0]


def test_help_and_version_still_exit_zero() -> None:
    assert "codeio sample [OPTIONS]" in codeio("sample", "--help").stdout
    assert codeio("--version").stdout.strip().startswith("codeio ")
    bare = codeio()
    assert bare.returncode == 0 and "Commands" in bare.stdout


def test_the_command_map_is_what_each_module_registers() -> None:
    import importlib

    import typer

    from codeio.cli.main import COMMAND_MODULES

    for module, names in COMMAND_MODULES.items():
        app = typer.Typer()
        importlib.import_module(module).register(app)
        assert tuple(c.name for c in app.registered_commands) == names, module


def test_a_command_loads_only_its_own_module_and_help_lists_them_all() -> None:
    probe = (
        "import sys\n"
        "from codeio.cli.main import main\n"
        "sys.argv = ['codeio', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('codeio.cli.') and m.endswith('_cmd')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, "sample", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.stdout.strip().splitlines()[-1] == "['codeio.cli.data_cmd']"
    listing = codeio("--help").stdout
    for command in ("exec", "sample", "recheck", "verify", "run", "demo", "eval", "view"):
        assert command in listing
