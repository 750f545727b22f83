"""A stage that failed every record for one reason stops the run; anything less does not."""

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
        [_fail("generate", "a", "llm_length"), _fail("generate", "b", "llm_malformed")],
        [_fail("generate", "a", "llm_timeout"), _fail("generate", "b", "llm_timeout")],
    ],
    ids=["partial", "mixed-reasons", "transient-llm"],
)
def test_other_outcomes_do_not_stop(store: RunStore, outcomes: list[Outcome]) -> None:
    store.commit_outcomes("generate", outcomes)
    stop_if_all_failed(store, "generate", CFG)
    assert store.get_meta(STOP_META) is None


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
