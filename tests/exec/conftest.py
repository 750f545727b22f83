from __future__ import annotations

import os
import socket
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


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on the host's 127.0.0.1 that no sandboxed code may reach (accept times out)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.3)
    try:
        yield sock
    finally:
        sock.close()
