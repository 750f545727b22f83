"""Find the concrete claims a chain of thought makes about an execution.

A claim is a statement the trace can settle: a variable's value (``x = 5``, ``x is now 5``,
``x becomes 5``, ``sets x to 5``, ``x: 5``, ``x -> 5``), a loop's iteration count, a branch
condition being true or false, what a call or ``return`` gives, and the final output. Each claim
carries where it is placed: in iteration k of a loop (``Iteration 2: ...``, ``on the 3rd
iteration``), after a loop (``after the loop``, ``ending with``, ``leaving``), or anywhere. Code
blocks and code quoted before ``gives``/``sets`` are not claims; names that appear nowhere in the
function are not claims either (the checker filters them).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Literal

from codeio import ast_safe
from codeio.pipeline.verify.claims.values import UNPARSED, parse_value

__all__ = ["Claim", "ClaimKind", "extract_claims"]

ClaimKind = Literal["value", "loop_count", "condition", "return", "final"]


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    text: str
    """The sentence (or part of it) that makes the claim."""
    span: tuple[int, int]
    """Where the claim is in the response: [start, end) of the name and the value."""
    name: str
    """Variable, function (for returns), condition text, or ``""`` (loop count, final)."""
    value: Any
    value_text: str
    iteration: int | None = None
    after_loop: bool = False
    loop_hint: str | None = None
    """The loop header the text was talking about (``for i in range(n)``), if it named one."""
    call_args: str | None = None
    """For ``f(3) returns 9``: the argument text."""
    outer_hint: str | None = None
    """The loop whose iteration the text was in, when it named one."""
    within: int | None = None
    """A loop count or end state told inside iteration k of an outer loop: k."""
    value_span: tuple[int, int] = (0, 0)
    binding: tuple[str, Any] | None = None
    """``at i=2: total = 5``: the claim is about the iterations in which ``i`` was 2."""
    at_return: str | None = None
    """``When `f` finishes, x = 5``: the value when a call of ``f`` (``""``: any) returned."""
    at_call: str | None = None
    """``This calls `f` with x = 5``: the argument a call of ``f`` received."""

    @property
    def where(self) -> str:
        if self.iteration is not None:
            return f"iteration {self.iteration}"
        if self.after_loop:
            return "after the loop"
        if self.binding is not None:
            return f"where {self.binding[0]} is {self.binding[1]!r}"
        if self.at_return is not None:
            return f"when {self.at_return or 'the function'} returns"
        if self.at_call is not None:
            return f"when {self.at_call} is called"
        return "anywhere"


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_WORD_NUMBERS = {
    "zero": 0,
    "no": 0,
    "once": 1,
    "one": 1,
    "twice": 2,
    "two": 2,
    "thrice": 3,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "zeroth": 0,
}
_ORD = r"(\d+)(?:st|nd|rd|th)?|" + "|".join(_ORDINALS)
_ITER_MARKERS = [
    re.compile(r"\b(?:iteration|iter|pass|round|loop)\s*#?\s*(\d+)\b", re.I),
    re.compile(
        rf"\b(?:in|on|during|for|at|after)?\s*the\s+({_ORD})\s+(?:iteration|pass|round|time through|loop iteration)\b",
        re.I,
    ),
    re.compile(rf"\b({_ORD})\s+(?:iteration|pass|round)\b", re.I),
]
_AFTER_LOOP = re.compile(
    r"\b(?:after\s+(?:the|this|that|both|all)\s+(?:\w+\s+)?(?:loops?|iterations)"
    r"|after\s+(?:the\s+)?loop"
    r"|once\s+the\s+(?:\w+\s+)?loop\s+(?:is\s+)?(?:done|ends|finishes|completes|terminates|exits|is over)"
    r"|when\s+the\s+(?:\w+\s+)?loop\s+(?:ends|finishes|completes|terminates|exits|is done|stops)"
    r"|at\s+the\s+end\s+of\s+the\s+(?:\w+\s+)?loop"
    r"|the\s+loop\s+(?:finishes|ends|terminates|exits|completes|stops)"
    r"|loop\s+(?:is\s+)?(?:done|over|finished|complete)"
    r"|ending\s+with|leaving|by\s+the\s+end|in\s+the\s+end|final\s+values?|finally)\b",
    re.I,
)
# "after 2 iterations" is the state at the end of iteration 2; it is the loop's end (and a count)
# only when the text says the loop is over ("after 4 iterations in total the loop finishes").
_AFTER_N = re.compile(
    r"\bafter\s+(?P<n>\d+|" + "|".join(_WORD_NUMBERS) + r")\s+(?:iterations?|passes|rounds|steps)\b"
    r"(?P<tail>[^.\n;]{0,40})",
    re.I,
)
_LOOP_OVER = re.compile(
    r"\b(?:in\s+total|altogether|(?:loop|it)\s+(?:finishes|ends|stops|exits|terminates|"
    r"completes|is\s+(?:done|over|finished|complete))|(?:loop|it)\s+(?:has\s+)?(?:finished|ended))\b",
    re.I,
)


def _after_n(m: re.Match[str]) -> tuple[int | None, bool]:
    """(k, whether the loop is over) for one "after k iterations" phrase."""
    token = m.group("n").lower()
    k = int(token) if token.isdigit() else _WORD_NUMBERS.get(token)
    return k, bool(_LOOP_OVER.search(m.group("tail")))


_HEADER = re.compile(r"`((?:for|while)\s+[^`]+)`")
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
# A sentence may start in lower case ("x = 3. total becomes 3."): a placement told in one
# sentence must not leak into the next, except after an abbreviation ("e.g. x = 3").
_SENTENCE_END = re.compile(
    r"(?<![ (]e\.g\.)(?<![ (]i\.e\.)(?<!\betc\.)(?<!\bvs\.)(?<=[.!?])\s+(?=[A-Za-z_\-*(`\"'])|\n"
)
_UNIT_WORDS = frozenset(
    """times more less fewer plus minus greater smaller larger bigger higher lower than
    character characters char chars element elements item items digit digits letter letters
    entry entries key keys word words long bit bits byte bytes percent step steps iteration
    iterations of th st nd rd position positions index places decimal divided mod modulo
    multiplied squared cubed apart away short left remaining rows columns nodes pairs cells
    numbers values elements' units degrees seconds""".split()
)
_CODE_VERBS = re.compile(
    r"\s*(?:gives|sets|makes|yields|produces|results\s+in|evaluates\s+to|updates|assigns|"
    r"changes|→|->|=>|leads\s+to|computes|returns|runs|is\s+executed|executes|appends|adds)\b",
    re.I,
)
# Longer phrases first: the regex takes the first alternative that fits ("is" before "is now").
_CONNECTOR_WORDS = (
    r"(?:is|gets|was)\s+(?:now\s+)?(?:set|updated|changed|reassigned|incremented|decremented|"
    r"increased|decreased|assigned|initiali[sz]ed|reset)\s+(?:to|as|with)",
    r"(?:changes|increases|decreases|grows|drops|rises|falls|goes\s+up|goes\s+down|jumps|"
    r"moves|updates)\s+to",
    r"(?:is|becomes)\s+equal\s+to",
    r"has\s+(?:the\s+)?value",
    r"ends\s+up\s+(?:as|at|being)",
    r"ends\s+at",
    r"turns\s+into",
    r"(?:will|would|should)\s+be",
    r"(?:now|then)\s+(?:is|becomes|holds|equals)",
    r"is\s+(?:now|still|then)",
    r"is|was|becomes|became|equals|remains|stays|holds|gets",
)
_CONNECTORS = (
    r"(?:\s*(?<![=!<>])=(?!=)\s*|\s*:=\s*|\s*(?:->|→|=>)\s*|:\s+|\s+(?:"
    + "|".join(_CONNECTOR_WORDS)
    + r")(?:\s+(?:now|still|simply|just|exactly))?\s*)"
)
_VALUE_CLAIM = re.compile(
    rf"(?P<pre>[`*]*)(?P<name>{_NAME})(?P<post>[`*]*)(?P<conn>{_CONNECTORS})", re.I
)
_SETS_CLAIM = re.compile(
    rf"\b(?:sets?|setting|assigns?|assigning|updates?|updating|changes?|changing|"
    rf"initiali[sz]es?|initiali[sz]ing|resets?|resetting|stores?)\s+[`*]*(?P<name>{_NAME})[`*]*"
    r"\s+(?:to|=|as|with|equal\s+to)\s+",
    re.I,
)
_CONDITION = re.compile(
    r"(?:\b(?:condition|check|test|comparison)\s+)?`(?:if\s+|elif\s+|while\s+)?(?P<expr>[^`\n]+?):?`"
    r"\s+(?:is|was|evaluates\s+to|comes\s+out|turns\s+out\s+to\s+be|returns|gives|is\s+now)\s+"
    r"(?:\*\*)?`?(?P<val>true|false)\b",
    re.I,
)
_CONDITION_HOLDS = re.compile(
    r"`(?:if\s+|elif\s+|while\s+)?(?P<expr>[^`\n]+?):?`\s+(?P<verb>holds|is\s+satisfied|is\s+met|"
    r"does\s+not\s+hold|doesn't\s+hold|is\s+not\s+satisfied|is\s+not\s+met|fails)\b",
    re.I,
)
_CONDITION_PLAIN = re.compile(
    r"\bcondition\s+(?:if\s+)?(?P<expr>[^`\n,;:]{1,60}?)\s+(?:is|evaluates\s+to)\s+(?P<val>true|false)\b",
    re.I,
)
_CALL_RETURN = re.compile(
    rf"`?(?P<func>{_NAME}(?:\.{_NAME})*)\((?P<args>[^()`\n]*(?:\([^()`\n]*\)[^()`\n]*)*)\)`?"
    r"\s*(?:returns|returned|gives|yields|evaluates\s+to|produces|comes\s+back\s+with|is|=|->|→)\s*",
    re.I,
)
_RETURN_STMT = re.compile(
    r"`return\s+(?P<expr>[^`\n]+)`\s+(?:gives|returns|evaluates\s+to|yields|produces|is|=)\s*",
    re.I,
)
_FUNC_RETURNS = re.compile(
    rf"(?:`(?P<func>{_NAME}(?:\.{_NAME})*)`|\b(?P<pron>the\s+function|the\s+method|the\s+helper|"
    rf"the\s+call|it|this|which|that))\s+(?:now\s+|then\s+|finally\s+)?"
    r"(?:returns|will\s+return|would\s+return|returned|gives\s+back|should\s+return)\s+",
    re.I,
)
_FINAL = re.compile(
    r"(?:\b(?:the\s+|final\s+|my\s+)+(?:output|result|answer|return\s+value|returned\s+value)"
    r"|\b(?:[Oo]utput|[Aa]nswer)(?=\s*(?::|is)))"
    r"(?:\s+of\s+(?:the\s+)?(?:function|call|`[^`]+`))?\s+(?:is|will\s+be|would\s+be|should\s+be|=|:)\s+",
    re.I,
)
_COUNT = re.compile(
    r"\b(?P<n>\d+|" + "|".join(_WORD_NUMBERS) + r")\s+(?P<unit>times?|iterations?|passes|rounds)\b",
    re.I,
)
_NEVER_RUNS = re.compile(
    r"\b(?:loop\s+(?:body\s+)?(?:never\s+runs|does\s*n[o']t\s+run|doesn't\s+execute|is\s+skipped)"
    r"|body\s+never\s+runs|zero\s+iterations|no\s+iterations)\b",
    re.I,
)
_COUNT_BLOCKERS = frozenset(
    "first next last remaining more other few additional previous those these of the all each "
    "every following earlier later initial final".split()
)


# Prose quoted from the code or the task ("From its docstring: "... it returns 0."") says what
# the author meant, not what this run did. Quoted prose: after a word that introduces a quote,
# or a sentence of several words ending inside the quotes. String values stay claims.
_QUOTED_PROSE = re.compile(
    r"((?:docstring|comment|description|documentation|says|states|reads|problem|statement|"
    r"task|note)\W{0,3}(?:\s*\w+){0,3}\s*:?\s*)\"[^\"\n]{12,}\"|(?<![=:]\s)(?<![=:(\[,])\"(?=(?:[^\"\n]*\s){5})[^\"\n]{20,}[.!?]\"",
    re.I,
)
_FEEDBACK = re.compile(r"\[(?:Mismatch|Correct|Steps|Error|Timeout|Invalid|Missing)\][^\n]*", re.I)


def _mask(text: str) -> str:
    """The response with code blocks and quoted verifier feedback blanked (offsets kept).

    Code is not a claim, and a revision that quotes its feedback ("your predicted output is
    true, which is wrong!") is not claiming what it quotes.
    """
    blank = lambda m: " " * len(m.group(0))  # noqa: E731
    text = _FEEDBACK.sub(blank, _FENCE.sub(blank, text))

    def keep(m: re.Match[str]) -> str:
        line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
        if sum(line.count(c) for c in "[{(") > sum(line.count(c) for c in "]})"):
            return m.group(0)  # an element of a list or dict: a value, and blanking it changes it
        return (m.group(1) or "").ljust(len(m.group(0)))

    return _QUOTED_PROSE.sub(keep, text)


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _number(token: str) -> int | None:
    token = token.lower()
    if token.isdigit():
        return int(token)
    if token in _ORDINALS:
        return _ORDINALS[token]
    m = re.match(r"(\d+)(?:st|nd|rd|th)$", token)
    return int(m.group(1)) if m else None


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == quote:
            return j + 1
        if ch == "\n":
            return -1
        j += 1
    return -1


def _balanced(text: str, i: int) -> int:
    depth, j = 0, i
    while j < len(text) and j - i < 20_000:
        ch = text[j]
        if ch in "'\"":
            j = _skip_string(text, j)
            if j < 0:
                return -1
            continue
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
            if depth == 0:
                return j + 1
        elif ch == "\n" and depth > 0 and text[j + 1 : j + 2] == "\n":
            return -1
        j += 1
    return -1


_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+)")
_WORD_VALUE = re.compile(r"(?:True|False|None|true|false|null|-?inf|nan|NaN|-?Infinity)\b")


def scan_value(text: str, pos: int, limit: int) -> tuple[int, int, Any] | None:
    """(start, end, value) of a literal starting at ``pos`` (after spaces), or None.

    The literal must end where a value ends: not followed by an operator, a call, or a unit
    (``5 times``, ``3 elements``), which would make it part of an expression or a count.
    """
    i = pos
    while i < limit and text[i] in " \t":
        i += 1
    tick = i < limit and text[i] == "`"
    if tick:
        i += 1
    bold = text.startswith("**", i)
    if bold:
        i += 2
    if i >= limit:
        return None
    start, ch = i, text[i]
    if ch in "[{(":
        end = _balanced(text, i)
    elif ch in "'\"":
        end = _skip_string(text, i)
    else:
        m = _NUMBER.match(text, i) or _WORD_VALUE.match(text, i)
        end = m.end() if m else -1
        if m and m.group(0)[0] in "+-" and i > 0 and text[i - 1].isalnum():
            return None
    if end < 0 or end > limit:
        return None
    raw = text[start:end]
    if ch in "[{(" and text[start - 1 : start] not in ("", " ", "`", "\t", "*", "=", ":", ">", "→"):
        return None
    value = parse_value(raw)
    if value is UNPARSED:
        return None
    if bold and text.startswith("**", end):
        end += 2
    if tick:
        if text[end : end + 1] != "`":
            return None
        end += 1
    if not _ends_value(text, end, limit, numeric=ch not in "[{('\""):
        return None
    return start, end if not tick else end - 1, value


def _ends_value(text: str, end: int, limit: int, *, numeric: bool = True) -> bool:
    rest = text[end:limit]
    if not rest:
        return True
    if rest[0] in "([" or rest[0].isalnum() or rest[0] == "_":
        return False
    if rest.startswith(",") and re.match(r",\d{3}\b", rest):
        return False  # 1,000
    if rest.startswith(("...", "…")):
        return False  # a shortened value ("211..." for 21142.2): what it shows is not the value
    if rest.startswith("."):
        return not (len(rest) > 1 and (rest[1].isdigit() or rest[1] in "(_" or rest[1].isalpha()))
    stripped = rest.lstrip(" \t")
    if stripped[:1] in ("+", "*", "/", "%", "^", "<", ">", "&", "|") or stripped[:2] in (
        "==",
        "!=",
        "//",
    ):
        return False
    if (
        stripped[:1] == "-"
        and not stripped.startswith("->")
        and stripped[1:2] != " "
        or stripped[:2] == "- "
        and re.match(r"-\s+\d", stripped)
    ):
        return False
    if stripped[:1] == "=" and not stripped.startswith("=>"):
        return False
    word = re.match(r"[A-Za-z']+", stripped)
    # "5 elements" is a count; a quoted string or a list followed by a word is still a value.
    if not word:
        return True
    return word.group(0).lower() not in (_UNIT_WORDS if numeric else _OPERATOR_WORDS)


_OPERATOR_WORDS = frozenset("plus minus times multiplied divided than of".split())


_CHAIN = re.compile(r"[\w\s+\-*/%().\[\]]{1,80}?(?<![=!<>])=(?!=)")


def _chain_value(text: str, pos: int, limit: int) -> tuple[int, int, Any] | None:
    """``x = 3 + 4 = 7``: the value after the last ``=`` of an arithmetic chain."""
    found = scan_value(text, pos, limit)
    if found is not None:
        return found
    m = _CHAIN.match(text, pos, limit)
    if m is None or re.search(r"\w\(", m.group(0)) or not re.search(r"[-+*/%]", m.group(0)):
        return None
    return scan_value(text, m.end(), limit)


@dataclass
class _Context:
    iteration_marks: list[tuple[int, int]]
    after_marks: list[int]


def _positions(
    text: str,
) -> tuple[list[tuple[int, int]], list[int], list[tuple[int, str, bool]], bool]:
    iters: list[tuple[int, int]] = []
    for pattern in _ITER_MARKERS:
        for m in pattern.finditer(text):
            k = _number(m.group(1))
            if k is not None and not any(abs(p - m.start()) < 3 for p, _ in iters):
                iters.append((m.start(), k))
    iters.sort()
    zero_based = any(k == 0 for _, k in iters)
    if zero_based:
        iters = [(p, k + 1) for p, k in iters]
    afters = [m.start() for m in _AFTER_LOOP.finditer(text)]
    for m in _AFTER_N.finditer(text):
        k, over = _after_n(m)
        if over:
            afters.append(m.start())
        elif k:
            iters.append((m.start(), k))
    iters.sort()
    afters.sort()
    # A header named as "the inner loop ..." inside an iteration is not the loop being walked.
    headers = [
        (m.start(), m.group(1).strip(), "inner" in text[max(0, m.start() - 16) : m.start()].lower())
        for m in _HEADER.finditer(text)
    ]
    return iters, afters, headers, zero_based


def extract_claims(text: str, *, kind: str = "output") -> list[Claim]:
    """Every claim in ``text`` in order; ``kind`` is the task's (final-output claims: output only)."""
    masked = _mask(text)
    iters, afters, headers, _ = _positions(masked)
    tables = _tables(masked)
    ends = [(m.start(), m.group("f") or m.group("g") or "") for m in _AT_RETURN.finditer(masked)]
    calls = [(m.start(), m.end(), m.group("f") or m.group("h")) for m in _AT_CALL.finditer(masked)]
    # A table row in an iteration column is a mark for its own line (each row is a sentence).
    iters = sorted(iters + [(pos, k) for t in tables for pos, k in t.row_iterations])
    afters = sorted(afters + [pos for t in tables for pos in t.row_after])
    found: list[Claim] = []
    taken: list[tuple[int, int]] = []
    block_iter = _block_iterations(masked, iters)

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    def _marked(a: int, b: int) -> bool:
        """An iteration or after-loop mark between a and b (it takes over the placement)."""
        return any(a < p < b for p, _ in iters) or any(a < p < b for p in afters)

    for s_start, s_end in _sentences(masked):
        sentence = masked[s_start:s_end]
        if not sentence.strip() or _HYPOTHETICAL.search(sentence) or _IF_SENTENCE.match(sentence):
            continue

        bindings = _bindings(masked, s_start, s_end)

        def place(pos: int, s_start: int = s_start, s_end: int = s_end) -> _Place:
            return _placement(pos, s_start, s_end, iters, afters, headers, block_iter)

        def add(
            claim_kind: ClaimKind,
            name: str,
            start: int,
            vstart: int,
            vend: int,
            value: Any,
            call_args: str | None = None,
            s_start: int = s_start,
            s_end: int = s_end,
            bindings: list[tuple[int, int, str, Any]] = bindings,
        ) -> None:
            if not free(start, vend):
                return
            if claim_kind in ("value", "condition", "return") and _conditional(
                masked, s_start, start
            ):
                return  # "If n is 0, ..." describes the code, not this run
            where = place(start)
            iteration, after, outer, near = where.iteration, where.after, where.outer, where.near
            placed = claim_kind in ("value", "condition") and iteration is not None
            bound = None
            at_return = None
            if claim_kind == "value" and iteration is None and not after:
                at_return = next(
                    (
                        f
                        for p, f in reversed(ends)
                        if s_start <= p < start and not _marked(p, start)
                    ),
                    None,
                )
            at_call = None
            if claim_kind == "value" and iteration is None and not after and at_return is None:
                at_call = next(
                    (f for p, e, f in reversed(calls) if e <= start < s_end and p >= s_start),
                    None,
                )
            if claim_kind == "value" and iteration is None and not after and at_return is None:
                bound = next(
                    ((n, v) for p, e, n, v in reversed(bindings) if e <= start and p >= s_start),
                    None,
                )
            found.append(
                Claim(
                    kind=claim_kind,
                    text=masked[s_start:s_end].strip()[:300],
                    span=(start, vend),
                    name=name,
                    value=value,
                    value_text=masked[vstart:vend],
                    iteration=iteration if claim_kind in ("value", "condition") else None,
                    after_loop=after if claim_kind == "value" and iteration is None else False,
                    loop_hint=outer if placed else near,
                    outer_hint=outer,
                    within=where.within if not placed else None,
                    call_args=call_args,
                    value_span=(vstart, vend),
                    binding=bound,
                    at_return=at_return,
                    at_call=at_call,
                )
            )
            taken.append((start, vend))

        # Conditions first: their backticked expressions must not read as assignments.
        for pattern in (_CONDITION, _CONDITION_PLAIN):
            for m in pattern.finditer(masked, s_start, s_end):
                expr = m.group("expr").strip()
                if _is_expression(expr):
                    val = m.group("val").lower() == "true"
                    add("condition", expr, m.start(), m.start("val"), m.end("val"), val)
        for m in _CONDITION_HOLDS.finditer(masked, s_start, s_end):
            expr = m.group("expr").strip()
            if _is_expression(expr):
                verb = m.group("verb").lower()
                val = not any(w in verb for w in ("not", "n't", "fails"))
                add("condition", expr, m.start(), m.start("verb"), m.end("verb"), val)
        # Returns: ``return x`` gives v, ``f(3)`` returns v, the function returns v.
        for m in _RETURN_STMT.finditer(masked, s_start, s_end):
            got = _chain_value(masked, m.end(), s_end)
            if got:
                add(
                    "return", "return " + m.group("expr").strip(), m.start(), got[0], got[1], got[2]
                )
        for m in _CALL_RETURN.finditer(masked, s_start, s_end):
            if masked[m.start() - 1 : m.start()] in (".",) or m.group("func").split(".")[-1] in (
                *_NOT_HELPERS,
                "print",
                "len",
                "range",
                "int",
                "str",
                "float",
                "list",
                "abs",
                "min",
                "max",
                "sum",
                "sorted",
                "set",
                "dict",
                "tuple",
                "round",
                "bool",
                "ord",
                "chr",
                "append",
            ):
                continue
            got = _chain_value(masked, m.end(), s_end)
            if got:
                add("return", m.group("func"), m.start(), got[0], got[1], got[2], m.group("args"))
        for m in _FUNC_RETURNS.finditer(masked, s_start, s_end):
            got = scan_value(masked, m.end(), s_end)
            if got:
                name = m.group("func") or ""
                add("return", name, m.start(), got[0], got[1], got[2])
        # Loop counts.
        for m in _COUNT.finditer(masked, s_start, s_end):
            if not re.search(r"loop|iterat|runs|ran|repeat|execut|pass", sentence, re.I):
                continue
            before = masked[max(s_start, m.start() - 20) : m.start()].split()
            if before and before[-1].lower().strip("`*(") in _COUNT_BLOCKERS:
                continue
            after_n = _AFTER_N.match(masked, m.start() - len("after ") - 1)
            after_n = after_n or _AFTER_N.match(masked, max(0, m.start() - len("after ")))
            if before and before[-1].lower() == "after" and not (after_n and _after_n(after_n)[1]):
                continue  # "after 2 iterations, total = 4": a moment in the loop, not a count
            unit = m.group("unit").lower()
            token = m.group("n").lower()
            window = masked[max(s_start, m.start() - 40) : m.start()]
            if unit.startswith("time") and not _loop_subject(window):
                continue
            n = _WORD_NUMBERS.get(token, int(token) if token.isdigit() else None)
            if n is not None:
                add("loop_count", "", m.start(), m.start("n"), m.end("n"), n)
        for m in re.finditer(
            r"\b(?:runs|ran|executes|executed|repeats|iterates)\s+(?P<n>once|twice|thrice)\b",
            sentence,
            re.I,
        ):
            if not _loop_subject(sentence[max(0, m.start() - 40) : m.end()]):
                continue
            a = s_start + m.start("n")
            add(
                "loop_count",
                "",
                s_start + m.start(),
                a,
                s_start + m.end("n"),
                _WORD_NUMBERS[m.group("n").lower()],
            )
        for m in _NEVER_RUNS.finditer(masked, s_start, s_end):
            add("loop_count", "", m.start(), m.start(), m.end(), 0)
        # Final output (output prediction only: an input prediction quotes its target).
        if kind == "output":
            for m in _FINAL.finditer(masked, s_start, s_end):
                if masked[max(0, m.start() - 1) : m.start()] == "`":
                    continue
                got = scan_value(masked, m.end(), s_end)
                if not got:
                    continue
                of = re.search(
                    rf"\bof\s+(?:the\s+)?`(?P<f>{_NAME}(?:\.{_NAME})*)(?:\((?P<a>[^`]*)\))?`",
                    m.group(0),
                )
                if of is None:
                    add("final", "", m.start(), got[0], got[1], got[2])
                elif of.group("f").rsplit(".", 1)[-1] not in _NOT_HELPERS:
                    # "the result of `helper(3)` is 9" is about that call, not the output
                    args = of.group("a")
                    add("return", of.group("f"), m.start(), got[0], got[1], got[2], args)
        # Values of variables.
        for cell in (c for t in tables for c in t.cells if s_start <= c[1] < s_end):
            name, a, b, value = cell
            add("value", name, a, a, b, value)
        for name, a, b, value in _state_dicts(masked, s_start, s_end):
            add("value", name, a, a, b, value)
        for m in _FROM_TO.finditer(masked, s_start, s_end):
            if not _name_ok(masked, m.start("name"), m.end("name")):
                continue
            old_value = scan_value(masked, m.end(), s_end)
            if old_value is None:
                continue
            to = re.compile(r"\s+to\s+").match(
                masked, old_value[1] + (masked[old_value[1] : old_value[1] + 1] == "`")
            )
            new_value = scan_value(masked, to.end(), s_end) if to else None
            if new_value is None:
                continue
            name = m.group("name")
            add("value", name, m.start("name"), old_value[0], old_value[1], old_value[2])
            add("value", name, to.start(), new_value[0], new_value[1], new_value[2])
        for m in _SETS_CLAIM.finditer(masked, s_start, s_end):
            got = _chain_value(masked, m.end(), s_end)
            if got and _name_ok(masked, m.start("name"), m.end("name")):
                add("value", m.group("name"), m.start("name"), got[0], got[1], got[2])
        for m in _VALUE_CLAIM.finditer(masked, s_start, s_end):
            name = m.group("name")
            if not _name_ok(masked, m.start("name"), m.end("name")) or _in_code_quote(masked, m):
                continue
            if _inside_call(masked, s_start, m.start("name")):
                continue
            conn = m.group("conn").strip()
            opens_code = m.group("pre").endswith("`") and not m.group("post").startswith("`")
            if conn[:1].isalpha() and (_inside_ticks(masked, m.start("pre")) or opens_code):
                continue  # `s is None or ...` is code, not a statement about s
            if name.lower() in _RESULT_WORDS and re.search(
                r"\b(?:the|a|my|this|that)\s*$",
                masked[max(s_start, m.start() - 8) : m.start()],
                re.I,
            ):
                continue  # "The result is ..." speaks of the result, not a variable `result`
            if conn == ":" and not _colon_ok(masked, m.start("pre"), s_start):
                continue
            got = _chain_value(masked, m.end(), s_end)
            if got:
                add("value", name, m.start("name"), got[0], got[1], got[2])
                # "total: 0 -> 4 -> 10" tells each value the name takes in turn.
                while got is not None:
                    end = got[1] + (masked[got[1] : got[1] + 1] == "`")
                    arrow = _ARROW.match(masked, end, s_end)
                    got = scan_value(masked, arrow.end(), s_end) if arrow else None
                    if got is not None:
                        add("value", name, arrow.start(), got[0], got[1], got[2])  # type: ignore[union-attr]
    found.sort(key=lambda c: c.span)
    return found


_ARROW = re.compile(r"\s*(?:→|->|=>|⇒)\s*")
_FROM_TO = re.compile(
    rf"[`*]*(?P<name>{_NAME})[`*]*\s+(?:(?:is|was|gets)\s+)?(?:goes|went|changes|changed|"
    r"increases|increased|decreases|decreased|grows|grew|moves|moved|jumps|jumped|rises|rose|"
    r"drops|dropped|falls|fell|updated|updates|incremented|decremented|shrinks|shrank)\s+"
    r"(?:up\s+|down\s+)?from\s+",
    re.I,
)
_TABLE_ROW = re.compile(r"^[ \t]*\|(.*)\|[ \t]*$", re.M)
_TABLE_RULE = re.compile(r"^[\s|:\-]+$")
_ITER_COLUMN = re.compile(r"(?i)(?:iteration|iter|round|pass|loop|#)\.?(?:\s*#)?")
_START_ROW = re.compile(r"(?i)\W*(?:start|init(?:ial(?:ly)?)?|before(?:\s+the)?(?:\s+loop)?)\W*")


@dataclass
class _Table:
    cells: list[tuple[str, int, int, Any]]
    """(column name, start, end, value) of every data cell under a name column."""
    row_iterations: list[tuple[int, int]]
    """(row start, k) for the rows of a table with an iteration column."""
    row_after: list[int]
    """Row starts of rows labelled as the state after the loop."""


def _cells(text: str, m: re.Match[str]) -> list[tuple[str, int, int]]:
    """(stripped cell text, start, end) of one ``| a | b |`` row."""
    out, pos = [], m.start(1)
    for raw in m.group(1).split("|"):
        lead = len(raw) - len(raw.lstrip())
        body = raw.strip()
        out.append((body, pos + lead, pos + lead + len(body)))
        pos += len(raw) + 1
    return out


def _tables(text: str) -> list[_Table]:
    """Markdown tables: a header of names over rows of values, one row per step or iteration.

    A column headed ``Iteration`` (``Iter``, ``Round``, ``Pass``, ``#``) places its row's values
    in that iteration (zero-based numbering is shifted); a row labelled ``after the loop`` or
    ``final`` places them after the loop; otherwise values are claims about any moment.
    """
    rows = list(_TABLE_ROW.finditer(text))
    groups: list[list[re.Match[str]]] = []
    for m in rows:
        if groups and text[groups[-1][-1].end() : m.start()].strip() == "":
            groups[-1].append(m)
        else:
            groups.append([m])
    tables = []
    for group in groups:
        if len(group) < 3 or not _TABLE_RULE.fullmatch(group[1].group(0)):
            continue
        header = [_plain_name(c[0]) for c in _cells(text, group[0])]
        iter_col = next(
            (
                i
                for i, h in enumerate(_cells(text, group[0]))
                if _ITER_COLUMN.fullmatch(h[0].strip("`* "))
            ),
            None,
        )
        table = _Table([], [], [])
        numbered: list[tuple[int, int]] = []
        for row in group[2:]:
            cells = _cells(text, row)
            if len(cells) != len(header):
                continue
            label = cells[iter_col][0].strip("`* ") if iter_col is not None else ""
            if iter_col is not None:
                k = _number(label.split()[-1]) if label.split() else None
                if k is not None:
                    numbered.append((row.start(), k))
                elif _AFTER_LOOP.search(label) or label.lower() in ("end", "done", "result"):
                    table.row_after.append(row.start())
                elif not _START_ROW.fullmatch(label):
                    continue  # a row the text labels some other way: not placed, not read
            for i, (body, a, b) in enumerate(cells):
                name = header[i]
                if i == iter_col or name is None or not body:
                    continue
                got = scan_value(text, a, b)
                if got is not None and got[0] <= a + 3 and b - got[1] <= 3:
                    table.cells.append((name, got[0], got[1], got[2]))
        if any(k == 0 for _, k in numbered):
            numbered = [(p, k + 1) for p, k in numbered]
        table.row_iterations = numbered
        tables.append(table)
    return tables


# The dict must follow the state word directly ("Iteration 2: {...}", "state after the loop:
# {...}"); ``data = {...}`` is the value of a variable named data, not a list of variables.
_STATE_LEAD = re.compile(
    r"(?i)(?:\b(?:iteration|iter|round|pass|step)\s*#?\s*\d+(?:st|nd|rd|th)?\)?"
    r"|\b(?:state|variables|locals|vars)\b[^{}=\n]*?)\s*(?::|-|–|—|is|are)?\s*[`*]*$"
)
_NOT_STATE = re.compile(r"(?i)\b(?:output|result|answer|return(?:s|ed)?|input|argument|call)")


def _state_dicts(text: str, start: int, end: int) -> list[tuple[str, int, int, Any]]:
    """``Iteration 2: {"x": 4, "total": 4}``: a dict of variable names told as the state.

    Only after a word that says it is the program's state (an iteration, ``state``, ``locals``)
    on the same line, never an output, input or return value: those dicts have keys that are not
    variables.
    """
    out: list[tuple[str, int, int, Any]] = []
    pos = text.find("{", start, end)
    while pos >= 0:
        close = _balanced(text, pos)
        if close < 0 or close > end:
            break
        line_start = text.rfind("\n", 0, pos) + 1
        lead = text[line_start:pos]
        if _STATE_LEAD.search(lead) and not _NOT_STATE.search(lead):
            out.extend(_dict_items(text, pos, close))
        pos = text.find("{", close, end)
    return out


def _dict_items(text: str, a: int, b: int) -> list[tuple[str, int, int, Any]]:
    body = text[a:b]
    if "\n" in body or not body.isascii():  # ast offsets count UTF-8 bytes
        return []
    try:
        node = ast_safe.parse(body, mode="eval").body
    except (SyntaxError, ValueError):
        return []
    if not isinstance(node, ast.Dict):
        return []
    items = []
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return []
        if not re.fullmatch(_NAME, key.value) or value.end_col_offset is None:
            continue
        va, vb = a + value.col_offset, a + value.end_col_offset
        parsed = parse_value(text[va:vb])
        if parsed is not UNPARSED:
            items.append((key.value, va, vb, parsed))
    return items


def _plain_name(cell: str) -> str | None:
    body = cell.strip().strip("`*_ ").strip()
    return body if re.fullmatch(_NAME, body) else None


_AT_RETURN = re.compile(
    rf"\b(?:(?:when|once|after|as)\s+(?:`(?P<f>{_NAME}(?:\.{_NAME})*)(?:\([^`]*\))?`|the\s+function|"
    r"the\s+method|the\s+call|the\s+helper|it)\s+(?:finishes|returns|ends|completes|exits|is\s+done)"
    rf"|at\s+the\s+end\s+of\s+(?:the\s+function|the\s+method|the\s+call|`(?P<g>{_NAME}(?:\.{_NAME})*)"
    r"(?:\([^`]*\))?`)|(?:just\s+)?before\s+(?:it\s+)?return(?:s|ing))\b",
    re.I,
)
_AT_CALL = re.compile(
    rf"\b(?:calls?|calling|invokes?|invoking|is\s+called|gets\s+called)\s+"
    rf"(?:`(?P<f>{_NAME}(?:\.{_NAME})*)`|(?P<h>{_NAME}(?:\.{_NAME})*))\s+with\b",
    re.I,
)
_BINDING = re.compile(
    r"[ \t]*(?:[-*•>]+\s*|\d+[.)]\s*)?(?:\*\*)?(?:at|when|for|with|once|whenever)\s+"
    rf"[`*]*(?P<name>{_NAME})[`*]*\s*(?:==?|is|becomes|reaches)\s*",
    re.I,
)
_BINDING_END = re.compile(r"`?(?:\*\*)?\s*[,:;)]|`?\s+(?:we|then|the)\b", re.I)


def _bindings(text: str, start: int, end: int) -> list[tuple[int, int, str, Any]]:
    """``at i=2:`` / ``When x = 4,`` opening a sentence: (start, end, name, value).

    The claims after it in the sentence are about the iterations where the name had that value.
    """
    m = _BINDING.match(text, start, end)
    got = scan_value(text, m.end(), end) if m is not None else None
    if m is None or got is None or not _BINDING_END.match(text, got[1], end):
        return []
    return [(m.start(), got[1], m.group("name"), got[2])]


# A sentence that tries or imagines a value ("Let's try x = 5", "Suppose n is 0") is not about
# the run being checked.
_HYPOTHETICAL = re.compile(
    r"\b(?:suppose|supposing|assume|assuming|imagine|hypothetically|what\s+if|for\s+example|"
    r"for\s+instance|let's\s+(?:try|say|assume|suppose|guess|pick)|let\s+us\s+(?:try|say|assume)|"
    r"if\s+we\s+(?:try|use|pick|choose|take|had|were)|(?:we\s+)?could\s+try|try(?:ing)?\s+(?:a\s+|an\s+)?"
    r"(?:different|another|other|smaller|larger|bigger)\b"
    # a revision telling what it got wrong before
    r"|(?:previously|earlier|before),?\s+I\b|\bI\s+(?:said|claimed|thought|wrote|assumed|stated)\b"
    r"|\bmy\s+(?:previous|earlier|first|last)\b|\bwrongly\b|\bmistakenly\b|\bincorrectly\b"
    r"|\bby\s+mistake\b)",
    re.I,
)
# "If nums is empty, it returns 0": a sentence that opens with a condition describes the code.
_IF_SENTENCE = re.compile(r"[\W\d]*(?:if|unless|in\s+case|whenever)\b", re.I)
_IF_CLAUSE = re.compile(r"\b(?:if|when|whenever|whether|unless|in\s+case)\b", re.I)


def _conditional(text: str, s_start: int, pos: int) -> bool:
    """Whether the clause before ``pos`` opens with ``if``/``when``: a condition, not a fact."""
    head = text[s_start:pos]
    cut = max(head.rfind(","), head.rfind(";"), head.rfind(":"), head.rfind(" then "))
    return bool(_IF_CLAUSE.search(head[cut + 1 :]))


_NOT_HELPERS = frozenset({"len", "range", "sum", "min", "max", "sorted", "abs", "int", "str"})


def _loop_subject(before: str) -> bool:
    """``the loop runs 4 times`` / ``it iterates 4 times``, not ```total += x` runs twice``."""
    pattern = r"\b(?:loop|body|iterates|iterated|loops|repeats|repeated)\b"
    if re.search(r"recurs|\bcall(?:s|ed)?\b", before, re.I):
        return False  # "the recursion repeats 3 times" counts calls, not a loop's iterations
    return bool(re.search(pattern, before, re.I))


def _block_iterations(text: str, iters: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """``Iteration 2:`` alone on its line opens a block that lasts to a blank line or the next mark."""
    blocks = []
    for index, (pos, k) in enumerate(iters):
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        rest = text[pos:line_end]
        if not re.fullmatch(
            r"[\W\w]*?\d+(?:st|nd|rd|th)?\s*(?:\)|\*\*|#+)?\s*:?\s*(?:\*\*)?\s*", rest
        ) and not rest.rstrip().endswith(":"):
            continue
        end = text.find("\n\n", line_end)
        end = len(text) if end < 0 else end
        if index + 1 < len(iters):
            end = min(end, iters[index + 1][0])
        after = next((a for a in _AFTER_LOOP.finditer(text, line_end, end)), None)
        if after is not None:
            end = after.start()
        blocks.append((line_end, end, k))
    return blocks


@dataclass(frozen=True)
class _Place:
    iteration: int | None
    after: bool
    within: int | None
    """For a loop's count or end state told inside an iteration of an outer loop: that k."""
    outer: str | None
    near: str | None


def _placement(
    pos: int,
    s_start: int,
    s_end: int,
    iters: list[tuple[int, int]],
    afters: list[int],
    headers: list[tuple[int, str, bool]],
    blocks: list[tuple[int, int, int]],
) -> _Place:
    marks = [(p, "iter", k) for p, k in iters if s_start <= p < s_end]
    marks += [(p, "after", 0) for p in afters if s_start <= p < s_end]
    marks.sort()
    before = [m for m in marks if m[0] <= pos]
    chosen = before[-1] if before else next((m for m in marks if m[0] > pos), None)
    outer = next((h for p, h, inner in reversed(headers) if p <= pos and not inner), None)
    same = [h for p, h, _ in headers if s_start <= p <= pos]
    near = same[-1] if same else outer
    block = next((k for start, end, k in blocks if start <= pos < end), None)
    iter_before = next((m[2] for m in reversed(before) if m[1] == "iter"), block)
    if chosen is not None and chosen[1] == "iter":
        return _Place(chosen[2], False, chosen[2], outer, near)
    if chosen is not None:
        return _Place(None, True, iter_before, outer, near)
    return _Place(block, False, block, outer, near)


def _name_ok(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 1) : start]
    after = text[end : end + 2]
    if before and (before.isalnum() or before in "._'\"[(#$\\@"):
        return False
    if (
        after[:1] in ("[", "(", ".", "'")
        and not after.startswith(". ")
        and after[:1] != "."
        or after.startswith("'s")
    ):
        return False
    # "the length of x is 5" is about len(x), not x; "the value of x is 5" is about x.
    words = text[max(0, start - 30) : start].replace("`", " ").split()
    if (
        len(words) >= 2
        and words[-1].lower() == "of"
        and words[-2].lower() not in ("value", "values")
    ):
        return False
    if words and words[-1].lower() in (
        "len",
        "length",
        "size",
        "type",
        "sum",
        "number",
        "count",
        "index",
    ):
        return False
    return True


_RESULT_WORDS = frozenset({"result", "output", "answer", "res", "ans", "value"})


def _inside_ticks(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return text.count("`", line_start, pos) % 2 == 1


def _inside_call(text: str, s_start: int, pos: int) -> bool:
    """``Node(val=0, next=None)``: keyword arguments inside an object's repr are not claims."""
    depth_call = []
    for i in range(s_start, pos):
        ch = text[i]
        if ch == "(":
            depth_call.append(i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"))
        elif ch == ")" and depth_call:
            depth_call.pop()
    return any(depth_call)


def _in_code_quote(text: str, m: re.Match[str]) -> bool:
    """A backticked assignment followed by ``gives``/``sets``/... is code being quoted."""
    line_start = text.rfind("\n", 0, m.start()) + 1
    ticks = text.count("`", line_start, m.start("name"))
    if ticks % 2 == 0 and not m.group("pre").endswith("`"):
        return False
    close = text.find("`", m.end("name"))
    if close < 0:
        return False
    return bool(_CODE_VERBS.match(text, close + 1))


def _colon_ok(text: str, start: int, s_start: int) -> bool:
    """``x: 5`` only where a list of values sits: line start, after a bullet, ``;`` or ``,``."""
    head = text[max(s_start, text.rfind("\n", 0, start) + 1) : start].rstrip()
    return not head or head[-1] in ";,(:-*•|" or bool(re.fullmatch(r"\W*(?:\d+[.)])?", head))


def _is_expression(expr: str) -> bool:
    try:
        node = ast_safe.parse(expr, mode="eval").body
    except (SyntaxError, ValueError):
        return False
    return isinstance(
        node,
        (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Name, ast.Call, ast.Attribute, ast.Subscript),
    )
