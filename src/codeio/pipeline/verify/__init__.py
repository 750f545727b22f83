"""Verification: extract the final answer, compare it, re-execute predicted inputs, give feedback."""

from __future__ import annotations

from codeio.pipeline.verify.compare import values_equal
from codeio.pipeline.verify.extract import AnswerKey, Extracted, extract_answer
from codeio.pipeline.verify.signature import FunctionSignature, check_kwargs, read_signature
from codeio.pipeline.verify.verifier import Verifier

__all__ = [
    "AnswerKey",
    "Extracted",
    "FunctionSignature",
    "Verifier",
    "check_kwargs",
    "extract_answer",
    "read_signature",
    "values_equal",
]
