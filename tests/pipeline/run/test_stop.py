"""A stage that failed every record stops the run; a partial or transient failure does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeio.config import load_config
from codeio.errors import InputError, StageFailedError
from codeio.pipeline.stop import STOP_META, example_line, retry_stopped, stop_if_all_failed
from codeio.records import Failure, RawCode
from codeio.store.db import Outcome, RunStore


def _fail(stage: str, rid: str, reason: str, detail: str = "") -> Outcome:
    return Outcome(rid, failure=Failure(stage=stage, record_id=rid, reason=reason, detail=detail))


def _ok(rid: str) -> Outcome:
    return Outcome(rid, outputs=[RawCode(id=f"out-{rid}", content="x = 1")])


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore.open_run(tmp_path)


CFG = load_config(None, ["input.path=data.jsonl"])


def test_all_failed_for_one_reason_stops_with_an_example(store: RunStore) -> None:
    tb = "Traceback (most recent call last):\n  File x\nKeyError: 'a'\n"
    store.commit_outcomes(
        "generate", [_fail("generate", f"r{i}", "llm_length", tb) for i in range(3)]
    )
    with pytest.raises(StageFailedError) as err:
        stop_if_all_failed(store, "generate", CFG)
    text = str(err.value)
    assert text.startswith("generate: all 3 records failed: llm_length: KeyError: 'a'")
    assert "codeio doctor" in text and err.value.exit_code == 3
    assert store.get_meta(STOP_META) == {"stage": "generate", "reason": "llm_length"}
    # The next run retries exactly those records.
    assert retry_stopped(store) == 3
    assert store.query("SELECT COUNT(*) FROM done WHERE stage = 'generate'")[0][0] == 0
    assert store.get_meta(STOP_META) is None and not store.is_complete("generate")


@pytest.mark.parametrize(
    "outcomes",
    [
        [_ok("a"), _fail("generate", "b", "llm_length")],  # partial: counted, run goes on
        [_fail("generate", "a", "llm_timeout"), _fail("generate", "b", "llm_timeout")],
        # a rerun asks the transient one again, so this is "retry pending" (exit 5), not empty
        [_fail("generate", "a", "llm_timeout"), _fail("generate", "b", "llm_length")],
    ],
    ids=["partial", "transient-llm", "transient-and-other"],
)
def test_other_outcomes_do_not_stop(store: RunStore, outcomes: list[Outcome]) -> None:
    store.commit_outcomes("generate", outcomes)
    stop_if_all_failed(store, "generate", CFG)
    assert store.get_meta(STOP_META) is None


def test_all_failed_for_several_reasons_stops_naming_them_by_count(store: RunStore) -> None:
    """Before: the run went on with nothing and ended with an empty export and exit 0."""
    outcomes = [_fail("sample", "a", "timeout", "exceeded 2.0 s")] + [
        _fail("sample", f"b{i}", "too_few_pairs", "1 distinct pairs") for i in range(2)
    ]
    store.commit_outcomes("sample", outcomes)
    with pytest.raises(StageFailedError) as err:
        stop_if_all_failed(store, "sample", load_config(None, ["input.path=data.jsonl"]))
    text = str(err.value)
    assert text.startswith("sample: all 3 records failed: too_few_pairs 2, timeout 1: "), text
    assert retry_stopped(store) == 3


def test_no_input_records_is_an_input_error(store: RunStore) -> None:
    with pytest.raises(InputError) as err:
        stop_if_all_failed(store, "ingest", CFG)
    assert "data.jsonl" in str(err.value) and err.value.exit_code == 1


def test_example_line_picks_the_exception() -> None:
    assert example_line("loading refcode: ModuleNotFoundError: No module named 'numpy'") == (
        "ModuleNotFoundError: No module named 'numpy'"
    )
    assert example_line("plain reason\nmore") == "plain reason"
    assert len(example_line("x" * 1000)) == 240
