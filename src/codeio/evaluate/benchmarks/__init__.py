"""The benchmarks ``codeio eval`` knows, by name."""

from __future__ import annotations

from types import MappingProxyType

from codeio.errors import ConfigError
from codeio.evaluate.benchmarks.base import Benchmark, EvalItem, Judgement, JudgeStatus
from codeio.evaluate.benchmarks.cruxeval import CruxEvalInput, CruxEvalOutput
from codeio.evaluate.benchmarks.holdout import HoldoutBenchmark
from codeio.evaluate.benchmarks.leetcode_o import LeetCodeO

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "CruxEvalInput",
    "CruxEvalOutput",
    "EvalItem",
    "HoldoutBenchmark",
    "JudgeStatus",
    "Judgement",
    "LeetCodeO",
    "get_benchmark",
]

BENCHMARKS: MappingProxyType[str, type[Benchmark]] = MappingProxyType(
    {cls.name: cls for cls in (CruxEvalOutput, CruxEvalInput, HoldoutBenchmark, LeetCodeO)}
)


def get_benchmark(name: str | Benchmark, *, cot: bool = True) -> Benchmark:
    """A benchmark instance by name (an instance passes through unchanged)."""
    if isinstance(name, Benchmark):
        return name
    cls = BENCHMARKS.get(name.strip().lower())
    if cls is None:
        raise ConfigError(f"unknown benchmark {name!r}: choose one of {', '.join(BENCHMARKS)}")
    return cls(cot=cot)
