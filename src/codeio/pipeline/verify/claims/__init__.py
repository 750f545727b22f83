"""Process verification: check every claim a chain of thought makes against the real trace.

``extract_claims`` finds the claims, ``trace_call`` records a bounded trace in the sandbox,
``judge_claims`` settles each one (supported / contradicted / unverifiable), and
``ClaimChecker`` puts them together into the ``ProcessVerdict`` stored on each turn's verdict.
See docs/PROCESS.md.
"""

from __future__ import annotations

from codeio.pipeline.verify.claims.checker import ClaimChecker, process_verdict, trace_input
from codeio.pipeline.verify.claims.extract import Claim, extract_claims
from codeio.pipeline.verify.claims.feedback import contradiction_feedback
from codeio.pipeline.verify.claims.judge import code_names, judge_claim, judge_claims
from codeio.pipeline.verify.claims.trace import ExecTrace, TraceBudget, replay_events, trace_call

__all__ = [
    "Claim",
    "ClaimChecker",
    "ExecTrace",
    "TraceBudget",
    "code_names",
    "contradiction_feedback",
    "extract_claims",
    "judge_claim",
    "judge_claims",
    "process_verdict",
    "replay_events",
    "trace_call",
    "trace_input",
]
