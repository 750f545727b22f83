"""Ingest stage: stream the input files into the store as RawCode or FunctionRecords.

Unlike the other stages its input is files, not store records, so its "input id" is the
location of each item (``path:line`` or a file path): on resume every file is re-read and only
locations without a done row are processed. Exact duplicates are found against the store, not
an in-memory set, so memory stays flat however large the input is.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeio.errors import ConfigError
from codeio.records import Failure, FunctionRecord, RawCode
from codeio.store.db import Outcome

if TYPE_CHECKING:
    from codeio.config import RunConfig
    from codeio.store.db import RunStore

__all__ = ["STAGE", "detect_kind", "ingest_batches"]

STAGE = "ingest"
Item = RawCode | FunctionRecord | Failure


def detect_kind(config: RunConfig) -> str:
    """``input.kind``, or the kind every input path's fields say (they must agree)."""
    from codeio.pipeline.ingest import detect_input_kind

    if not config.input.path:
        raise ConfigError("input.path: no input given (a file, a folder, or a list of them)")
    if config.input.kind is not None:
        return config.input.kind
    kinds = {p: detect_input_kind(p) for p in config.input.path}
    if len(set(kinds.values())) > 1:
        listing = ", ".join(f"{p}: {k}" for p, k in kinds.items())
        raise ConfigError(
            f"input.path: the inputs hold different kinds ({listing}); "
            "set input.kind or run them separately"
        )
    return next(iter(kinds.values()))


def _location(item: Item) -> str:
    if isinstance(item, Failure):
        return item.record_id
    if isinstance(item, RawCode):
        return item.source or item.id
    return str(item.meta.get("ingest_source") or item.id)


def _items(config: RunConfig, kind: str) -> Iterator[Item]:
    from codeio.pipeline.ingest import SyntaxFilter, read_input

    syntax = SyntaxFilter() if kind == "raw" else None
    for path in config.input.path:
        for item in read_input(path, kind=kind):  # type: ignore[arg-type]
            yield syntax(item) if syntax is not None else item


def ingest_batches(
    config: RunConfig, kind: str, store: RunStore, batch_size: int
) -> Iterator[list[Outcome]]:
    """Outcomes per batch of input items not yet done, duplicates turned into Failures."""
    items: Iterator[Item] = _items(config, kind)
    if config.input.limit is not None:
        items = itertools.islice(items, config.input.limit)
    while True:
        chunk = list(itertools.islice(items, batch_size))
        if not chunk:
            return
        keyed = [(_location(it), it) for it in chunk]
        done = store.is_done(STAGE, [k for k, _ in keyed])
        fresh = [(k, it) for k, it in keyed if k not in done]
        if not fresh:
            continue
        ids = [it.id for _, it in fresh if not isinstance(it, Failure)]
        seen = store.existing_ids(STAGE, ids)
        outcomes: list[Outcome] = []
        for key, it in fresh:
            if isinstance(it, Failure):
                outcomes.append(Outcome(key, failure=it.model_copy(update={"record_id": key})))
            elif it.id in seen:
                outcomes.append(
                    Outcome(
                        key,
                        failure=Failure(
                            stage=STAGE,
                            record_id=key,
                            reason="duplicate",
                            detail=f"{key}: same content as an earlier record ({it.id})",
                        ),
                    )
                )
            else:
                seen.add(it.id)
                outcomes.append(Outcome(key, outputs=[it]))
        yield outcomes


def input_model(kind: str) -> type[Any]:
    return RawCode if kind == "raw" else FunctionRecord


def resolve_paths(paths: list[str]) -> list[str]:
    return [str(Path(p).resolve()) for p in paths]
