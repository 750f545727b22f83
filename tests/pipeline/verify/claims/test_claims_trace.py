"""Bounded traces: claims about what a budget cut off are unverifiable, never contradicted."""

from __future__ import annotations

from codeio.exec import Sandbox
from codeio.pipeline.verify.claims import ClaimChecker, TraceBudget, trace_call
from codeio.records import IOPair, PredictionTask, Turn, Verdict

LONG = """
def main_solution(n):
    total = 0
    for i in range(n):
        total += i
    flag = total > 10
    return total
"""

RANDOM = """
import random

def main_solution(n):
    x = random.randint(0, 10 ** 9)
    return x + n
"""

COMPREHENSION = """
def main_solution(xs):
    y = 1
    doubled = [y * 2 for y in xs]
    return sum(doubled) + y
"""


def test_trace_records_iterations_loops_and_returns(sandbox: Sandbox) -> None:
    trace = trace_call(sandbox, LONG, "main_solution", {"n": 5})
    assert trace.ok and trace.cut is None and trace.value == 10
    (loop,) = trace.loops
    assert loop.total == 5 and loop.recorded == 5 and loop.end_state["total"] == "10"
    assert [o.text for o in trace.values_of("total")] == ["0", "1", "3", "6", "10"]
    assert trace.complete_for("total")


def test_summarised_loop_makes_its_values_unverifiable(sandbox: Sandbox) -> None:
    checker = ClaimChecker(sandbox, budget=TraceBudget(loop_detail=3))
    text = (
        "Iteration 2: i = 1 and total = 1.\n"
        "Iteration 500: i = 499; total = 123.\n"  # past the recorded iterations
        "At some point total = 4242 as well.\n"  # inside the summarised part: cannot be ruled out
        "After the loop total = 499500 and the loop runs 1000 times.\n"
        "After the loop, total = 7."  # the end state is recorded: a real contradiction
    )
    verdict = checker.check_text(text, LONG, "main_solution", {"n": 1000}, expected=499500)
    status = {(c.name, c.claimed): c.status for c in verdict.claims}
    assert status[("i", "1")] == "supported"
    assert status[("i", "499")] == "unverifiable"
    assert status[("total", "123")] == "unverifiable"
    assert status[("total", "4242")] == "unverifiable"
    assert status[("total", "499500")] == "supported"
    assert status[("", "1000")] == "supported"
    assert status[("total", "7")] == "contradicted"


def test_cut_trace_never_contradicts_what_it_did_not_see(sandbox: Sandbox) -> None:
    checker = ClaimChecker(sandbox, budget=TraceBudget(max_events=40, loop_detail=1000))
    text = "total = 12345678. Iteration 300: i = 299. The loop runs 77 times. flag = False."
    verdict = checker.check_text(text, LONG, "main_solution", {"n": 2000}, expected=1999000)
    assert verdict.truncated
    assert verdict.contradicted == 0, verdict.claims
    assert verdict.unverifiable == len(verdict.claims) == 4


def test_non_reproducible_run_is_not_judged(sandbox: Sandbox) -> None:
    checker = ClaimChecker(sandbox)
    verdict = checker.check_text(
        "x = 5, so it returns 8.", RANDOM, "main_solution", {"n": 3}, expected=8
    )
    assert verdict.note in ("trace_differs", "nondeterministic_code")
    assert verdict.contradicted == 0 and verdict.unverifiable == len(verdict.claims) > 0


def test_names_hidden_in_comprehensions_are_not_contradicted(sandbox: Sandbox) -> None:
    checker = ClaimChecker(sandbox)
    text = "In the comprehension y = 3, and outside y = 1; `doubled` is [2, 6]; y = 99."
    verdict = checker.check_text(text, COMPREHENSION, "main_solution", {"xs": [1, 3]}, expected=9)
    assert verdict.contradicted == 0, verdict.claims
    assert {(c.name, c.claimed, c.status) for c in verdict.claims} >= {
        ("y", "1", "supported"),
        ("y", "3", "unverifiable"),
        ("y", "99", "unverifiable"),
    }


def test_check_many_turns_output_and_input_and_feedback_hides_the_answer(sandbox: Sandbox) -> None:
    checker = ClaimChecker(sandbox)
    out_task = PredictionTask(
        id="t1",
        func_id="f",
        io_index=0,
        kind="output",
        prompt="p",
        pair=IOPair(input={"n": 5}, output=10),
        refcode=LONG,
    )
    in_task = out_task.model_copy(update={"id": "t2", "kind": "input"})
    wrong_steps = Turn(
        response="After the loop, total = 10. So the output is 11.",
        answer=11,
        has_answer=True,
        verdict=Verdict(status="wrong", feedback="[Mismatch]"),
    )
    candidate = Turn(
        response="Try n = 4: after the loop total = 7.",
        answer={"n": 4},
        has_answer=True,
        verdict=Verdict(status="wrong", feedback="[Mismatch]", actual_output=6),
    )
    no_input = Turn(response="total = 3", verdict=Verdict(status="no_answer", feedback="[Missing]"))
    v1, v2, v3 = checker.check_many(
        [(out_task, wrong_steps), (in_task, candidate), (in_task, no_input)]
    )
    assert (v1.supported, v1.contradicted) == (1, 1)
    assert v1.first_contradiction is not None and v1.first_contradiction.kind == "final"
    assert "10" not in v1.feedback and v1.feedback.startswith("[Steps]")
    assert v2.contradicted == 1 and "shows 6" in v2.feedback
    assert v3.note == "no_candidate_input" and v3.contradicted == 0
    turns = checker.with_process([(out_task, wrong_steps)])
    assert turns[0].verdict is not None and turns[0].verdict.process == v1


def test_input_prediction_steps_about_other_candidates_are_not_judged(sandbox: Sandbox) -> None:
    checker = ClaimChecker(sandbox)
    text = (
        "Try n = 3 first: the loop runs 3 times and total = 3, not 10. "
        "Try n = 5 instead: the loop runs 5 times, after the loop total = 11. "
        '```json\n{"input": {"n": 5}}\n```'
    )
    verdict = checker.check_text(text, LONG, "main_solution", {"n": 5}, kind="input", expected=10)
    by_value = {(c.kind, c.claimed): (c.status, c.note) for c in verdict.claims}
    assert by_value[("loop_count", "3")] == ("unverifiable", "other_candidate")
    assert by_value[("value", "3")] == ("unverifiable", "other_candidate")
    assert by_value[("loop_count", "5")][0] == "supported"
    assert by_value[("value", "11")][0] == "contradicted"  # a real wrong step of the final run


def test_batch_larger_than_the_cache_keeps_its_hits(sandbox: Sandbox) -> None:
    # A cached trace asked for again in a batch whose fresh traces overflow the cache must still
    # come back (it used to be evicted between the lookup and the answer: KeyError mid-run).
    checker = ClaimChecker(sandbox, cache_size=2)
    first = checker.trace(LONG, "main_solution", {"n": 3})
    calls = [(LONG, "main_solution", {"n": 3})] + [
        (LONG, "main_solution", {"n": n}) for n in range(4, 9)
    ]
    traces = checker.traces(calls)
    assert [t.value for t in traces] == [3, 6, 10, 15, 21, 28]
    assert traces[0].value == first.value
    assert checker.traces_run == 6
    assert len(checker._cache) == 2
