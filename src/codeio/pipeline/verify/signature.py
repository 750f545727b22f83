"""The parameters of the entry function, read from its source with ``ast`` (nothing is run).

Checking a predicted input against them first gives the model a precise message ("missing
argument 'm'") instead of a bare TypeError, and saves an execution.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codeio import ast_safe

__all__ = ["FunctionSignature", "check_kwargs", "read_signature"]


@dataclass(frozen=True)
class FunctionSignature:
    name: str
    keyword_params: tuple[str, ...]
    """Parameters that can be passed by keyword, in order."""
    required: tuple[str, ...]
    """Of those, the ones without a default."""
    positional_only_required: tuple[str, ...] = ()
    """Required positional-only parameters: a kwargs call can never satisfy them."""
    accepts_any_keyword: bool = False
    """The function has ``**kwargs``."""

    def describe(self) -> str:
        params = list(self.keyword_params) + (["**kwargs"] if self.accepts_any_keyword else [])
        return f"{self.name}({', '.join(params)})"


def read_signature(code: str, name: str) -> FunctionSignature | None:
    """The signature of the top-level function ``name`` in ``code``; None if it cannot be read.

    None (syntax error, no plain ``def``) means "do not pre-check": the execution decides.
    """
    try:
        tree = ast_safe.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found: ast.FunctionDef | None = None
    for node in tree.body:
        # The last definition wins, as it does at run time.
        if isinstance(node, ast.FunctionDef) and node.name == name:
            found = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.ClassDef, ast.AsyncFunctionDef)):
            targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
            names = {getattr(t, "id", None) for t in targets} | {getattr(node, "name", None)}
            if name in names:
                found = None  # rebound to something we cannot read statically
    if found is None or found.decorator_list:
        return None  # a decorator may change the signature
    args = found.args
    positional = args.posonlyargs + args.args
    n_without_default = len(positional) - len(args.defaults)
    posonly_required = tuple(a.arg for a in args.posonlyargs[:n_without_default])
    keyword = [a.arg for a in args.args] + [a.arg for a in args.kwonlyargs]
    required = [
        a.arg
        for i, a in enumerate(positional)
        if i >= len(args.posonlyargs) and i < n_without_default
    ]
    required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    return FunctionSignature(
        name=name,
        keyword_params=tuple(keyword),
        required=tuple(required),
        positional_only_required=posonly_required,
        accepts_any_keyword=args.kwarg is not None,
    )


def check_kwargs(signature: FunctionSignature, kwargs: Mapping[str, Any]) -> str | None:
    """A message for the model if ``kwargs`` cannot be bound to ``signature``; None if it can."""
    problems: list[str] = []
    if signature.positional_only_required:
        return None  # cannot be called with keywords at all: let the execution report it
    unknown = [k for k in kwargs if k not in signature.keyword_params]
    if unknown and not signature.accepts_any_keyword:
        problems.append(f"unexpected argument{_s(unknown)} {_names(unknown)}")
    missing = [p for p in signature.required if p not in kwargs]
    if missing:
        problems.append(f"missing required argument{_s(missing)} {_names(missing)}")
    if not problems:
        return None
    return f"{'; '.join(problems)}. The arguments of {signature.describe()} are expected."


def _s(items: list[str]) -> str:
    return "s" if len(items) > 1 else ""


def _names(items: list[str]) -> str:
    return ", ".join(repr(str(i)) for i in items)
