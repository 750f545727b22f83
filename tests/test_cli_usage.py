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
