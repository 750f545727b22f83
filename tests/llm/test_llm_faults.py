"""Fault injection against a real loopback server: every request ends once, with the right reason."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer, ServerState, answer_text, usage_for

from codeio.errors import LLMError
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

MAX_RETRIES = 2


def _always(fault: str) -> list[str]:
    return [fault] * (MAX_RETRIES + 1)


# prompt -> (faults per arrival, expected outcome: "ok" or the failure reason)
SCENARIO: dict[str, tuple[list[str], str]] = {
    **{f"rl-once-{i}": (["429"], "ok") for i in range(4)},
    "rl-always": (_always("429"), "rate_limited"),
    **{f"500-once-{i}": (["500", "500"], "ok") for i in range(3)},
    **{f"500-always-{i}": (_always("500"), "server_error") for i in range(2)},
    "slow-once": (["slow"], "ok"),
    "slow-always": (_always("slow"), "timeout"),
    **{f"drop-once-{i}": (["drop"], "ok") for i in range(3)},
    "drop-always": (_always("drop"), "connection"),
    **{f"length-{i}": (["length"], "length") for i in range(2)},
    **{f"malformed-{i}": (["malformed"], "malformed") for i in range(2)},
    "auth": (["401"], "auth"),
    **{f"plain-{i}": ([], "ok") for i in range(12)},
}


def _requests() -> list[LLMRequest]:
    params = SamplingParams(temperature=0.0, max_tokens=32)
    return [
        LLMRequest(messages=[Message(role="user", content=p)], params=params, stage="generate")
        for p in SCENARIO
    ]


def _client(base_url: str, cache: Path, transport: str):  # type: ignore[no-untyped-def]
    return make_client(
        "openai:fake-model",
        base_url=base_url,
        cache_path=cache,
        concurrency=8,
        timeout_s=1.0,
        retry=RetryPolicy(max_retries=MAX_RETRIES, base_s=0.01, max_s=0.05),
        prices={"input": 1.0, "output": 2.0},
        seed=0,
        transport=transport,
    )


@pytest.mark.parametrize("transport", ["sdk", "httpx", "fast"])
def test_faults_end_once_with_reason_and_rerun_pays_only_failures(
    tmp_path: Path, transport: str
) -> None:
    cache = tmp_path / "llm_cache.sqlite"
    state = ServerState(plan={p: f for p, (f, _) in SCENARIO.items()}, slow_s=2.5)
    requests = _requests()
    progress: list[tuple[int, int]] = []
    with FakeOpenAIServer(state) as srv:
        with _client(srv.base_url, cache, transport) as client:
            results = client.complete_many(requests, progress=lambda d, t: progress.append((d, t)))
            usage = client.usage()

        # Every request ended exactly once, in order, with the expected outcome.
        assert len(results) == len(requests)
        assert progress[-1] == (len(requests), len(requests)) and len(progress) == len(requests)
        for (prompt, (_, expected)), res in zip(SCENARIO.items(), results, strict=True):
            if expected == "ok":
                assert isinstance(res, Completion), (prompt, res)
                assert res.text == answer_text(prompt) and not res.cached
                assert (res.prompt_tokens, res.completion_tokens) == usage_for(prompt)
            else:
                assert isinstance(res, LLMError), (prompt, res)
                assert res.reason == expected, (prompt, res.reason, str(res))
        length_err = results[list(SCENARIO).index("length-0")]
        assert isinstance(length_err, LengthError) and length_err.completion.text

        # Client accounting agrees with what the server saw: no lost or double attempts.
        total = usage["total"]
        n_ok = sum(1 for _, e in SCENARIO.values() if e == "ok")
        assert total["requests"] == len(requests)
        assert total["answered"] == n_ok
        assert total["failed"] == len(requests) - n_ok
        assert total["cache_hits"] == 0
        assert total["attempts"] == len(state.log)
        assert total["retries"] == len(state.log) - len(requests)
        expected_fail = Counter(e for _, e in SCENARIO.values() if e != "ok")
        assert usage["failures"] == dict(expected_fail)
        # Billed tokens: answered requests plus the ones cut at max_tokens (the server billed them).
        billed = [p for p, (_, e) in SCENARIO.items() if e in ("ok", "length")]
        assert total["prompt_tokens"] == sum(usage_for(p)[0] for p in billed)
        assert total["completion_tokens"] == sum(usage_for(p)[1] for p in billed)
        assert total["cost_usd"] == pytest.approx(
            (total["prompt_tokens"] * 1.0 + total["completion_tokens"] * 2.0) / 1e6
        )
        assert usage["by_stage"]["generate"]["requests"] == len(requests)
        assert usage["by_model"]["fake-model"]["answered"] == n_ok
        # Each retried prompt arrived as often as its plan says before succeeding.
        assert state.arrivals("500-once-0") == 3 and state.arrivals("plain-0") == 1
        assert state.arrivals("500-always-0") == MAX_RETRIES + 1
        assert state.arrivals("auth") == 1 and state.arrivals("length-0") == 1

        # Second run, faults gone: only the failed requests reach the server.
        failed = {p for p, (_, e) in SCENARIO.items() if e != "ok"}
        before = len(state.log)
        state.faults_enabled = False
        with _client(srv.base_url, cache, transport) as client:
            again = client.complete_many(requests)
            usage2 = client.usage()
        assert all(isinstance(r, Completion) for r in again)
        assert sorted(state.prompts()[before:]) == sorted(failed)
        assert usage2["total"]["cache_hits"] == n_ok
        assert usage2["total"]["answered"] == len(failed)
        assert usage2["total"]["cost_usd"] > 0
        cached = [r for r in again if isinstance(r, Completion) and r.cached]
        assert len(cached) == n_ok

    # The file keeps the totals of both runs, for `codeio status`.
    persisted = read_usage(cache)["total"]
    assert persisted["requests"] == 2 * len(requests)
    assert persisted["attempts"] == len(state.log)
    assert persisted["answered"] == len(requests)
    assert persisted["cache_hits"] == n_ok


def test_batched_cache_writes_are_on_disk_when_calls_return_and_a_kill_loses_only_the_batch(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys
    import textwrap

    from codeio.llm import ResponseCache

    cache = tmp_path / "llm_cache.sqlite"
    with FakeOpenAIServer() as srv, _client(srv.base_url, cache, "fast") as client:
        reqs = [r for r in _requests() if "plain" in r.messages[-1].content]
        results = client.complete_many(reqs)
        assert all(isinstance(r, Completion) for r in results)
        # Another reader of the file already sees the whole batch, before close.
        assert read_usage(cache)["total"] == client.usage()["total"]

    # A process killed between commits keeps every committed answer with its accounting and
    # loses only the uncommitted batch, never one without the other.
    script = textwrap.dedent(
        f"""
        import os
        from codeio.llm import Completion, ResponseCache
        from codeio.llm.usage import Counters
        c = ResponseCache({str(tmp_path / "kill.sqlite")!r})
        def rec(k):
            ans = Completion(text=k, finish_reason="stop", prompt_tokens=1, completion_tokens=1)
            c.record("s", "m", Counters(requests=1, answered=1, attempts=1), store=(k, "openai", ans), defer=True)
        for k in ("a", "b", "c"):
            rec(k)
        c.flush()
        rec("d")
        assert c.get("d") is not None and c.get("d").cached  # pending rows are hits already
        os._exit(0)  # like kill -9: no close, no flush
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    kept = ResponseCache(tmp_path / "kill.sqlite")
    try:
        assert len(kept) == 3 and kept.get("c") is not None and kept.get("d") is None
        assert kept.usage()["total"]["answered"] == 3
    finally:
        kept.close()
