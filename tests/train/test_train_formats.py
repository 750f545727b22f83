"""Chat-row normalisation, the LLaMA-Factory and chat-JSONL writers, and reading them back."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codeio.errors import InputError
from codeio.train.data import load_chat_rows
from codeio.train.formats import normalize_row, write_chat_jsonl, write_llamafactory

CHAT = [
    {"role": "system", "content": "Be exact."},
    {"role": "user", "content": "Predict f(2)."},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "Wrong, f doubles then adds 1."},
    {"role": "assistant", "content": "5"},
]


def test_normalize_row_reads_the_common_chat_formats() -> None:
    sharegpt = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    alpaca = {"instruction": "q", "input": "x", "output": "a", "system": "s"}
    pc = {"prompt": "q", "completion": "a"}
    expect = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert normalize_row(sharegpt) == expect
    assert normalize_row(pc) == expect
    assert normalize_row(alpaca) == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q\nx"},
        {"role": "assistant", "content": "a"},
    ]
    assert normalize_row({"messages": CHAT, "id": 1}) == CHAT


@pytest.mark.parametrize(
    "row",
    [
        {"messages": [{"role": "user", "content": "only a question"}]},
        {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"text": "plain text is not a chat"},
    ],
)
def test_normalize_row_rejects_rows_it_cannot_train_on(row: dict) -> None:
    with pytest.raises(InputError):
        normalize_row(row, where="x.jsonl:3")


def test_llamafactory_folder_has_registry_and_openai_tags(tmp_path: Path) -> None:
    bad = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"},
        ]
    }
    out = write_llamafactory([{"messages": CHAT, "task_id": "t1"}, bad, CHAT[1:3]], tmp_path / "lf")
    info = json.loads((out / "dataset_info.json").read_text())
    entry = info["codeio"]
    assert entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "messages"}
    assert entry["tags"] == {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
        "system_tag": "system",
    }
    lines = [json.loads(x) for x in (out / entry["file_name"]).read_text().splitlines()]
    # The non-alternating row is left out: LLaMA-Factory would drop it anyway.
    assert lines == [{"messages": CHAT}, {"messages": CHAT[1:3]}]
    # A second dataset joins the same registry instead of replacing it.
    write_llamafactory([CHAT], out, name="general")
    assert set(json.loads((out / "dataset_info.json").read_text())) == {"codeio", "general"}
    # And our own loader reads the folder back.
    assert load_chat_rows([str(out)]) == [CHAT, CHAT[1:3], CHAT]


def test_chat_jsonl_round_trips_through_every_local_source_kind(tmp_path: Path) -> None:
    rows = [{"messages": CHAT, "kind": "output"}, {"messages": CHAT[1:3], "kind": "input"}]
    n = write_chat_jsonl(rows, tmp_path / "a.jsonl")
    assert n == 2
    first = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])
    assert first["kind"] == "output"  # extra fields kept by default
    write_chat_jsonl(rows, tmp_path / "strict.jsonl", keep_extra=False)
    assert set(json.loads((tmp_path / "strict.jsonl").read_text().splitlines()[0])) == {"messages"}

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "b.parquet")
    (tmp_path / "c.json").write_text(json.dumps(rows))
    expect = [CHAT, CHAT[1:3]]
    assert load_chat_rows([str(tmp_path / "a.jsonl")]) == expect
    assert load_chat_rows([str(tmp_path / "b.parquet")]) == expect
    assert load_chat_rows([str(tmp_path / "c.json")]) == expect
    folder = tmp_path / "dir"
    folder.mkdir()
    write_chat_jsonl(rows, folder / "part-0.jsonl")
    assert load_chat_rows([str(folder)], max_samples=1) == [CHAT]
    with_sys = load_chat_rows([str(tmp_path / "a.jsonl")], system_prompt="S")
    assert with_sys[1][0] == {"role": "system", "content": "S"}  # added where missing
    assert with_sys[0][0]["content"] == "Be exact."  # kept where present


def test_bad_jsonl_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps({"messages": CHAT}) + "\n{oops\n")
    with pytest.raises(InputError) as err:
        load_chat_rows([str(p)])
    assert err.value.line == 2 and str(p) in str(err.value)
