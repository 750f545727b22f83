"""``codeio doctor``'s checks against real things: a loopback OpenAI-style server, the sandbox,
the spec parser; and the CLI's last word on a bug (exit 70, traceback in a file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codeio import exit_codes
from codeio.config import LLMSettings
from codeio.doctor import FAIL, OK, WARN, check_llm, check_python, check_sandbox
from codeio.errors import ConfigError, MissingExtraError


class _Models(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.headers.get("Authorization") != "Bearer sesame":
            self._send(401, {"error": "bad key"})
        elif self.path == "/v1/models":
            self._send(200, {"data": [{"id": "tiny-model"}, {"id": "other"}]})
        elif self.path == "/huge/v1/models":  # 1 GiB declared, written until the client hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            try:
                for _ in range(1 << 14):
                    self.wfile.write(b" " * (1 << 16))
            except OSError:
                pass
        else:
            self._send(404, {})

    def _send(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _settings(
    spec: str, base_url: str | None = None, key_env: str = "CODEIO_DOCTOR_KEY"
) -> LLMSettings:
    return LLMSettings(spec=spec, base_url=base_url, api_key_env=key_env)


def test_endpoint_up_names_the_model(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEIO_DOCTOR_KEY", "sesame")
    check = check_llm(_settings("openai:tiny-model", endpoint))
    assert check.verdict == OK and "tiny-model" in check.summary
    check = check_llm(_settings("openai:absent-model", endpoint))
    assert (
        check.verdict == WARN and "absent-model" in check.summary and "tiny-model" in check.summary
    )


def test_an_endpoint_answering_a_huge_model_list_fails_without_reading_it_all(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEIO_DOCTOR_KEY", "sesame")
    huge = endpoint.replace("/v1", "/huge/v1")
    settings = LLMSettings(
        spec="openai:tiny-model", base_url=huge, api_key_env="CODEIO_DOCTOR_KEY",
        max_response_bytes=1 << 20,
    )  # fmt: skip
    check = check_llm(settings)
    assert check.verdict == FAIL and "max_response_bytes=1048576" in check.summary


def test_endpoint_refusing_the_key_or_down_fails(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEIO_DOCTOR_KEY", "wrong")
    check = check_llm(_settings("openai:tiny-model", endpoint))
    assert check.verdict == FAIL and "401" in check.summary and "CODEIO_DOCTOR_KEY" in check.summary
    down = endpoint.rsplit(":", 1)[0] + ":9/v1"  # the discard port: nothing listens
    check = check_llm(_settings("openai:tiny-model", down))
    assert check.verdict == FAIL and "not reachable" in check.summary


def test_offline_and_bad_specs_never_touch_the_network() -> None:
    assert check_llm(_settings("trace")).verdict == OK
    bad = check_llm(_settings("nosuchbackend:model"))
    assert bad.verdict == FAIL and "unknown backend" in bad.summary and "openai" in bad.summary
    missing = check_llm(_settings("transformers:/nonexistent/model"))
    assert missing.verdict == FAIL


def test_spec_validation_errors_are_codeio_errors() -> None:
    from codeio.doctor import validate_llm_spec

    with pytest.raises(ConfigError):
        validate_llm_spec(_settings("openai:m", None, "CODEIO_DOCTOR_UNSET_KEY"))
    try:
        validate_llm_spec(_settings("vllm:/some/model"))
    except MissingExtraError as exc:
        assert "codeio[vllm]" in str(exc)


def test_python_and_sandbox_checks_on_this_machine() -> None:
    assert check_python().verdict == OK
    checks = {c.name: c for c in check_sandbox(["numpy", "codeio_no_such_library"])}
    assert checks["prelude"].verdict == OK
    imports = checks["sandbox imports"]
    assert imports.data["imports"] == {"numpy": None}
    assert imports.data["not_installed"] == ["codeio_no_such_library"]


def test_doctor_cli_with_an_endpoint(endpoint: str) -> None:
    env = {**os.environ, "CODEIO_DOCTOR_KEY": "sesame"}
    args = ["--llm", "openai:tiny-model", "--set", f"llm.base_url={endpoint}",
            "--set", "llm.api_key_env=CODEIO_DOCTOR_KEY", "--quick"]  # fmt: skip
    res = subprocess.run(
        [sys.executable, "-m", "codeio", "doctor", *args],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert any(ln.startswith("ok") and "tiny-model" in ln for ln in res.stdout.splitlines())


def test_internal_error_writes_the_traceback_to_a_file(tmp_path: Path) -> None:
    code = (
        "import sys, codeio.store.funnel\n"
        "def broken(run_dir):\n    raise ValueError('a bug for the test')\n"
        "sys.modules['codeio.store.funnel'].funnel = broken\n"
        "from codeio.cli.main import main\n"
        f"sys.argv = ['codeio', 'status', {str(tmp_path)!r}]\n"
        "main()\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("CODEIO_DEBUG", None)
    env.pop("CODEIO_CACHE_DIR", None)  # the suite's own cache folder would come first
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == exit_codes.INTERNAL_ERROR
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "ValueError: a bug for the test" in lines[0]
    crashes = list((tmp_path / "cache" / "codeio" / "crashes").iterdir())
    assert len(crashes) == 1 and str(crashes[0]) in lines[0]
    text = crashes[0].read_text()
    assert "Traceback" in text and "a bug for the test" in text
