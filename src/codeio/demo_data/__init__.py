"""The example set ``codeio demo`` runs on: small raw Python files shipped with the package.

Each file already defines ``main_solution`` and ``input_generator(rng)`` with a docstring, so
the offline ``trace`` teacher can unify it without a model; two fail on purpose (one always
raises, one uses unseeded randomness) so the funnel shows failures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DEMO_MISTAKE_RATE", "demo_config", "demo_dir"]

DEMO_MISTAKE_RATE = 0.2
"""How often the offline teacher answers wrong on purpose, so revision has work to show."""


def demo_dir() -> Path:
    return Path(__file__).resolve().parent / "raw"


def demo_config() -> dict[str, Any]:
    """The demo's configuration as a dict (``--set`` overrides apply on top)."""
    return {
        "input": {"path": [str(demo_dir())], "kind": "raw"},
        "llm": {"spec": "trace", "options": {"mistake_rate": DEMO_MISTAKE_RATE}},
        "sample": {"pairs": 4},
        "prompt": {"pairs_per_function": 2},
        "revise": {"rounds": 1},
        "runner": {"batch_size": 16},
    }
