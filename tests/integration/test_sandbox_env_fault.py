"""A sandbox that cannot import what every record needs: the run stops with the reason in one
line (exit 3) and ``codeio doctor`` names it (exit 1), instead of an all-failed funnel and exit 0.

The fault is real, not mocked: codeio runs from a throwaway virtual environment whose
interpreter cannot import numpy in a process with the sandbox's scrubbed environment, while the
host process (which has ``CODEIO_TEST_HOST`` set) imports it as usual. This is what a sandbox
that does not see the host's site-packages looks like from the inside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from codeio import exit_codes
from codeio.demo_data import demo_dir

_HIDE = """
import os, sys

class _HideNumpy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" or name.startswith("numpy."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

if "CODEIO_TEST_HOST" not in os.environ:  # the sandbox scrubs the environment
    sys.meta_path.insert(0, _HideNumpy())
"""


@pytest.fixture(scope="module")
def numpy_hidden_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("hidden") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "_codeio_hide_numpy.py").write_text(_HIDE)
    (Path(site) / "00_codeio_hide_numpy.pth").write_text("import _codeio_hide_numpy\n")
    # This environment's packages (and its editable codeio), .pth files included.
    ours = sysconfig.get_paths()["purelib"]
    (Path(site) / "01_codeio_base.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


def _run(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEIO_TEST_HOST": "1"}
    return subprocess.run(
        [str(python), "-m", "codeio", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_hidden_numpy_stops_the_run_and_doctor_names_it(
    numpy_hidden_python: Path, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    for name in ("gcd_recursive.py", "digit_root.py", "collatz_steps.py"):
        shutil.copy(demo_dir() / name, code / name)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"input:\n  path: {code}\nexec:\n  workers: 2\n")
    run_dir = tmp_path / "run"

    res = _run(numpy_hidden_python, "run", str(cfg), "--out", str(run_dir))
    assert "Traceback" not in res.stderr
    # The sandbox refuses to start (its self-test cannot import the prelude: exit 1) or, where
    # it starts, the stage stops with every record failed for that reason (exit 3).
    assert res.returncode in (exit_codes.CANNOT_RUN, exit_codes.STAGE_EMPTY), res.stderr[-2000:]
    error = res.stderr.strip().splitlines()[-1]
    assert error.startswith("error: "), error
    assert "No module named 'numpy'" in error and "codeio doctor" in error
    if res.returncode == exit_codes.STAGE_EMPTY:
        assert error.startswith("error: unify: all 3 records failed:"), error
    # What ran stays inspectable...
    status = _run(numpy_hidden_python, "status", str(run_dir), "--json")
    assert status.returncode == 0, status.stderr
    if res.returncode == exit_codes.STAGE_EMPTY:
        assert '"refcode_error": 3' in status.stdout

    doc = _run(numpy_hidden_python, "doctor", "--quick")
    assert doc.returncode == exit_codes.CANNOT_RUN, doc.stdout + doc.stderr
    prelude = next(ln for ln in doc.stdout.splitlines() if "prelude:" in ln)
    assert prelude.startswith("FAIL") and "No module named 'numpy'" in prelude
    assert "Traceback" not in doc.stdout + doc.stderr

    # ...and once the environment is fixed, the same command retries them and goes on.
    res = subprocess.run(
        [sys.executable, "-m", "codeio", "run", str(cfg), "--out", str(run_dir), "--to", "unify"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    status = _run(numpy_hidden_python, "status", str(run_dir), "--json")
    assert '"refcode_error"' not in status.stdout


def test_doctor_passes_in_a_working_environment() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "codeio", "doctor", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    import json

    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["prelude"]["verdict"] == "ok"
    assert checks["sandbox"]["verdict"] in ("ok", "warn")
    assert checks["python"]["data"]["codeio"]
