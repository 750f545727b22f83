"""Runners: where stage batches run (this process, or a Ray cluster)."""

from __future__ import annotations

from codeio.runners.base import Batch, Runner
from codeio.runners.local import LocalRunner

__all__ = ["Batch", "LocalRunner", "Runner", "make_runner"]


def make_runner(kind: str, **options: object) -> Runner:
    """The runner for ``runner.kind``; the Ray runner is imported only when asked for."""
    if kind == "local":
        return LocalRunner()
    if kind == "ray":
        import importlib

        try:
            module = importlib.import_module("codeio.runners.ray")
        except ModuleNotFoundError as exc:
            from codeio.errors import ConfigError

            raise ConfigError("runner.kind: 'ray' is not available in this build") from exc
        return module.RayRunner(**options)  # type: ignore[no-any-return]
    from codeio.errors import ConfigError

    raise ConfigError(f"runner.kind: unknown runner {kind!r}")
