"""``codeio view``: a local, read-only web app over one run's store.

The standard library's threading HTTP server answers; Jinja2 renders with autoescaping on, so
code, prompts and responses (untrusted text) are always escaped; every answer carries a strict
Content-Security-Policy (scripts and styles only from this server, no inline code). A loopback
server answers only loopback Host names (no DNS rebinding), and requests that another site's page
makes are refused (Fetch Metadata). Everything the browser loads is served from this package: no
CDN, no network. docs/VIEW.md, "Security", lists what the viewer guarantees.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from codeio.view import queries as q
from codeio.view.index import Refresher, ViewIndex
from codeio.view.render import (
    DIFF_MAX_CHARS,
    DIFF_MAX_LINES,
    compact_json,
    diff_lines,
    highlight_python,
    pretty_json,
)

__all__ = ["CSP", "JSONL_FORMATS", "ViewApp", "make_server"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    # A page elsewhere cannot embed a response (img, script, no-cors fetch) nor keep a handle on
    # a viewer window it opened.
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_STATIC = {"view.css": "text/css; charset=utf-8", "view.js": "text/javascript; charset=utf-8"}
_MAX_ID = 4096
"""Longest path segment: ids of ingest failures are file paths (PATH_MAX on Linux)."""
VALUE_ITEMS = 200
"""Entries of one JSON list or object shown on a page (the rest is counted, not rendered)."""
REQUEST_TIMEOUT_S = 60.0
"""Seconds a connection may stay silent (not sending its request, not reading the answer)."""


def _jsonl_formats() -> dict[str, Callable[[Any], dict[str, Any]]]:
    """The export formats whose rows are JSONL lines, built by the export code itself."""
    from codeio.pipeline.export import codeio_row, messages_row, sharegpt_row

    return {"messages": messages_row, "sharegpt": sharegpt_row, "codeio": codeio_row}


JSONL_FORMATS = ("messages", "sharegpt", "codeio")


class HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class ViewApp:
    """Routes a GET to a page; owns the index, the templates and the refresh thread."""

    def __init__(self, run_dir: Path, *, index_path: Path | None = None, refresh_s: float = 3.0):
        import jinja2

        self.run_dir = Path(run_dir)
        self.index = ViewIndex(self.run_dir, index_path)
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("codeio.view", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["pathseg"] = _path_segment
        self.env.globals.update(
            url=_url,
            pretty_json=pretty_json,
            compact_json=compact_json,
            run_name=self.run_dir.name,
            diff_max_lines=DIFF_MAX_LINES,
            diff_max_chars=DIFF_MAX_CHARS,
            value_items=VALUE_ITEMS,
        )
        self.refresh_s = refresh_s
        self.refresher: Refresher | None = None
        self._routes: dict[str, Callable[[sqlite3.Connection, list[str], dict[str, str]], Response]]
        self._routes = {
            "": self.funnel_page,
            "failures": self.failures_page,
            "samples": self.samples_page,
            "sample": self.sample_page,
            "function": self.function_page,
            "record": self.record_page,
            "download": self.download,
            "api": self.api,
        }

    def start(self, progress: Callable[[int, int], None] | None = None) -> None:
        self.index.refresh(force=True, progress=progress)
        # Compile every template and load the lexer now, not during someone's first page.
        for name in self.env.list_templates(extensions=["html"]):
            self.env.get_template(name)
        highlight_python("def f():\n    return 1\n")
        if self.refresh_s > 0:
            self.refresher = Refresher(self.index, self.refresh_s)
            self.refresher.start()

    def close(self) -> None:
        if self.refresher is not None:
            self.refresher.stop()
        self.index.close()

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, target: str) -> Response:
        try:
            split = urlsplit(target)
            try:
                raw = parse_qs(split.query, keep_blank_values=True, errors="strict")
            except UnicodeDecodeError as exc:
                raise HTTPError(400, "query parameters must be UTF-8") from exc
            params = {k: v[-1] for k, v in raw.items()}
            parts = [unquote(p, errors="strict") for p in split.path.split("/")[1:]]
            if parts and parts[-1] == "" and len(parts) > 1:
                parts = parts[:-1]
            head = parts[0] if parts else ""
            if head == "static":
                return self.static(parts[1:])
            route = self._routes.get(head)
            if route is None:
                raise HTTPError(404, f"no page at {split.path}")
            if any(len(p) > _MAX_ID for p in parts):
                raise HTTPError(400, "path component too long")
            db = self.index.connection()
            try:
                return route(db, parts[1:], params)
            finally:
                self.index.release(db)
        except q.BadParam as exc:
            return self._error(400, str(exc))
        except q.BadRecord as exc:
            return self._error(500, str(exc))
        except HTTPError as exc:
            return self._error(exc.status, exc.message)
        except UnicodeDecodeError:
            return self._error(400, "the path must be UTF-8")
        except Exception as exc:  # a bug or an unreadable store: one line, never a traceback
            line = f"codeio view: {target[:200]}: {type(exc).__name__}: {exc}"
            print(_printable(line), file=sys.stderr)
            return self._error(500, f"the viewer failed on this page ({type(exc).__name__})")

    def _error(self, status: int, message: str) -> Response:
        body = self.env.get_template("error.html").render(status=status, message=message, nav="")
        return Response(status, body.encode())

    def _page(self, db: sqlite3.Connection, template: str, **context: Any) -> Response:
        summary = self.index.summary(db)
        html = self.env.get_template(template).render(summary=summary, **context)
        return Response(200, html.encode())

    @staticmethod
    def _no_extra(parts: list[str], n: int) -> None:
        if len(parts) != n:
            raise HTTPError(404, "no such page")

    # -- pages ---------------------------------------------------------------------------------
    def funnel_page(
        self, db: sqlite3.Connection, parts: list[str], params: dict[str, str]
    ) -> Response:
        self._no_extra(parts, 0)
        return self._page(db, "funnel.html", nav="funnel")

    def failures_page(
        self, db: sqlite3.Connection, parts: list[str], params: dict[str, str]
    ) -> Response:
        self._no_extra(parts, 0)
        stage, reason = params.get("stage", ""), params.get("reason", "")
        if not stage or not reason:
            raise q.BadParam("failures needs stage and reason")
        rows, nxt = q.failure_page(db, stage, reason, params.get("after") or None)
        total = db.execute(
            "SELECT COUNT(*) FROM fails WHERE stage = ? AND reason = ?", (stage, reason)
        ).fetchone()[0]
        if not total:
            raise HTTPError(404, f"no failures of stage {stage!r} with reason {reason!r}")
        return self._page(
            db,
            "failures.html",
            nav="funnel",
            stage=stage,
            reason=reason,
            rows=rows,
            total=total,
            next_after=nxt,
        )

    def samples_page(
        self, db: sqlite3.Connection, parts: list[str], params: dict[str, str]
    ) -> Response:
        self._no_extra(parts, 0)
        f = q.SampleFilter.from_params(params)
        stage = self._stage(db)
        page = q.sample_page(db, stage, f, params.get("after") or None)
        # A page that ran out of time would only be followed by a count that does too.
        count, capped = (None, False) if page.too_slow else q.count_samples(db, f)
        return self._page(
            db,
            "samples.html",
            nav="samples",
            f=f,
            page=page,
            count=count,
            capped=capped,
            first=not params.get("after"),
            kinds=q.KINDS,
            statuses=q.STATUSES,
            sorts=q.SORTS,
            page_sizes=q.PAGE_SIZES,
            formats=JSONL_FORMATS,
        )

    def _stage(self, db: sqlite3.Connection) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = 'stage'").fetchone()
        return json.loads(row[0]) if row else None

    def sample_page(
        self, db: sqlite3.Connection, parts: list[str], params: dict[str, str]
    ) -> Response:
        self._no_extra(parts, 1)
        payload = q.sample_payload(db, self._stage(db), parts[0])
        if payload is None:
            raise HTTPError(404, f"no sample {parts[0]!r}")
        task = payload.get("task") or {}
        sample = payload.get("sample") or {}
        turns = []
        previous: str | None = None
        for n, turn in enumerate(sample.get("turns") or [], 1):
            turn = turn if isinstance(turn, dict) else {}
            response = str(turn.get("response") or "")
            verdict = turn.get("verdict") if isinstance(turn.get("verdict"), dict) else None
            diff = diff_lines(previous, response) if previous is not None else None
            extra = {}
            if verdict:
                extra = {
                    k: v
                    for k, v in verdict.items()
                    if k not in ("status", "feedback", "detail", "actual_output", "process")
                }
            turns.append(
                {
                    "n": n,
                    "response": response,
                    "has_answer": bool(turn.get("has_answer")),
                    "answer": turn.get("answer"),
                    "verdict": verdict,
                    "process": verdict.get("process") if verdict else None,
                    "extra": extra,
                    "diff": diff,
                    "diff_skipped": previous is not None and diff is None,
                }
            )
            previous = response
        return self._page(
            db,
            "sample.html",
            nav="samples",
            ident=parts[0],
            task=task,
            sample=sample,
            turns=turns,
            code=highlight_python(str(task.get("refcode") or "")),
            is_trace=str(sample.get("model") or "").startswith("trace"),
        )

    def function_page(
        self, db: sqlite3.Connection, parts: list[str], params: dict[str, str]
    ) -> Response:
        self._no_extra(parts, 1)
        func_id = parts[0]
        record = q.function_record(db, func_id)
        # The (func_id, id) index finds the function's few samples; they are shown in pair order.
        rows = [
            q._row(r)
            for r in db.execute(
                f"SELECT {q._ROW_COLS} FROM samples WHERE func_id = ?"
                " ORDER BY io_index, id LIMIT 201",
                (func_id,),
            )
        ]
        if record is None and not rows:
            raise HTTPError(404, f"no function {func_id!r}")
        return self._page(
            db,
            "function.html",
            nav="samples",
            func_id=func_id,
            record=record,
            code=highlight_python(str((record or {}).get("refcode") or "")),
            inputgen=highlight_python(str((record or {}).get("inputgen") or "")),
            rows=rows[:200],
            more=len(rows) > 200,
        )

    def record_page(
        self, db: sqlite3.Connection, parts: list[str], params: dict[str, str]
    ) -> Response:
        self._no_extra(parts, 1)
        found = q.find_record(db, parts[0])
        from codeio.view.index import STAGES

        # One primary-key lookup per stage (the store has no index on record_id alone).
        failures = [
            row
            for stage in STAGES
            for row in db.execute(
                "SELECT stage, reason, detail FROM st.failures WHERE stage = ? AND record_id = ?",
                (stage, parts[0]),
            )
        ]
        if not found and not failures:
            raise HTTPError(404, f"no record {parts[0]!r}")
        return self._page(
            db, "record.html", nav="funnel", ident=parts[0], found=found, failures=failures
        )

    def api(self, db: sqlite3.Connection, parts: list[str], params: dict[str, str]) -> Response:
        if parts != ["summary"]:
            raise HTTPError(404, "no such API")
        body = json.dumps(self.index.summary(db)).encode()
        return Response(200, body, "application/json")

    def download(
        self, db: sqlite3.Connection, parts: list[str], params: dict[str, str]
    ) -> Response:
        self._no_extra(parts, 0)
        fmt = params.get("format", "messages")
        builders = _jsonl_formats()
        if fmt not in builders:
            raise q.BadParam(f"format must be one of {', '.join(builders)}")
        f = q.SampleFilter.from_params(params)
        stage = self._stage(db)
        return Response(
            200,
            self._rows(stage, f, builders[fmt]),
            "application/x-ndjson; charset=utf-8",
            {"Content-Disposition": f'attachment; filename="codeio-{fmt}.jsonl"'},
        )

    def _rows(
        self,
        stage: str | None,
        f: q.SampleFilter,
        build: Callable[[Any], dict[str, Any]],
    ) -> Iterator[bytes]:
        from pydantic import ValidationError

        from codeio.pipeline.export.files import json_line
        from codeio.records import Sample

        # The rows stream after the handler returns, so they need their own connection; taken
        # here, when the first row is asked for, a body never sent (HEAD) never holds one.
        db = self.index.connection()
        skipped = 0
        try:
            chunk: list[str] = []
            for payload in q.iter_filtered_payloads(db, stage, f):
                try:
                    if payload is None:
                        raise ValueError("undecodable payload")
                    sample = Sample.model_validate(payload.get("sample"))
                except (ValidationError, ValueError, AttributeError):
                    skipped += 1
                    continue
                chunk.append(json_line(build(sample)))
                if len(chunk) >= 200:
                    yield "".join(chunk).encode()
                    chunk = []
            if chunk:
                yield "".join(chunk).encode()
        finally:
            self.index.release(db)
            if skipped:
                print(
                    f"codeio view: {skipped} sample(s) not valid records, left out of the download",
                    file=sys.stderr,
                )

    def static(self, parts: list[str]) -> Response:
        if len(parts) != 1 or parts[0] not in _STATIC:
            raise HTTPError(404, "no such file")
        data = resources.files("codeio.view").joinpath("static", parts[0]).read_bytes()
        return Response(200, data, _STATIC[parts[0]], {"Cache-Control": "max-age=300"})


# Written as \xNN, as the stdlib's request log does: a request target or a record must not
# reach the user's terminal as escape codes, and the error stays one line.
_CONTROL = str.maketrans(
    {c: f"\\x{c:02x}" for c in itertools.chain(range(0x20), range(0x7F, 0xA0))}
)


def _printable(text: str) -> str:
    """Text from a request or a record made safe for the user's terminal (no escape codes)."""
    return text.translate(_CONTROL)


def _path_segment(value: Any) -> str:
    """An id as one URL path segment. Jinja's urlencode keeps '/', and failure ids of ingest are
    file paths: '/record//data/x.py' would be several segments (and a 404)."""
    return quote(str(value), safe="")


def _url(path: str, params: dict[str, str] | None = None) -> str:
    return path + ("?" + urlencode(params) if params else "")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "codeio-view"
    protocol_version = "HTTP/1.0"

    def setup(self) -> None:
        # The stdlib waits forever by default: a client that never finishes its request, or never
        # reads the answer, would hold its thread and socket for good (slowloris).
        self.timeout = self.server.request_timeout_s
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def _method_not_allowed(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = _method_not_allowed  # noqa: N815

    # Every header block, the stdlib's own error answers (400, 414, 431, 501) included, gets the
    # security headers that a response has not set itself.
    def send_response_only(self, code: int, message: str | None = None) -> None:
        self._header_names: set[str] = set()
        super().send_response_only(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        getattr(self, "_header_names", set()).add(keyword.lower())
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        sent = getattr(self, "_header_names", set())
        for key, value in _SECURITY_HEADERS.items():
            if key.lower() not in sent:
                self.send_header(key, value)
        super().end_headers()

    def _serve(self, *, head: bool) -> None:
        start = time.perf_counter()
        if not self._host_allowed():
            # DNS rebinding: a web page must not reach a loopback-bound viewer under its name.
            resp = Response(
                421,
                b"this viewer answers only to its loopback address\n",
                "text/plain; charset=utf-8",
            )
        elif self._foreign_subrequest():
            resp = Response(
                403, b"this viewer answers only its own pages\n", "text/plain; charset=utf-8"
            )
        else:
            resp = self.server.app.handle(self.path)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        headers = dict(resp.headers)  # end_headers adds the security headers not set here
        headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        for key, value in headers.items():
            self.send_header(key, value)
        if isinstance(resp.body, bytes):
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if not head:
                self.wfile.write(resp.body)
            return
        self.end_headers()
        body = iter(resp.body)
        try:
            if not head:
                for chunk in body:
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def _host_allowed(self) -> bool:
        if not self.server.loopback:
            return True
        name = _host_name(self.headers.get("Host") or "")
        # An IP literal cannot be rebound (a rebinding page's Host is its own DNS name), so any
        # loopback literal is safe; of names, only localhost and the one given to --host.
        return name in self.server.host_names or _is_loopback_ip(name)

    def _foreign_subrequest(self) -> bool:
        """A request another site's page made (Fetch Metadata): refused before any work.

        CORP already keeps the response from that page, but only after the server did the work:
        an <img> per full download or per search is a denial of service, and the timing of a
        search a side channel. A link followed from elsewhere (a top-level navigation) and
        clients that send no Fetch Metadata (curl, scripts) are served.
        """
        site = self.headers.get("Sec-Fetch-Site")
        if site is None or site in ("same-origin", "none"):
            return False
        navigate = self.headers.get("Sec-Fetch-Mode") == "navigate"
        return not (navigate and self.headers.get("Sec-Fetch-Dest", "document") == "document")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        if self.server.verbose:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: ViewApp
    loopback: bool
    host_names: frozenset[str]
    request_timeout_s: float | None
    verbose: bool


class _Server6(_Server):
    address_family = socket.AF_INET6


def _host_name(host: str) -> str:
    """The name or address in a ``Host`` header, without the port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback_ip(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def make_server(
    app: ViewApp,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    verbose: bool = False,
    request_timeout_s: float | None = REQUEST_TIMEOUT_S,
) -> _Server:
    """A bound server (``port=0`` picks a free one); call ``serve_forever`` on it.

    ``host`` is resolved once and the socket bound to that address, and whether the server is
    loopback-only is read from the bound socket, not from how ``host`` was spelled: ``127.1``, a
    host name that resolves to 127.0.0.1, ``::1`` are loopback; ``0.0.0.0``, ``::`` and ``""``
    are not. A connection whose client sends or reads nothing for ``request_timeout_s`` is
    closed.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address as written in a URL
    # AI_PASSIVE: an empty host means every interface, as the stdlib server would bind it.
    family, _, _, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    server = (_Server6 if family == socket.AF_INET6 else _Server)(address, _Handler)
    server.app = app
    server.loopback = _is_loopback_ip(str(server.server_address[0]))
    server.host_names = frozenset({"localhost", host.strip().lower()} - {""})
    server.request_timeout_s = request_timeout_s
    server.verbose = verbose
    return server
