"""The client's circuit breaker against a real loopback server: stop early, count on the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer, ServerState

from codeio.errors import LLMEndpointDown, LLMError
from codeio.llm import LLMRequest, RetryPolicy, SamplingParams, make_client
from codeio.llm.breaker import ENDPOINT_DOWN, BreakerPolicy, CircuitBreaker
from codeio.records import Message


def _requests(n: int) -> list[LLMRequest]:
    params = SamplingParams(temperature=0.0, max_tokens=16)
    return [
        LLMRequest(messages=[Message(role="user", content=f"q{i}")], params=params, stage="t")
        for i in range(n)
    ]


def _client(srv: FakeOpenAIServer, tmp: Path, breaker: BreakerPolicy | None, **kw):  # type: ignore[no-untyped-def]
    return make_client(
        "openai:m",
        base_url=srv.base_url,
        api_key_env="CODEIO_BREAKER_TEST_KEY",
        cache_path=tmp / "c.sqlite",
        concurrency=1,
        timeout_s=5,
        retry=RetryPolicy(max_retries=kw.pop("max_retries", 1), base_s=0.01, max_s=0.02),
        breaker=breaker,
        transport="httpx",
        **kw,
    )


def test_wrong_key_trips_after_n_and_sends_nothing_more(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CODEIO_BREAKER_TEST_KEY", "wrong")
    with FakeOpenAIServer(ServerState(expected_key="right")) as srv:
        with _client(srv, tmp_path, BreakerPolicy(auth_failures=3)) as client:
            results = client.complete_many(_requests(20))
            usage = client.usage()
        assert srv.state.count() == 3  # concurrency 1: exactly the three that tripped it
    reasons = [r.reason for r in results if isinstance(r, LLMError)]
    assert reasons == ["auth"] * 3 + [ENDPOINT_DOWN] * 17
    down = results[-1]
    assert isinstance(down, LLMEndpointDown)
    assert "rejected the API key from CODEIO_BREAKER_TEST_KEY (401)" in str(down)
    assert usage["failures"] == {"auth": 3, ENDPOINT_DOWN: 17}


def test_without_breaker_every_request_is_sent(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CODEIO_BREAKER_TEST_KEY", "wrong")
    with FakeOpenAIServer(ServerState(expected_key="right")) as srv:
        with _client(srv, tmp_path, None) as client:
            client.complete_many(_requests(8))
        assert srv.state.count() == 8


def test_outage_rate_trips_and_a_blip_does_not(tmp_path: Path) -> None:
    policy = BreakerPolicy(window=10, min_calls=5, failure_rate=0.5)
    # Down for good from the 5th arrival: each failing request costs 2 arrivals (1 retry).
    state = ServerState(fault_fn=lambda i, _b: "drop" if i >= 4 else None)
    with FakeOpenAIServer(state) as srv:
        with _client(srv, tmp_path / "a", policy) as client:
            results = client.complete_many(_requests(40))
        sent = srv.state.count()
    reasons = [r.reason if isinstance(r, LLMError) else "ok" for r in results]
    assert reasons[:4] == ["ok"] * 4
    assert reasons[4:8] == ["connection"] * 4  # 4 of the last 8 >= 0.5: tripped
    assert set(reasons[8:]) == {ENDPOINT_DOWN}
    assert sent == 4 + 4 * 2
    # A blip: 2 failures among 20 answers never trips.
    state = ServerState(fault_fn=lambda i, _b: "500" if i in (3, 4, 9, 10) else None)
    with FakeOpenAIServer(state) as srv:
        with _client(srv, tmp_path / "b", policy) as client:
            results = client.complete_many(_requests(20))
    assert not client.breaker.tripped
    assert sum(isinstance(r, LLMError) for r in results) == 2


def test_an_answer_resets_the_auth_run() -> None:
    b = CircuitBreaker(BreakerPolicy(auth_failures=2))
    for reason in ("auth", None, "auth", None, "auth"):
        b.record(reason)
    assert not b.tripped
    b.record("auth", status=403)
    assert b.tripped and "(403)" in str(b.message)
    off = CircuitBreaker(BreakerPolicy(enabled=False))
    for _ in range(50):
        off.record("auth")
    assert not off.tripped


def test_fewer_rejections_than_the_threshold_trip_at_the_batch_end_if_nothing_was_answered() -> (
    None
):
    b = CircuitBreaker(BreakerPolicy(auth_failures=3), api_key_env="KEY")
    b.record("auth", status=401)
    b.record("auth", status=401)
    assert not b.tripped  # below the threshold while the batch runs
    assert b.trip_if_key_rejected()
    assert "rejected the API key from KEY (401) 2 times in a row" in str(b.message)
    # An endpoint that answered once has a working key: a later rejection is not a wrong key.
    answered = CircuitBreaker(BreakerPolicy(auth_failures=3))
    for reason in (None, "auth", "auth"):
        answered.record(reason)
    assert not answered.trip_if_key_rejected()
    # Other failures mixed in: not only rejections, so not the key's fault alone.
    mixed = CircuitBreaker(BreakerPolicy(auth_failures=3))
    for reason in ("auth", "timeout"):
        mixed.record(reason)
    assert not mixed.trip_if_key_rejected()
    assert not CircuitBreaker(BreakerPolicy()).trip_if_key_rejected()  # nothing recorded
    off = CircuitBreaker(BreakerPolicy(enabled=False))
    off.record("auth")
    assert not off.trip_if_key_rejected()


def test_a_small_batch_with_a_wrong_key_raises_endpoint_down(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from codeio.pipeline.run.llmcalls import call_many

    monkeypatch.setenv("CODEIO_BREAKER_TEST_KEY", "wrong")
    with FakeOpenAIServer(ServerState(expected_key="right")) as srv:
        client = _client(srv, tmp_path, BreakerPolicy(auth_failures=3))
        try:
            with pytest.raises(LLMEndpointDown, match="rejected the API key"):
                call_many(client, _requests(2))
        finally:
            client.close()
