"""``codeio sample`` and ``codeio recheck``: I/O pairs for functions, and re-checks of stored ones."""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from codeio.records import Failure, FunctionRecord, IOPair

__all__ = ["register"]

_RECHECK_HASH_SEED_OFFSET = 1
"""The recheck sandbox's PYTHONHASHSEED is the main one's plus this: any difference will do."""

RowToRecord = Callable[[dict[str, Any]], FunctionRecord | str]


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _str_field(row: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = row.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {name!r} must be a non-empty string")
    return value


def _record_id(row: dict[str, Any], refcode: str, inputgen: str | None) -> str:
    given = row.get("id")
    return given if isinstance(given, str) and given else FunctionRecord.make_id(refcode, inputgen)


def _funcname(row: dict[str, Any]) -> str:
    name = row.get("funcname") or "main_solution"
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"field 'funcname' must be an identifier, got {name!r}")
    return name


def sample_record(row: dict[str, Any]) -> FunctionRecord | str:
    """The FunctionRecord to sample for one input row, or why the row is unusable."""
    try:
        refcode = _str_field(row, "refcode")
        inputgen = _str_field(row, "inputgen")
        assert refcode is not None
        return FunctionRecord(
            id=_record_id(row, refcode, inputgen),
            refcode=refcode,
            funcname=_funcname(row),
            inputgen=inputgen,
        )
    except ValueError as exc:
        return str(exc).splitlines()[0]


def recheck_record(row: dict[str, Any]) -> FunctionRecord | str:
    """The FunctionRecord (with its stored ``ios``) to re-check, or why the row is unusable."""
    try:
        refcode = _str_field(row, "refcode")
        assert refcode is not None
        ios = row.get("ios")
        if not isinstance(ios, list):
            raise ValueError("field 'ios' must be a list of {input, output} objects")
        pairs = []
        for index, pair in enumerate(ios):
            if not isinstance(pair, dict) or not isinstance(pair.get("input"), dict):
                raise ValueError(f"ios[{index}] must be an object with an 'input' object")
            pairs.append(IOPair(input=pair["input"], output=pair.get("output")))
        return FunctionRecord(
            id=_record_id(row, refcode, None), refcode=refcode, funcname=_funcname(row), ios=pairs
        )
    except ValueError as exc:
        return str(exc).splitlines()[0]


class _Run:
    """Reads rows, hands valid records on in order, and counts and reports the bad ones."""

    def __init__(self, path: Path, to_record: RowToRecord, console: Console) -> None:
        from codeio.pipeline.ingest.jsonl import iter_jsonl_rows, line_failure

        self._rows = iter_jsonl_rows(path)
        self._line_failure = line_failure
        self.path = path
        self.to_record = to_record
        self.console = console
        self.rows: deque[dict[str, Any]] = deque()
        self.rejected: list[Failure] = []
        self.on_reject: Callable[[Failure], None] = lambda failure: None
        self.accepted = 0

    def require_records(self) -> None:
        """Exit 1 when no line was a usable record: a wrong or empty file must not look like a
        run that worked (exit 0, an empty output)."""
        if self.accepted:
            return
        from codeio.cli.errors import fail
        from codeio.errors import InputError

        if not self.rejected:
            fail(InputError("the file holds no records", path=str(self.path)))
        first = self.rejected[0].detail
        what = f"no usable record ({len(self.rejected)} line(s) rejected; first: {first})"
        fail(InputError(what, path=str(self.path)))

    def records(self) -> Iterator[FunctionRecord]:
        for item in self._rows:
            if isinstance(item, Failure):
                self._reject(item)
                continue
            location, row = item
            record = self.to_record(row)
            if isinstance(record, str):
                line = int(location.rsplit(":", 1)[1])
                self._reject(self._line_failure(self.path, line, "bad_record", record))
                continue
            self.rows.append(row)
            self.accepted += 1
            yield record

    def _reject(self, failure: Failure) -> None:
        self.rejected.append(failure)
        # Text, not markup: details quote user data that may contain [brackets].
        self.console.print(Text.assemble(("skipped ", "yellow"), failure.detail), soft_wrap=True)
        self.on_reject(failure)


def _refuse_overwriting_input(records: Path, **outputs: Path | None) -> None:
    """A usage error when an output file is the input: opening it for writing would empty the
    input before a single record is read, and the command would then succeed on nothing."""
    for option, path in outputs.items():
        if path is not None and path.exists() and records.exists() and path.samefile(records):
            raise typer.BadParameter(
                f"{path} is the input file: writing it would erase the records before they are "
                "read; choose another path",
                param_hint=f"--{option}",
            )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    )


def _write(handle: TextIO, obj: dict[str, Any]) -> None:
    handle.write(json.dumps(obj, ensure_ascii=False, allow_nan=True) + "\n")


def _sandboxes(workers: int | None, hash_seed: int) -> tuple[Any, Any]:
    from codeio.exec import open_sandboxes

    main, other = open_sandboxes(
        {"workers": workers, "hash_seed": hash_seed},
        {"workers": workers, "hash_seed": hash_seed + _RECHECK_HASH_SEED_OFFSET},
    )
    return main, other


def _summary_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def sample_cmd(
    records: Path = typer.Argument(..., exists=True, dir_okay=False, help="Unified records JSONL."),
    output: Path = typer.Option(..., "-o", "--output", help="Records with sampled `ios` (JSONL)."),
    pairs: int = typer.Option(10, "--pairs", min=1, help="Distinct pairs to keep per function."),
    tries: int = typer.Option(
        1000, "--tries", min=1, help="Generator calls per function, at most."
    ),
    seed: int = typer.Option(0, "--seed", help="Run seed; with the record id it seeds every RNG."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Sandbox workers (each)."),
    failures: Path | None = typer.Option(None, "--failures", help="Write Failure records here."),
    time_budget: float = typer.Option(
        10.0, "--time-budget", min=0.001, help="Hard cap in seconds on one function's loop."
    ),
    soft_budget: float = typer.Option(
        0.5,
        "--soft-budget",
        min=0.0,
        help="Seconds per function at its own pace: a slow function keeps the pairs it has "
        "(at least 2) once the next would end later; one without 2 pairs by then gets up to 2x "
        "this. 0: only --time-budget.",
    ),
    determinism: str = typer.Option(
        "function", "--determinism", help="function | pair | off: what a differing re-run drops."
    ),
) -> None:
    """Run each record's input generator and reference code to get verified I/O pairs."""
    from codeio.pipeline.sample import SampleConfig, Sampler

    console = Console(stderr=True)
    _refuse_overwriting_input(records, output=output, failures=failures)
    if determinism not in ("function", "pair", "off"):
        raise typer.BadParameter("must be function, pair or off", param_hint="--determinism")
    if soft_budget > time_budget:
        raise typer.BadParameter(
            f"{soft_budget} is more than --time-budget {time_budget}", param_hint="--soft-budget"
        )
    config = SampleConfig(
        pairs=pairs,
        tries=tries,
        seed=seed,
        time_budget_s=time_budget,
        soft_budget_s=soft_budget or None,
        determinism=determinism,  # type: ignore[arg-type]
        min_pairs=min(2, pairs),
    )
    total = _count_lines(records)
    reasons: Counter[str] = Counter()
    kept = written_pairs = short = 0
    started = time.monotonic()
    run = _Run(records, sample_record, console)
    with ExitStack() as stack:
        out = stack.enter_context(output.open("w", encoding="utf-8"))
        fails = stack.enter_context(failures.open("w", encoding="utf-8")) if failures else None
        main, other = _sandboxes(workers, 0)
        stack.callback(other.close)
        stack.callback(main.close)
        progress = stack.enter_context(_progress(console))
        task = progress.add_task("sampling", total=total, status="")

        def on_reject(failure: Failure) -> None:
            reasons["rejected_line"] += 1
            if fails:
                _write(fails, failure.model_dump(mode="json"))
            progress.advance(task)

        run.on_reject = on_reject
        for result in Sampler(main, other, config).sample_many(run.records()):
            row = run.rows.popleft()
            if isinstance(result, Failure):
                reasons[result.reason] += 1
                if fails:
                    _write(fails, result.model_dump(mode="json"))
            else:
                kept += 1
                written_pairs += len(result.ios)
                short += bool(result.meta.get("sample", {}).get("stopped_slow"))
                meta = row.get("meta") or {}
                # Sampling stats join the record's own meta (left alone when it is not a dict).
                extra = {"meta": {**meta, **result.meta}} if isinstance(meta, dict) else {}
                _write(
                    out, {**row, **extra, "ios": [p.model_dump(mode="json") for p in result.ios]}
                )
            progress.update(task, advance=1, status=f"kept {kept}, failed {sum(reasons.values())}")
    elapsed = time.monotonic() - started
    processed = kept + sum(n for r, n in reasons.items() if r != "rejected_line")
    rows: list[tuple[str, Any]] = [
        ("records read", processed + reasons["rejected_line"]),
        ("functions kept", kept),
        ("pairs written", written_pairs),
        ("kept with fewer pairs (slow)", short),
        *((f"dropped: {reason}", n) for reason, n in reasons.most_common()),
        ("seconds", f"{elapsed:.1f}"),
        ("functions/s", f"{processed / elapsed:.1f}" if elapsed > 0 else "-"),
    ]
    console.print(_summary_table("codeio sample", rows))
    run.require_records()
    cut = reasons["too_slow"] + short
    if cut and soft_budget:
        # The budget is a trade of yield for speed; say which knob moves it.
        console.print(
            f"{cut} function(s) stopped by --soft-budget {soft_budget:g} s "
            f"({reasons['too_slow']} dropped, {short} kept with fewer pairs); "
            "a larger one keeps more of them, at their own pace",
            soft_wrap=True,
        )


def recheck_cmd(
    records: Path = typer.Argument(..., exists=True, dir_okay=False, help="Records with `ios`."),
    output: Path = typer.Option(..., "-o", "--output", help="Annotated records (JSONL)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Sandbox workers (each)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the global RNGs of the two re-runs."),
    call_timeout: float = typer.Option(
        5.0, "--call-timeout", min=0.001, help="Seconds per re-run call."
    ),
) -> None:
    """Re-run every stored pair twice (two hash seeds, two RNG states) and flag what differs."""
    from codeio.pipeline.sample import recheck

    console = Console(stderr=True)
    _refuse_overwriting_input(records, output=output)
    total = _count_lines(records)
    reasons: Counter[str] = Counter()
    n_records = deterministic = n_pairs = reproducible = 0
    started = time.monotonic()
    run = _Run(records, recheck_record, console)
    with ExitStack() as stack:
        out = stack.enter_context(output.open("w", encoding="utf-8"))
        main, other = _sandboxes(workers, 0)
        stack.callback(other.close)
        stack.callback(main.close)
        progress = stack.enter_context(_progress(console))
        task = progress.add_task("rechecking", total=total, status="")
        run.on_reject = lambda failure: progress.advance(task)
        results = recheck(run.records(), main, other, seed=seed, call_timeout_s=call_timeout)
        for result in results:
            row = run.rows.popleft()
            n_records += 1
            deterministic += result.deterministic
            n_pairs += len(result.pairs)
            reproducible += sum(check.reproducible for check in result.pairs)
            reasons[result.reason] += 1
            _write(out, result.annotate(row))
            progress.update(task, advance=1, status=f"deterministic {deterministic}/{n_records}")
    elapsed = time.monotonic() - started
    rows: list[tuple[str, Any]] = [
        ("records", n_records),
        ("deterministic", deterministic),
        ("pairs", n_pairs),
        ("reproducible", reproducible),
        ("rejected lines", len(run.rejected)),
        *((f"reason: {reason}", n) for reason, n in reasons.most_common()),
        ("seconds", f"{elapsed:.1f}"),
    ]
    console.print(_summary_table("codeio recheck", rows))
    run.require_records()


def register(app: typer.Typer) -> None:
    app.command("sample")(sample_cmd)
    app.command("recheck")(recheck_cmd)
