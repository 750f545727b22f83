"""Fault cases found by an audit of the LLM layer, against the real client and a loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer, ServerState, answer_text

from codeio.llm import Completion, LLMRequest, RetryPolicy, SamplingParams, make_client, read_usage
from codeio.records import Message


def _req(prompt: str) -> LLMRequest:
    params = SamplingParams(temperature=0.0, max_tokens=32)
    return LLMRequest(messages=[Message(role="user", content=prompt)], params=params, stage="g")


def _client(base_url: str, cache: Path | None, transport: str = "httpx"):  # type: ignore[no-untyped-def]
    return make_client(
        "openai:fake-model",
        base_url=base_url,
        cache_path=cache,
        concurrency=4,
        timeout_s=2.0,
        retry=RetryPolicy(max_retries=1, base_s=0.01, max_s=0.02),
        transport=transport,
        api_key_env="",
    )


@pytest.mark.parametrize("transport", ["sdk", "httpx", "fast"])
def test_lone_surrogate_in_an_answer_does_not_lose_the_batch(
    tmp_path: Path, transport: str
) -> None:
    # json.dumps escapes the lone surrogate as "\ud83d": a 200 some servers really send when a
    # model's byte-level tokens split an emoji. SQLite cannot store it as UTF-8.
    def reply(prompt: str, body: dict) -> str:  # type: ignore[type-arg]
        return "half \ud83d emoji" if prompt == "odd" else answer_text(prompt)

    cache = tmp_path / "llm_cache.sqlite"
    prompts = ["odd", "a", "b"]
    with FakeOpenAIServer(ServerState(reply=reply)) as srv:
        with _client(srv.base_url, cache, transport) as client:
            results = client.complete_many([_req(p) for p in prompts])
        assert all(isinstance(r, Completion) for r in results), results
        odd = results[0]
        assert isinstance(odd, Completion) and odd.text.startswith("half ")
        odd.text.encode("utf-8")  # storable, exportable
        assert read_usage(cache)["total"]["answered"] == 3
        before = srv.state.count()
        with _client(srv.base_url, cache, transport) as client:
            again = client.complete_many([_req(p) for p in prompts])
        assert srv.state.count() == before  # the rerun paid nothing
        assert [r.text for r in again] == [r.text for r in results]  # type: ignore[union-attr]


def test_a_corrupt_cache_file_is_one_clear_error_not_an_internal_one(tmp_path: Path) -> None:
    from codeio.errors import CodeioError
    from codeio.exit_codes import CANNOT_RUN

    cache = tmp_path / "llm_cache.sqlite"
    cache.write_bytes(b"not a database " * 1000)
    with pytest.raises(CodeioError) as info:
        _client("http://127.0.0.1:9/v1", cache)
    assert info.value.exit_code == CANNOT_RUN
    assert str(cache) in str(info.value) and "move it aside" in str(info.value)


def test_a_404_on_every_request_stops_the_run_instead_of_failing_records_for_good() -> None:
    from codeio.errors import LLMEndpointDown
    from codeio.llm.breaker import BreakerPolicy
    from codeio.pipeline.run.llmcalls import call_many

    state = ServerState(fault_fn=lambda i, body: "404")
    with FakeOpenAIServer(state) as srv:
        with make_client(
            "openai:no-such-model",
            base_url=srv.base_url,
            concurrency=1,
            timeout_s=2.0,
            transport="httpx",
            api_key_env="",
            breaker=BreakerPolicy(auth_failures=3),
        ) as client:
            with pytest.raises(LLMEndpointDown) as info:
                call_many(client, [_req(f"p{i}") for i in range(10)])
        assert "404" in str(info.value) and "/v1" in str(info.value)
        assert srv.state.count() == 3  # stopped asking after the threshold
