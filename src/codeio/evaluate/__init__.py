"""Evaluation: CRUXEval, the held-out split and LeetCode-O, pass@k; decontamination checks."""

from __future__ import annotations

from codeio.evaluate.benchmarks import BENCHMARKS, Benchmark, EvalItem, Judgement, get_benchmark
from codeio.evaluate.metrics import mean_pass_at_k, pass_at_k
from codeio.evaluate.results import Breakdown, EvalSummary, ResultRow
from codeio.evaluate.runner import evaluate, load_items, score_responses

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "Breakdown",
    "EvalItem",
    "EvalSummary",
    "Judgement",
    "ResultRow",
    "evaluate",
    "get_benchmark",
    "load_items",
    "mean_pass_at_k",
    "pass_at_k",
    "score_responses",
]
