"""Load chat datasets for training: local JSONL/JSON/Parquet files, folders (``codeio export``
output, HF ``save_to_disk``, LLaMA-Factory dataset folders) or ``hf:NAME[:SPLIT]`` hub datasets."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from codeio.errors import ConfigError, InputError, require
from codeio.train.formats import Messages, normalize_row

__all__ = ["load_chat_rows", "iter_source_rows"]

_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")


def load_chat_rows(
    sources: list[str],
    *,
    max_samples: int | None = None,
    system_prompt: str | None = None,
) -> list[Messages]:
    """Read every source in order and return validated message lists."""
    if not sources:
        raise ConfigError("a training stage needs at least one dataset (stage.data)")
    out: list[Messages] = []
    for source in sources:
        for where, row in iter_source_rows(source):
            msgs = normalize_row(row, where=where)
            if system_prompt and msgs[0]["role"] != "system":
                msgs = [{"role": "system", "content": system_prompt}, *msgs]
            out.append(msgs)
            if max_samples is not None and len(out) >= max_samples:
                return out
    if not out:
        raise InputError("no rows", path=", ".join(sources))
    return out


def iter_source_rows(source: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(where, row)`` for one source; ``where`` is ``path:line`` for error messages."""
    if source.startswith("hf:"):
        yield from _hub_rows(source[3:])
        return
    path = Path(source)
    if path.is_file():
        yield from _file_rows(path)
    elif path.is_dir():
        yield from _dir_rows(path)
    elif "/" in source and not source.startswith((".", "/")):
        yield from _hub_rows(source)  # looks like a hub name (org/name)
    else:
        raise ConfigError(f"dataset not found: {source}")


def _file_rows(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for i, row in enumerate(pq.read_table(path).to_pylist()):
            yield f"{path}:row {i}", row
    elif suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc}", path=str(path)) from exc
        if not isinstance(data, list):
            raise InputError("a .json dataset must be a list of rows", path=str(path))
        for i, row in enumerate(data):
            yield f"{path}:row {i}", row
    else:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"invalid JSON: {exc}", path=str(path), line=lineno) from exc
                yield f"{path}:{lineno}", row


def _dir_rows(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if (path / "dataset_info.json").exists():
        yield from _llamafactory_rows(path)
    elif (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        datasets = require("datasets", "train", "reading a saved HF dataset")
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds["train"] if "train" in ds else next(iter(ds.values()))
        for i, row in enumerate(ds):
            yield f"{path}:row {i}", row
    else:
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _FILE_SUFFIXES)
        files = [p for p in files if p.name not in ("manifest.json", "stats.json")]
        if not files:
            raise InputError("no .jsonl/.json/.parquet files in the folder", path=str(path))
        for f in files:
            yield from _file_rows(f)


def _llamafactory_rows(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    # Each registry entry names its file and the column holding the messages.
    info = json.loads((path / "dataset_info.json").read_text(encoding="utf-8"))
    for name, entry in info.items():
        file_name = entry.get("file_name")
        if not file_name:
            continue
        column = entry.get("columns", {}).get("messages", "conversations")
        for where, row in _file_rows(path / file_name):
            if entry.get("formatting", "alpaca") == "sharegpt" and column in row:
                yield f"{name}:{where}", {"messages": row[column]}
            else:
                yield f"{name}:{where}", row


def _hub_rows(spec: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    datasets = require("datasets", "train", "loading a hub dataset")
    name, _, split = spec.partition(":")
    ds = datasets.load_dataset(name, split=split or "train")
    for i, row in enumerate(ds):
        yield f"{name}:row {i}", row
