"""A run recovers from a wrong API key and from an outage, against a real loopback server.

The server (tests/llm/fake_openai_server.py) answers like a model: the unify answer of each raw
file (the trace teacher's, derived from the file alone) and fixed predictions for generate and
revise, some right and some wrong, so every LLM stage sends requests. Faults are injected per
request on the server side, which also counts every request it saw. The property checked each
time: after the faulty run and a rerun of the same command, the export equals, byte for byte,
that of a run that never saw a fault.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
from fake_openai_server import FakeOpenAIServer, ServerState  # noqa: E402

from codeio.cli.main import app  # noqa: E402
from codeio.exit_codes import LLM_ENDPOINT_DOWN, OK, RETRY_PENDING  # noqa: E402
from codeio.llm.trace_teacher.unify import unify_answer  # noqa: E402
from codeio.store.funnel import funnel  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "src" / "codeio" / "demo_data" / "raw"
FILES = ["digit_root.py", "gcd_recursive.py", "run_length.py", "vowel_stats.py", "matrix_trace.py"]
# Each run starts sandboxes and sends ~100 requests: several seconds apiece on a loaded machine.
pytestmark = pytest.mark.slow

KEY_ENV = "CODEIO_TEST_LLM_KEY"
RIGHT_KEY = "sk-right"


def stage_of(body: dict[str, Any]) -> str:
    msgs = body["messages"]
    if "## Main Function" in msgs[0]["content"]:
        return "unify"
    return "revise" if any(m["role"] == "assistant" for m in msgs) else "generate"


def _prediction(body: dict[str, Any], turn: int) -> str:
    prompt = body["messages"][0]["content"]
    kind = "output" if '{"output":' in prompt else "input"
    digest = hashlib.sha256(f"{turn}:{prompt}".encode()).digest()[0]
    value = {"output": digest % 3} if kind == "output" else {"input": {"n": digest % 3}}
    import json

    return f"Let me think.\n```json\n{json.dumps(value)}\n```"


def responder(raws: dict[str, str]) -> Callable[[dict[str, Any]], str]:
    def answer(body: dict[str, Any]) -> str:
        stage = stage_of(body)
        if stage == "unify":
            first = body["messages"][0]["content"]
            content = next(c for c in raws.values() if c.strip("\n") in first)
            return unify_answer(content)
        turns = 1 + sum(m["role"] == "assistant" for m in body["messages"])
        return _prediction(body, turns)

    return answer


def outage(stage: str, start: int, length: int, fault: str = "drop") -> Any:
    """The endpoint is down for ``length`` requests of ``stage`` from its ``start``-th one."""
    seen: Counter[str] = Counter()

    def fn(_index: int, body: dict[str, Any]) -> str | None:
        s = stage_of(body)
        k = seen[s]
        seen[s] += 1
        return fault if s == stage and start <= k < start + length else None

    return fn


@pytest.fixture(scope="module")
def raws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("raw")
    out = {}
    for name in FILES:
        shutil.copy(DEMO / name, folder / name)
        out[name] = (DEMO / name).read_text()
    return folder, out


@pytest.fixture(scope="module")
def server(raws: tuple[Path, dict[str, str]]) -> Iterator[FakeOpenAIServer]:
    state = ServerState(expected_key=RIGHT_KEY, responder=responder(raws[1]))
    with FakeOpenAIServer(state) as srv:
        yield srv


@pytest.fixture
def srv(server: FakeOpenAIServer) -> FakeOpenAIServer:
    server.state.fault_fn = None
    server.state.expected_key = RIGHT_KEY
    server.state.reset_log()
    return server


def write_config(path: Path, inputs: Path, base_url: str, **breaker: Any) -> Path:
    lines = [
        "seed: 3",
        "input:",
        f"  path: {inputs}",
        "  kind: raw",
        "llm:",
        "  spec: openai:fake-model",
        f"  base_url: {base_url}",
        f"  api_key_env: {KEY_ENV}",
        "  concurrency: 2",
        "  max_retries: 0",
        "  timeout_s: 10",
        "  breaker: {" + ", ".join(f"{k}: {v}" for k, v in breaker.items()) + "}",
        "exec: {workers: 2}",
        "sample: {pairs: 3}",
        "prompt: {pairs_per_function: 2}",
        "revise: {rounds: 1}",
        "runner: {batch_size: 8}",
        "export: {include: all, report: false}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(config: Path, out: Path, key: str = RIGHT_KEY, *extra: str) -> int:
    res = CliRunner().invoke(
        app, ["run", str(config), "--out", str(out), *extra], env={KEY_ENV: key}
    )
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code


def export_bytes(run_dir: Path) -> dict[str, bytes]:
    root = run_dir / "export"
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def clean(
    tmp_path_factory: pytest.TempPathFactory,
    server: FakeOpenAIServer,
    raws: tuple[Path, dict[str, str]],
) -> tuple[dict[str, bytes], Counter[str]]:
    """The export of a run that never saw a fault, and its requests per stage."""
    server.state.reset_log()
    tmp = tmp_path_factory.mktemp("clean")
    cfg = write_config(tmp / "run.yaml", raws[0], server.base_url)
    assert run(cfg, tmp / "run") == OK
    per_stage = Counter(stage_of(a.body) for a in server.state.log)
    assert set(per_stage) == {"unify", "generate", "revise"}, per_stage
    data = funnel(tmp / "run")
    assert not data["retry_pending"]
    return export_bytes(tmp / "run"), per_stage


def test_wrong_key_stops_at_once_and_the_fixed_rerun_equals_a_clean_run(
    tmp_path: Path, srv: FakeOpenAIServer, raws: tuple[Path, dict[str, str]], clean: Any
) -> None:
    cfg = write_config(tmp_path / "run.yaml", raws[0], srv.base_url, auth_failures=3)
    out = tmp_path / "run"
    assert run(cfg, out, "sk-wrong") == LLM_ENDPOINT_DOWN
    # Stopped after 3 rejected requests, plus at most what was already in flight.
    assert srv.state.count() <= 3 + 2
    assert all(a.fault == "401" for a in srv.state.log)
    data = funnel(out)
    unify = next((s for s in data["stages"] if s["stage"] == "unify"), None)
    assert unify is None or unify["entered"] == 0  # nothing committed as a failure
    srv.state.reset_log()
    assert run(cfg, out, RIGHT_KEY) == OK
    assert export_bytes(out) == clean[0]
    # The rerun paid exactly what a clean run pays: nothing was cached from the bad run.
    assert Counter(stage_of(a.body) for a in srv.state.log) == clean[1]


def test_wrong_key_message_names_the_variable(
    tmp_path: Path, srv: FakeOpenAIServer, raws: tuple[Path, dict[str, str]]
) -> None:
    from codeio.config import load_config
    from codeio.errors import LLMEndpointDown
    from codeio.pipeline.pipeline import Pipeline

    cfg = load_config(write_config(tmp_path / "run.yaml", raws[0], srv.base_url), [])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, "sk-wrong")
        with pytest.raises(LLMEndpointDown) as info:
            Pipeline(cfg, tmp_path / "run").run()
    msg = str(info.value)
    assert f"rejected the API key from {KEY_ENV} (401)" in msg
    assert "rerun the same command to resume" in msg
    assert info.value.exit_code == LLM_ENDPOINT_DOWN


@pytest.mark.parametrize("stage", ["unify", "generate", "revise"])
def test_short_outage_mid_stage_is_asked_again_on_rerun(
    tmp_path: Path,
    srv: FakeOpenAIServer,
    raws: tuple[Path, dict[str, str]],
    clean: Any,
    stage: str,
) -> None:
    """Down for 2 requests in the middle of a stage, then back: the run finishes, exits
    RETRY_PENDING with those 2 pending; a --no-retry-failed rerun sends nothing; the same
    command asks exactly them again and the export equals the clean run's."""
    cfg = write_config(tmp_path / "run.yaml", raws[0], srv.base_url)
    out = tmp_path / "run"
    srv.state.fault_fn = outage(stage, start=1, length=2)
    assert run(cfg, out) == RETRY_PENDING
    data = funnel(out)
    assert data["retry_pending"] == {stage: 2}
    row = next(s for s in data["stages"] if s["stage"] == stage)
    assert row["llm_failures"] == {"llm_connection": 2}
    assert srv.state.count(lambda a: a.fault == "drop") == 2

    srv.state.fault_fn = None
    srv.state.reset_log()
    assert run(cfg, out, RIGHT_KEY, "--no-retry-failed") == RETRY_PENDING
    assert srv.state.count() == 0

    assert run(cfg, out) == OK
    assert not funnel(out)["retry_pending"]
    asked = Counter(stage_of(a.body) for a in srv.state.log)
    # Only the two failed requests reached the server again (plus, for an earlier stage,
    # what its two records lead to downstream for the first time).
    assert asked[stage] == 2
    assert export_bytes(out) == clean[0]


def test_outage_trips_the_breaker_and_the_rerun_after_recovery_equals_a_clean_run(
    tmp_path: Path, srv: FakeOpenAIServer, raws: tuple[Path, dict[str, str]], clean: Any
) -> None:
    cfg = write_config(
        tmp_path / "run.yaml", raws[0], srv.base_url, window=6, min_calls=4, failure_rate=0.5
    )
    out = tmp_path / "run"
    srv.state.fault_fn = outage("generate", start=0, length=1000, fault="503")
    assert run(cfg, out) == LLM_ENDPOINT_DOWN
    generate_sent = srv.state.count(lambda a: stage_of(a.body) == "generate")
    assert generate_sent <= 4 + 2  # the breaker stopped the stage, not the end of its input
    data = funnel(out)
    gen = next((s for s in data["stages"] if s["stage"] == "generate"), None)
    assert gen is None or gen["failed"] == 0  # the tripping batch was not committed
    srv.state.fault_fn = None  # the endpoint is back
    assert run(cfg, out) == OK
    assert export_bytes(out) == clean[0]


def test_status_shows_pending_retry(
    tmp_path: Path, srv: FakeOpenAIServer, raws: tuple[Path, dict[str, str]]
) -> None:
    cfg = write_config(tmp_path / "run.yaml", raws[0], srv.base_url)
    out = tmp_path / "run"
    srv.state.fault_fn = outage("generate", start=0, length=3, fault="malformed")
    assert run(cfg, out, RIGHT_KEY, "--to", "generate") == RETRY_PENDING
    res = CliRunner().invoke(app, ["status", str(out)])
    assert res.exit_code == 0
    assert "3 LLM failure(s) pending retry (generate 3)" in res.output
    srv.state.fault_fn = None
    assert run(cfg, out, RIGHT_KEY, "--from", "generate", "--to", "generate") == OK


def test_empty_answers_fail_their_records_inspectably_and_the_rerun_equals_a_clean_run(
    tmp_path: Path, srv: FakeOpenAIServer, raws: tuple[Path, dict[str, str]], clean: Any
) -> None:
    """An endpoint answering "" (a 200, billed) twice in generate: those records fail as
    llm_malformed with a detail that says so, nothing empty is cached, and the same command
    asks exactly them again."""
    cfg = write_config(tmp_path / "run.yaml", raws[0], srv.base_url)
    out = tmp_path / "run"
    srv.state.fault_fn = outage("generate", start=1, length=2, fault="empty_text")
    assert run(cfg, out) == RETRY_PENDING
    data = funnel(out)
    row = next(s for s in data["stages"] if s["stage"] == "generate")
    assert row["llm_failures"] == {"llm_malformed": 2}
    assert all("empty answer: no text" in d for d in row["failure_examples"]["llm_malformed"])

    srv.state.fault_fn = None
    srv.state.reset_log()
    assert run(cfg, out) == OK
    assert Counter(stage_of(a.body) for a in srv.state.log)["generate"] == 2
    assert export_bytes(out) == clean[0]
