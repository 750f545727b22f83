"""Chat-row formats: normalise what trainers read into ``messages``, and write files other
trainers read (LLaMA-Factory dataset folders, plain chat-messages JSONL).

A *messages row* is ``{"messages": [{"role": ..., "content": ...}, ...], **extra}``; it is what
``codeio export --format messages`` writes and what TRL, axolotl (``type: chat_template``) and
LLaMA-Factory (sharegpt formatting with openai tags) read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from codeio.errors import InputError

__all__ = [
    "ROLES",
    "Messages",
    "normalize_row",
    "write_chat_jsonl",
    "write_llamafactory",
]

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]
ROLES = ("system", "user", "assistant")

# ShareGPT speaker names seen in the wild, mapped to chat roles.
_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "system": "system",
}


def normalize_row(row: Mapping[str, Any], *, where: str = "") -> Messages:
    """Turn one chat-format row into a validated list of messages.

    Accepts OpenAI ``messages``, ShareGPT ``conversations`` (``from``/``value``), Alpaca
    (``instruction``/``input``/``output``, optional ``system`` and ``history``) and
    ``prompt``/``response`` (or ``completion``) pairs.
    """
    for key in ("messages", "conversations", "conversation"):
        if key in row and row[key] is not None:
            return _validate([_message(m, where) for m in row[key]], where)
    if "instruction" in row and "output" in row:
        return _validate(_alpaca(row), where)
    if "prompt" in row and ("response" in row or "completion" in row):
        prompt = row["prompt"]
        answer = row.get("response", row.get("completion"))
        if isinstance(prompt, list):  # TRL conversational prompt-completion
            msgs = [_message(m, where) for m in prompt]
            msgs += (
                [_message(m, where) for m in answer]
                if isinstance(answer, list)
                else [{"role": "assistant", "content": str(answer)}]
            )
            return _validate(msgs, where)
        return _validate(
            [
                {"role": "user", "content": str(prompt)},
                {"role": "assistant", "content": str(answer)},
            ],
            where,
        )
    raise InputError(
        f"not a chat row (expected messages, conversations, instruction/output or "
        f"prompt/response; got keys {sorted(row)[:8]})",
        path=where or None,
    )


def _message(m: Any, where: str) -> dict[str, str]:
    if not isinstance(m, Mapping):
        raise InputError(f"a message must be an object, got {type(m).__name__}", path=where or None)
    if "role" in m:
        role, content = str(m["role"]), m.get("content")
    elif "from" in m:
        role = _SHAREGPT_ROLES.get(str(m["from"]).lower(), str(m["from"]))
        content = m.get("value")
    else:
        raise InputError("a message needs role/content or from/value", path=where or None)
    if isinstance(content, list):  # multimodal-style parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return {"role": role, "content": "" if content is None else str(content)}


def _alpaca(row: Mapping[str, Any]) -> Messages:
    msgs: Messages = []
    if row.get("system"):
        msgs.append({"role": "system", "content": str(row["system"])})
    for turn in row.get("history") or []:
        msgs += [
            {"role": "user", "content": str(turn[0])},
            {"role": "assistant", "content": str(turn[1])},
        ]
    query = str(row["instruction"])
    if row.get("input"):
        query = f"{query}\n{row['input']}"
    msgs += [
        {"role": "user", "content": query},
        {"role": "assistant", "content": str(row["output"])},
    ]
    return msgs


def _validate(msgs: Messages, where: str) -> Messages:
    if not any(m["role"] == "assistant" for m in msgs):
        raise InputError("a chat row needs at least one assistant message", path=where or None)
    bad = [m["role"] for m in msgs if m["role"] not in ROLES]
    if bad:
        raise InputError(f"unknown role {bad[0]!r}; expected one of {ROLES}", path=where or None)
    return msgs


def _rows(messages_rows: Iterable[Mapping[str, Any] | Messages]) -> Iterable[dict[str, Any]]:
    # Accept bare message lists too: callers often hold list[list[dict]].
    for i, row in enumerate(messages_rows):
        if isinstance(row, list):
            yield {"messages": _validate([_message(m, f"row {i}") for m in row], f"row {i}")}
        else:
            extra = {k: v for k, v in row.items() if k not in ("messages", "conversations")}
            yield {"messages": normalize_row(row, where=f"row {i}"), **extra}


def write_chat_jsonl(
    messages_rows: Iterable[Mapping[str, Any] | Messages],
    path: str | Path,
    *,
    keep_extra: bool = True,
) -> int:
    """Write ``{"messages": [...]}`` lines (read by TRL, axolotl, LLaMA-Factory, OpenAI
    fine-tuning); returns the number of rows. ``keep_extra=False`` drops every other field,
    which strict readers (OpenAI fine-tuning) require."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in _rows(messages_rows):
            out = row if keep_extra else {"messages": row["messages"]}
            fh.write(json.dumps(out, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)  # a reader never sees a half-written file
    return n


def write_llamafactory(
    messages_rows: Iterable[Mapping[str, Any] | Messages],
    out_dir: str | Path,
    name: str = "codeio",
) -> Path:
    """Write a LLaMA-Factory dataset folder: ``<name>.jsonl`` plus ``dataset_info.json``.

    The data file keeps OpenAI-style ``messages`` and the registry maps them with LLaMA-Factory's
    sharegpt formatting and role/content tags, so ``dataset_dir: OUT_DIR`` and
    ``dataset: NAME`` train on it. A leading system message becomes LLaMA-Factory's system
    prompt. An existing ``dataset_info.json`` keeps its other entries. Returns the folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    file_name = f"{name}.jsonl"
    skipped = 0

    def keep() -> Iterable[dict[str, Any]]:
        nonlocal skipped
        for r in _rows(messages_rows):
            if _llamafactory_ok(r["messages"]):
                yield {"messages": r["messages"]}
            else:
                skipped += 1

    write_chat_jsonl(keep(), out / file_name, keep_extra=False)
    info_path = out / "dataset_info.json"
    info: dict[str, Any] = {}
    if info_path.exists():
        info = json.loads(info_path.read_text(encoding="utf-8"))
    info[name] = {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }
    if skipped:
        logger.warning(
            "llamafactory export: %d rows are not user/assistant alternating; skipped", skipped
        )
    info_path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _llamafactory_ok(msgs: Messages) -> bool:
    # LLaMA-Factory's sharegpt reader wants user/assistant strictly alternating after an optional
    # leading system message, ending on the assistant; it drops other rows with a warning.
    # Check here so the count is honest.
    body = msgs[1:] if msgs and msgs[0]["role"] == "system" else msgs
    if not body or len(body) % 2:
        return False
    return all(m["role"] == ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(body))
