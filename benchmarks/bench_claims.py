"""The claim checker on the trace teacher's rationales over the demo corpus, in one run.

(a) untouched rationales: how many claims the checker calls contradicted (all of them are false
contradictions: the teacher narrates the real trace); (b) seeded corruptions: one supported
intermediate claim per rationale gets a wrong value (a number, a list element, a condition's
boolean, a loop count, a string) and the checker must call that claim contradicted. The new
value is one the run never produces for that subject anywhere in the trace (another call's
value would be a true statement about that call); claims with no such value are skipped and
counted (``ambiguous_claims_skipped``); (c) claims
per rationale and the checker's time per rationale against the verifier's own time on the same
response (the baseline, measured in the same run); (d) the same untouched narrations rewritten
in other styles (prose without quoted code, arrows with JSON literals, markdown tables of the
iterations): still true, so every contradiction there is false too. Both kinds of prediction
are used.

Run from the project root: ``.venv/bin/python benchmarks/bench_claims.py [--limit N]``. The last
line printed is one JSON object with the numbers.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeio.exec import Sandbox
from codeio.llm.trace_teacher import TraceTeacherBackend
from codeio.pipeline.prompt import build_task
from codeio.pipeline.verify import Verifier
from codeio.pipeline.verify.claims import ClaimChecker, extract_claims
from codeio.pipeline.verify.claims.judge import code_names
from codeio.pipeline.verify.claims.values import match, parse_value
from codeio.records import FunctionRecord, IOPair, PredictionTask

STYLES = ("prose", "arrows", "table")
CORPUS = Path("../shared/data/codeio-demo/rawcode_1k_parsed.jsonl")


def _tasks(path: Path, limit: int) -> list[PredictionTask]:
    tasks = []
    with path.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if index >= limit:
                break
            rec = json.loads(line)
            if not rec.get("ios"):
                continue
            pair = rec["ios"][0]
            fn = FunctionRecord(
                id=FunctionRecord.make_id(rec["refcode"]),
                refcode=rec["refcode"],
                funcname=rec.get("funcname") or "main_solution",
                ios=[IOPair(input=pair["input"], output=pair["output"])],
            )
            tasks.extend(build_task(fn, 0, kind) for kind in ("output", "input"))
    return tasks


# -- corruptions ---------------------------------------------------------------------------------


def _other_char(ch: str) -> str:
    return "x" if ch != "x" else "y"


def produced(trace: Any, claim: Any) -> Callable[[Any], bool]:
    """Whether a value could be true of the run for this claim's subject, anywhere in the trace.

    A corruption must be wrong beyond doubt: a value the same variable takes elsewhere, a branch
    outcome the same test has in another call, a count some loop has, is not a wrong step the
    text can be faulted for, so such candidates are not used.
    """
    if claim.kind == "value":
        texts = [o.text for o in trace.values_of(claim.name)]
    elif claim.kind == "return":
        short = claim.name.rsplit(".", 1)[-1]
        named = claim.name and not claim.name.startswith("return ")
        texts = [c.ret for c in trace.calls if c.ret and (not named or c.short_name == short)]
    elif claim.kind == "loop_count":
        texts = [str(r.total) for r in trace.loops if r.total is not None]
    else:
        key = _expr_key(claim.name)
        texts = [
            str(b.taken)
            for b in trace.branches
            if key is not None
            and ast.dump(getattr(trace.source.statement(b.line), "test", None) or ast.Pass()) == key
        ]
    parsed = [parse_value(t) for t in texts]
    return lambda v: any(match(v, p) is not False for p in parsed)


def corrupt(
    kind: str, value: Any, text: str, rng: random.Random, taken: Callable[[Any], bool]
) -> tuple[str, str] | None:
    """(category, new value text) for one claim: a value the run never produces there, or None."""
    if kind == "condition":
        if not re.fullmatch(r"(?i)true|false", text) or taken(not value):
            return None
        flipped = "false" if value else "true"
        return "condition", flipped.capitalize() if text[:1].isupper() else flipped
    if kind == "loop_count":
        if not text.isdigit():
            return None
        new = next(
            (n for n in (value + 1, value + 2, value - 1, value + 5) if n >= 0 and not taken(n)),
            None,
        )
        return ("loop_count", str(new)) if new is not None else None
    if isinstance(value, bool):
        if taken(not value):
            return None
        return "bool", ("False" if value else "True") if text[:1].isupper() else (
            "false" if value else "true"
        )
    if isinstance(value, int):
        options = [value + 1, value - 1, value + 2, value - 2, value + 7, -value - 3]
        new = next((n for n in options if not taken(n)), None)
        return ("number", str(new)) if new is not None else None
    if isinstance(value, float):
        options = [round(value * 1.5 + 1.0, 4), round(value * 2 + 3.7, 4), round(-value - 9.1, 4)]
        new = next((n for n in options if not taken(n)), None)
        return ("number", repr(new)) if new is not None else None
    if isinstance(value, str) and text[:1] in "'\"" and value and "..." not in value:
        for _ in range(5):
            i = rng.randrange(len(value))
            new = value[:i] + _other_char(value[i]) + value[i + 1 :]
            if text[0] not in new and not taken(new):
                return "string", text[0] + new + text[0]
        return None
    if isinstance(value, list) and value and "..." not in text and text.startswith("["):
        nums = [i for i, v in enumerate(value) if isinstance(v, int) and not isinstance(v, bool)]
        rng.shuffle(nums)
        for i in nums[:4]:
            for delta in (1, 7):
                changed = list(value)
                changed[i] = value[i] + delta
                if not taken(changed):
                    return "list_element", json.dumps(changed)
    return None


# -- restyled narrations --------------------------------------------------------------------------

_ORDINAL_WORDS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]


def _ordinal(k: int) -> str:
    if k <= len(_ORDINAL_WORDS):
        return _ORDINAL_WORDS[k - 1]
    return (
        f"{k}th" if 10 <= k % 100 <= 20 else f"{k}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th') }"
    )


def restyle(text: str, style: str) -> str:
    """The teacher's narration told another way, every value unchanged (so still all true).

    ``prose``: no quoted statements, "x becomes 5", "On the second iteration, ...",
    "`c` evaluates to False"; ``arrows``: "x -> 5", JSON spelling of literals, "iteration #2:";
    ``table``: each run of "Iteration k: a = 1; b = 2" lines as a markdown table.
    """
    body, fence, tail = text.partition("```")
    if style == "prose":
        body = re.sub(
            r"`[^`\n]+` (?:sets|gives|updates the object:) ([A-Za-z_]\w*) = ", r"\1 becomes ", body
        )
        body = re.sub(
            r"(?m)^(\s*)- Iteration (\d+): ",
            lambda m: f"{m[1]}On the {_ordinal(int(m[2]))} iteration, ",
            body,
        )
        body = re.sub(
            r"The condition (`[^`\n]+`) is (true|false)",
            lambda m: f"{m[1]} evaluates to {m[2].capitalize()}",
            body,
        )
    elif style == "arrows":
        body = re.sub(r"(?<![=!<>`\w.\[])([A-Za-z_]\w*) = (?=[-\d\[{('\"TFN])", r"\1 -> ", body)
        body = re.sub(
            r"\bTrue\b", "true", re.sub(r"\bFalse\b", "false", re.sub(r"\bNone\b", "null", body))
        )
        body = re.sub(r"(?m)^(\s*)- Iteration (\d+):", r"\1- iteration #\2:", body)
    elif style == "table":
        body = _as_tables(body)
    return body + fence + tail


_ITER_LINE = re.compile(r"^(\s*)- Iteration (\d+): (.*)$")
_PAIR = re.compile(r"^(?:`[^`]+` (?:gives|sets) )?([A-Za-z_]\w*) = (.+)$")
_TEST = re.compile(r"^(`[^`]+`) is (true|false)$")


def _row(parts: str) -> list[tuple[str, str]] | None:
    """``i = 2; `s += x` gives s = 5; `s > 3` is true`` as (column, cell) pairs, or None."""
    cells = []
    for part in parts.rstrip(".").split("; "):
        pair, test = _PAIR.match(part.strip()), _TEST.match(part.strip())
        if pair and "|" not in pair[2] and " and " not in pair[2] and ", " not in pair[2][:1]:
            cells.append((pair[1], pair[2]))
        elif test:
            cells.append((test[1], test[2]))
        else:
            return None
    return cells


def _as_tables(body: str) -> str:
    """Runs of iteration lines made only of values and tests become a markdown table."""
    out: list[str] = []
    run: list[tuple[str, str, str]] = []

    def flush() -> None:
        rows = [_row(parts) for _, _, parts in run]
        if all(r is not None for r in rows) and rows:
            columns: list[str] = []
            for r in rows:
                columns.extend(c for c, _ in r or [] if c not in columns)
            indent = run[0][0]
            out.append(f"{indent}| Iteration | " + " | ".join(columns) + " |")
            out.append(f"{indent}|---|" + "---|" * len(columns))
            for (_, k, _), r in zip(run, rows, strict=True):
                cells = dict(r or [])
                out.append(
                    f"{indent}| {k} | " + " | ".join(cells.get(c, "") for c in columns) + " |"
                )
        else:
            out.extend(f"{i}- Iteration {k}: {p}" for i, k, p in run)
        run.clear()

    for line in body.split("\n"):
        m = _ITER_LINE.match(line)
        if m:
            run.append((m[1], m[2], m[3]))
            continue
        if run:
            flush()
        out.append(line)
    if run:
        flush()
    return "\n".join(out)


def _expr_key(text: str) -> str | None:
    try:
        return ast.dump(ast.parse(text.strip().rstrip(":"), mode="eval").body)
    except SyntaxError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=464, help="records of the corpus to use")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"error: {args.data}: corpus not found (pass --data)")
    tasks = _tasks(args.data, args.limit)
    rng = random.Random(args.seed)

    totals: Counter[str] = Counter()
    per_rationale: list[int] = []
    check_s: list[float] = []
    verify_s: list[float] = []
    false_examples: list[dict[str, Any]] = []
    detect: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    missed: list[dict[str, Any]] = []
    deterministic = 0
    styled: Counter[str] = Counter()
    style_examples: list[dict[str, Any]] = []
    with Sandbox(workers=args.workers) as sandbox:
        teacher = TraceTeacherBackend(sandbox=sandbox)
        verifier = Verifier(sandbox)
        timed = ClaimChecker(sandbox, cache_size=0)  # every check traces afresh: honest timing
        cached = ClaimChecker(sandbox)
        for task in tasks:
            context = {
                "task": "predict",
                "kind": task.kind,
                "refcode": task.refcode,
                "funcname": task.funcname,
                "input": task.pair.input,
                "output": task.pair.output,
            }
            try:
                response = teacher.respond(context)
            except Exception as exc:  # a teacher failure is counted, not fatal
                totals["teacher_failed"] += 1
                totals[f"teacher_failed:{type(exc).__name__}"] += 1
                continue
            start = time.perf_counter()
            turn = verifier.verify(task, response)
            verify_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            process = timed.check(task, turn)
            check_s.append(time.perf_counter() - start)
            totals["rationales"] += 1
            n = process.supported + process.contradicted + process.unverifiable
            per_rationale.append(n)
            if process.note:
                totals[f"not_judged:{process.note.split(':')[0]}"] += 1
                continue
            deterministic += 1
            totals["claims"] += n
            totals["supported"] += process.supported
            totals["contradicted"] += process.contradicted
            totals["unverifiable"] += process.unverifiable
            if process.contradicted and len(false_examples) < 10:
                c = process.first_contradiction
                false_examples.append(
                    {
                        "task": task.id,
                        "kind": task.kind,
                        "claim": c.claim if c else "",
                        "claimed": c.claimed if c else "",
                        "actual": c.actual if c else "",
                    }
                )
            # (d) the same narration in other styles: still true, so nothing may be contradicted.
            kwargs = turn.answer if task.kind == "input" else task.pair.input
            expected = task.pair.output if task.kind == "output" else turn.verdict.actual_output
            for style in STYLES:
                text = restyle(response, style)
                if text == response:
                    continue
                again = cached.check_text(
                    text, task.refcode, task.funcname, kwargs, kind=task.kind, expected=expected
                )
                styled[style] += again.supported + again.contradicted + again.unverifiable
                styled[f"{style}:contradicted"] += again.contradicted
                if again.contradicted and len(style_examples) < 10:
                    c = again.first_contradiction
                    style_examples.append(
                        {
                            "style": style,
                            "task": task.id,
                            "claim": c.claim if c else "",
                            "claimed": c.claimed if c else "",
                            "actual": c.actual if c else "",
                        }
                    )
            # (b) one seeded corruption of a supported intermediate claim.
            kwargs = turn.answer if task.kind == "input" else task.pair.input
            claims = [
                c
                for c in extract_claims(response, kind=task.kind)
                if c.kind != "final" and (c.kind != "value" or c.name in code_names(task.refcode))
            ]
            supported = {(c.span[0], c.status) for c in process.claims if c.status == "supported"}
            candidates = [c for c in claims if (c.span[0], "supported") in supported]
            if task.kind == "input":
                # Restating an argument differently is trying another candidate, not a step.
                candidates = [c for c in candidates if c.name not in (kwargs or {})]
            rng.shuffle(candidates)
            trace = cached.trace(task.refcode, task.funcname, kwargs)
            ambiguous = 0
            for claim in candidates:
                changed = corrupt(
                    claim.kind, claim.value, claim.value_text, rng, produced(trace, claim)
                )
                if changed is None:
                    ambiguous += 1
                    continue
                category, new_text = changed
                a, b = claim.value_span
                bad = response[:a] + new_text + response[b:]
                expected = task.pair.output if task.kind == "output" else turn.verdict.actual_output
                if task.kind == "input" and turn.verdict.status == "correct":
                    expected = task.pair.output
                result = cached.check_text(
                    bad, task.refcode, task.funcname, kwargs, kind=task.kind, expected=expected
                )
                hit = any(
                    c.status == "contradicted" and c.span[0] == claim.span[0] for c in result.claims
                )
                tried[category] += 1
                detect[category] += int(hit)
                if not hit and len(missed) < 12:
                    missed.append(
                        {
                            "task": task.id,
                            "category": category,
                            "claim": claim.text[:160],
                            "was": claim.value_text,
                            "now": new_text,
                        }
                    )
                break
            else:
                totals["no_unambiguous_corruption"] += 1
            totals["ambiguous_claims_skipped"] += ambiguous
    claims_total = totals["claims"] or 1
    tried_total = sum(tried.values()) or 1
    for ex in false_examples:
        print("false contradiction:", json.dumps(ex))
    for ex in missed:
        print("missed corruption:", json.dumps(ex))
    for ex in style_examples:
        print("false contradiction (restyled):", json.dumps(ex))
    summary = {
        "rationales": totals["rationales"],
        "judged_rationales": deterministic,
        "not_judged": {
            k.split(":", 1)[1]: v for k, v in totals.items() if k.startswith("not_judged:")
        },
        "teacher_failed": totals["teacher_failed"],
        "claims": totals["claims"],
        "supported": totals["supported"],
        "unverifiable": totals["unverifiable"],
        "false_contradictions": totals["contradicted"],
        "false_contradiction_rate": round(totals["contradicted"] / claims_total, 5),
        "corruptions": sum(tried.values()),
        "rationales_without_unambiguous_corruption": totals["no_unambiguous_corruption"],
        "ambiguous_claims_skipped": totals["ambiguous_claims_skipped"],
        "detected": sum(detect.values()),
        "detection_rate": round(sum(detect.values()) / tried_total, 4),
        "detection_by_category": {
            k: {"tried": tried[k], "detected": detect[k], "rate": round(detect[k] / tried[k], 3)}
            for k in sorted(tried)
        },
        "restyled": {
            style: {
                "claims": styled[style],
                "false_contradictions": styled[f"{style}:contradicted"],
            }
            for style in STYLES
        },
        "claims_per_rationale_mean": round(statistics.mean(per_rationale or [0]), 2),
        "claims_per_rationale_median": statistics.median(per_rationale or [0]),
        "checker_ms_per_rationale": round(1000 * statistics.mean(check_s or [0]), 2),
        "verifier_ms_per_rationale": round(1000 * statistics.mean(verify_s or [0]), 2),
        "checker_vs_verifier_time": round(
            statistics.mean(check_s or [0]) / max(statistics.mean(verify_s or [1]), 1e-9), 2
        ),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
