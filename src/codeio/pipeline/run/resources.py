"""Open the heavy resources stages share: the sandbox and the LLM client, from RunConfig."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeio.config import RunConfig

__all__ = ["LLM_CACHE_FILE", "open_llm", "open_sandbox", "open_sandboxes", "sampling_params"]

LLM_CACHE_FILE = "llm_cache.sqlite"


def open_sandbox(config: RunConfig, *, hash_seed: int = 0) -> Any:
    return open_sandboxes(config, hash_seed)[0]


def open_sandboxes(config: RunConfig, *hash_seeds: int) -> list[Any]:
    """One sandbox per hash seed, started at the same time."""
    from codeio.exec import ExecLimits
    from codeio.exec import open_sandboxes as start

    limits = ExecLimits(timeout_s=config.exec.timeout_s, memory_mb=config.exec.memory_mb)
    return start(
        *({"workers": config.exec.workers, "limits": limits, "hash_seed": s} for s in hash_seeds)
    )


def open_llm(config: RunConfig, run_dir: str | Path) -> Any:
    """The codeio.llm client with its response cache inside the run directory."""
    from codeio.llm import make_client
    from codeio.llm.breaker import BreakerPolicy

    s = config.llm
    rpm, tpm = s.rate_limits()
    b = s.breaker
    kwargs: dict[str, Any] = {
        "base_url": s.base_url,
        "api_key_env": s.api_key_env,
        "cache_path": str(Path(run_dir) / LLM_CACHE_FILE),
        "use_cache": s.cache,
        "concurrency": s.concurrency,
        "timeout_s": s.timeout_s,
        "max_retries": s.max_retries,
        "prices": s.prices,
        "max_response_bytes": s.max_response_bytes,
        "seed": config.seed,
        "breaker": BreakerPolicy(
            enabled=b.enabled,
            auth_failures=b.auth_failures,
            window=b.window,
            min_calls=b.min_calls,
            failure_rate=b.failure_rate,
        ),
    }
    accepted = inspect.signature(make_client).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    for key, value in s.options.items():
        if takes_any or key in accepted:
            kwargs[key] = value
    kwargs.update(rpm=rpm, tpm=tpm)
    kwargs = {k: v for k, v in kwargs.items() if takes_any or k in accepted}
    return make_client(s.spec, **kwargs)


def sampling_params(config: RunConfig, *, seed: int, temperature: float | None = None) -> Any:
    from codeio.llm import SamplingParams

    s = config.llm
    return SamplingParams(
        temperature=s.temperature if temperature is None else temperature,
        top_p=s.top_p,
        max_tokens=s.max_tokens,
        seed=seed,
    )
