"""Pipeline: run the stages in order (or a slice of them) over one run directory, resumably.

Each stage reads its input stage's records from the store in id-ordered pages of only the
records it has not done, hands them to the runner in batches, and commits each batch's
outcomes in one transaction. Rerunning the same command therefore continues where a killed run
stopped, and a finished stage costs one query.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from codeio.config import RunConfig
from codeio.errors import ConfigError
from codeio.pipeline.base import STAGE_ORDER, Stage
from codeio.pipeline.run import ingest as ingest_mod
from codeio.pipeline.stop import retry_stopped, stop_if_all_failed
from codeio.runners import Runner, make_runner
from codeio.store.db import RunStore
from codeio.store.lock import run_lock

__all__ = ["Pipeline", "Progress", "RunResult", "stage_classes"]

CONFIG_FILE = "config.resolved.yaml"
RUN_FILE = "run.json"
EXPORT_DIR = "export"


class Progress(Protocol):
    """What the pipeline reports while it runs (the CLI draws rich progress bars from it)."""

    def start(self, stage: str, total: int | None) -> None: ...
    def advance(self, stage: str, n: int) -> None: ...
    def finish(self, stage: str) -> None: ...


class _NoProgress:
    def start(self, stage: str, total: int | None) -> None:
        pass

    def advance(self, stage: str, n: int) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


@dataclass
class RunResult:
    run_dir: Path
    stages: list[str]
    export: dict[str, Any] = field(default_factory=dict)
    """Paths the export and report wrote (``sft``, ``dpo``, ``report``)."""


def stage_classes() -> dict[str, type[Stage]]:
    from codeio.pipeline.run.generate import GenerateStage
    from codeio.pipeline.run.prompt import PromptStage
    from codeio.pipeline.run.revise import RevisionStage
    from codeio.pipeline.run.sample import SampleStage
    from codeio.pipeline.run.unify import UnifyStage
    from codeio.pipeline.run.verify import VerifyStage

    return {
        "unify": UnifyStage,
        "sample": SampleStage,
        "prompt": PromptStage,
        "generate": GenerateStage,
        "verify": VerifyStage,
        "revise": RevisionStage,
    }


def active_stages(kind: str, config: RunConfig) -> list[str]:
    """The stages a run of this input kind goes through (unify only for raw code)."""
    stages = list(STAGE_ORDER)
    if kind != "raw":
        stages.remove("unify")
    if config.revise.rounds == 0:
        stages.remove("revise")
    return stages


_LLM_STAGES = frozenset({"unify", "generate", "revise"})


def _check_stage(name: str | None, flag: str) -> None:
    if name is not None and name not in STAGE_ORDER:
        raise ConfigError(f"{flag}: unknown stage {name!r}; stages: {', '.join(STAGE_ORDER)}")


class Pipeline:
    """The whole method over one run directory; see docs/PIPELINE.md."""

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path,
        *,
        runner: Runner | None = None,
        progress: Progress | None = None,
        retry_failed: bool = True,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.runner = runner
        self.progress: Progress = progress or _NoProgress()
        self.retry_failed = retry_failed
        """Ask again the LLM failures earlier runs left that are retryable on resume."""
        self.reopened: dict[str, int] = {}
        """Records each stage of this run reopened for another try."""

    # -- run metadata ---------------------------------------------------------------------
    def _prepare(self, store: RunStore) -> str:
        """Fix the input kind and seed at the first run; later runs must agree with them."""
        seed = store.get_meta("seed")
        if seed is not None and seed != self.config.seed:
            raise ConfigError(
                f"seed: this run directory was made with seed {seed}, not {self.config.seed};"
                " use another --out to start a new run"
            )
        kind = _stored_kind(store)
        if kind is None:
            if store.get_meta("input_kind") is not None:
                # Nothing got through ingest last time and the input is read again now: its
                # old line failures would stay counted beside the fixed file's records.
                store.forget_failed("ingest")
            kind = ingest_mod.detect_kind(self.config)
            store.set_meta("input_kind", kind)
            store.set_meta("seed", self.config.seed)
            if store.get_meta("created") is None:
                store.set_meta("created", time.time())
        store.set_meta("prices", self.config.llm.prices)
        (self.run_dir / CONFIG_FILE).write_text(self.config.to_yaml(), encoding="utf-8")
        (self.run_dir / RUN_FILE).write_text(
            json.dumps(_run_info(self.config, kind), indent=2) + "\n", encoding="utf-8"
        )
        return str(kind)

    # -- running --------------------------------------------------------------------------
    def check(self, *, from_stage: str | None = None, to_stage: str | None = None) -> None:
        """What can be refused before anything is written: stage names, the run directory,
        the input files and the LLM spec's backend (``run`` calls it too)."""
        from codeio import doctor

        _check_stage(from_stage, "--from")
        _check_stage(to_stage, "--to")
        doctor.parse_llm_spec(self.config.llm.spec)
        if from_stage in (None, "ingest"):
            doctor.check_inputs(self.config)
        doctor.check_run_dir(self.run_dir)
        chosen = _slice(active_stages(self._kind(), self.config), from_stage, to_stage)
        if _LLM_STAGES.intersection(chosen):
            # Before any stage: a missing key or extra must not wait for ingest and sampling.
            doctor.validate_llm_spec(self.config.llm)

    def _kind(self) -> str:
        """The input kind this run has (from its store) or will have (from the input)."""
        path = self.run_dir / RunStore.FILENAME
        if path.is_file():
            with RunStore(path, read_only=True) as store:
                kind = _stored_kind(store)
            if kind is not None:
                return str(kind)
        return ingest_mod.detect_kind(self.config)

    def run(self, *, from_stage: str | None = None, to_stage: str | None = None) -> RunResult:
        self.check(from_stage=from_stage, to_stage=to_stage)
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"--out {self.run_dir}: cannot create the run directory ({exc.strerror}); "
                "choose a writable path"
            ) from exc
        with run_lock(self.run_dir):
            return self._run_locked(from_stage, to_stage)

    def _run_locked(self, from_stage: str | None, to_stage: str | None) -> RunResult:
        store = RunStore.open_run(self.run_dir)
        runner: Runner | None = None
        try:
            kind = self._prepare(store)
            stages = active_stages(kind, self.config)
            chosen = _slice(stages, from_stage, to_stage)
            retry_stopped(store)
            runner = self.runner or make_runner(
                self.config.runner.kind, **_runner_options(self.config)
            )
            result = RunResult(self.run_dir, chosen)
            for name in chosen:
                prev = stages[stages.index(name) - 1] if name != "ingest" else None
                if name == "ingest":
                    self._run_ingest(store, kind)
                elif name == "export":
                    result.export = self._run_export(store, stages[-2])
                else:
                    assert prev is not None
                    if from_stage == name and prev != "ingest" and not store.is_complete(prev):
                        raise ConfigError(
                            f"--from {name}: stage {prev!r} has not finished in {self.run_dir}"
                        )
                    self._run_stage(store, runner, name, prev)
                stop_if_all_failed(store, name, self.config)
            return result
        finally:
            if self.runner is None and runner is not None:
                runner.close()
            store.close()

    def _run_ingest(self, store: RunStore, kind: str) -> None:
        self.progress.start("ingest", None)
        for outcomes in ingest_mod.ingest_batches(
            self.config, kind, store, self.config.runner.batch_size
        ):
            store.commit_outcomes("ingest", outcomes)
            self.progress.advance("ingest", len(outcomes))
        store.mark_complete("ingest")
        self.progress.finish("ingest")

    def _reopen(self, store: RunStore, stage: Stage) -> None:
        """Make the stage's retryable LLM failures of earlier runs pending again."""
        from codeio.pipeline.run.failures import LENGTH, MAX_TOKENS_STAT, RETRY_ON_RESUME

        if not (self.retry_failed and stage.uses_llm):
            return
        below = (LENGTH, MAX_TOKENS_STAT, float(self.config.llm.max_tokens))
        n = store.reopen_failures(stage.name, RETRY_ON_RESUME, below=below)
        if n:
            store.mark_complete(stage.name, False)
            self.reopened[stage.name] = n

    def _run_stage(self, store: RunStore, runner: Runner, name: str, prev: str) -> None:
        from codeio.errors import LLMEndpointDown

        stage = stage_classes()[name](self.config, str(self.run_dir))
        self._reopen(store, stage)
        total = store.count_pending(name, prev)
        self.progress.start(name, total)
        if total:
            batches = _batches(store, prev, name, stage.input_model, self.config.runner.batch_size)
            try:
                for _, outcomes in runner.map_batches(stage, batches):
                    outcomes = stage.finalize_batch(store, outcomes)
                    store.commit_outcomes(name, outcomes)
                    self.progress.advance(name, len(outcomes))
            except LLMEndpointDown as exc:
                # The batch that tripped the breaker is not committed: its records stay
                # pending and the next run asks them. Ray wraps the stage's error: unwrap it.
                cause = getattr(exc, "cause", None)
                raise (cause if isinstance(cause, LLMEndpointDown) else exc) from None
        store.mark_complete(name, store.is_complete(prev))
        self.progress.finish(name)

    def _run_export(self, store: RunStore, last: str) -> dict[str, Any]:
        from codeio.pipeline.run.export import export_run

        self.progress.start("export", None)
        paths = export_run(store, self.config, self.run_dir, last)
        store.mark_complete("export", store.is_complete(last))
        self.progress.finish("export")
        return paths


def _runner_options(config: RunConfig) -> dict[str, Any]:
    """``make_runner`` keywords from the config: the Ray runner gets the cluster-wide LLM limits."""
    options: dict[str, Any] = {"address": config.runner.address}
    if config.runner.kind == "ray":
        rpm, tpm = config.llm.rate_limits()
        options.update(llm_rpm=rpm, llm_tpm=tpm)
    return options


def _slice(stages: list[str], from_stage: str | None, to_stage: str | None) -> list[str]:
    for name, flag in ((from_stage, "--from"), (to_stage, "--to")):
        if name is not None and name not in stages:
            raise ConfigError(
                f"{flag}: stage {name!r} is not part of this run ({', '.join(stages)})"
            )
    lo = stages.index(from_stage) if from_stage else 0
    hi = stages.index(to_stage) + 1 if to_stage else len(stages)
    if lo >= hi:
        raise ConfigError(f"--from {from_stage} comes after --to {to_stage}")
    return stages[lo:hi]


def _batches(
    store: RunStore, prev: str, name: str, model: type[BaseModel], size: int
) -> Iterator[list[BaseModel]]:
    """Pending input records in id order, ``size`` at a time, decoded lazily per page.

    The pending query is evaluated page by page while earlier batches are being committed:
    committed records gain a done row and fall out of the next page, so nothing repeats.
    """
    batch: list[BaseModel] = []
    for _, payload in store.iter_payloads(prev, pending_for=name, page=size):
        batch.append(model.model_validate_json(payload))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _stored_kind(store: RunStore) -> str | None:
    """The input kind fixed by an earlier run, unless that run let no record through ingest:
    then the user is fixing the input (a JSON array rewritten as JSONL, the wrong file), and
    the kind is detected again from what the input is now."""
    kind = store.get_meta("input_kind")
    if kind is None or not store.count_records("ingest"):
        return None
    return str(kind)


def _run_info(config: RunConfig, kind: str) -> dict[str, Any]:
    from importlib import metadata

    versions: dict[str, str] = {}
    for pkg in ("codeio", "pydantic", "typer", "rich", "numpy", "openai", "httpx", "pyarrow"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return {
        "seed": config.seed,
        "input_kind": kind,
        "llm": config.llm.spec,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "config": CONFIG_FILE,
    }
