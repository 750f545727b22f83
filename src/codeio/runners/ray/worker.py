"""StageWorker: the Ray actor that holds one Stage with its resources open on its node.

One actor per worker slot calls ``stage.setup()`` once (sandbox warm, LLM client connected)
and then processes one batch at a time, so when its process dies the driver knows exactly
which records were on it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from codeio.pipeline.base import Stage
from codeio.runners.ray.limiter import install_limiter
from codeio.store.db import Outcome

__all__ = ["StageWorker"]


class StageWorker:
    """Plain class; the runner wraps it with ``ray.remote`` (so this module imports without ray)."""

    def __init__(self, stage: Stage, limiter: Any = None) -> None:
        self._stage = stage
        self._limiter = limiter
        # Ray workers are children of their node's raylet.
        self._raylet_pid = os.getppid()

    def ready(self) -> tuple[str, str]:
        """Open the stage's resources here; returns this worker's (node id, actor id).

        Setup runs in a method, not in ``__init__``: an exception it raises then reaches the
        driver as the stage's own error (a bad config stops the run) instead of looking like
        a dead worker that should be replaced.
        """
        import ray

        ctx = ray.get_runtime_context()
        actor_id = str(ctx.get_actor_id() or "")
        self._stage.setup()
        if self._limiter is not None and self._stage.uses_llm:
            install_limiter(self._stage, self._limiter, actor_id)
        return str(ctx.get_node_id()), actor_id

    def process(self, records: Sequence[BaseModel]) -> list[Outcome]:
        outcomes = self._stage.process_batch(records)
        if os.getppid() != self._raylet_pid:
            # Our node died while we worked: the sandbox, the limiter or the network may have
            # vanished under the batch, so its failures are the node's, not the records'. Die
            # instead of answering, and the driver redoes the batch on a live node.
            os._exit(75)
        return outcomes

    def close(self) -> None:
        self._stage.close()
