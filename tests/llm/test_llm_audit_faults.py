"""Fault cases found by an audit of the LLM layer, against the real client and a loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer, ServerState, answer_text, usage_for

from codeio.llm import (
    Completion,
    LengthError,
    LLMRequest,
    RetryPolicy,
    SamplingParams,
    make_client,
    read_usage,
)
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


# -- response body size cap -----------------------------------------------------------------

CAP = 1024 * 1024


def _capped_client(base_url: str, cache: Path | None, transport: str):  # type: ignore[no-untyped-def]
    return make_client(
        "openai:fake-model",
        base_url=base_url,
        cache_path=cache,
        concurrency=4,
        timeout_s=20.0,
        retry=RetryPolicy(max_retries=1, base_s=0.01, max_s=0.02),
        transport=transport,
        api_key_env="",
        max_response_bytes=CAP,
    )


@pytest.mark.parametrize("transport", ["sdk", "httpx", "fast"])
@pytest.mark.parametrize("fault", ["huge_length", "huge_chunked", "huge_eof", "huge_gzip"])
def test_an_oversized_body_fails_its_request_without_filling_memory(
    tmp_path: Path, transport: str, fault: str
) -> None:
    import tracemalloc

    from codeio.errors import LLMError

    huge = 64 * 1024 * 1024
    cache = tmp_path / "llm_cache.sqlite"
    state = ServerState(plan={"big": [fault]}, huge_bytes=huge)
    with FakeOpenAIServer(state) as srv:
        with _capped_client(srv.base_url, cache, transport) as client:
            client.complete(_req("warm-up"))  # imports, pools: not what is measured
            tracemalloc.start()
            try:
                results = client.complete_many([_req("big"), _req("after")])
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            usage = client.usage()
        big, after = results
        assert isinstance(big, LLMError), big
        # fast asks for identity and does not decode: a gzip body is refused as such.
        why = "gzip" if (transport, fault) == ("fast", "huge_gzip") else f"max_response_bytes={CAP}"
        assert big.reason == "malformed" and why in str(big), str(big)
        # Reading stopped near the cap: the 64 MiB body was never held.
        assert peak < 8 * CAP, peak
        assert state.sent_bytes < huge // 2
        assert isinstance(after, Completion) and after.text == answer_text("after")
        assert usage["failures"] == {"malformed": 1}
        assert state.arrivals("big") == 1  # not retried: the endpoint would send it again

        # Not cached: the rerun asks again, and gets the answer once the endpoint behaves.
        state.faults_enabled = False
        with _capped_client(srv.base_url, cache, transport) as client:
            again = client.complete(_req("big"))
        assert again.text == answer_text("big") and not again.cached


@pytest.mark.parametrize("transport", ["sdk", "httpx", "fast"])
def test_an_oversized_error_body_keeps_its_status_reason(transport: str) -> None:
    from codeio.errors import LLMError

    state = ServerState(plan={"big": ["huge_500", "huge_500"]}, huge_bytes=64 * 1024 * 1024)
    with FakeOpenAIServer(state) as srv:
        with _capped_client(srv.base_url, None, transport) as client:
            (res,) = client.complete_many([_req("big")])
    assert isinstance(res, LLMError) and res.reason == "server_error", res
    assert "HTTP 500" in str(res) and "max_response_bytes" in str(res)
    assert state.arrivals("big") == 2  # a 5xx is retried as usual


def test_a_body_under_the_cap_is_read_whole_compressed_or_not() -> None:
    # The cap counts decoded bytes; a body just under it, gzip-encoded, is an ordinary answer.
    from codeio.config import LLMSettings
    from codeio.llm.body_limit import DEFAULT_MAX_RESPONSE_BYTES

    assert LLMSettings().max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES
    text = "y" * (CAP - 4096)
    state = ServerState(reply=lambda prompt, body: text, gzip=True)
    with FakeOpenAIServer(state) as srv:
        for transport in ("sdk", "httpx", "fast"):
            with _capped_client(srv.base_url, None, transport) as client:
                assert client.complete(_req(f"long-{transport}")).text == text


def test_llm_max_response_bytes_reaches_the_backend(tmp_path: Path) -> None:
    from codeio.config import RunConfig
    from codeio.pipeline.run.resources import open_llm

    config = RunConfig.model_validate(
        {"llm": {"spec": "openai:m", "base_url": "http://127.0.0.1:9/v1",
                 "max_response_bytes": 4096}}
    )  # fmt: skip
    with open_llm(config, tmp_path) as client:
        assert client.backend.max_response_bytes == 4096


# -- answers without text --------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["sdk", "httpx", "fast"])
def test_an_empty_answer_is_malformed_counted_not_cached_and_asked_again(
    tmp_path: Path, transport: str
) -> None:
    from codeio.llm import EmptyAnswerError

    cache = tmp_path / "llm_cache.sqlite"
    state = ServerState(plan={"empty": ["empty_text"], "blank": ["blank_text"]})
    prompts = ["empty", "blank", "fine"]
    with FakeOpenAIServer(state) as srv:
        with _client(srv.base_url, cache, transport) as client:
            results = client.complete_many([_req(p) for p in prompts])
            usage = client.usage()
        empty, blank, fine = results
        for res, what in ((empty, "no text"), (blank, "only whitespace")):
            assert isinstance(res, EmptyAnswerError), res
            assert res.reason == "malformed" and f"empty answer: {what}" in str(res)
            assert res.completion.finish_reason == "stop"
        assert isinstance(fine, Completion)
        # Malformed is not in the default retry policy: one attempt each, like a bad body.
        assert state.arrivals("empty") == 1 and state.arrivals("blank") == 1
        assert usage["failures"] == {"malformed": 2}
        assert usage["total"]["failed"] == 2 and usage["total"]["answered"] == 1
        # The server billed the empty answers: their tokens count.
        assert usage["total"]["prompt_tokens"] == sum(usage_for(p)[0] for p in prompts)
        assert read_usage(cache)["failures"] == {"malformed": 2}

        # Nothing empty was cached: the rerun asks those two again, and only those.
        before = state.count()
        with _client(srv.base_url, cache, transport) as client:
            again = client.complete_many([_req(p) for p in prompts])
        assert sorted(state.prompts()[before:]) == ["blank", "empty"]
        assert [r.text for r in again] == [answer_text(p) for p in prompts]  # type: ignore[union-attr]


def test_an_empty_answer_is_retried_when_the_policy_retries_malformed() -> None:
    from codeio.llm import RETRYABLE_REASONS

    state = ServerState(plan={"empty": ["empty_text", "blank_text"]})
    policy = RetryPolicy(
        max_retries=2, base_s=0.01, max_s=0.02, retry_on=RETRYABLE_REASONS | {"malformed"}
    )
    with FakeOpenAIServer(state) as srv:
        with make_client(
            "openai:fake-model", base_url=srv.base_url, api_key_env="", retry=policy,
            transport="fast",
        ) as client:  # fmt: skip
            answer = client.complete(_req("empty"))
            total = client.usage()["total"]
    assert answer.text == answer_text("empty") and state.arrivals("empty") == 3
    assert total["answered"] == 1 and total["attempts"] == 3 and total["retries"] == 2
    # All three attempts were billed, the two empty ones included.
    assert total["prompt_tokens"] == 3 * usage_for("empty")[0]


@pytest.mark.parametrize("fault", ["empty_length", "null_length"])
def test_an_empty_answer_cut_at_max_tokens(fault: str) -> None:
    from codeio.errors import LLMError

    state = ServerState(plan={"cut": [fault, fault]})
    with FakeOpenAIServer(state) as srv:
        # Cut answers are errors (the default): it stays "length", which a larger
        # llm.max_tokens fixes on the rerun.
        with _client(srv.base_url, None) as client:
            (res,) = client.complete_many([_req("cut")])
        assert isinstance(res, LengthError) and res.reason == "length"
        # Cut answers accepted: an empty one is still no answer.
        with make_client(
            "openai:fake-model", base_url=srv.base_url, api_key_env="", length_is_error=False,
            retry=RetryPolicy(max_retries=0), transport="httpx",
        ) as client:  # fmt: skip
            (res,) = client.complete_many([_req("cut")])
        assert isinstance(res, LLMError) and res.reason == "malformed", res
        assert "finish_reason='length'" in str(res)


def test_an_empty_answer_cached_by_an_older_version_is_asked_again(tmp_path: Path) -> None:
    from codeio.llm import ResponseCache, cache_key
    from codeio.llm.usage import Counters

    cache = tmp_path / "llm_cache.sqlite"
    with FakeOpenAIServer() as srv:
        with _client(srv.base_url, cache) as client:
            key = cache_key(client.backend, _req("old"))
        old = ResponseCache(cache)
        stale = Completion(text="", finish_reason="stop", prompt_tokens=1, completion_tokens=0)
        old.record(
            "g", "fake-model", Counters(requests=1, answered=1), store=(key, "openai", stale)
        )
        old.close()
        with _client(srv.base_url, cache) as client:
            answer = client.complete(_req("old"))
        assert answer.text == answer_text("old") and not answer.cached
        assert srv.state.arrivals("old") == 1
        with _client(srv.base_url, cache) as client:  # and the fresh answer replaced it
            assert client.complete(_req("old")).cached


# -- token counts that are not integers ------------------------------------------------------

# prompt -> (the usage the server sends, the counts the client keeps, whether they are known)
USAGES: dict[str, tuple[object, tuple[int, int], bool]] = {
    "u-str": ({"prompt_tokens": "12", "completion_tokens": "3"}, (12, 3), True),
    "u-float": ({"prompt_tokens": 12.0, "completion_tokens": 3.0}, (12, 3), True),
    "u-str-float": ({"prompt_tokens": " 12.0 ", "completion_tokens": "3"}, (12, 3), True),
    "u-null": ({"prompt_tokens": None, "completion_tokens": None}, (0, 0), False),
    "u-negative": ({"prompt_tokens": -5, "completion_tokens": 3}, (0, 3), False),
    "u-fraction": ({"prompt_tokens": 12.5, "completion_tokens": 3}, (0, 3), False),
    "u-words": ({"prompt_tokens": "many", "completion_tokens": [3]}, (0, 0), False),
    "u-bool": ({"prompt_tokens": True, "completion_tokens": 3}, (0, 3), False),
    "u-huge": ({"prompt_tokens": 1e30, "completion_tokens": 10**40}, (0, 0), False),
    "u-inf": ({"prompt_tokens": float("inf"), "completion_tokens": float("nan")}, (0, 0), False),
    "u-partial": ({"prompt_tokens": 12}, (12, 0), False),
    "u-usage-null": (None, (0, 0), False),
    "u-usage-list": ([12, 3], (0, 0), False),
    "u-missing": ("OMIT", (0, 0), False),
}


@pytest.mark.parametrize("transport", ["sdk", "httpx", "fast"])
def test_odd_token_counts_never_cost_an_answer(tmp_path: Path, transport: str) -> None:
    from fake_openai_server import OMIT

    usages = {p: (OMIT if u == "OMIT" else u) for p, (u, _, _) in USAGES.items()}
    cache = tmp_path / "llm_cache.sqlite"
    state = ServerState(usage_for_prompt=usages)
    prompts = [*USAGES, "normal"]
    with FakeOpenAIServer(state) as srv:
        with _client(srv.base_url, cache, transport) as client:
            results = client.complete_many([_req(p) for p in prompts])
            total = client.usage()["total"]
        for prompt, res in zip(prompts, results, strict=True):
            assert isinstance(res, Completion), (prompt, res)
            assert res.text == answer_text(prompt)
            counts, known = USAGES[prompt][1:] if prompt in USAGES else (usage_for(prompt), True)
            assert (res.prompt_tokens, res.completion_tokens) == counts, prompt
            assert res.usage_known is known, prompt
        n_unknown = sum(1 for _, _, known in USAGES.values() if not known)
        assert total["answered"] == len(prompts) and total["failed"] == 0
        assert total["unknown_usage"] == n_unknown
        kept = sum(counts[0] for _, counts, _ in USAGES.values())
        assert total["prompt_tokens"] == kept + usage_for("normal")[0]
        assert read_usage(cache)["total"]["unknown_usage"] == n_unknown

        # Cached like any answer: the rerun pays nothing.
        before = state.count()
        with _client(srv.base_url, cache, transport) as client:
            again = client.complete_many([_req(p) for p in prompts])
        assert state.count() == before and all(r.cached for r in again)  # type: ignore[union-attr]


def test_a_cache_file_from_before_unknown_usage_keeps_working(tmp_path: Path) -> None:
    import sqlite3

    from codeio.llm import ResponseCache
    from codeio.llm.usage import COUNTERS, Counters

    path = tmp_path / "llm_cache.sqlite"
    old = [n for n in COUNTERS if n != "unknown_usage"]
    cols = ", ".join(
        f"{n} {'REAL' if n == 'cost_usd' else 'INTEGER'} NOT NULL DEFAULT 0" for n in old
    )
    db = sqlite3.connect(path)
    db.execute(
        f"CREATE TABLE llm_usage_totals (stage TEXT NOT NULL, model TEXT NOT NULL, {cols},"
        " failures_json TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (stage, model)) WITHOUT ROWID"
    )
    db.execute(
        "INSERT INTO llm_usage_totals(stage, model, requests, answered) VALUES ('g', 'm', 2, 2)"
    )
    db.commit()
    db.close()

    assert read_usage(path)["total"]["answered"] == 2  # read-only, as `codeio status` does
    cache = ResponseCache(path)
    cache.record("g", "m", Counters(requests=1, answered=1, unknown_usage=1))
    cache.close()
    total = read_usage(path)["total"]
    assert (total["answered"], total["unknown_usage"]) == (3, 1)


# -- bodies that are not chat completions ----------------------------------------------------

# fault -> (reason, a piece of its message); the sdk transport follows redirects itself.
ODD: dict[str, tuple[str, str]] = {
    "no_choices_key": ("malformed", "malformed response body"),
    "null_message": ("malformed", "malformed response body"),
    "parts_no_text": ("malformed", "without text content"),
    "html200": ("malformed", "<html>"),
    "html502": ("server_error", "HTTP 502"),
    "deep_json": ("malformed", "nested too deep"),
    "error200": ("malformed", "upstream overloaded"),
    "301": ("malformed", "https://elsewhere.example/v1/chat/completions"),
    "bad_gzip": ("malformed", "gzip"),
}


@pytest.mark.parametrize("transport", ["sdk", "httpx", "fast"])
def test_bodies_that_are_not_chat_completions_fail_with_a_clear_reason(transport: str) -> None:
    from codeio.errors import LLMError

    faults = [f for f in ODD if not (transport == "sdk" and f == "301")]
    state = ServerState(plan={f: [f, f] for f in [*faults, "parts"]})  # 5xx: retried once
    with FakeOpenAIServer(state) as srv:
        with _client(srv.base_url, None, transport) as client:
            results = client.complete_many([_req(f) for f in [*faults, "parts"]])
            usage = client.usage()
    *odd, parts = results
    for fault, res in zip(faults, odd, strict=True):
        reason, why = ODD[fault]
        assert isinstance(res, LLMError), (fault, res)
        assert (res.reason, why in str(res)) == (reason, True), (fault, str(res))
    # Content as a list of text parts is an answer like any other.
    assert isinstance(parts, Completion) and parts.text == answer_text("parts")
    assert usage["total"]["answered"] == 1
    assert "backend" not in usage["failures"]  # none was mistaken for a bug of ours
