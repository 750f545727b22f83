"""Stable content-hash ids and per-record seeds derived from them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "content_id", "derive_seed", "normalize_code"]


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the one text form used for hashing and dedup."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
    )


def content_id(*parts: Any, prefix: str = "", length: int = 16) -> str:
    """A short sha256 over the canonical JSON of ``parts``; equal content gives the equal id."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).hexdigest()[:length]
    return f"{prefix}{digest}"


def normalize_code(source: str) -> str:
    """Whitespace-normalised source for exact-duplicate detection (trailing space, blank lines, CRLF)."""
    lines = [line.rstrip() for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line.strip())


def derive_seed(run_seed: int, *parts: Any) -> int:
    """A 63-bit seed from the run seed and a record's identity, so reruns draw the same numbers."""
    digest = hashlib.sha256(canonical_json([run_seed, *parts]).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1
