"""The viewer over HTTP (no browser): pages, filters, keyset pages, downloads, escaping, safety.

Ground truth comes from reading the store's payloads directly, not from the viewer's index.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from codeio.pipeline.export import codeio_row, messages_row, sharegpt_row
from codeio.records import Sample

from .conftest import Viewer, file_digest, start_viewer, stop_viewer


def _samples(run_dir: Path) -> dict[str, dict[str, Any]]:
    db = sqlite3.connect(f"file:{run_dir / 'state.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, payload FROM records WHERE stage = 'revise'").fetchall()
    finally:
        db.close()
    return {i: json.loads(p) for i, p in rows}


def _ids(html: str) -> list[str]:
    return [unquote(m) for m in re.findall(r'class="sample-link" href="/sample/([^"]+)"', html)]


def _next(html: str) -> str | None:
    m = re.search(r'id="next-page" href="([^"]+)"', html)
    return m.group(1).replace("&amp;", "&") if m else None


def _get(viewer: Viewer, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(viewer.url + path, timeout=30, **kw)


def test_funnel_counts_match_the_store(viewer: Viewer) -> None:
    db = sqlite3.connect(f"file:{viewer.run_dir / 'state.sqlite'}?mode=ro", uri=True)
    done = {
        s: (n, ok)
        for s, n, ok in db.execute("SELECT stage, COUNT(*), SUM(ok) FROM done GROUP BY stage")
    }
    out = dict(db.execute("SELECT stage, COUNT(*) FROM records GROUP BY stage").fetchall())
    reasons = db.execute(
        "SELECT stage, reason, COUNT(*) FROM failures GROUP BY stage, reason"
    ).fetchall()
    db.close()
    summary = _get(viewer, "/api/summary").json()
    got = {s["stage"]: s for s in summary["stages"]}
    assert set(got) == set(done)
    for stage, (n, ok) in done.items():
        assert (got[stage]["entered"], got[stage]["passed"], got[stage]["out"]) == (
            n,
            ok,
            out.get(stage, 0),
        )
    for stage, reason, n in reasons:
        assert got[stage]["failures"][reason] == n
    page = _get(viewer, "/")
    assert page.status_code == 200
    assert (
        "Content-Security-Policy" in page.headers
        and "script-src 'self'" in page.headers["Content-Security-Policy"]
    )
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    # Every failure reason links to its records; each page lists exactly that many with detail.
    assert reasons, "the demo corpus fails two functions on purpose"
    for stage, reason, n in reasons:
        assert f"/failures?stage={stage}&amp;reason={reason}" in page.text
        fails = _get(viewer, "/failures", params={"stage": stage, "reason": reason})
        assert fails.status_code == 200
        assert len(re.findall(r'<a href="/record/', fails.text)) == n
        assert 'class="detail"' in fails.text
        rid = re.search(r'<a href="/record/([^"]+)"', fails.text).group(1)
        rec = _get(viewer, f"/record/{rid}")
        assert rec.status_code == 200 and f"failed in {stage}" in rec.text


def test_filter_wrong_turn1_output_predictions(viewer: Viewer, run_dir: Path) -> None:
    truth = sorted(
        i
        for i, p in _samples(run_dir).items()
        if p["sample"]["kind"] == "output"
        and p["sample"]["turns"][0]["verdict"]["status"] == "wrong"
    )
    assert len(truth) >= 3
    page = _get(viewer, "/samples", params={"kind": "output", "v1": "wrong"})
    assert page.status_code == 200
    assert _ids(page.text) == truth
    assert re.search(r'id="match-count">(\d+)<', page.text).group(1) == str(len(truth))


def test_keyset_pages_cover_every_sample_once_in_order(viewer: Viewer, run_dir: Path) -> None:
    samples = _samples(run_dir)
    for params, key in (
        ({"limit": "25"}, lambda i: i),
        (
            {"limit": "25", "sort": "func", "order": "desc"},
            lambda i: (samples[i]["sample"]["func_id"], i),
        ),
        ({"limit": "25", "sort": "turns"}, lambda i: (len(samples[i]["sample"]["turns"]), i)),
    ):
        expected = sorted(samples, key=key, reverse=params.get("order") == "desc")
        seen: list[str] = []
        path: str | None = "/samples?" + "&".join(f"{k}={v}" for k, v in params.items())
        pages = 0
        while path:
            html = _get(viewer, path).text
            ids = _ids(html)
            assert len(ids) <= 25
            seen += ids
            path = _next(html)
            pages += 1
        assert seen == expected, params
        assert pages == -(-len(expected) // 25)


def test_filters_by_final_turns_function_and_model(viewer: Viewer, run_dir: Path) -> None:
    samples = _samples(run_dir)
    some = next(iter(samples.values()))["sample"]
    cases = {
        "final=correct": lambda s: s["turns"][-1]["verdict"]["status"] == "correct",
        "turns=1": lambda s: len(s["turns"]) == 1,
        "v2=correct": lambda s: (
            len(s["turns"]) > 1 and s["turns"][1]["verdict"]["status"] == "correct"
        ),
        f"func={some['func_id']}": lambda s: s["func_id"] == some["func_id"],
        f"model={some['model']}&kind=input": lambda s: (
            s["model"] == some["model"] and s["kind"] == "input"
        ),
    }
    for query, pred in cases.items():
        truth = sorted(i for i, p in samples.items() if pred(p["sample"]))
        assert _ids(_get(viewer, f"/samples?limit=200&{query}").text) == truth, query


def test_text_search_matches_prompt_and_responses(viewer: Viewer, run_dir: Path) -> None:
    samples = _samples(run_dir)
    for needle in ("Fibonacci", "<script>window.__codeio", "re-trace carefully"):
        truth = sorted(
            i
            for i, p in samples.items()
            if any(
                needle.casefold() in t.casefold()
                for t in [p["sample"]["prompt"]] + [t["response"] for t in p["sample"]["turns"]]
            )
        )
        assert truth, needle
        html = _get(viewer, "/samples", params={"q": needle, "limit": "200"}).text
        assert _ids(html) == truth, needle
        assert "Text search read" in html


def test_sample_page_shows_turns_feedback_answer_diff_and_escapes(
    viewer: Viewer, run_dir: Path
) -> None:
    samples = _samples(run_dir)
    sid, payload = next(
        (i, p)
        for i, p in sorted(samples.items())
        if "<script>" in p["sample"]["turns"][0]["response"]
    )
    html = _get(viewer, f"/sample/{sid}").text
    assert "<script>window.__codeio_xss" not in html
    assert "&lt;script&gt;window.__codeio_xss" in html
    assert "<img src=x" not in html
    for turn in payload["sample"]["turns"]:
        assert f'<span class="st st-{turn["verdict"]["status"]}' in html
    wrong = next(
        p
        for _, p in sorted(samples.items())
        if len(p["sample"]["turns"]) == 2
        and p["sample"]["turns"][0]["verdict"]["status"] == "wrong"
    )
    html = _get(viewer, f"/sample/{wrong['id']}").text
    assert 'id="turn-1"' in html and 'id="turn-2"' in html
    assert "[Mismatch]" in html
    assert "diff against turn 1" in html and 'class="d-add"' in html
    assert '<span class="k">def</span>' in html  # highlighted code
    func = _get(viewer, f"/function/{wrong['sample']['func_id']}").text
    assert wrong["id"] in func and "I/O pairs" in func


def test_step_checks_render_when_a_verdict_has_them(tmp_path: Path, run_dir: Path) -> None:
    """Issue 16's optional ``verdict.process`` object: shown generically, escaped."""
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
    db = sqlite3.connect(copy / "state.sqlite")
    sid, payload = db.execute(
        "SELECT id, payload FROM records WHERE stage = 'revise' ORDER BY id LIMIT 1"
    ).fetchone()
    data = json.loads(payload)
    data["sample"]["turns"][0]["verdict"]["process"] = {
        "supported": 3,
        "contradicted": 1,
        "unverifiable": 0,
        "first_contradiction": {"step": 2, "claim": "x = <b>5</b>", "actual": "4"},
        "claims": [{"text": "a < b", "status": "supported"}],
    }
    db.execute(
        "UPDATE records SET payload = ? WHERE stage = 'revise' AND id = ?", (json.dumps(data), sid)
    )
    db.commit()
    db.close()
    v = start_viewer(copy, "--refresh", "0")
    try:
        html = _get(v, f"/sample/{sid}").text
    finally:
        stop_viewer(v)
    assert "step checks" in html and "first contradiction" in html
    assert "contradicted: 1" in html
    assert "x = &lt;b&gt;5&lt;/b&gt;" in html and "<b>5</b>" not in html


@pytest.mark.parametrize(
    "fmt, build", [("messages", messages_row), ("sharegpt", sharegpt_row), ("codeio", codeio_row)]
)
def test_download_is_the_filtered_set_in_export_format(
    viewer: Viewer, run_dir: Path, fmt: str, build: Any
) -> None:
    samples = _samples(run_dir)
    truth = sorted(
        i
        for i, p in samples.items()
        if p["sample"]["kind"] == "output"
        and p["sample"]["turns"][0]["verdict"]["status"] == "wrong"
    )
    resp = _get(viewer, "/download", params={"format": fmt, "kind": "output", "v1": "wrong"})
    assert resp.status_code == 200
    assert "attachment" in resp.headers["content-disposition"]
    rows = [json.loads(line) for line in resp.text.splitlines()]
    assert [r["id"] for r in rows] == truth
    for row in rows:
        expected = build(Sample.model_validate(samples[row["id"]]["sample"]))
        assert row == json.loads(json.dumps(expected))


def test_bad_parameters_are_400_and_unknown_pages_404(viewer: Viewer) -> None:
    for path in (
        "/samples?kind=sideways",
        "/samples?v1=maybe",
        "/samples?final=x",
        "/samples?turns=abc",
        "/samples?limit=7",
        "/samples?sort=payload",
        "/samples?order=up",
        "/samples?after=%%%",
        "/samples?after=bm90LWpzb24",
        "/download?format=parquet",
        "/failures?stage=unify",
        "/samples?q=" + "x" * 500,
    ):
        resp = _get(viewer, path)
        assert resp.status_code == 400, path
        assert "<script" not in resp.text
    for path in (
        "/nope",
        "/sample/t0000000000000000",
        "/function/fnope",
        "/record/rnope",
        "/static/../state.sqlite",
        "/static/secret.txt",
        "/failures?stage=unify&reason=nope",
        "/sample/a/b",
    ):
        assert _get(viewer, path).status_code == 404, path
    assert httpx.post(viewer.url + "/samples", timeout=10).status_code == 405


def test_rejects_foreign_host_headers(viewer: Viewer) -> None:
    # A page under another DNS name that resolves to 127.0.0.1 must not read the run.
    assert _get(viewer, "/", headers={"Host": "evil.example:8765"}).status_code == 421
    assert _get(viewer, "/", headers={"Host": "localhost:1234"}).status_code == 200


def test_store_stays_byte_identical(
    viewer: Viewer, run_dir: Path, store_digest_before: str
) -> None:
    mtime = (run_dir / "state.sqlite").stat().st_mtime_ns
    for path in (
        "/",
        "/samples?q=x",
        "/samples?kind=input&v1=wrong",
        "/download?format=codeio",
        "/api/summary",
    ):
        assert _get(viewer, path).status_code == 200
    assert file_digest(run_dir / "state.sqlite") == store_digest_before
    assert (run_dir / "state.sqlite").stat().st_mtime_ns == mtime
    assert (run_dir / "view_index.sqlite").is_file()


def test_counts_refresh_while_a_run_writes(tmp_path: Path, run_dir: Path) -> None:
    """A writer (the real store code, WAL) adds samples while the viewer serves: counts follow."""
    from codeio.pipeline.run.attempt import Attempt
    from codeio.store import Outcome, RunStore

    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
    store = RunStore.open_run(copy)  # held open for writing the whole time, as a live run does
    try:
        v = start_viewer(copy, "--refresh", "0.3")
        try:
            before = _get(v, "/api/summary").json()
            stage = {s["stage"]: s for s in before["stages"]}["revise"]
            _, payload = store.query(
                "SELECT id, payload FROM records WHERE stage = 'revise' LIMIT 1"
            )[0]
            base = Attempt.model_validate_json(payload)
            new = [
                base.model_copy(
                    update={
                        "id": f"tnew{n:012d}",
                        "sample": base.sample.model_copy(update={"task_id": f"tnew{n:012d}"}),
                    }
                )
                for n in range(3)
            ]
            store.commit_outcomes("revise", [Outcome(input_id=a.id, outputs=[a]) for a in new])
            deadline = time.monotonic() + 20
            after = before
            while time.monotonic() < deadline and after["samples"] == before["samples"]:
                time.sleep(0.2)
                after = _get(v, "/api/summary").json()
            assert after["samples"] == before["samples"] + 3
            revise = {s["stage"]: s for s in after["stages"]}["revise"]
            assert revise["entered"] == stage["entered"] + 3 and revise["out"] == stage["out"] + 3
            assert "tnew000000000001" in _get(v, "/samples?limit=200").text
        finally:
            stop_viewer(v)
    finally:
        store.close()


def test_not_a_run_directory_is_one_line_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "codeio", "view", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "no state.sqlite" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_damaged_payload_is_counted_not_fatal(tmp_path: Path, run_dir: Path) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
    db = sqlite3.connect(copy / "state.sqlite")
    ids = [r[0] for r in db.execute("SELECT id FROM records WHERE stage = 'revise' ORDER BY id")]
    db.execute(
        "UPDATE records SET payload = ? WHERE stage = 'revise' AND id = ?", ("{not json", ids[3])
    )
    db.commit()
    db.close()
    v = start_viewer(copy, "--refresh", "0")
    try:
        funnel = _get(v, "/").text
        assert 'id="unreadable"' in funnel and ids[3] in funnel
        listed = _ids(_get(v, "/samples?limit=200").text)
        assert listed == [i for i in ids if i != ids[3]]
        bad = _get(v, f"/sample/{ids[3]}")
        assert bad.status_code == 500 and "not valid JSON" in bad.text
        assert _get(v, f"/sample/{ids[4]}").status_code == 200
    finally:
        out = stop_viewer(v)
    assert "Traceback" not in out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_the_viewer_stops_with_a_word_and_exit_0(
    run_dir: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
    v = start_viewer(copy, "--refresh", "0")
    v.proc.send_signal(sig)
    assert v.proc.wait(timeout=20) == 0
    assert v.proc.stdout is not None
    out = v.proc.stdout.read()
    v.proc.stdout.close()
    assert "codeio view: stopped" in out and "Traceback" not in out
