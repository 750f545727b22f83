"""Where codeio keeps what it can rebuild or what is for the user's eyes only (dequantised
models, crash reports), outside any run directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root"]

CACHE_ENV = "CODEIO_CACHE_DIR"


def cache_root() -> Path:
    """``$CODEIO_CACHE_DIR``, else ``$XDG_CACHE_HOME/codeio``, else ``~/.cache/codeio``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codeio"
