"""The funnel of a run, computed from its store: what entered and left each stage, and why not.

``entered = passed + failed`` at every stage (every input record has exactly one done row,
failed ones also a reason); ``out`` counts the records a stage produced (prompt makes several
tasks per function; ingest drops exact duplicates).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from codeio.store.db import RunStore

__all__ = ["funnel"]

_STAGES = ("ingest", "unify", "sample", "prompt", "generate", "verify", "revise")


def funnel(run_dir: str | Path) -> dict[str, Any]:
    """Everything ``codeio status`` shows, as one JSON-ready dict."""
    path = Path(run_dir) / RunStore.FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"no run store at {path}")
    with RunStore(path, read_only=True) as store:
        return _funnel(store)


def _funnel(store: RunStore) -> dict[str, Any]:
    done = {
        s: (n, ok)
        for s, n, ok in store.query("SELECT stage, COUNT(*), SUM(ok) FROM done GROUP BY stage")
    }
    outs = dict(store.query("SELECT stage, COUNT(*) FROM records GROUP BY stage"))
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    for s, reason, n in store.query(
        "SELECT stage, reason, COUNT(*) FROM failures GROUP BY stage, reason ORDER BY stage, 3 DESC"
    ):
        reasons[s][reason] = n
    examples = _failure_examples(store)
    stats: dict[str, dict[str, float]] = defaultdict(dict)
    for s, key, total in store.query(
        "SELECT stage, key, SUM(value) FROM stats GROUP BY stage, key"
    ):
        stats[s][key] = total
    complete = dict(store.query("SELECT stage, complete FROM stage_state"))
    from codeio.pipeline.run.failures import LENGTH, RETRY_ON_RESUME, is_llm_failure

    stages = []
    for s in _STAGES:
        if s not in done and s not in complete:
            continue
        entered, passed = done.get(s, (0, 0))
        mine = reasons.get(s, {})
        llm_failures = {r: n for r, n in mine.items() if is_llm_failure(r)}
        stages.append(
            {
                "stage": s,
                "entered": entered,
                "passed": int(passed or 0),
                "failed": sum(reasons.get(s, {}).values()),
                "out": outs.get(s, 0),
                "complete": bool(complete.get(s, 0)),
                "failures": reasons.get(s, {}),
                "failure_examples": examples.get(s, {}),
                "stats": stats.get(s, {}),
                "llm_failures": llm_failures,
                # Asked again by the next run of the same command (or --from this stage).
                "retry_pending": sum(n for r, n in mine.items() if r in RETRY_ON_RESUME),
                # Cut at max_tokens: asked again once llm.max_tokens is raised.
                "truncated": mine.get(LENGTH, 0),
            }
        )
    last = next((s for s in ("revise", "verify") if s in outs), None)
    verified = _verified(store, last) if last else {}
    llm = _llm(store, store.get_meta("prices"))
    result: dict[str, Any] = {
        "input_kind": store.get_meta("input_kind"),
        "seed": store.get_meta("seed"),
        "stages": stages,
        "unify": _repair_yield(stats.get("unify", {}), done.get("unify", (0, 0))[1]),
        "llm": llm,
        "verified": verified,
        "export": store.get_meta("export"),
        "retry_pending": {
            row["stage"]: row["retry_pending"] for row in stages if row["retry_pending"]
        },
    }
    correct = verified.get("final_correct", 0)
    if llm.get("cost") is not None and correct:
        llm["cost_per_verified_sample"] = llm["cost"] / correct
    return result


def _repair_yield(unify_stats: dict[str, float], passed: int | None) -> dict[str, Any]:
    """How much the repair loop recovered: ``recovered_share`` is the part of unify's output
    that only exists because a repair worked."""
    repaired = int(unify_stats.get("repaired", 0))
    failed = int(unify_stats.get("repair_tried", 0))
    passed = int(passed or 0)
    return {
        "repaired": repaired,
        "repair_tried_failed": failed,
        "tried": repaired + failed,
        "recovered_share": repaired / passed if passed else 0.0,
    }


_EXAMPLES_PER_REASON = 5


def _failure_examples(store: RunStore) -> dict[str, dict[str, list[str]]]:
    """The first few failure details per stage and reason (ingest's name ``path:line``).

    Bounded by a window query, so a run with millions of failures still answers with a handful.
    """
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for s, reason, detail in store.query(
        "SELECT stage, reason, detail FROM (SELECT stage, reason, detail, ROW_NUMBER() OVER"
        " (PARTITION BY stage, reason ORDER BY record_id) AS n FROM failures) WHERE n <= ?"
        " ORDER BY stage, reason, n",
        (_EXAMPLES_PER_REASON,),
    ):
        out[s][reason].append(detail[:300])
    return {s: dict(r) for s, r in out.items()}


def _llm(store: RunStore, prices: dict[str, float] | None) -> dict[str, Any]:
    by_stage: dict[str, dict[str, int]] = {}
    tot = Counter()
    for s, calls, pt, ct, cached in store.query(
        "SELECT stage, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached)"
        " FROM llm_usage GROUP BY stage"
    ):
        row = {
            "calls": calls,
            "prompt_tokens": pt or 0,
            "completion_tokens": ct or 0,
            "cached_calls": cached or 0,
        }
        by_stage[s] = row
        tot.update(row)
    out: dict[str, Any] = {
        "by_stage": by_stage,
        **{
            k: tot.get(k, 0)
            for k in ("calls", "prompt_tokens", "completion_tokens", "cached_calls")
        },
    }
    out["cost"] = None
    if prices:
        out["cost"] = (
            tot["prompt_tokens"] * prices.get("input", 0.0)
            + tot["completion_tokens"] * prices.get("output", 0.0)
        ) / 1e6
    return out


def _verified(store: RunStore, stage: str) -> dict[str, Any]:
    """Correct rate after each turn (cumulative), overall and per task kind."""
    total: Counter[str] = Counter()
    correct_at: dict[str, Counter[int]] = defaultdict(Counter)
    final: Counter[str] = Counter()
    max_turns = 0
    for _, payload in store.iter_payloads(stage):
        sample = json.loads(payload)["sample"]
        kind = sample["kind"]
        total[kind] += 1
        turns = sample["turns"]
        max_turns = max(max_turns, len(turns))
        first = next(
            (
                i
                for i, t in enumerate(turns, 1)
                if (t.get("verdict") or {}).get("status") == "correct"
            ),
            None,
        )
        if first is not None:
            correct_at[kind][first] += 1
        status = (turns[-1].get("verdict") or {}).get("status") if turns else None
        final[status or "none"] += 1
    n = sum(total.values())

    def rates(kinds: list[str]) -> list[dict[str, Any]]:
        out = []
        count = sum(total[k] for k in kinds)
        acc = 0
        for turn in range(1, max_turns + 1):
            acc += sum(correct_at[k][turn] for k in kinds)
            out.append({"turn": turn, "correct": acc, "rate": acc / count if count else 0.0})
        return out

    return {
        "samples": n,
        "final_status": dict(final),
        "final_correct": final.get("correct", 0),
        "by_turn": rates(list(total)),
        "by_kind": {k: {"samples": total[k], "by_turn": rates([k])} for k in sorted(total)},
    }
