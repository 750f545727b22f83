"""Typed records that cross stage boundaries.

The method, as records:
    RawCode --unify--> FunctionRecord(refcode, inputgen) --sample--> FunctionRecord(ios)
    FunctionRecord(ios) --prompt--> PredictionTask --generate/verify/revise--> Sample
Anything that fails in a stage becomes a Failure with a reason; nothing is dropped silently.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from codeio.ids import content_id

__all__ = [
    "ClaimCheck",
    "ClaimStatus",
    "Failure",
    "FunctionRecord",
    "IOPair",
    "Message",
    "PredictionKind",
    "PredictionTask",
    "ProcessVerdict",
    "RawCode",
    "Sample",
    "Turn",
    "Verdict",
    "VerdictStatus",
]

PredictionKind = Literal["input", "output"]
"""What the model must predict: the ``input`` from an output, or the ``output`` from an input."""

VerdictStatus = Literal["correct", "wrong", "no_answer", "error", "timeout"]


class Record(BaseModel):
    # NaN and inf are legitimate outputs of real functions: keep them in JSON as NaN/Infinity.
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class RawCode(Record):
    """One raw code file as read by ingest."""

    id: str
    content: str
    source: str = ""
    """Where it came from: ``path`` or ``path:line``."""
    meta: dict[str, Any] = Field(default_factory=dict)

    @staticmethod
    def make_id(normalized_content: str) -> str:
        return content_id("raw", normalized_content, prefix="r")


class IOPair(Record):
    input: dict[str, Any]
    """Keyword arguments of ``main_solution``, exactly as stored (decoded from JSON)."""
    output: Any


class FunctionRecord(Record):
    """A unified function: reference code, optionally its generator, optionally sampled I/O pairs."""

    id: str
    refcode: str
    funcname: str = "main_solution"
    inputgen: str | None = None
    io_description: str = ""
    problem: str = ""
    ios: list[IOPair] = Field(default_factory=list)
    raw_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    """Fields of the input record that codeio does not interpret, kept for export."""

    @staticmethod
    def make_id(refcode: str, inputgen: str | None = None) -> str:
        return content_id("fn", refcode, inputgen or "", prefix="f")


class Message(Record):
    role: Literal["system", "user", "assistant"]
    content: str


class PredictionTask(Record):
    """One input- or output-prediction question about one I/O pair of one function."""

    id: str
    func_id: str
    io_index: int
    kind: PredictionKind
    prompt: str
    """The user turn shown to the model."""
    pair: IOPair
    refcode: str
    funcname: str = "main_solution"

    @staticmethod
    def make_id(func_id: str, io_index: int, kind: PredictionKind) -> str:
        return content_id("task", func_id, io_index, kind, prefix="t")


ClaimStatus = Literal["supported", "contradicted", "unverifiable"]


class ClaimCheck(Record):
    """One claim of a rationale about the execution, judged against the real trace."""

    kind: str
    """``value`` | ``loop_count`` | ``condition`` | ``return`` | ``final``."""
    claim: str
    """The sentence that makes the claim (cut to 300 characters)."""
    span: tuple[int, int]
    """[start, end) of the claim in the turn's response."""
    name: str = ""
    """The variable, function or condition the claim is about."""
    claimed: str = ""
    """The value as the response wrote it."""
    actual: str | None = None
    """What the trace shows (reprs; several values joined by ``, ``), when it shows something."""
    where: str = "anywhere"
    """``anywhere`` | ``iteration k`` | ``after the loop``."""
    status: ClaimStatus = "unverifiable"
    note: str = ""


class ProcessVerdict(Record):
    """The verdict on a response's steps, beside the verdict on its answer."""

    supported: int = 0
    contradicted: int = 0
    unverifiable: int = 0
    first_contradiction: ClaimCheck | None = None
    claims: list[ClaimCheck] = Field(default_factory=list)
    """Every checked claim in order (at most 200 are kept)."""
    truncated: bool = False
    """The trace hit a budget (events, bytes, lines): claims past it are unverifiable."""
    note: str = ""
    """Why nothing could be checked (``no_trace``, ``trace_differs``, ...), when so."""
    feedback: str = ""
    """The revision feedback on the first contradiction (never shows the expected output)."""


class Verdict(Record):
    status: VerdictStatus
    feedback: str
    """Text shown to the model in a revision turn; never reveals the expected output."""
    actual_output: Any = None
    """For input prediction: what the predicted input really produced (when it ran)."""
    detail: str = ""
    """Diagnostics for humans (exception text, extraction notes); not shown to the model."""
    process: ProcessVerdict | None = None
    """The claim checker's verdict on the steps (None: not checked, e.g. an older run)."""


class Turn(Record):
    response: str
    answer: Any = None
    has_answer: bool = False
    verdict: Verdict | None = None


class Sample(Record):
    """A prediction task with every turn the model took on it (CodeI/O++ keeps more than one)."""

    task_id: str
    func_id: str
    kind: PredictionKind
    prompt: str
    turns: list[Turn]
    model: str = ""

    @property
    def final_status(self) -> VerdictStatus | None:
        last = self.turns[-1].verdict if self.turns else None
        return last.status if last else None


class Failure(Record):
    """A record that left a stage without a result, and why."""

    stage: str
    record_id: str
    reason: str
    """Short machine-readable tag, e.g. ``syntax_error``, ``too_few_pairs``, ``llm_length``."""
    detail: str = ""
