"""LLM rate limits from the config (old and new keys) and the cluster limiter's token pacing."""

from __future__ import annotations

import asyncio
import time

import pytest

from codeio.config import load_config
from codeio.errors import ConfigError
from codeio.runners.ray.limiter import LLMLimiter


def test_rate_limit_keys_new_old_and_set() -> None:
    assert load_config(None, []).llm.rate_limits() == (None, None)
    assert load_config(None, ["llm.rpm=6", "llm.tpm=9000"]).llm.rate_limits() == (6.0, 9000.0)
    # The older spelling keeps working; the top-level key wins when both are given.
    old = load_config(None, ["llm.options={rpm: 6, tpm: 100}"]).llm
    assert old.rate_limits() == (6.0, 100.0)
    both = load_config(None, ["llm.options={rpm: 6}", "llm.rpm=12"]).llm
    assert both.rate_limits() == (12.0, None)
    with pytest.raises(ConfigError):
        load_config(None, ["llm.rpm=-1"])


def test_breaker_keys_are_settable() -> None:
    llm = load_config(None, ["llm.breaker.auth_failures=5", "llm.breaker.enabled=false"]).llm
    assert llm.breaker.auth_failures == 5 and not llm.breaker.enabled
    with pytest.raises(ConfigError):
        load_config(None, ["llm.breaker.failure_rate=2"])


def test_limiter_paces_tokens_and_settles_real_usage() -> None:
    async def scenario() -> list[float]:
        lim = LLMLimiter(concurrency=8, tpm=6000)  # 100 tokens/s, a bucket of 6000
        t0 = time.monotonic()
        starts = []
        leases = []
        for tokens in (3000, 3000, 100):  # the bucket holds the first two; the third waits 1 s
            leases.append(await lim.acquire("w", tokens))
            starts.append(time.monotonic() - t0)
        # The first answer used only 100 of its 3000: the rest goes back, the next is free.
        await lim.release("w", leases[0], 3000, 100)
        await lim.acquire("w", 2000)
        starts.append(time.monotonic() - t0)
        return starts

    starts = asyncio.run(scenario())
    assert starts[0] < 0.2 and starts[1] < 0.2
    assert 0.9 <= starts[2] < 2.0
    assert starts[3] - starts[2] < 0.2
