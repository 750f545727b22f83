"""The viewer in a real headless Chromium (Debian's ``chromium`` driven by Playwright).

Skips with the reason when Chromium or the Playwright package is missing; ``.ci/run`` installs
both where it can.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Viewer

pytestmark = pytest.mark.slow  # a real browser per module, a demo run per session

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (dev extra)"
    )
    if not Path(CHROMIUM).is_file():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()


def test_wrong_turn1_output_prediction_feedback_revision_and_download(
    page: Any, viewer: Viewer, tmp_path: Path
) -> None:
    page.goto(viewer.url + "/samples")
    page.select_option("select[name=kind]", "output")
    page.select_option("select[name=v1]", "wrong")
    page.click("#apply")
    page.wait_for_url("**/samples?*")
    rows = page.locator("#samples-table tbody tr")
    n = rows.count()
    assert n >= 3
    for i in range(n):
        row = rows.nth(i)
        assert row.locator("td").nth(1).inner_text() == "output"
        assert row.locator(".st").first.inner_text() == "wrong"
    count = int(page.inner_text("#match-count"))
    assert count == n
    listed = [rows.nth(i).locator("a.sample-link").inner_text() for i in range(n)]

    page.locator("a.sample-link").first.click()
    page.wait_for_url("**/sample/*")
    turn1 = page.locator("#turn-1")
    assert turn1.locator(".verdict").inner_text() == "wrong"
    assert "[Mismatch]" in turn1.locator(".feedback").inner_text()
    turn2 = page.locator("#turn-2")
    assert turn2.locator(".verdict").inner_text() == "correct"
    assert "The feedback says" in turn2.locator(".response").inner_text()
    assert page.inner_text("#final-status") == "correct"
    page.go_back()

    with page.expect_download() as info:
        page.click("#download-messages")
    path = tmp_path / "rows.jsonl"
    info.value.save_as(path)
    rows_out = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["id"] for r in rows_out] == listed
    for r in rows_out:
        assert r["kind"] == "output" and r["num_turns"] == 2 and r["final_status"] == "correct"
        assert r["messages"][0]["role"] == "user" and r["messages"][1]["role"] == "assistant"
    assert page.dialogs == []


def test_script_in_a_response_renders_as_text(page: Any, viewer: Viewer) -> None:
    page.goto(viewer.url + "/samples?q=%3Cscript%3Ewindow.__codeio_xss")
    links = page.locator("a.sample-link")
    assert links.count() >= 1
    # The search page itself echoes the query: still text.
    assert page.input_value("input[name=q]") == "<script>window.__codeio_xss"
    links.first.click()
    page.wait_for_url("**/sample/*")
    assert "<script>window.__codeio_xss = 1; alert(1)</script>" in page.inner_text("#turn-1")
    assert "<script>window.__codeio_xss" in page.inner_text("pre.code")
    func = page.locator("a[href^='/function/']").first.get_attribute("href")
    page.goto(viewer.url + func)
    assert "<script>window.__codeio_xss" in page.inner_text("main")
    for url in (page.url, viewer.url + "/samples?q=%3Cimg%20src%3Dx"):
        page.goto(url)
        assert page.evaluate("window.__codeio_xss") is None
        assert page.locator("main script, main img").count() == 0
    assert page.dialogs == []


def test_funnel_reason_links_to_failing_records(page: Any, viewer: Viewer) -> None:
    page.goto(viewer.url + "/")
    reason = page.locator("a.reason").first
    name = reason.inner_text().rsplit(" ", 1)[0]
    reason.click()
    page.wait_for_url("**/failures?*")
    assert name in page.inner_text("h1")
    assert page.locator("table.failures tbody tr").count() >= 1
    assert page.inner_text("pre.detail").strip()


def test_report_legend_labels_do_not_overlap_on_screen(page: Any, run_dir: Path) -> None:
    """The static report's ``correctness per turn`` legend, measured by the browser."""
    page.goto((run_dir / "report.html").as_uri())
    charts = page.evaluate(
        """() => Array.from(document.querySelectorAll('svg.chart')).map(svg => ({
            title: svg.getAttribute('aria-label'),
            legend: Array.from(svg.querySelectorAll('g.legend')).map(g => {
                const r = g.getBBox(); return [r.x, r.y, r.width, r.height]; })}))"""
    )
    per_turn = [c for c in charts if c["title"] == "correctness per turn (%)"]
    assert per_turn and len(per_turn[0]["legend"]) == 2
    for chart in charts:
        boxes = chart["legend"]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                overlap_x = a[0] < b[0] + b[2] and b[0] < a[0] + a[2]
                overlap_y = a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
                assert not (overlap_x and overlap_y), chart["title"]


def test_open_funnel_counts_follow_a_live_run(page: Any, run_dir: Path, tmp_path: Path) -> None:
    """The page's own script polls the summary while stages are incomplete and the store moves."""
    from codeio.pipeline.run.attempt import Attempt
    from codeio.store import Outcome, RunStore

    from .conftest import start_viewer, stop_viewer

    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
    store = RunStore.open_run(copy)
    try:
        store.mark_complete("revise", False)  # as mid-run
        v = start_viewer(copy, "--refresh", "0.3")
        try:
            page.goto(v.url + "/")
            assert page.get_attribute("body", "data-running") == "1"
            before = int(page.inner_text("header [data-count=samples]"))
            entered = int(page.inner_text("[data-count='stage.revise.entered']"))
            _, payload = store.query(
                "SELECT id, payload FROM records WHERE stage = 'revise' LIMIT 1"
            )[0]
            base = Attempt.model_validate_json(payload)
            new = []
            for n in range(4):
                tid = f"tlive{n:011d}"
                sample = base.sample.model_copy(update={"task_id": tid})
                new.append(base.model_copy(update={"id": tid, "sample": sample}))
            store.commit_outcomes("revise", [Outcome(input_id=a.id, outputs=[a]) for a in new])
            # Polled from here: the page's CSP forbids the string eval wait_for_function uses.
            deadline = time.monotonic() + 20
            shown = before
            while time.monotonic() < deadline and shown != before + 4:
                page.wait_for_timeout(200)
                shown = int(page.inner_text("header [data-count=samples]"))
            assert shown == before + 4
            assert int(page.inner_text("[data-count='stage.revise.entered']")) == entered + 4
        finally:
            stop_viewer(v)
    finally:
        store.close()


ATTACK_PAGE = """<!DOCTYPE html><html><body>
<img src="{v}/download?format=codeio&attack=img">
<script src="{v}/api/summary?attack=script"></script>
<iframe src="{v}/samples?attack=iframe"></iframe>
<script>
fetch("{v}/samples?q=secret&attack=fetch", {{mode: "no-cors"}}).catch(() => {{}});
fetch("{v}/api/summary?attack=cors").then(r => r.text()).then(t => {{ window.__stolen = t; }})
  .catch(() => {{}});
</script>
</body></html>"""


def test_a_foreign_page_gets_nothing_from_the_viewer(page: Any, run_dir: Path) -> None:
    """A web page on another origin (here ``http://localhost:PORT``, cross-site to
    ``127.0.0.1``) embeds the viewer's download, summary and pages: the real browser's requests
    reach the server and each is refused with 403 before any work is done."""
    import re
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from .conftest import start_viewer, stop_viewer

    v = start_viewer(run_dir, "--refresh", "0", "--verbose")
    html = ATTACK_PAGE.format(v=v.url).encode()

    class Attack(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    attacker = ThreadingHTTPServer(("127.0.0.1", 0), Attack)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://localhost:{attacker.server_address[1]}/attack.html")
        page.wait_for_timeout(1500)  # let every embedded request finish
        assert page.evaluate("window.__stolen") is None
    finally:
        attacker.shutdown()
        attacker.server_close()
        log = stop_viewer(v)
    answered = dict(re.findall(r'"GET /\S*attack=(\w+) HTTP/1\.1" (\d{3})', log))
    assert set(answered) == {"img", "script", "iframe", "fetch", "cors"}, log[-2000:]
    assert set(answered.values()) == {"403"}, answered
    assert page.dialogs == []


def test_a_failure_named_by_a_hostile_file_path_opens_as_text(page: Any, viewer: Viewer) -> None:
    """The binary file's name is markup and its path has '/' in it: the failures page links to
    its record, the record page opens, and the name is shown, never run."""
    from .conftest import HOSTILE_FILE_NAME

    page.goto(viewer.url + "/failures?stage=ingest&reason=binary")
    link = page.locator("table.failures a").first
    assert link.inner_text().endswith(HOSTILE_FILE_NAME)
    link.click()
    page.wait_for_url("**/record/*")
    assert HOSTILE_FILE_NAME in page.inner_text("h1")
    assert "failed in ingest" in page.inner_text("main")
    assert page.evaluate("window.__codeio_xss") is None
    assert page.locator("main img").count() == 0
    assert page.dialogs == []


HOSTILE = [
    "</script><script>window.__codeio_xss = 3</script>",
    '<img src=x onerror="window.__codeio_xss = 4">',
    '" onmouseover="window.__codeio_xss = 5" autofocus onfocus="window.__codeio_xss = 6" x="',
    "' onfocus='window.__codeio_xss = 7' autofocus x='",
    "javascript:window.__codeio_xss = 8",
    '{{ 7 * 7 }}{% raw %}\u2028\u2029<svg onload="window.__codeio_xss = 9">',
    '</title></pre></textarea><iframe src="javascript:parent.__codeio_xss = 10"></iframe>',
]


def test_hostile_values_in_every_field_stay_text(page: Any, run_dir: Path, tmp_path: Path) -> None:
    """Markup, attribute breakers, a javascript: URL, template syntax and U+2028 in every field
    a page shows (model, verdict status, feedback, detail, extra and step-check keys, answers,
    prompt, the pair, problem, function meta, stage and reason names, failure ids and detail):
    no element or handler appears, no flag is set, no dialog opens, on any page."""
    import sqlite3
    from urllib.parse import quote

    from .conftest import start_viewer, stop_viewer

    p = " ".join(HOSTILE)
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
    db = sqlite3.connect(copy / "state.sqlite")
    sid, payload = db.execute(
        "SELECT id, payload FROM records WHERE stage = 'revise'"
        " AND json_array_length(payload, '$.sample.turns') = 2 ORDER BY id LIMIT 1"
    ).fetchone()
    data = json.loads(payload)
    sample = data["sample"]
    sample["model"] = p
    sample["prompt"] = p
    data["task"]["pair"]["input"] = {p: [p]}
    first = sample["turns"][0]
    first.update(answer={p: [p, {p: p}]}, has_answer=True, response=p)
    first["verdict"].update(
        status=HOSTILE[2],
        feedback=p,
        detail=p,
        **{p: {p: p}},
        process={p: [p], "first_contradiction": {p: p}, "claims": [{p: p}], "supported": p},
    )
    db.execute(
        "UPDATE records SET payload = ? WHERE stage = 'revise' AND id = ?", (json.dumps(data), sid)
    )
    func_id = sample["func_id"]
    for stage in ("sample", "unify"):
        row = db.execute(
            "SELECT payload FROM records WHERE stage = ? AND id = ?", (stage, func_id)
        ).fetchone()
        if row:
            fn = json.loads(row[0])
            fn.update(problem=p, io_description=p, raw_id=HOSTILE[0])
            fn.setdefault("meta", {})[p] = p
            db.execute(
                "UPDATE records SET payload = ? WHERE stage = ? AND id = ?",
                (json.dumps(fn), stage, func_id),
            )
    hostile_stage = HOSTILE[1]
    db.execute("INSERT INTO done VALUES (?, 'x', 0, 0)", (hostile_stage,))
    for stage, rid in (("unify", HOSTILE[0]), (hostile_stage, HOSTILE[3])):
        db.execute("INSERT INTO done VALUES (?, ?, 0, 0)", (stage, rid))
        db.execute("INSERT INTO failures VALUES (?, ?, ?, ?)", (stage, rid, p, p))
    db.commit()
    db.close()

    # A CSP violation means something tried to run or load: the page needs none to work.
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    v = start_viewer(copy, "--refresh", "0")
    try:
        paths = [
            "/",
            "/samples",
            "/samples?" + "&".join(f"{k}={quote(x)}" for k, x in (("model", p), ("q", "svg"))),
            f"/sample/{sid}",
            f"/function/{func_id}",
            f"/record/{quote(HOSTILE[0], safe='')}",
            f"/record/{quote(HOSTILE[3], safe='')}",
            f"/failures?stage=unify&reason={quote(p)}",
            f"/failures?stage={quote(hostile_stage)}&reason={quote(p)}",
            f"/sample/{quote(p, safe='')}",  # the 404 echoes the id
            f"/samples?kind={quote(p)}",  # the 400 names the parameter
        ]
        for path in paths:
            page.goto(v.url + path)
            shown = page.inner_text("body")
            # Each page shows some of the payloads, as text (the 400 names only the parameter).
            assert "window.__codeio_xss" in shown or "kind=" in path, path
            assert page.evaluate("window.__codeio_xss") is None, path
            injected = page.evaluate(
                """() => document.querySelectorAll(
                    'main script, main img, main svg, main iframe, [onerror], [onload],'
                    + ' [onmouseover], [onfocus], [autofocus], a[href^="javascript"]').length"""
            )
            assert injected == 0, path
        page.goto(v.url + f"/sample/{sid}")
        assert HOSTILE[2] in page.inner_text("#turn-1 .verdict")
        assert "{{ 7 * 7 }}" in page.text_content("#prompt")
        assert page.dialogs == [] and violations == []
    finally:
        stop_viewer(v)
