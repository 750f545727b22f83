"""Answer extraction and judging, case by case, against the CodeI/O reference checker.

The reference (hkust-nlp/CodeIO, ``src/check_io_pred_acc_mp.py`` with ``codeio_utils``) reads the
last JSON object of a response (the last fenced json block when there is one), retries with
Python names and parentheses rewritten, then with LaTeX brace escapes removed; it compares
outputs with a relative tolerance of 1e-3 of the target and re-runs predicted inputs in a
subprocess whose exit status decides. Each row below is a response (or value pair) where the
two disagreed when this file was written, or where they must keep agreeing; ``reference`` is
the reference's verdict, for the record (it is not run here), and ``expected`` is codeio's.
docs/EVALUATION.md ("Differences from the CodeI/O reference checker") gives the reasons.

The same judge serves the pipeline's verify stage and the ``codeio-holdout`` / ``leetcode-o``
benchmarks, so the end-to-end cases at the bottom go through ``score_responses``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeio.evaluate import score_responses
from codeio.exec import ExecLimits, Sandbox
from codeio.pipeline.export.split import holdout_row
from codeio.pipeline.prompt import build_task
from codeio.pipeline.verify import Verifier, extract_answer, values_equal
from codeio.records import FunctionRecord, IOPair, PredictionTask

NO = "<no answer>"  # the verdict "no answer found"


def _extracted(text: str, key: str) -> Any:
    got = extract_answer(text, key)  # type: ignore[arg-type]
    return got.value if got.found else NO


# -- extraction --------------------------------------------------------------------------------
# (kind, response, reference, expected); ``reference`` as the reference reads it.
EXTRACTION = [
    # Adopted from the reference: LaTeX-escaped braces, as models write them in math mode.
    pytest.param("output", r'The answer is $\{"output": 5\}$', 5, 5, id="latex-escaped-braces"),
    pytest.param("output", r'\boxed{\{"output": [1, 2]\}}', [1, 2], [1, 2], id="boxed"),
    pytest.param("output", r'$$\boxed{\left\{"output": 7\right\}}$$', 7, 7, id="boxed-left-right"),
    pytest.param("input", r'So $\{"input": \{"n": 3\}\}$.', {"n": 3}, {"n": 3}, id="latex-input"),
    # Adopted, more faithfully: a raw line break or tab inside a JSON string. The reference
    # deletes every newline of the response before parsing (so the string loses it) and fails
    # on a tab; codeio keeps the string as written.
    pytest.param(
        "output", '{"output": "line1\nline2"}', "line1line2", "line1\nline2", id="raw-newline"
    ),
    pytest.param(
        "output", '```json\n{"output": "a\nb"}\n```', "ab", "a\nb", id="raw-newline-fenced"
    ),
    pytest.param("output", '{"output": "a\tb"}', NO, "a\tb", id="raw-tab"),
    pytest.param("input", '{"input": {"s": "x\ny"}}', {"s": "xy"}, {"s": "x\ny"}, id="raw-nl-in"),
    # codeio is deliberately different (already so before this audit).
    pytest.param(
        "output",
        '```json\n{"output": 5}\n```\nWait, that is wrong: the answer is {"output": 6}',
        5,
        6,
        id="later-correction-wins",
    ),
    pytest.param(
        "output", '```json\n{"output": 5}\n```\n```json\n{"note": 1}\n```', NO, 5, id="key-wins"
    ),
    pytest.param("output", '{"output": 5} given {"input": {"x": 1}}', NO, 5, id="input-echoed"),
    pytest.param("output", '{"result": {"output": 4}}', NO, 4, id="wrapped"),
    pytest.param("output", "{'output': 'abc'}", NO, "abc", id="single-quotes"),
    pytest.param("output", '{"output": "a}b"}', NO, "a}b", id="brace-in-string"),
    pytest.param("output", '{"output": ("a(b)", 1)}', ["a[b]", 1], ("a(b)", 1), id="parens-str"),
    pytest.param(
        "output",
        '{"output": "\\{x\\}"}',
        "{x}",
        "\\{x\\}",
        id="escape-in-string",
        # Python reads the unknown escape as a backslash; the warning it emits while parsing
        # is about the model's text and must not reach the user (an error here makes it fail).
        marks=pytest.mark.filterwarnings("error"),
    ),
    pytest.param("output", '{"output": [1, 2,],}', NO, [1, 2], id="trailing-commas"),
    pytest.param("output", '```json\n{"output": 1} // final\n```', NO, 1, id="fence-comment"),
    pytest.param("output", '{"output": float("inf")}', NO, math.inf, id="float-inf"),
    pytest.param("output", '```json\n{"output": 5}', NO, 5, id="unclosed-fence"),
    # Agreements that must stay.
    pytest.param("output", '{"output": (1, 2)}', [1, 2], (1, 2), id="tuple"),
    pytest.param("output", '{"output": True}', True, True, id="python-true"),
    pytest.param("output", '{"output": "None of them"}', "None of them", "None of them", id="str"),
    pytest.param("output", '{"output": {"a": 1}}{"output": 2}', 2, 2, id="last-object"),
    pytest.param("output", '{"output": 5', NO, NO, id="incomplete"),
    pytest.param("output", '{"Output": 5}', NO, NO, id="key-is-case-sensitive"),
    pytest.param("input", '{"n": 3}', NO, NO, id="bare-kwargs"),
]


@pytest.mark.parametrize(("kind", "text", "reference", "expected"), EXTRACTION)
def test_extraction(kind: str, text: str, reference: Any, expected: Any) -> None:
    got = _extracted(text, kind)
    assert type(got) is type(expected) and values_equal(got, expected), (got, reference)


def test_latex_unescaping_is_only_a_fallback() -> None:
    # A well-formed answer is read as written: its string keeps the backslashes, and an
    # escaped-brace object earlier in the text does not compete with it.
    text = r'First $\{"output": 1\}$, then {"output": "\\{set\\}"}'
    assert _extracted(text, "output") == "\\{set\\}"
    assert "LaTeX" in extract_answer(r'$\{"output": 5\}$', "output").note


def test_control_characters_never_make_a_later_object_lose() -> None:
    # Reading raw line breaks in strings must not let an unclosed draft swallow the answer.
    text = 'Draft: {"output": "abc\nNo, the answer is {"output": "d"}'
    assert _extracted(text, "output") == "d"


# -- comparison --------------------------------------------------------------------------------
# (prediction, target, reference, expected). The reference's ``is_close`` as it runs inside its
# input-checking harness (the copy the output check imports lacks ``import math``, so there every
# comparison involving a float fails: 1.0 vs 1.0 is "wrong"; codeio does not reproduce that).
COMPARISON = [
    # Adopted: the tolerance is 1e-3 of the ground truth, not of the larger of the two.
    pytest.param(1.0010005, 1.0, False, False, id="rel-tol-of-target"),
    pytest.param(1.5, 1.5015, True, True, id="smaller-prediction-within-tol"),
    pytest.param(2.002002, 2.0, False, False, id="rel-tol-of-target-3"),
    # Deliberately different (kept).
    pytest.param(True, 1, True, False, id="bool-is-not-int"),
    pytest.param(False, 0.0, True, False, id="bool-is-not-float"),
    pytest.param(0.9999, 1.0, False, True, id="no-int-truncation"),
    pytest.param(1001.0, 1000.0, False, True, id="no-int-truncation-2"),
    pytest.param(1e-9, 0.0, False, True, id="abs-floor-at-zero"),
    pytest.param(0.0, -2.842170943040401e-14, False, True, id="abs-floor-float-noise"),
    pytest.param(math.nan, math.nan, False, True, id="nan"),
    pytest.param(math.inf, math.inf, False, True, id="inf"),
    # Agreements that must stay.
    pytest.param(1.0005, 1.0, True, True, id="within-tol"),
    pytest.param(1, 1.0, True, True, id="int-float"),
    pytest.param(1001, 1000, False, False, id="ints-exact"),
    pytest.param(-math.inf, math.inf, False, False, id="inf-sign"),
    pytest.param({"b": 2, "a": 1}, {"a": 1, "b": 2}, True, True, id="dict-order"),
    pytest.param("a", "a ", False, False, id="strings-exact"),
    pytest.param("1", 1, False, False, id="str-vs-int"),
    pytest.param(None, 0, False, False, id="none-vs-zero"),
    pytest.param([1, 2], [2, 1], False, False, id="list-order"),
]


@pytest.mark.parametrize(("pred", "target", "reference", "expected"), COMPARISON)
def test_comparison(pred: Any, target: Any, reference: bool, expected: bool) -> None:
    assert values_equal(pred, target) is expected, reference


# -- re-executing predicted inputs -------------------------------------------------------------
CODE = """
import sys

def main_solution(xs, stop=False):
    if stop:
        sys.exit(0)
    xs.append(len(xs))
    return xs
"""


def _input_task(inp: dict[str, Any], out: Any) -> PredictionTask:
    return PredictionTask(
        id=PredictionTask.make_id("f-parity", 0, "input"),
        func_id="f-parity",
        io_index=0,
        kind="input",
        prompt="",
        pair=IOPair(input=inp, output=out),
        refcode=CODE,
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=1, limits=ExecLimits(timeout_s=5.0)) as sb:
        yield sb


@pytest.mark.parametrize(
    ("response", "reference", "expected"),
    [
        # Agreement: a Python tuple reaches the function as the JSON list it stands for.
        pytest.param('{"input": {"xs": (7, 8)}}', "success", "correct", id="tuple-as-list"),
        # Deliberate: the reference counts any exit status 0 as a pass, so an input that makes
        # the function call sys.exit(0) "gives" every output; codeio needs a returned value.
        pytest.param('{"input": {"xs": [], "stop": true}}', "success", "error", id="sys-exit-0"),
        # Deliberate: the prompt asks for a dict of keyword arguments even for one argument;
        # the reference passes a non-dict as the only positional argument.
        pytest.param('{"input": [7, 8]}', "success", "error", id="non-dict-input"),
    ],
)
def test_input_re_execution(sandbox: Sandbox, response: str, reference: str, expected: str) -> None:
    turn = Verifier(sandbox).verify(_input_task({"xs": [7, 8]}, [7, 8, 2]), response)
    assert turn.verdict is not None and turn.verdict.status == expected, (reference, turn.verdict)


# -- the eval benchmarks use the same judge ----------------------------------------------------
def _holdout(tmp_path: Path) -> Path:
    refcode = "def main_solution(text):\n    return text.upper()\n"
    fn = FunctionRecord(
        id=FunctionRecord.make_id(refcode),
        refcode=refcode,
        ios=[IOPair(input={"text": "a\nb"}, output="A\nB")],
    )
    path = tmp_path / "holdout.jsonl"
    rows = [holdout_row(build_task(fn, 0, kind)) for kind in ("output", "input")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_holdout_benchmark_reads_answers_like_the_pipeline(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    path = _holdout(tmp_path)
    ids = {json.loads(line)["kind"]: json.loads(line)["id"] for line in path.open()}
    responses = {
        ids["output"]: 'Upper-casing keeps the line break:\n{"output": "A\nB"}',
        ids["input"]: r'Hence $\{"input": \{"text": "a\nb"\}\}$',
    }
    summary = score_responses("codeio-holdout", responses, data=path, sandbox=sandbox)
    assert summary.statuses == {"correct": 2}, summary.statuses


def test_leetcode_o_reads_latex_escaped_answers(tmp_path: Path, sandbox: Sandbox) -> None:
    path = tmp_path / "lc.jsonl"
    row = {"prompt": "Sum of [1, 2]? Output?", "answer": "3.0015", "id": "sum"}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    summary = score_responses(
        "leetcode-o", {"sum#0": r'$\boxed{\{"output": 3\}}$'}, data=path, sandbox=sandbox
    )
    # 3 is within 1e-3 of 3.0015 (relative to the expected value).
    assert summary.statuses == {"correct": 1}, summary.statuses
