"""Stop a run whose stage failed every record, instead of carrying on empty.

When every record fails the same way, the cause is almost never the records: a library the
sandbox cannot import, a teacher that cannot answer, an input in the wrong format. When they
fail for several reasons, nothing is left for the next stage either. Going on would end in an
empty export and exit 0; the run stops instead with one line that names the stage, the count,
the reasons and one example. The failures stay in the store for
``codeio status``; the next run of the same command retries them (the cause may be fixed).
Partial failures are ordinary: counted, inspectable, and the run goes on.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from codeio.errors import InputError, StageFailedError
from codeio.pipeline.run.failures import RETRY_ON_RESUME

if TYPE_CHECKING:
    from codeio.config import RunConfig
    from codeio.store.db import RunStore

__all__ = ["STOP_META", "example_line", "retry_stopped", "stop_if_all_failed"]

STOP_META = "stopped"
"""Store meta key: the stage (and reason) a run stopped at."""

# The endpoint's failures are asked again on resume and reported by their own exit codes
# (4: the breaker stopped the run, 5: retries pending), never as "every record failed".
_TRANSIENT = RETRY_ON_RESUME
# Stages whose records run in the sandbox: an all-failed one may be the sandbox's fault.
_SANDBOX_STAGES = frozenset({"unify", "sample", "verify", "revise"})
_EXCEPTION_LINE = re.compile(r"\b([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b:?.*)")


def example_line(detail: str, limit: int = 240) -> str:
    """The most telling line of a failure detail: the exception line of a traceback if any."""
    lines = [ln.strip() for ln in detail.splitlines() if ln.strip()]
    if not lines:
        return ""
    found = [m.group(1) for ln in lines if (m := _EXCEPTION_LINE.search(ln))]
    text = found[-1] if found else lines[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def stop_if_all_failed(store: RunStore, stage: str, config: RunConfig) -> None:
    """Raise when ``stage`` had records in, none out, and no failure that a rerun asks again
    (those end the run with their own exit codes: 4, 5)."""
    entered, passed = store.query(
        "SELECT COUNT(*), COALESCE(SUM(ok), 0) FROM done WHERE stage = ?", (stage,)
    )[0]
    if stage == "ingest" and entered == 0:
        where = ", ".join(config.input.path)
        raise InputError(
            "the input holds no records (input.path): give a file or folder with at least one",
            path=where,
        )
    if entered == 0 or passed or store.count_records(stage):
        return
    reasons = store.query(
        "SELECT reason, COUNT(*) FROM failures WHERE stage = ? GROUP BY reason", (stage,)
    )
    if not reasons or any(reason in _TRANSIENT for reason, _ in reasons):
        return
    # Any mix of reasons stops the run too: nothing is left for the next stage, and going on
    # would end in an empty export with exit 0 (a command that did not do its job).
    by_count = sorted(reasons, key=lambda row: -row[1])
    reason = reasons[0][0] if len(reasons) == 1 else ", ".join(f"{r} {n}" for r, n in by_count)
    detail = store.query(
        "SELECT detail FROM failures WHERE stage = ? ORDER BY record_id LIMIT 1", (stage,)
    )[0][0]
    example = example_line(detail)
    cause = _sandbox_cause(config) if stage in _SANDBOX_STAGES else None
    store.set_meta(STOP_META, {"stage": stage, "reason": reason})
    what = f"the sandbox cannot run the refcode prelude: {cause}" if cause else example
    raise StageFailedError(
        f"{stage}: all {entered} records failed: {reason}: {what}; run `codeio doctor`, "
        "fix the cause and rerun the same command (it retries them)"
    )


def retry_stopped(store: RunStore) -> int:
    """At the start of a run: forget the failures of the stage a previous run stopped at, so
    they are tried again. Returns how many records will be retried."""
    stopped = store.get_meta(STOP_META)
    if not stopped:
        return 0
    n = store.forget_failed(str(stopped.get("stage")))
    store.delete_meta(STOP_META)
    return n


def _sandbox_cause(config: RunConfig) -> str | None:
    """Why the refcode prelude fails in a fresh sandbox (None if it runs, or if no sandbox
    starts: then the records' own failures are the best account there is)."""
    from codeio.doctor import prelude_problem
    from codeio.exec import ExecLimits, Sandbox, SandboxUnavailable

    try:
        limits = ExecLimits(timeout_s=max(config.exec.timeout_s, 60.0))
        with Sandbox(workers=1, warm=(), limits=limits) as sandbox:
            return prelude_problem(sandbox)
    except SandboxUnavailable as exc:  # refuses to start without its prelude: that is the cause
        return str(exc)
    except Exception:
        return None
