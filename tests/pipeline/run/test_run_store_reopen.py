"""Reopening retryable LLM failures in the run store, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from codeio.pipeline.run.failures import LENGTH, MAX_TOKENS_STAT, RETRY_ON_RESUME, retry_on_resume
from codeio.records import Failure, RawCode
from codeio.store import LLMUsage, Outcome, RunStore, funnel


def _fail(rid: str, reason: str, **kw) -> Outcome:  # type: ignore[no-untyped-def]
    return Outcome(rid, failure=Failure(stage="generate", record_id=rid, reason=reason), **kw)


def test_reopen_retryable_and_raised_length_keeps_usage(tmp_path: Path) -> None:
    usage = [LLMUsage(model="m", prompt_tokens=5, completion_tokens=100)]
    with RunStore.open_run(tmp_path) as store:
        store.commit_outcomes(
            "prompt",
            [Outcome(f"f{i}", outputs=[RawCode(id=f"t{i}", content="")]) for i in range(5)],
        )
        store.commit_outcomes(
            "generate",
            [
                _fail("t0", "llm_connection"),
                _fail("t1", "llm_auth"),
                _fail("t2", LENGTH, stats={MAX_TOKENS_STAT: 256.0}, usage=usage),
                _fail("t3", "llm_bad_request"),
                Outcome("t4", outputs=[RawCode(id="t4", content="answer")]),
            ],
        )
        data = funnel(tmp_path)
        row = next(s for s in data["stages"] if s["stage"] == "generate")
        assert row["retry_pending"] == 2 and row["truncated"] == 1
        assert row["llm_failures"] == {
            "llm_connection": 1, "llm_auth": 1, LENGTH: 1, "llm_bad_request": 1
        }  # fmt: skip
        assert data["retry_pending"] == {"generate": 2}

        # Same max_tokens: only the endpoint's failures come back.
        below = (LENGTH, MAX_TOKENS_STAT, 256.0)
        assert store.reopen_failures("generate", RETRY_ON_RESUME, below=below) == 2
        assert store.count_pending("generate", "prompt") == 2
        # A larger max_tokens also reopens the cut answer; the final failure stays.
        assert store.reopen_failures("generate", RETRY_ON_RESUME, below=(*below[:2], 512.0)) == 1
        pending = {r.id for r in store.iter_records("prompt", RawCode, pending_for="generate")}
        assert pending == {"t0", "t1", "t2"}
        # The cut answer's billed tokens stay; the retried call is numbered after them.
        store.commit_outcomes("generate", [Outcome("t2", outputs=[], usage=usage)])
        calls = store.query("SELECT call FROM llm_usage WHERE stage='generate' AND id='t2'")
        assert sorted(c for (c,) in calls) == [0, 1]
        assert not list(store.iter_failures("generate"))[1:]  # only t3 is left as a failure


def test_revise_failure_keeps_its_sample_until_reopened(tmp_path: Path) -> None:
    with RunStore.open_run(tmp_path) as store:
        store.commit_outcomes("verify", [Outcome("a", outputs=[RawCode(id="a", content="v")])])
        fail = Failure(stage="revise", record_id="a", reason="llm_timeout")
        store.commit_outcomes(
            "revise", [Outcome("a", outputs=[RawCode(id="a", content="turn1")], failure=fail)]
        )
        assert store.count_records("revise") == 1  # exported as it was
        assert store.reopen_failures("revise", RETRY_ON_RESUME) == 1
        assert store.count_records("revise") == 0
        assert store.count_pending("revise", "verify") == 1


def test_retry_classes() -> None:
    assert retry_on_resume("llm_malformed", {}, 100)
    assert not retry_on_resume("llm_bad_request", {}, 100)
    assert not retry_on_resume("wrong", {}, 100)
    assert retry_on_resume(LENGTH, {MAX_TOKENS_STAT: 50.0}, 100)
    assert not retry_on_resume(LENGTH, {MAX_TOKENS_STAT: 100.0}, 100)
