"""A real sandbox and a checker for the claim tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeio.exec import Sandbox
from codeio.pipeline.verify.claims import ClaimChecker


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2) as sb:
        yield sb


@pytest.fixture(scope="module")
def checker(sandbox: Sandbox) -> ClaimChecker:
    return ClaimChecker(sandbox)
