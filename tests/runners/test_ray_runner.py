"""The Ray runner on a real local cluster: a head plus worker node processes on this machine.

Each test compares against the local runner on the same input and seed: the run store and the
exported files must come out the same whether batches ran here, on Ray, across a node that was
killed mid-stage, or next to a record that kills every worker it touches.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

from codeio.config import RunConfig, load_config  # noqa: E402
from codeio.demo_data import demo_config  # noqa: E402
from codeio.pipeline.pipeline import Pipeline  # noqa: E402
from codeio.pipeline.run.prompt import PromptStage  # noqa: E402
from codeio.records import FunctionRecord  # noqa: E402
from codeio.runners.local import LocalRunner  # noqa: E402
from codeio.runners.ray import RayRunner  # noqa: E402
from codeio.store.db import Outcome, RunStore  # noqa: E402
from codeio.store.funnel import funnel  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.needs_ray, pytest.mark.timeout(600)]

IOS = Path("/work/shared/data/codeio-demo/rawcode_1k_parsed.jsonl")
MB = 1024 * 1024
# Small nodes: the machine is shared. Fast health checks so a killed node is noticed in seconds.
NODE: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 100 * MB}
HEAD: dict[str, Any] = {
    **NODE,
    "include_dashboard": False,
    "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 3},
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(initialize_head=True, head_node_args=HEAD)
    c.add_node(**NODE)
    ray.init(address=c.address, log_to_driver=False)
    # The poison stage below lives in this test module, which workers cannot import by name.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _demo_config(*overrides: str) -> RunConfig:
    # Batches of 4 give every worker several batches; concurrency 2 makes the limiter matter.
    return load_config(
        None, ["runner.batch_size=4", "llm.concurrency=2", *overrides], base=demo_config()
    )


def _ios_config(limit: int, *overrides: str) -> RunConfig:
    return load_config(
        None,
        [
            f"input.path={IOS}",
            f"input.limit={limit}",
            "runner.batch_size=2",
            "prompt.pairs_per_function=2",
            *overrides,
        ],
    )


def _exports(run_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((run_dir / "export").iterdir())}


def _stage_rows(run_dir: Path) -> list[tuple[str, int, int, int, int]]:
    return [
        (s["stage"], s["entered"], s["passed"], s["failed"], s["out"])
        for s in funnel(run_dir)["stages"]
    ]


@pytest.fixture(scope="module")
def local_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local-demo")
    Pipeline(_demo_config(), out).run()
    return out


def test_offline_demo_on_ray_matches_local(
    cluster: Cluster, local_demo: Path, tmp_path: Path
) -> None:
    runner = RayRunner()
    try:
        Pipeline(_demo_config(), tmp_path, runner=runner).run()
        llm = runner.llm_stats()
    finally:
        runner.close()
    assert ray.is_initialized(), "a runner that joined a cluster must not shut it down"
    exported = _exports(tmp_path)
    assert exported and exported == _exports(local_demo)
    assert _stage_rows(tmp_path) == _stage_rows(local_demo)
    # The work really spread over the cluster and went through the one limiter.
    assert len(runner.nodes_used) >= 2
    assert llm is not None and llm["granted"] > 0
    assert llm["max_in_use"] <= 2 and llm["in_use"] == 0
    assert runner.stats["worker_deaths"] == 0


class _KillBusyWorkerNode:
    """Progress sink that removes a worker node (not the head) while it runs a batch.

    It strikes at a commit in the first half of a stage while a worker node has a batch
    running, so the kill lands mid-stage: that batch, and the next one sent to the dead worker,
    must be redone elsewhere.
    """

    def __init__(self, cluster: Cluster, runner: RayRunner) -> None:
        self.cluster = cluster
        self.runner = runner
        self.killed_in: str | None = None
        self.total: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def start(self, stage: str, total: int | None) -> None:
        self.total[stage] = total or 0
        self.done[stage] = 0

    def advance(self, stage: str, n: int) -> None:
        self.done[stage] += n
        if stage == "ingest" or self.killed_in or 2 * self.done[stage] > self.total[stage]:
            return
        busy = self.runner.busy_nodes()
        for node in self.cluster.worker_nodes:
            if node.node_id in busy:
                self.cluster.remove_node(node, allow_graceful=False)
                self.killed_in = stage
                return

    def finish(self, stage: str) -> None:
        pass


def test_killing_a_worker_node_mid_stage_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    config = _ios_config(16)
    local_dir = tmp_path / "local"
    Pipeline(config, local_dir).run()

    cluster.add_node(**NODE)  # a node to lose; the module's other nodes stay
    runner = RayRunner()
    killer = _KillBusyWorkerNode(cluster, runner)
    ray_dir = tmp_path / "ray"
    try:
        Pipeline(config, ray_dir, runner=runner, progress=killer).run()
    finally:
        runner.close()
    assert killer.killed_in is not None, "no worker node was ever busy"
    assert runner.stats["worker_deaths"] >= 1
    assert runner.stats["crash_failures"] == 0
    assert _exports(ray_dir) == _exports(local_dir)
    assert _stage_rows(ray_dir) == _stage_rows(local_dir)
    with RunStore.open_run(ray_dir) as store:
        stage = killer.killed_in
        entered = store.query("SELECT COUNT(*) FROM done WHERE stage = ?", (stage,))
        outs = store.query("SELECT COUNT(*) FROM records WHERE stage = ?", (stage,))
        want = [r for r in _stage_rows(local_dir) if r[0] == stage][0]
        assert (entered[0][0], outs[0][0]) == (want[1], want[4])


POISON_INDEX = 3


class _PoisonPromptStage(PromptStage):
    """The real prompt stage, except that one function kills the process that handles it.

    The sandbox survives crashing *untrusted* code, so a poison record has to crash the stage
    process itself: this is the stand-in for a native crash or an OOM kill in stage code.
    """

    def __init__(self, config: RunConfig, run_dir: str, poison: str) -> None:
        super().__init__(config, run_dir)
        self.poison = poison

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        if any(r.id == self.poison for r in records):
            os._exit(17)
        return super().process_batch(records)


class _HangingPromptStage(_PoisonPromptStage):
    """One function makes the stage hang instead: only a batch deadline can get it unstuck."""

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        if any(r.id == self.poison for r in records):
            time.sleep(3600)
        return PromptStage.process_batch(self, records)


# (stage, runner options, failure reason, detail, runner stats): a crashing batch is retried
# once whole, then split; the poison record alone then dies max_attempts times.
POISONS = {
    "crash": (
        _PoisonPromptStage,
        {"max_attempts": 2},
        "worker_crashed",
        "died 2 times",
        {"worker_deaths": 4, "splits": 1, "crash_failures": 1},
    ),
    "hang": (
        _HangingPromptStage,
        {"max_attempts": 1, "batch_retries": 0, "batch_timeout_s": 8.0},
        "worker_timeout",
        "killed after batch_timeout_s=8.0",
        {"worker_deaths": 2, "splits": 1, "crash_failures": 1},
    ),
}


def _run_stage(runner: Any, stage: Any, store: RunStore, batch_size: int) -> None:
    """The driver's loop as the pipeline runs it: pending inputs in, one commit per batch."""
    pending = list(store.iter_records("sample", FunctionRecord, pending_for=stage.name))
    batches = [pending[i : i + batch_size] for i in range(0, len(pending), batch_size)]
    for _, outcomes in runner.map_batches(stage, batches):
        store.commit_outcomes(stage.name, stage.finalize_batch(store, outcomes))


@pytest.mark.parametrize("kind", sorted(POISONS))
def test_poison_record_becomes_a_failure_and_the_run_completes(
    cluster: Cluster, tmp_path: Path, kind: str
) -> None:
    stage_cls, options, reason, detail, stats = POISONS[kind]
    config = _ios_config(10, "runner.batch_size=4")
    # Ingest and sample run locally; the same run directory then continues on Ray.
    for name in ("local", "ray"):
        Pipeline(config, tmp_path / name).run(to_stage="sample")
    with RunStore.open_run(tmp_path / "ray") as store:
        ids = [f.id for f in store.iter_records("sample", FunctionRecord)]
    assert len(ids) > POISON_INDEX + 1
    poison = ids[POISON_INDEX]

    with RunStore.open_run(tmp_path / "local") as store, LocalRunner() as local:
        _run_stage(local, PromptStage(config, str(tmp_path / "local")), store, 4)
        want = {
            rid: p for rid, p in store.query("SELECT id, payload FROM records WHERE stage='prompt'")
        }
    runner = RayRunner(**options)
    try:
        with RunStore.open_run(tmp_path / "ray") as store:
            stage = stage_cls(config, str(tmp_path / "ray"), poison)
            _run_stage(runner, stage, store, 4)
            got = dict(store.query("SELECT id, payload FROM records WHERE stage='prompt'"))
            failures = list(store.iter_failures("prompt"))
            done = store.query("SELECT id, ok FROM done WHERE stage='prompt' ORDER BY id")
    finally:
        runner.close()
    assert [(f.record_id, f.reason) for f in failures] == [(poison, reason)]
    assert detail in failures[0].detail
    assert sorted(done) == sorted((i, int(i != poison)) for i in ids)
    # Every other record completed exactly as the local runner made it.
    poisoned_tasks = {k for k, v in want.items() if f'"func_id":"{poison}"' in v}
    assert poisoned_tasks and all(k not in got for k in poisoned_tasks)
    assert got == {k: v for k, v in want.items() if k not in poisoned_tasks}
    assert runner.stats == stats
