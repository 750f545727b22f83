"""A real run directory (the demo's pipeline plus one function full of markup and one binary
file with markup in its name) and a real
``codeio view`` server process over it, shared by the viewer tests."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from codeio.demo_data import demo_dir

CODEIO = [sys.executable, "-m", "codeio"]

# A function whose code, prompt, responses and answers all carry live-looking markup: if any
# page forgets to escape, the browser runs the script and sets the window flag.
MARKUP_FUNCTION = '''"""Wrap a word in markup the way a naive template would.

Input: `word` (str): a short word.
Output: `return` (str): the word inside a script tag and a bold tag.
"""


def main_solution(word):
    page = "<script>window.__codeio_xss = 1; alert(1)</script><b>" + word + "</b>"
    return page


def input_generator(rng):
    return {"word": rng.choice(["<img src=x onerror=alert(2)>", "plain", "x&y"])}
'''

# A file name is untrusted too: ingest failures (binary, not UTF-8, duplicate) are keyed by the
# file's path, which the failures page shows and links to. This one is binary, carries markup,
# and makes a path longer than 200 characters.
HOSTILE_FILE_NAME = '"><img src=x onerror="window.__codeio_xss=2">' + "x" * 170 + ".py"


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``codeio demo`` on the bundled examples plus the markup function, half the first turns
    wrong on purpose so revisions exist (offline teacher, real sandbox, real store)."""
    raw = tmp_path_factory.mktemp("raw")
    for path in demo_dir().glob("*.py"):
        shutil.copy(path, raw / path.name)
    (raw / "wrap_markup.py").write_text(MARKUP_FUNCTION)
    (raw / HOSTILE_FILE_NAME).write_bytes(b"print(1)\x00")
    out = tmp_path_factory.mktemp("run") / "run"
    proc = subprocess.run(
        [
            *CODEIO,
            "demo",
            "--out",
            str(out),
            "--set",
            f"input.path={raw}",
            "--set",
            "llm.options.mistake_rate=0.5",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Viewer:
    url: str
    proc: subprocess.Popen[str]
    run_dir: Path


def start_viewer(run_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Viewer:
    """``codeio view RUN --port 0`` as a subprocess; returns once it prints its address."""
    proc = subprocess.Popen(
        [*CODEIO, "view", str(run_dir), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    deadline = time.monotonic() + 120
    seen = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(r"codeio view: (http://\S+/)", line)
        if match:
            return Viewer(match.group(1).rstrip("/"), proc, run_dir)
    proc.kill()
    raise AssertionError("codeio view did not start:\n" + "".join(seen))


def stop_viewer(viewer: Viewer) -> str:
    """Ctrl-C the server; returns what it printed after its start line."""
    viewer.proc.send_signal(signal.SIGINT)
    try:
        viewer.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        viewer.proc.kill()
        viewer.proc.wait()
    rest = ""
    if viewer.proc.stdout is not None:
        rest = viewer.proc.stdout.read()
        viewer.proc.stdout.close()
    return rest


@pytest.fixture(scope="session")
def store_digest_before(run_dir: Path) -> str:
    return file_digest(run_dir / "state.sqlite")


@pytest.fixture(scope="session")
def viewer(run_dir: Path, store_digest_before: str) -> Iterator[Viewer]:
    v = start_viewer(run_dir)
    yield v
    stop_viewer(v)
