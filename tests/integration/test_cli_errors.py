"""Every error a user can cause: one line naming the file or option and the fix, a documented
non-zero exit code, never a traceback. Table-driven, through the real ``codeio`` command."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from runhelp import codeio_cmd  # type: ignore[import-not-found]

from codeio import exit_codes
from codeio.demo_data import demo_dir

DEMO_FILES = ("gcd_recursive.py", "digit_root.py")


@functools.lru_cache(maxsize=1)
def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


@dataclass
class ReadOnly:
    """Runs commands that see ``path`` read-only: a read-only bind mount in a private mount
    namespace (works for root too), else plain permissions for a non-root user."""

    path: Path

    def argv(self, argv: list[str]) -> list[str]:
        if _unshare_works():
            script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
            return ["unshare", "-rm", "sh", "-c", script, "sh", str(self.path), *argv]
        return argv

    def __enter__(self) -> ReadOnly:
        if not _unshare_works():
            if os.geteuid() == 0:
                pytest.skip("no way to make a folder read-only for root here")
            for p in [self.path, *self.path.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o222)
        return self

    def __exit__(self, *exc: object) -> None:
        if not _unshare_works():
            for p in [self.path, *self.path.rglob("*")]:
                p.chmod(p.stat().st_mode | 0o200)


def _config(tmp: Path, data: Path) -> Path:
    cfg = tmp / "run.yaml"
    cfg.write_text(f"input:\n  path: {data}\nexec:\n  workers: 2\n", encoding="utf-8")
    return cfg


def _code_folder(tmp: Path) -> Path:
    folder = tmp / "code"
    folder.mkdir(exist_ok=True)
    for name in DEMO_FILES:
        shutil.copy(demo_dir() / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small finished run (2 files, offline teacher), shared by the read-only cases."""
    tmp = tmp_path_factory.mktemp("finished")
    run_dir = tmp / "run"
    res = subprocess.run(
        codeio_cmd("run", str(_config(tmp, _code_folder(tmp))), "--out", str(run_dir)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    yield run_dir


@dataclass
class Case:
    name: str
    make: Callable[[Path, Path], tuple[list[str], ReadOnly | None]]
    """(tmp, finished run) -> (codeio arguments, read-only folder or None)"""
    code: int
    says: tuple[str, ...]
    """Words the one error line must contain (the file/option and the fix)."""


def _out_is_file(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    (tmp / "taken").write_text("a file\n")
    return ["run", str(_config(tmp, _code_folder(tmp))), "--out", str(tmp / "taken")], None


def _out_read_only(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    ro = tmp / "ro"
    ro.mkdir()
    cfg = _config(tmp, _code_folder(tmp))
    return ["run", str(cfg), "--out", str(ro / "new-run")], ReadOnly(ro)


def _out_existing_read_only(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    ro = tmp / "ro-run"
    ro.mkdir()
    return ["run", str(_config(tmp, _code_folder(tmp))), "--out", str(ro)], ReadOnly(ro)


def _bad_backend(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    cfg = _config(tmp, _code_folder(tmp))
    return ["run", str(cfg), "--out", str(tmp / "r"), "--llm", "nosuchbackend:model"], None


def _spec_without_model(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    cfg = _config(tmp, _code_folder(tmp))
    return ["run", str(cfg), "--out", str(tmp / "r"), "--llm", "openai"], None


def _missing_key(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    cfg = _config(tmp, _code_folder(tmp))
    args = ["--llm", "openai:some-model", "--set", "llm.api_key_env=CODEIO_TEST_NO_SUCH_KEY"]
    return ["run", str(cfg), "--out", str(tmp / "r"), *args], None


def _bad_key(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    cfg = tmp / "bad.yaml"
    cfg.write_text("revise:\n  roundz: 1\n")
    return ["run", str(cfg), "--out", str(tmp / "r")], None


def _empty_input(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    empty = tmp / "empty.jsonl"
    empty.write_text("")
    return ["run", str(_config(tmp, empty)), "--out", str(tmp / "r")], None


def _blank_input(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    blank = tmp / "blank.jsonl"
    blank.write_text("\n\n")
    return ["run", str(_config(tmp, blank)), "--out", str(tmp / "r")], None


def _missing_input(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    return ["run", str(_config(tmp, tmp / "absent.jsonl")), "--out", str(tmp / "r")], None


def _status_not_a_run(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    return ["status", str(tmp)], None


def _export_read_only_default(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    return ["export", str(run)], ReadOnly(run)


def _report_read_only_default(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    return ["report", str(run)], ReadOnly(run)


def _status_read_only(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    return ["status", str(run), "--json"], ReadOnly(run)


def _export_read_only_elsewhere(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    return ["export", str(run), "-o", str(tmp / "out" / "sft.jsonl")], ReadOnly(run)


def _report_read_only_elsewhere(tmp: Path, run: Path) -> tuple[list[str], ReadOnly | None]:
    return ["report", str(run), "-o", str(tmp / "report.html")], ReadOnly(run)


CANNOT = exit_codes.CANNOT_RUN
CASES = [
    Case("out-is-a-file", _out_is_file, CANNOT, ("--out", "taken", "is a file")),
    Case("out-in-read-only-dir", _out_read_only, CANNOT, ("--out", "new-run", "writable")),
    Case("out-read-only-dir", _out_existing_read_only, CANNOT, ("--out", "ro-run", "writable")),
    Case("unknown-backend", _bad_backend, CANNOT, ("nosuchbackend", "openai", "trace")),
    Case("spec-without-model", _spec_without_model, CANNOT, ("openai:MODEL",)),
    Case("missing-api-key", _missing_key, CANNOT, ("CODEIO_TEST_NO_SUCH_KEY",)),
    Case("bad-config-key", _bad_key, CANNOT, ("revise.roundz", "unknown key")),
    Case("empty-input", _empty_input, CANNOT, ("empty.jsonl", "empty")),
    Case("blank-input", _blank_input, CANNOT, ("blank.jsonl", "empty")),
    Case("missing-input", _missing_input, CANNOT, ("absent.jsonl", "no such file")),
    Case("status-not-a-run", _status_not_a_run, CANNOT, ("not a run directory",)),
    Case("export-read-only", _export_read_only_default, CANNOT, ("messages.jsonl", "-o PATH")),
    Case("report-read-only", _report_read_only_default, CANNOT, ("report.html", "-o FILE.html")),
    Case("status-read-only", _status_read_only, exit_codes.OK, ()),
    Case("export-read-only-to-elsewhere", _export_read_only_elsewhere, exit_codes.OK, ()),
    Case("report-read-only-to-elsewhere", _report_read_only_elsewhere, exit_codes.OK, ()),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_user_error_is_one_line(case: Case, tmp_path: Path, finished_run: Path) -> None:
    args, read_only = case.make(tmp_path, finished_run)
    before = sorted(p.name for p in finished_run.iterdir())
    argv = codeio_cmd(*args)
    if read_only is not None:
        with read_only:
            res = subprocess.run(read_only.argv(argv), capture_output=True, text=True, timeout=600)
    else:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in res.stderr + res.stdout
    assert res.returncode == case.code, res.stderr[-2000:]
    if case.code != exit_codes.OK:
        # Progress bars may precede it; the error itself is one line, the last one.
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error")]
        assert len(errors) == 1 and lines[-1] == errors[0], res.stderr
        for word in case.says:
            assert word in errors[0], (word, errors[0])
    # Refused runs write nothing; reading a run changes nothing in it.
    assert not (tmp_path / "r").exists()
    assert sorted(p.name for p in finished_run.iterdir()) == before
