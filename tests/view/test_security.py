"""The viewer under attack: hostile record contents and requests a foreign web page can make.

Every test drives a real server on loopback with real sockets (``http.client`` or a raw socket):
a ``codeio view`` subprocess over a real run directory, or ``make_server`` in this process where
a test needs a setting the CLI does not expose (a short socket timeout).
"""

from __future__ import annotations

import base64
import html
import http.client
import json
import random
import re
import shutil
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from markupsafe import escape

from .conftest import Viewer, start_viewer, stop_viewer


def _request(
    host: str,
    port: int,
    path: str = "/",
    headers: dict[str, str] | None = None,
    method: str = "GET",
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One request to ``host:port``; returns status, headers (lower-case names) and body."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def _port(viewer: Viewer) -> int:
    return int(viewer.url.rsplit(":", 1)[1])


def _can_bind(family: socket.AddressFamily, address: str) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
    except OSError:
        return False
    return True


# -- binding and DNS rebinding ------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["127.1", "localhost", socket.gethostname()])
def test_any_spelling_of_a_loopback_bind_keeps_the_host_check(run_dir: Path, spelling: str) -> None:
    """``--host 127.1`` or a host name that resolves to 127.0.0.1 binds loopback: a rebinding
    page (``Host: evil.example``) must still get 421, and no 'exposed' warning is printed."""
    try:
        bound = socket.getaddrinfo(spelling, 0, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except OSError:
        pytest.skip(f"{spelling!r} does not resolve here")
    if not bound.startswith("127."):
        pytest.skip(f"{spelling!r} resolves to {bound}, not loopback, on this machine")
    v = start_viewer(run_dir, "--host", spelling, "--refresh", "0")
    try:
        port = _port(v)
        status, _, _ = _request(bound, port, "/api/summary", {"Host": f"evil.example:{port}"})
        assert status == 421
        assert _request(bound, port, "/api/summary", {"Host": f"localhost:{port}"})[0] == 200
    finally:
        out = stop_viewer(v)
    assert "warning" not in out


def test_a_loopback_address_other_than_127_0_0_1_answers_to_its_own_name(run_dir: Path) -> None:
    """Bound to 127.0.0.2, the browser's Host header is ``127.0.0.2:PORT``: that is loopback,
    not a rebinding name, and must be served."""
    if not _can_bind(socket.AF_INET, "127.0.0.2"):
        pytest.skip("127.0.0.2 cannot be bound here")
    v = start_viewer(run_dir, "--host", "127.0.0.2", "--refresh", "0")
    try:
        port = _port(v)
        assert _request("127.0.0.2", port, "/")[0] == 200
        assert _request("127.0.0.2", port, "/", {"Host": "evil.example"})[0] == 421
    finally:
        stop_viewer(v)


def test_ipv6_loopback_binds_and_checks_the_host(run_dir: Path) -> None:
    if not _can_bind(socket.AF_INET6, "::1"):
        pytest.skip("no IPv6 loopback here")
    v = start_viewer(run_dir, "--host", "::1", "--refresh", "0")
    try:
        assert v.url.startswith("http://[::1]:")
        port = _port(v)
        status, _, body = _request("::1", port, "/api/summary")
        assert status == 200 and b'"stages"' in body
        assert _request("::1", port, "/", {"Host": f"evil.example:{port}"})[0] == 421
    finally:
        out = stop_viewer(v)
    assert "warning" not in out


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::"])
def test_a_wildcard_bind_warns(run_dir: Path, wildcard: str) -> None:
    family = socket.AF_INET6 if ":" in wildcard else socket.AF_INET
    if not _can_bind(family, wildcard):
        pytest.skip(f"{wildcard} cannot be bound here")
    v = start_viewer(run_dir, "--host", wildcard, "--refresh", "0")
    try:
        local = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        assert _request(local, _port(v), "/")[0] == 200
    finally:
        out = stop_viewer(v)
    assert f"warning: bound to {wildcard}" in out


# -- headers on every response ------------------------------------------------------------------
def _raw(port: int, data: bytes, timeout: float = 30) -> bytes:
    """Send bytes as they are (a request no HTTP client library would write); read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _csp(port: int) -> str:
    return _request("127.0.0.1", port, "/")[1]["content-security-policy"]


def test_every_response_carries_the_security_headers(viewer: Viewer) -> None:
    """The stdlib's own answers (501 for OPTIONS, 414 for a long request line, 431 for a header
    flood) and the 405 carry the same CSP and nosniff as the pages."""
    port = _port(viewer)
    answers = {
        "405": _raw(port, b"POST /samples HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"),
        "501": _raw(port, b"OPTIONS / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"),
        "414": _raw(port, b"GET /" + b"a" * 70000 + b" HTTP/1.0\r\n\r\n"),
        "431": _raw(
            port,
            b"GET / HTTP/1.0\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n",
        ),
        "421": _raw(port, b"GET / HTTP/1.0\r\nHost: evil.example\r\n\r\n"),
    }
    csp = dict((d.split(" ", 1) + [""])[:2] for d in (x.strip() for x in _csp(port).split(";")))
    # No inline script or style, no eval, nothing from elsewhere, no plugins, no framing.
    assert csp["default-src"] == "'none'" and "object-src" not in csp
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["base-uri"] == "'none'" and csp["frame-ancestors"] == "'none'"
    for code, raw in answers.items():
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
        assert head.startswith(f"http/1.0 {code}"), (code, head[:80])
        assert "content-security-policy: default-src 'none'" in head, code
        assert "x-content-type-options: nosniff" in head, code
        assert "x-frame-options: deny" in head, code


# -- requests a foreign web page makes ----------------------------------------------------------
def _fetch_meta(site: str, mode: str, dest: str) -> dict[str, str]:
    """The Fetch Metadata headers a browser adds to a request."""
    return {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}


@pytest.mark.parametrize(
    "path, site, mode, dest",
    [
        # <img src=.../download>: streams the whole run on every load (CPU, disk) for nothing.
        ("/download?format=codeio", "cross-site", "no-cors", "image"),
        # <script src=.../api/summary>: reading JSON as script.
        ("/api/summary", "cross-site", "no-cors", "script"),
        # fetch(..., {mode: "no-cors"}) of a search page: timing and size side channels.
        ("/samples?q=secret", "cross-site", "no-cors", "empty"),
        # Another web app on localhost at another port is same-site, not the viewer.
        ("/api/summary", "same-site", "cors", "empty"),
        # An <iframe> (the page refuses framing, but would still be rendered first).
        ("/samples", "cross-site", "navigate", "iframe"),
    ],
)
def test_subresource_requests_from_foreign_pages_are_refused(
    viewer: Viewer, path: str, site: str, mode: str, dest: str
) -> None:
    status, headers, body = _request(
        "127.0.0.1", _port(viewer), path, _fetch_meta(site, mode, dest)
    )
    assert status == 403
    assert len(body) < 200 and b"{" not in body
    assert headers["cross-origin-resource-policy"] == "same-origin"


@pytest.mark.parametrize(
    "site, mode, dest",
    [
        ("same-origin", "cors", "empty"),  # the page's own fetch of /api/summary
        ("none", "navigate", "document"),  # a typed or bookmarked address
        ("cross-site", "navigate", "document"),  # a link to the viewer followed from elsewhere
    ],
)
def test_own_pages_and_followed_links_are_served(
    viewer: Viewer, site: str, mode: str, dest: str
) -> None:
    status, headers, body = _request(
        "127.0.0.1", _port(viewer), "/api/summary", _fetch_meta(site, mode, dest)
    )
    assert status == 200 and b'"stages"' in body
    assert headers["cross-origin-resource-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert "access-control-allow-origin" not in headers
    # Clients that send no Fetch Metadata (curl, scripts, old browsers) are served as before.
    assert _request("127.0.0.1", _port(viewer), "/api/summary")[0] == 200


# -- slow and idle clients ----------------------------------------------------------------------
def test_idle_connections_are_dropped_and_do_not_block_others(
    run_dir: Path, tmp_path: Path
) -> None:
    """Slowloris: connections that never finish a request are closed after the socket timeout
    instead of holding a thread (and a file descriptor) forever; meanwhile others are served."""
    import threading

    from codeio.view import ViewApp, make_server

    app = ViewApp(run_dir, index_path=tmp_path / "index.sqlite", refresh_s=0)
    app.start()
    server = make_server(app, "127.0.0.1", 0, request_timeout_s=1.0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    idle = []
    try:
        for n in range(20):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if n % 2:
                s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n")  # headers never finished
            idle.append(s)
        start = time.monotonic()
        assert _request("127.0.0.1", port, "/api/summary", timeout=5)[0] == 200
        assert time.monotonic() - start < 5
        for s in idle:
            try:
                while s.recv(65536):  # whatever the server says, then its close
                    pass
            except TimeoutError:
                pytest.fail("the server kept an idle connection open past its timeout")
        assert time.monotonic() - start < 10
    finally:
        for s in idle:
            s.close()
        server.shutdown()
        server.server_close()
        app.close()


# -- huge and hostile records -------------------------------------------------------------------
def _run_with_sample(
    tmp_path: Path, run_dir: Path, mutate: Callable[[dict[str, Any]], None]
) -> tuple[Path, str]:
    """A copy of the run whose first two-turn sample was rewritten by ``mutate``."""
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
    db = sqlite3.connect(copy / "state.sqlite")
    try:
        sid, payload = db.execute(
            "SELECT id, payload FROM records WHERE stage = 'revise'"
            " AND json_array_length(payload, '$.sample.turns') = 2 ORDER BY id LIMIT 1"
        ).fetchone()
        data = json.loads(payload)
        mutate(data)
        db.execute(
            "UPDATE records SET payload = ? WHERE stage = 'revise' AND id = ?",
            (json.dumps(data), sid),
        )
        db.commit()
    finally:
        db.close()
    return copy, sid


def _timed_get(viewer: Viewer, path: str, timeout: float = 30) -> tuple[int, bytes, float]:
    start = time.monotonic()
    status, _, body = _request("127.0.0.1", _port(viewer), path, timeout=timeout)
    return status, body, time.monotonic() - start


def test_turns_too_long_to_diff_are_not_diffed(tmp_path: Path, run_dir: Path) -> None:
    """Two 100,000-line responses whose 120 distinct lines each repeat just under difflib's junk
    threshold: the diff alone took 145 s of CPU per view (it grows with the square of the
    length), and each reload started another."""
    rng = random.Random(7)

    def long_turns(data: dict[str, Any]) -> None:
        for turn in data["sample"]["turns"]:
            turn["response"] = "\n".join(f"step {rng.randrange(120)}" for _ in range(100_000))

    copy, sid = _run_with_sample(tmp_path, run_dir, long_turns)
    v = start_viewer(copy, "--refresh", "0")
    try:
        status, body, elapsed = _timed_get(v, f"/sample/{sid}")
    finally:
        stop_viewer(v)
    assert status == 200 and elapsed < 15, elapsed
    assert b"too long to diff" in body and b'class="d-add"' not in body
    assert b"step 1" in body  # the responses themselves are shown


def test_a_huge_list_in_a_verdict_is_shown_in_part(tmp_path: Path, run_dir: Path) -> None:
    """A verdict's step checks with 100,000 claims (and a 100,000-key object): each item was a
    macro call, three times over on the page (7 s per view here, 22 s at 300,000)."""

    def many_claims(data: dict[str, Any]) -> None:
        data["sample"]["turns"][0]["verdict"]["process"] = {
            "claims": [{"text": f"x = {n}", "status": "supported"} for n in range(100_000)],
        }
        data["sample"]["turns"][0]["verdict"]["extra_field"] = {f"k{n}": n for n in range(100_000)}

    copy, sid = _run_with_sample(tmp_path, run_dir, many_claims)
    v = start_viewer(copy, "--refresh", "0")
    try:
        status, body, elapsed = _timed_get(v, f"/sample/{sid}")
    finally:
        stop_viewer(v)
    assert status == 200, body[-500:]
    assert body.count(b"<li>") < 2_000 and body.count(b"<dt>") < 2_000
    assert b"99,800 more" in body  # the claims list says how much it left out
    assert b"x = 199<" in body and b"x = 200<" not in body


def test_json_nested_deeper_than_python_parses_breaks_only_its_own_sample(
    tmp_path: Path, run_dir: Path
) -> None:
    """An answer nested 1,500 deep: SQLite's JSON functions (the index) accept it, Python's
    parser does not. That one sample's page says why; search and downloads skip it instead of
    failing (the search answered 500, the download stopped mid-stream with a 200 status)."""

    def deep_answer(data: dict[str, Any]) -> None:
        data["sample"]["turns"][0]["answer"] = "DEEP"
        data["sample"]["turns"][0]["has_answer"] = True

    copy, sid = _run_with_sample(tmp_path, run_dir, deep_answer)
    db = sqlite3.connect(copy / "state.sqlite")
    try:
        (payload,) = db.execute(
            "SELECT payload FROM records WHERE stage = 'revise' AND id = ?", (sid,)
        ).fetchone()
        db.execute(
            "UPDATE records SET payload = ? WHERE stage = 'revise' AND id = ?",
            (payload.replace('"DEEP"', "[" * 1500 + "]" * 1500), sid),
        )
        db.commit()
        others = {
            i: json.loads(p)
            for i, p in db.execute(
                "SELECT id, payload FROM records WHERE stage = 'revise' AND id != ?", (sid,)
            )
        }
    finally:
        db.close()
    needle = "main_solution"
    truth = sorted(
        i
        for i, p in others.items()
        if any(
            needle in t
            for t in [p["sample"]["prompt"], *(x["response"] for x in p["sample"]["turns"])]
        )
    )
    assert truth
    v = start_viewer(copy, "--refresh", "0")
    port = _port(v)
    try:
        status, _, body = _request("127.0.0.1", port, f"/samples?q={needle}&limit=200")
        assert status == 200, body[-300:]
        listed = re.findall(rb'class="sample-link" href="/sample/([^"]+)"', body)
        assert [x.decode() for x in listed] == truth
        status, _, body = _request("127.0.0.1", port, "/download?format=codeio")
        assert status == 200
        assert sorted(json.loads(line)["id"] for line in body.splitlines()) == sorted(others)
        status, _, body = _request("127.0.0.1", port, f"/sample/{sid}")
        assert status == 500 and b"nested too deeply" in body
        # The same nesting in a crafted page cursor is a bad parameter.
        cursor = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode()
        assert _request("127.0.0.1", port, f"/samples?after={cursor}")[0] == 400
    finally:
        out = stop_viewer(v)
    assert "Traceback" not in out


# -- ids that are file paths --------------------------------------------------------------------
def test_every_failure_links_to_its_record_even_when_the_id_is_a_hostile_path(
    viewer: Viewer, run_dir: Path
) -> None:
    """Ingest failures are keyed by file path: '/' in the id split the link into several path
    segments (404), and paths over 200 characters were refused (400). The name's markup stays
    text on both pages."""
    from .conftest import HOSTILE_FILE_NAME

    db = sqlite3.connect(f"file:{run_dir / 'state.sqlite'}?mode=ro", uri=True)
    try:
        failures = db.execute("SELECT stage, reason, record_id FROM failures").fetchall()
    finally:
        db.close()
    hostile = [f for f in failures if f[2].endswith(HOSTILE_FILE_NAME)]
    assert hostile and hostile[0][:2] == ("ingest", "binary")
    port = _port(viewer)
    opened = {}
    for stage, reason in sorted({f[:2] for f in failures}):
        query = urlencode({"stage": stage, "reason": reason})
        status, _, page = _request("127.0.0.1", port, f"/failures?{query}")
        assert status == 200 and b"<img" not in page
        for link in re.findall(rb'<a href="(/record/[^"]+)">', page):
            status, _, body = _request("127.0.0.1", port, html.unescape(link.decode()))
            assert status == 200, link
            opened[link] = body
    assert len(opened) == len({f[2] for f in failures})
    shown = str(escape(hostile[0][2])).encode()  # as Jinja escapes it
    pages = [body for body in opened.values() if shown in body]
    assert len(pages) == 1 and b"<img" not in pages[0] and b"failed in ingest" in pages[0]


# -- a run folder from someone else -------------------------------------------------------------
def test_a_planted_index_symlink_is_not_followed(tmp_path: Path, run_dir: Path) -> None:
    """A run folder received from elsewhere holds ``view_index.sqlite`` as a symlink: the viewer
    must not create or write a file at the place it points to (here a path that does not exist
    yet, and an existing SQLite file of the user's); it keeps its index in the cache instead."""
    from .conftest import file_digest

    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.sqlite"
    db = sqlite3.connect(precious)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('mine')")
    db.commit()
    db.close()
    before = file_digest(precious)
    for n, target in enumerate([outside / "planted.sqlite", precious]):
        copy = tmp_path / f"run{n}"
        copy.mkdir()
        shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
        (copy / "view_index.sqlite").symlink_to(target)
        cache = tmp_path / f"cache{n}"
        v = start_viewer(copy, "--refresh", "0", env={"CODEIO_CACHE_DIR": str(cache)})
        try:
            assert _request("127.0.0.1", _port(v), "/api/summary")[0] == 200
        finally:
            out = stop_viewer(v)
        assert not (outside / "planted.sqlite").exists()
        assert file_digest(precious) == before
        assert sorted(p.name for p in outside.iterdir()) == ["precious.sqlite"]
        assert list(cache.glob("view/*.sqlite")), out


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc")
def test_head_requests_for_downloads_leave_nothing_open(tmp_path: Path, run_dir: Path) -> None:
    """``HEAD /download`` (which a page may send without a CORS preflight) opened a database
    connection for a body it never sent, left for the garbage collector: hundreds at a time."""
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "state.sqlite", copy / "state.sqlite")
    v = start_viewer(copy, "--refresh", "0")
    fds = Path(f"/proc/{v.proc.pid}/fd")
    try:
        port = _port(v)
        assert _request("127.0.0.1", port, "/download?format=codeio")[0] == 200
        before = len(list(fds.iterdir()))
        for _ in range(300):
            assert _request("127.0.0.1", port, "/download?format=codeio", method="HEAD")[0] == 200
        after = len(list(fds.iterdir()))
    finally:
        stop_viewer(v)
    assert after - before < 10, (before, after)


def test_the_error_line_on_stderr_carries_no_terminal_control_codes(
    tmp_path: Path, run_dir: Path
) -> None:
    """An unexpected error prints the request target to the user's terminal: escape sequences
    in it (a raw client can send them; OSC 52 writes the clipboard in some terminals, others
    retitle the window or hide text) are printed escaped."""

    def odd_shape(data: dict[str, Any]) -> None:
        data["sample"] = ["not", "an", "object"]

    copy, sid = _run_with_sample(tmp_path, run_dir, odd_shape)
    v = start_viewer(copy, "--refresh", "0")
    try:
        answer = _raw(
            _port(v),
            f"GET /sample/{sid}?\x1b]52;c;cHduZWQ=\x07\x1b[2J HTTP/1.0\r\n".encode()
            + b"Host: 127.0.0.1\r\n\r\n",
        )
    finally:
        out = stop_viewer(v)
    assert answer.startswith(b"HTTP/1.0 500")
    line = next(x for x in out.splitlines() if f"/sample/{sid}" in x)
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]52;c;cHduZWQ=\\x07" in line


# -- paths ----------------------------------------------------------------------------------------
def test_no_path_reaches_a_file_but_the_two_static_ones(viewer: Viewer) -> None:
    """Only /static/view.css and /static/view.js are files, picked by exact name; ids are only
    ever looked up in the store. Encoded dots, absolute paths, NUL bytes and symlink-style
    names get 404 (or 400 for bytes that are not UTF-8), never a file's content."""
    port = _port(viewer)
    for path in (
        "/static/../state.sqlite",
        "/static/%2e%2e/state.sqlite",
        "/static/%2E%2E%2Fstate.sqlite",
        "/static/..%5cstate.sqlite",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static/view.js%00.txt",
        "/static/./view.js",
        "/static/../../../../etc/passwd",
        "/record/..%2F..%2F..%2Fetc%2Fpasswd",
        "/record/%2Fetc%2Fpasswd",
        "/sample/%00",
        "/function/%2e%2e",
        "/view_index.sqlite",
        "/state.sqlite",
    ):
        status, _, body = _request("127.0.0.1", port, path)
        assert status == 404, path
        assert b"root:" not in body and b"SQLite format" not in body, path
    assert _request("127.0.0.1", port, "/static/%ff")[0] == 400
    status, headers, body = _request("127.0.0.1", port, "/static/view.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
