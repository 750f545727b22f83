"""Run store: one run directory, its state in SQLite (WAL); resume without duplicates."""

from __future__ import annotations

from codeio.store.db import LLMUsage, Outcome, RunStore
from codeio.store.funnel import funnel

__all__ = ["LLMUsage", "Outcome", "RunStore", "funnel"]
