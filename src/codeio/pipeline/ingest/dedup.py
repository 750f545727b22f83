"""Exact-duplicate removal by normalised content hash (the RawCode id)."""

from __future__ import annotations

from collections.abc import Iterable

from codeio.ids import normalize_code
from codeio.records import Failure, RawCode

__all__ = ["Deduplicator"]


class Deduplicator:
    """Lets the first copy of each normalised content through; later copies become ``duplicate``.

    The key is recomputed from the content (not trusted from ``raw.id``) so records built by
    hand or by another reader dedup the same way. ``seen`` pre-loads keys, e.g. from a resumed run.
    """

    def __init__(self, seen: Iterable[str] = ()) -> None:
        self._first: dict[str, str] = {key: "" for key in seen}
        self.duplicates = 0

    @staticmethod
    def key(raw: RawCode) -> str:
        return RawCode.make_id(normalize_code(raw.content))

    def __call__(self, item: RawCode | Failure) -> RawCode | Failure:
        if isinstance(item, Failure):
            return item
        key = self.key(item)
        first = self._first.get(key)
        if first is None:
            self._first[key] = item.source
            return item
        self.duplicates += 1
        earlier = f" as {first}" if first else " as an earlier record"
        return Failure(
            stage="ingest",
            record_id=item.id,
            reason="duplicate",
            detail=f"{item.source}: same normalized content{earlier}",
        )
