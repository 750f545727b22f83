"""CLI audit regressions, through the real ``codeio`` command: options and files that used to
end in a traceback, a silent exit 0 or a destroyed input now end in one error line (or work)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runhelp import codeio_cmd, done_count, run_codeio  # type: ignore[import-not-found]

from codeio import exit_codes
from codeio.demo_data import demo_dir

DEMO_FILES = ("gcd_recursive.py", "digit_root.py")
CRUX_LINE = {"code": "def f(x):\n    return x + 1", "input": "1", "output": "2", "id": "t_0"}
REFCODE = "def main_solution(n):\n    return n * 2\n"
INPUTGEN = "def input_generator(rng):\n    return {'n': rng.randint(0, 50)}\n"


def _error_line(res: subprocess.CompletedProcess[str]) -> str:
    """The one error line: the last line on stderr, and no traceback anywhere."""
    assert "Traceback" not in res.stderr + res.stdout, res.stderr[-3000:]
    assert "internal error" not in res.stderr, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("error", "interrupted", "terminated"))]
    assert len(errors) == 1 and lines[-1] == errors[0], res.stderr[-3000:]
    return errors[0]


def _unified(path: Path) -> Path:
    row = {"refcode": REFCODE, "inputgen": INPUTGEN}
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "id": "b"}) + "\n")
    return path


def _config(tmp: Path, data: Path, *extra: str) -> Path:
    cfg = tmp / "run.yaml"
    lines = [f"input:\n  path: [{json.dumps(str(data))}]", "exec:\n  workers: 2", *extra]
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small finished run (2 files, offline teacher) in a folder with a space in its name."""
    tmp = tmp_path_factory.mktemp("audit run")
    code = tmp / "code"
    code.mkdir()
    for name in DEMO_FILES:
        shutil.copy(demo_dir() / name, code / name)
    run_dir = tmp / "run dir"
    res = run_codeio("run", str(_config(tmp, code)), "--out", str(run_dir))
    assert res.returncode == 0, res.stderr[-3000:]
    yield run_dir


@pytest.mark.parametrize("command", ["sample", "recheck"])
def test_output_that_is_the_input_is_refused_and_the_input_kept(
    command: str, tmp_path: Path
) -> None:
    records = _unified(tmp_path / "records.jsonl")
    before = records.read_bytes()
    # A different spelling of the same file: the check compares files, not strings.
    res = run_codeio(command, str(records), "-o", f"{tmp_path}/./records.jsonl")
    assert res.returncode == exit_codes.USAGE
    assert "is the input file" in _error_line(res)
    assert records.read_bytes() == before
    if command == "sample":
        res = run_codeio(
            command, str(records), "-o", str(tmp_path / "o"), "--failures", str(records)
        )
        assert res.returncode == exit_codes.USAGE and "--failures" in _error_line(res)
        assert records.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["exec", "{script}", "--timeout", "0"], "--timeout"),
        (["exec", "{script}", "--timeout", "-1"], "--timeout"),
        (["exec", "{script}", "--memory-mb", "0"], "--memory-mb"),
        (["recheck", "{records}", "-o", "{out}", "--call-timeout", "-1"], "--call-timeout"),
        (
            ["verify", "--records", "{records}", "--predictions", "{records}", "-o", "{out}"]
            + ["--timeout", "0"],
            "--timeout",
        ),
    ],
)
def test_limits_out_of_range_are_usage_errors(args: list[str], option: str, tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    records = _unified(tmp_path / "records.jsonl")
    paths = {"script": script, "records": records, "out": tmp_path / "out.jsonl"}
    res = run_codeio(*(a.format(**paths) for a in args))
    assert res.returncode == exit_codes.USAGE, res.stderr[-2000:]
    assert option in _error_line(res)
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("fraction", ["-0.5", "nan"])
def test_export_holdout_out_of_range_is_an_error(
    fraction: str, finished_run: Path, tmp_path: Path
) -> None:
    res = run_codeio("export", str(finished_run), "--holdout", fraction, "-o", str(tmp_path / "x"))
    assert res.returncode == exit_codes.CANNOT_RUN
    assert "--holdout" in _error_line(res)


@pytest.mark.parametrize("fmt", ["hf", "llamafactory"])
def test_folder_exports_rerun_and_never_replace_a_foreign_folder(
    fmt: str, finished_run: Path, tmp_path: Path
) -> None:
    if fmt == "hf":
        pytest.importorskip("datasets")
    for _ in range(2):  # the second run finds the folder the first one wrote
        res = run_codeio("export", str(finished_run), "--format", fmt)
        assert res.returncode == exit_codes.OK, res.stderr[-2000:]
    assert (finished_run / "export" / fmt / "dataset_info.json").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run_codeio("export", str(finished_run), "--format", fmt, "-o", str(empty))
    assert res.returncode == exit_codes.OK, res.stderr[-2000:]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    res = run_codeio("export", str(finished_run), "--format", fmt, "-o", str(foreign))
    assert res.returncode == exit_codes.CANNOT_RUN
    assert "new or empty folder" in _error_line(res)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_export_of_a_file_says_it_is_not_a_run(tmp_path: Path) -> None:
    data = _unified(tmp_path / "records.jsonl")
    res = run_codeio("export", str(data))
    assert res.returncode == exit_codes.CANNOT_RUN
    assert "not a run directory" in _error_line(res)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--llm", "trace:mistake_rat=0.2"], "mistake_rat"),
        (["--llm", "trace:mistake_rate=2"], "mistake_rate"),
        (["--set", "llm.options.bogus=1"], "bogus"),
    ],
)
def test_bad_trace_options_are_refused_before_any_stage(
    args: list[str], says: str, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, _unified(tmp_path / "records.jsonl"), "llm:\n  spec: trace")
    res = run_codeio("run", str(cfg), "--out", str(tmp_path / "r"), *args)
    assert res.returncode == exit_codes.CANNOT_RUN
    assert says in _error_line(res)
    assert not (tmp_path / "r").exists()  # refused before ingest, not a crash in generate


def test_eval_and_decontaminate_read_bom_and_name_bad_bytes(tmp_path: Path) -> None:
    line = json.dumps(CRUX_LINE).encode()
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + line + b"\r\n")
    res = run_codeio("eval", "-b", "cruxeval-o", "--llm", "trace", "--data", str(bom),
                     "--out", str(tmp_path / "e"))  # fmt: skip
    assert res.returncode == exit_codes.OK, res.stderr[-2000:]
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(line + b"\n" + b'{"code": "caf\xe9"}\n')
    packed = tmp_path / "packed.jsonl.gz"
    packed.write_bytes(gzip.compress(line + b"\n"))
    for data, says in ((latin, f"{latin}:2"), (packed, "gzip")):
        res = run_codeio("eval", "-b", "cruxeval-o", "--llm", "trace", "--data", str(data),
                         "--out", str(tmp_path / "e2"))  # fmt: skip
        assert res.returncode == exit_codes.CANNOT_RUN
        assert says in _error_line(res)
        res = run_codeio("decontaminate", str(bom), "--against", str(data))
        assert res.returncode == exit_codes.CANNOT_RUN
        assert says in _error_line(res)


def test_verify_counts_a_non_utf8_line_and_judges_the_rest(tmp_path: Path) -> None:
    good = {"refcode": REFCODE, "ios": [{"input": {"n": 2}, "output": 4}]}
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\xef\xbb\xbf" + json.dumps(good).encode() + b"\n" + b'{"x": "\xe9"}\n')
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        json.dumps({"itemid": 0, "ioid": 0, "io_pred": "o", "output": '{"output": 4}'}) + "\n"
    )
    out = tmp_path / "out.jsonl"
    res = run_codeio("verify", "--records", str(records), "--predictions", str(preds), "-o",
                     str(out))  # fmt: skip
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, res.stderr
    assert f"{records}:2: not valid UTF-8" in res.stderr
    assert [json.loads(ln)["verdict"] for ln in out.read_text().splitlines()] == ["correct"]
    packed = tmp_path / "records.jsonl.gz"
    packed.write_bytes(gzip.compress(records.read_bytes()))
    res = run_codeio("verify", "--records", str(packed), "--predictions", str(preds), "-o",
                     str(out))  # fmt: skip
    assert res.returncode == exit_codes.CANNOT_RUN
    assert "gzip" in _error_line(res)


def test_unusable_input_stops_at_ingest_instead_of_an_empty_export(tmp_path: Path) -> None:
    rows = [{"refcode": REFCODE, "ios": [{"input": {"n": i}, "output": 2 * i}]} for i in range(9)]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    packed = tmp_path / "data.jsonl.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    array = tmp_path / "array.jsonl"
    array.write_text(json.dumps(rows, indent=1))  # a JSON array, pretty-printed: mixed reasons
    for data, says in ((packed, "gzip-compressed"), (array, "JSON array")):
        out = tmp_path / f"run-{data.stem}"
        cfg = _config(tmp_path, data, "llm:\n  spec: trace")
        res = run_codeio("run", str(cfg), "--out", str(out))
        assert res.returncode == exit_codes.STAGE_EMPTY, res.stderr[-2000:]
        line = _error_line(res)
        assert line.startswith("error: ingest: all") and says in line, line
        assert not (out / "export").exists()
    # The user fixes the file in place and reruns the same command: the input kind is detected
    # again (it was fixed from the array), and the array's line failures are not counted.
    fixed = [{**r, "ios": [{"input": {"n": n}, "output": 2 * n} for n in (i, i + 1)]}
             for i, r in enumerate(rows)]  # fmt: skip
    array.write_text("".join(json.dumps(r) + "\n" for r in fixed))
    res = run_codeio("run", str(cfg), "--out", str(out))
    assert res.returncode == exit_codes.OK, res.stderr[-2000:]
    ingest = next(s for s in _funnel(out) if s["stage"] == "ingest")
    assert (ingest["entered"], ingest["passed"], ingest["failed"]) == (9, 9, 0), ingest


def _funnel(run_dir: Path) -> list[dict]:
    res = run_codeio("status", str(run_dir), "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["stages"]


def _start_run(tmp_path: Path) -> tuple[list[str], Path, subprocess.Popen[str]]:
    """`codeio run` on 8 distinct functions with the offline teacher, started in the background:
    enough work that a loaded machine is still at it when the test acts (identical functions
    would be one record)."""
    rows = [{"refcode": REFCODE.replace("2", str(i + 2)), "inputgen": INPUTGEN} for i in range(8)]
    data = tmp_path / "unified.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = _config(tmp_path, data, "llm:\n  spec: trace", "runner:\n  batch_size: 2")
    out = tmp_path / "run"
    args = ["run", str(cfg), "--out", str(out)]
    proc = subprocess.Popen(
        codeio_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    return args, out, proc


def _wait_for(proc: subprocess.Popen[str], out: Path, stage: str) -> None:
    deadline = time.monotonic() + 300
    while done_count(out, stage) < 1:
        assert proc.poll() is None, f"the run ended before {stage} had results"
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_second_run_on_a_busy_run_directory_is_refused(tmp_path: Path) -> None:
    args, out, first = _start_run(tmp_path)
    try:
        _wait_for(first, out, "ingest")
        second = run_codeio(*args)
        if first.poll() is None:  # still running: the second must have been refused
            assert second.returncode == exit_codes.CANNOT_RUN, second.stderr[-2000:]
            line = _error_line(second)
            assert f"another codeio process (pid {first.pid})" in line, line
        _, stderr = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
    assert first.returncode == exit_codes.OK, stderr[-2000:]
    # Its lock went with it: a rerun goes ahead (nothing left to do).
    assert run_codeio(*args).returncode == exit_codes.OK


@pytest.mark.parametrize(
    ("sig", "code", "word"),
    [
        (signal.SIGINT, exit_codes.INTERRUPTED, "interrupted"),
        # a scheduler's or container's stop: before, the process died mid-batch without a word
        (signal.SIGTERM, exit_codes.TERMINATED, "terminated (SIGTERM)"),
    ],
    ids=["ctrl_c", "sigterm"],
)
def test_ctrl_c_says_interrupted_and_the_rerun_finishes(
    tmp_path: Path, sig: signal.Signals, code: int, word: str
) -> None:
    args, out, proc = _start_run(tmp_path)
    try:
        _wait_for(proc, out, "generate")
        os.kill(proc.pid, sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    res = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert res.returncode == code, stderr[-2000:]
    line = _error_line(res)
    assert line.startswith(word) and "rerun the same command to resume" in line, line
    res = run_codeio(*args)
    assert res.returncode == exit_codes.OK, res.stderr[-2000:]
    assert (out / "export" / "messages.jsonl").stat().st_size > 0


def test_config_files_with_bad_bytes_or_typos_are_one_clear_line(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"input: {path: [caf\xe9.jsonl]}\n")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    typo = tmp_path / "train.yaml"
    typo.write_text("modle: x\noutput_dir: out\n")
    for args, says in (
        (["run", str(latin), "--out", str(tmp_path / "r")], "not UTF-8"),
        (["run", str(folder), "--out", str(tmp_path / "r")], "is a folder"),
        (["train", str(latin)], "not UTF-8"),
        (["train", str(typo)], "modle: unknown key"),
    ):
        res = run_codeio(*args)
        assert res.returncode == exit_codes.CANNOT_RUN, res.stderr[-2000:]
        line = _error_line(res)
        assert says in line and "errors.pydantic.dev" not in line, line


def test_eval_refuses_a_bad_trace_option(tmp_path: Path) -> None:
    data = tmp_path / "crux.jsonl"
    data.write_text(json.dumps(CRUX_LINE) + "\n")
    res = run_codeio("eval", "-b", "cruxeval-o", "--llm", "trace:mistake_rat=1", "--data",
                     str(data), "--out", str(tmp_path / "e"))  # fmt: skip
    assert res.returncode == exit_codes.CANNOT_RUN
    assert "mistake_rat" in _error_line(res)


def _can_mount_tmpfs() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = ["unshare", "-m", "--propagation", "private", "sh", "-c",
             "mount -t tmpfs -o size=64k tmpfs /mnt"]  # fmt: skip
    return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs root to mount a small tmpfs")
def test_full_disk_is_one_line_and_the_rerun_resumes(tmp_path: Path) -> None:
    rows = [{"refcode": REFCODE, "inputgen": INPUTGEN, "id": f"f{i}"} for i in range(12)]
    data = tmp_path / "unified.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = _config(tmp_path, data, "llm:\n  spec: trace")
    disk = tmp_path / "disk"
    disk.mkdir()
    run = [*codeio_cmd("run", str(cfg), "--out", str(disk / "run")), ">", str(tmp_path / "o")]
    line = " ".join(f"'{a}'" if a != ">" else a for a in run)
    script = (
        f"mount -t tmpfs -o size=256k tmpfs '{disk}' || exit 99\n"
        f"{line} 2> '{tmp_path}/e1'; echo $? > '{tmp_path}/rc1'\n"
        f"mount -o remount,size=64m '{disk}'\n"  # space freed: the same command resumes
        f"{line} 2> '{tmp_path}/e2'; echo $? > '{tmp_path}/rc2'\n"
        f"wc -l < '{disk}/run/export/messages.jsonl' > '{tmp_path}/rows'\n"
    )
    res = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert res.returncode == 0, res.stderr
    first = subprocess.CompletedProcess([], 0, "", (tmp_path / "e1").read_text())
    assert (tmp_path / "rc1").read_text().strip() == str(exit_codes.CANNOT_RUN), first.stderr
    assert "free some disk space" in _error_line(first)
    assert (tmp_path / "rc2").read_text().strip() == "0", (tmp_path / "e2").read_text()[-2000:]
    assert int((tmp_path / "rows").read_text()) > 0


@pytest.mark.parametrize("command", ["sample", "recheck"])
def test_a_file_without_a_usable_record_is_an_error_not_an_empty_success(
    command: str, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.jsonl"  # records of another kind: no inputgen, no ios
    wrong.write_text(json.dumps({"content": "print(1)"}) + "\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for data, says in ((wrong, f"{wrong}:1"), (empty, "holds no records")):
        res = run_codeio(command, str(data), "-o", str(tmp_path / "out.jsonl"))
        assert res.returncode == exit_codes.CANNOT_RUN, res.stderr[-2000:]
        assert says in _error_line(res)
