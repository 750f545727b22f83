"""WorkerPool: one stage's StageWorker actors, each starting, idle or busy; dead ones replaced."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from codeio.pipeline.base import Stage
from codeio.store.db import Outcome

if TYPE_CHECKING:
    from ray.actor import ActorHandle
    from ray.types import ObjectRef

__all__ = ["WorkerPool"]

log = logging.getLogger(__name__)


class WorkerPool:
    """Actors of one stage: starting, idle or busy; dead ones are replaced."""

    def __init__(self, ray: Any, stage: Stage, size: int, options: dict[str, Any], limiter: Any):
        self._ray = ray
        self._cls = ray.remote(_worker_class())
        self._stage = stage
        self._options = options
        self._limiter = limiter
        self.stage_name = stage.name
        self.start_deaths = 0
        self.starting: dict[ObjectRef[tuple[str, str]], ActorHandle] = {}
        self.idle: list[ActorHandle] = []
        self.nodes: dict[ActorHandle, str] = {}
        self.ids: dict[ActorHandle, str] = {}
        self.busy: dict[ActorHandle, ObjectRef[list[Outcome]]] = {}
        self.all: list[ActorHandle] = []
        for _ in range(size):
            self.spawn()

    def spawn(self) -> None:
        actor = self._cls.options(**self._options).remote(self._stage, self._limiter)
        self.all.append(actor)
        self.starting[actor.ready.remote()] = actor

    def started(self, ref: ObjectRef[tuple[str, str]]) -> None:
        node, actor_id = self._ray.get(ref)
        actor = self.starting.pop(ref)
        self.nodes[actor], self.ids[actor] = node, actor_id
        self.idle.append(actor)

    def lost(self, actor: ActorHandle) -> None:
        """Forget a dead actor, give back its LLM permits, and ask for a replacement."""
        self.busy.pop(actor, None)
        self.nodes.pop(actor, None)
        holder = self.ids.pop(actor, None)
        if actor in self.idle:
            self.idle.remove(actor)
        if self._limiter is not None and holder:
            self._limiter.release_holder.remote(holder)
        self._ray.kill(actor, no_restart=True)
        self.spawn()

    def shutdown(self) -> None:
        # Let live workers close their sandboxes and clients before the actors go.
        closing = [a.close.remote() for a in self.idle]
        if closing:
            try:
                self._ray.wait(closing, num_returns=len(closing), timeout=30)
            except Exception:  # a worker that cannot close cleanly is killed below anyway
                log.debug("closing workers failed", exc_info=True)
        for actor in self.all:
            self._ray.kill(actor, no_restart=True)
        self.all.clear()


def _worker_class() -> type:
    from codeio.runners.ray.worker import StageWorker

    return StageWorker
