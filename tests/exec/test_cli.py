"""``codeio exec``: one JSON object on stdout, exit 0 whatever the script did."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from codeio.cli import exec_cmd


def _invoke(script: Path, *args: str) -> tuple[int, dict]:
    app = typer.Typer()
    exec_cmd.register(app)

    @app.callback()
    def _root() -> None:  # keeps "exec" a named sub-command, as in the real app
        pass

    result = CliRunner().invoke(app, ["exec", str(script), *args])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    return result.exit_code, json.loads(lines[0])


def test_exec_prints_one_json_object(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(
        "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\nraise KeyError(1)\n"
    )
    code, payload = _invoke(script)
    assert code == 0
    assert payload["status"] == "error" and payload["error_type"] == "KeyError"
    assert payload["stdout"] == "hello\n" and payload["stderr"] == "oops\n"
    assert payload["duration_s"] > 0
    assert payload["containment"] in {"full", "partial", "minimal"}


def test_exec_timeout_and_memory_options(tmp_path: Path) -> None:
    loop = tmp_path / "loop.py"
    loop.write_text("while True:\n    pass\n")
    code, payload = _invoke(loop, "--timeout", "0.5")
    assert (code, payload["status"]) == (0, "timeout")
    big = tmp_path / "big.py"
    big.write_text("x = bytearray(1 << 30)\n")
    code, payload = _invoke(big, "--memory-mb", "256")
    assert (code, payload["status"]) == (0, "memory")


def test_exec_explain_prints_what_tasks_see() -> None:
    app = typer.Typer()
    exec_cmd.register(app)

    @app.callback()
    def _root() -> None:
        pass

    result = CliRunner().invoke(app, ["exec", "--explain"])
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["containment"] in {"full", "partial", "minimal"}
    assert "probe_error" not in report
    paths = {m["path"]: m["mode"] for m in report["paths"]}
    assert paths["/proc"] == "rw" and report["task"]["cwd"]
    assert report["limits"]["configured"]["memory_mb"] == 2048
    assert report["limits"]["in_task"]["as"] == 2048 << 20
    if "root" in report["active"]:
        assert paths["/"] == "ro" and paths["/tmp"] == "rw"
        assert not {"home", "run", "var", "srv", "opt"} & set(report["root_entries"])
    if "seccomp" in report["active"]:
        assert {"ptrace", "keyctl", "bpf", "mount", "memfd_create"} <= set(
            report["seccomp"]["denied"]
        )


def test_exec_needs_a_script_or_explain() -> None:
    code, payload = _invoke_args()
    assert code == 2 and payload["status"] == "usage_error"


def _invoke_args(*args: str) -> tuple[int, dict]:
    app = typer.Typer()
    exec_cmd.register(app)

    @app.callback()
    def _root() -> None:
        pass

    result = CliRunner().invoke(app, ["exec", *args])
    return result.exit_code, json.loads(result.stdout)
