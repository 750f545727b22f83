"""Cluster-wide LLM limits under the Ray runner, on a real two-node local cluster.

Two workers, one on each node, send a stage's requests to a loopback OpenAI-compatible server
that timestamps every arrival. With ``llm.rpm`` set in the config, requests start no closer
than 60 / rpm seconds apart *across both workers*: one limiter for the run, not one per worker.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
from fake_openai_server import FakeOpenAIServer, ServerState  # noqa: E402

from codeio.config import load_config  # noqa: E402
from codeio.pipeline.prompt import build_task  # noqa: E402
from codeio.pipeline.run.generate import GenerateStage  # noqa: E402
from codeio.records import FunctionRecord, IOPair  # noqa: E402
from codeio.runners.ray import RayRunner  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.needs_ray, pytest.mark.timeout(300)]

MB = 1024 * 1024
NODE: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 80 * MB}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    c.add_node(**NODE)
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _tasks(n: int) -> list[Any]:
    code = "def main_solution(x):\n    return x + 1\n"
    fn = FunctionRecord(
        id=FunctionRecord.make_id(code, ""),
        refcode=code,
        inputgen="",
        ios=[IOPair(input={"x": i}, output=i + 1) for i in range(n)],
    )
    return [build_task(fn, i, "output") for i in range(n)]


def test_rpm_holds_across_workers_on_two_nodes(cluster: Cluster, tmp_path: Path) -> None:
    rpm = 40  # one request start every 1.5 s for the whole cluster
    with FakeOpenAIServer(ServerState()) as srv:
        config = load_config(
            None,
            [
                "llm.spec=openai:m",
                f"llm.base_url={srv.base_url}",
                "llm.api_key_env=",
                "llm.concurrency=4",
                f"llm.rpm={rpm}",
            ],
        )
        tasks = _tasks(8)
        runner = RayRunner(workers=2, cpus_per_worker=1)
        try:
            stage = GenerateStage(config, str(tmp_path))
            batches = [tasks[i : i + 2] for i in range(0, len(tasks), 2)]
            outcomes = [o for _, batch in runner.map_batches(stage, batches) for o in batch]
            stats = runner.llm_stats()
            nodes = set(runner.nodes_used)
        finally:
            runner.close()
        times = sorted(a.t for a in srv.state.log)
    assert all(o.ok for o in outcomes) and len(outcomes) == 8
    assert len(nodes) == 2, "both nodes must have sent requests"
    assert stats is not None and stats["rpm"] == rpm
    gaps = [round(b - a, 2) for a, b in zip(times, times[1:], strict=False)]
    spacing = 60 / rpm
    # Counted server-side. Grants are spaced by the one limiter; the trip from a worker to the
    # server adds jitter (a loaded machine), so bounds have slack. Per-worker limits would send
    # the two workers' requests in pairs: gaps near 0 and the 8 requests in ~4.5 s.
    assert min(gaps) >= spacing / 3, gaps
    assert times[-1] - times[0] >= 7 * spacing - 1.0, gaps
    for t in times:  # any window of two spacings holds at most 2 starts (+1 for jitter)
        assert sum(t <= u < t + 2 * spacing for u in times) <= 3, gaps
