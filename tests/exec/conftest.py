from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from codeio.exec import ExecLimits, Sandbox

# Set before any sandbox starts, as a caller's API key would be.
SECRET = "codeio-test-secret-7f3a9c"
os.environ["CODEIO_TEST_API_KEY"] = SECRET


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2, limits=ExecLimits(timeout_s=5)) as sb:
        yield sb


def require(sb: Sandbox, mechanism: str) -> None:
    if mechanism not in sb.report.active:
        pytest.skip(f"containment mechanism {mechanism!r} not available here")
