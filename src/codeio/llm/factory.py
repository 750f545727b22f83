"""Build a backend and its client from a spec string.

Grammar: ``KIND[:ARG]`` split at the first colon, so model names may contain colons
(``openai:qwen2.5:7b`` for Ollama).
    openai:MODEL         any OpenAI-compatible endpoint (``base_url``; key from ``api_key_env``)
    transformers:PATH    a local model directory or .gguf file
    vllm:PATH            vLLM's offline engine
    trace[:ARG]          the offline trace teacher (no model, no key)
Only the chosen backend's module (and its extras) is imported.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from codeio.errors import ConfigError
from codeio.llm.base import LLMBackend
from codeio.llm.body_limit import DEFAULT_MAX_RESPONSE_BYTES
from codeio.llm.breaker import BreakerPolicy
from codeio.llm.client import LLMClient
from codeio.llm.retry import RetryPolicy
from codeio.llm.usage import PricesSpec

__all__ = ["KINDS", "make_backend", "make_client", "parse_spec", "resolve_api_key"]

KINDS = ("openai", "transformers", "vllm", "trace")
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"


def parse_spec(spec: str) -> tuple[str, str]:
    """``"openai:deepseek-chat"`` -> ``("openai", "deepseek-chat")``; validates the kind."""
    kind, _, arg = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise ConfigError(f"unknown LLM spec {spec!r}: the kind must be one of {', '.join(KINDS)}")
    if kind != "trace" and not arg:
        raise ConfigError(f"LLM spec {spec!r} needs a model: {kind}:MODEL")
    return kind, arg


def _is_local(base_url: str) -> bool:
    host = urlparse(base_url).hostname or ""
    if host in ("localhost", "") or "." not in host and ":" not in host:
        return True  # localhost, or a bare name such as a container on a private network
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith((".local", ".internal", ".lan"))
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified


def resolve_api_key(
    api_key_env: str | None, base_url: str | None, env: Mapping[str, str] | None = None
) -> str:
    """The key from the named env var; ``"EMPTY"`` for a local server or ``api_key_env=""``."""
    env = os.environ if env is None else env
    if api_key_env == "":
        return "EMPTY"
    name = api_key_env or DEFAULT_API_KEY_ENV
    key = env.get(name)
    if key:
        return key
    if base_url and _is_local(base_url):
        return "EMPTY"
    where = base_url or "the OpenAI API"
    raise ConfigError(
        f"no API key for {where}: set the environment variable {name} "
        "(or pass api_key_env='' for an endpoint that needs none)"
    )


def make_backend(
    spec: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 120.0,
    concurrency: int = 64,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    **options: Any,
) -> LLMBackend:
    """The backend a spec names; ``options`` go to its constructor.

    ``max_response_bytes`` caps an HTTP response body (openai); local backends have none.
    """
    kind, arg = parse_spec(spec)
    if kind == "openai":
        from codeio.llm.openai_compat import OpenAICompatBackend

        backend = OpenAICompatBackend(
            arg,
            base_url=base_url,
            api_key=resolve_api_key(api_key_env, base_url),
            timeout_s=timeout_s,
            max_connections=max(concurrency, 1),
            max_response_bytes=max_response_bytes,
            **options,
        )
        # Named in the breaker's message when the endpoint rejects the key.
        backend.api_key_env = None if api_key_env == "" else (api_key_env or DEFAULT_API_KEY_ENV)
        return backend
    if kind == "transformers":
        from codeio.llm.transformers_backend import TransformersBackend

        return TransformersBackend(Path(arg), **options)
    if kind == "vllm":
        from codeio.llm.vllm_backend import VLLMBackend

        return VLLMBackend(arg, **options)
    from codeio.llm.trace_teacher import TraceTeacherBackend

    return TraceTeacherBackend(**({"model": arg} if arg else {}), **options)  # type: ignore[abstract]


def make_client(
    spec: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    cache_path: str | Path | None = None,
    use_cache: bool = True,
    concurrency: int = 64,
    timeout_s: float = 120.0,
    max_retries: int = 6,
    prices: PricesSpec | Mapping[str, PricesSpec] | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    length_is_error: bool = True,
    retry: RetryPolicy | None = None,
    seed: int | None = None,
    breaker: BreakerPolicy | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    **backend_options: Any,
) -> LLMClient:
    """An ``LLMClient`` for ``spec``; extra keyword arguments go to the backend.

    ``retry`` overrides ``max_retries`` when given; ``breaker`` stops a client whose endpoint
    fails systematically (see ``codeio.llm.breaker``; off when ``None``);
    ``max_response_bytes`` caps an HTTP response body (``codeio.llm.body_limit``).
    """
    backend = make_backend(
        spec,
        base_url=base_url,
        api_key_env=api_key_env,
        timeout_s=timeout_s,
        concurrency=concurrency,
        max_response_bytes=max_response_bytes,
        **backend_options,
    )
    return LLMClient(
        backend,
        cache=cache_path,
        use_cache=use_cache,
        concurrency=concurrency,
        timeout_s=timeout_s,
        retry=retry or RetryPolicy(max_retries=max_retries),
        rpm=rpm,
        tpm=tpm,
        prices=prices,
        length_is_error=length_is_error,
        seed=seed,
        breaker=breaker,
    )
