"""Cache keys, cache bypass, in-flight dedupe, concurrency cap and the sync/async front doors."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer, ServerState, usage_for

from codeio.errors import ConfigError
from codeio.llm import (
    Completion,
    LLMRequest,
    RetryPolicy,
    SamplingParams,
    cache_key,
    make_backend,
    make_client,
    parse_retry_after,
    parse_spec,
    read_usage,
)
from codeio.llm.factory import resolve_api_key
from codeio.records import Message


def _req(prompt: str, *, sample: int = 0, stage: str = "s", **params: object) -> LLMRequest:
    return LLMRequest(
        messages=[Message(role="user", content=prompt)],
        params=SamplingParams(**params),  # type: ignore[arg-type]
        stage=stage,
        sample=sample,
    )


def test_cache_key_covers_model_messages_params_and_sample_but_not_stage() -> None:
    a = make_backend("openai:m1", base_url="http://127.0.0.1:1/v1")
    b = make_backend("openai:m2", base_url="http://127.0.0.1:1/v1")
    base = cache_key(a, _req("p"))
    assert cache_key(a, _req("p", stage="other")) == base
    assert cache_key(b, _req("p")) != base
    assert cache_key(a, _req("q")) != base
    assert cache_key(a, _req("p", sample=1)) != base
    assert cache_key(a, _req("p", temperature=0.0)) != base
    assert cache_key(a, _req("p", seed=3)) != base


def test_pass_at_k_samples_are_distinct_requests_and_rerun_is_free(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    reqs = [_req("same prompt", sample=i) for i in range(4)]
    with FakeOpenAIServer() as srv:
        with make_client("openai:m", base_url=srv.base_url, cache_path=cache) as client:
            first = client.complete_many(reqs)
        assert len(srv.state.log) == 4
        with make_client("openai:m", base_url=srv.base_url, cache_path=cache) as client:
            again = client.complete_many(reqs)
            assert client.usage()["total"]["cache_hits"] == 4
        assert len(srv.state.log) == 4
    assert all(isinstance(r, Completion) and r.cached for r in again)
    assert [r.text for r in again] == [r.text for r in first]  # type: ignore[union-attr]


def test_use_cache_false_asks_again_but_still_writes(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    with FakeOpenAIServer() as srv:
        url = srv.base_url
        with make_client("openai:m", base_url=url, cache_path=cache) as client:
            client.complete_many([_req("a")])
        with make_client("openai:m", base_url=url, cache_path=cache, use_cache=False) as client:
            res = client.complete_many([_req("a"), _req("b"), _req("b")])
            assert client.usage()["total"]["cache_hits"] == 0
        assert sorted(srv.state.prompts()) == ["a", "a", "b", "b"]  # no reads, no dedupe
        assert not any(r.cached for r in res if isinstance(r, Completion))
        with make_client("openai:m", base_url=url, cache_path=cache) as client:
            client.complete_many([_req("b")])  # written by the no-read run
        assert len(srv.state.log) == 4


def test_identical_requests_in_flight_are_asked_once() -> None:
    with FakeOpenAIServer(ServerState(delay_s=0.05)) as srv:
        with make_client("openai:m", base_url=srv.base_url) as client:
            res = client.complete_many([_req("dup")] * 5 + [_req("other")])
            total = client.usage()["total"]
    assert srv.state.prompts().count("dup") == 1
    assert all(isinstance(r, Completion) for r in res)
    assert total["answered"] == 2 and total["cache_hits"] == 4
    assert total["prompt_tokens"] == usage_for("dup")[0] + usage_for("other")[0]


def test_concurrency_cap_is_respected() -> None:
    with FakeOpenAIServer(ServerState(delay_s=0.02)) as srv:
        with make_client("openai:m", base_url=srv.base_url, concurrency=3) as client:
            res = client.complete_many([_req(f"p{i}") for i in range(24)])
    assert all(isinstance(r, Completion) for r in res)
    assert 1 <= srv.state.max_inflight <= 3


def test_rate_limit_option_still_answers_everything() -> None:
    with FakeOpenAIServer() as srv:
        with make_client("openai:m", base_url=srv.base_url, rpm=60_000, tpm=10_000_000) as client:
            res = client.complete_many([_req(f"p{i}", max_tokens=16) for i in range(10)])
    assert all(isinstance(r, Completion) for r in res)


def test_sync_wrapper_works_inside_a_running_loop_and_async_api_from_any_loop() -> None:
    with FakeOpenAIServer() as srv:
        client = make_client("openai:m", base_url=srv.base_url)

        async def main() -> tuple[list[object], Completion]:
            inside = client.complete_many([_req("x")])  # sync call from within a loop
            one = await client.acomplete(_req("y"))
            return inside, one

        inside, one = asyncio.run(main())
        later = asyncio.run(client.acomplete_many([_req("z")]))  # a second, different loop
        client.close()
    assert isinstance(inside[0], Completion) and one.text == "echo: y"
    assert isinstance(later[0], Completion)


def test_retry_after_header_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert parse_retry_after({"retry-after": date}, now=1445412480.0) == pytest.approx(10.0)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    policy = RetryPolicy(max_retries=3, base_s=1.0, max_s=4.0, max_retry_after_s=5.0)
    import random

    rng = random.Random(0)
    assert policy.delay(0, 2.0, rng) == 2.0 and policy.delay(0, 99.0, rng) == 5.0
    assert 0.5 <= policy.delay(0, None, rng) <= 1.0 and policy.delay(9, None, rng) <= 4.0
    assert policy.should_retry("rate_limited", 2) and not policy.should_retry("rate_limited", 3)
    assert not policy.should_retry("length", 0) and not policy.should_retry("malformed", 0)


def test_spec_grammar_and_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_spec("openai:qwen2.5:7b") == ("openai", "qwen2.5:7b")
    assert parse_spec("trace") == ("trace", "")
    for bad in ("nope:x", "openai", "openai:"):
        with pytest.raises(ConfigError):
            parse_spec(bad)
    env = {"MY_KEY": "sk-1"}
    assert resolve_api_key("MY_KEY", "https://api.deepseek.com", env) == "sk-1"
    assert resolve_api_key(None, "http://localhost:8000/v1", {}) == "EMPTY"
    assert resolve_api_key(None, "http://10.0.0.5:8000/v1", {}) == "EMPTY"
    assert resolve_api_key("", "https://proxy.example.org/v1", {}) == "EMPTY"
    with pytest.raises(ConfigError, match="DEEPSEEK_API_KEY"):
        resolve_api_key("DEEPSEEK_API_KEY", "https://api.deepseek.com", {})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        resolve_api_key(None, None, {})


def test_usage_persists_and_reads_back_without_a_client(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    assert read_usage(tmp_path / "missing.sqlite")["total"]["requests"] == 0
    with FakeOpenAIServer() as srv:
        prices = {"m": {"input": 0.27, "output": 1.10}}
        with make_client("openai:m", base_url=srv.base_url, cache_path=cache, prices=prices) as c:
            c.complete_many([_req("a", stage="unify"), _req("b", stage="generate")])
            mine = c.usage()
            assert c.usage(persisted=True)["total"] == mine["total"]
    back = read_usage(cache)
    assert set(back["by_stage"]) == {"unify", "generate"}
    pt = usage_for("a")[0] + usage_for("b")[0]
    ct = usage_for("a")[1] + usage_for("b")[1]
    assert back["total"]["cost_usd"] == pytest.approx((pt * 0.27 + ct * 1.10) / 1e6)


def test_importing_codeio_llm_loads_no_backend() -> None:
    code = (
        "import sys, codeio.llm; "
        "bad = [m for m in ('openai', 'torch', 'transformers', 'vllm') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
