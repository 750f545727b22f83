"""Unify: rewrite raw code into the unified form (main_solution + input_generator + texts)."""

from __future__ import annotations

from codeio.pipeline.unify.parse import UnifiedParts, UnifyParseError, parse_unify_response

__all__ = ["UnifiedParts", "UnifyParseError", "parse_unify_response"]
