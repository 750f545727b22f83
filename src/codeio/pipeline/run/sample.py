"""Sample stage: run each function's input generator to get I/O pairs, or recheck given pairs.

- records with an ``inputgen`` and no pairs are sampled (``codeio.pipeline.sample.Sampler``);
- records that unify already sampled pass through unchanged;
- records that arrived with pairs (input kind ``ios``) are rechecked when ``sample.recheck``:
  every stored input is re-run and pairs that do not reproduce are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from codeio.pipeline.base import Stage
from codeio.records import Failure, FunctionRecord
from codeio.store.db import Outcome

if TYPE_CHECKING:
    from codeio.config import RunConfig

__all__ = ["SampleStage", "SamplerHandle"]

# The second sandbox runs with another PYTHONHASHSEED so set-order dependence shows up.
_RECHECK_HASH_SEED = 1
_RECHECK_CALL_TIMEOUT_S = 5.0
"""The default of ``sample.call_timeout_s`` for stored pairs (see ``config.SampleSettings``)."""


class SamplerHandle:
    """A Sampler with its two sandboxes, opened together and closed together."""

    def __init__(self, config: RunConfig) -> None:
        from codeio.pipeline.run.resources import open_sandboxes
        from codeio.pipeline.sample import SampleConfig, Sampler

        s = config.sample
        self.seed = config.seed
        self.sandbox, self.recheck_sandbox = open_sandboxes(config, 0, _RECHECK_HASH_SEED)
        self.sample_config = SampleConfig(
            pairs=s.pairs,
            tries=s.tries,
            time_budget_s=s.time_budget_s,
            soft_budget_s=min(s.soft_budget_s, s.time_budget_s) if s.soft_budget_s else None,
            max_bytes=s.max_bytes,
            determinism=s.determinism,
            seed=config.seed,
            min_pairs=s.min_pairs,
            **({"call_timeout_s": s.call_timeout_s} if s.call_timeout_s else {}),
        )
        self.recheck_call_timeout_s = s.call_timeout_s or _RECHECK_CALL_TIMEOUT_S
        self.sampler = Sampler(self.sandbox, self.recheck_sandbox, self.sample_config)

    def sample_many(self, fns: Sequence[FunctionRecord]) -> list[FunctionRecord | Failure]:
        if not fns:
            return []
        return list(self.sampler.sample_many(list(fns)))

    def recheck_many(self, fns: Sequence[FunctionRecord]) -> Iterator[Any]:
        from codeio.pipeline.sample import recheck

        return recheck(
            list(fns),
            self.sandbox,
            self.recheck_sandbox,
            seed=self.seed,
            call_timeout_s=self.recheck_call_timeout_s,
            # One pair that does not reproduce drops the record (_kept_pairs): stop there.
            stop_at_first=True,
        )

    def close(self) -> None:
        self.sandbox.close()
        self.recheck_sandbox.close()


class SampleStage(Stage):
    name: ClassVar[str] = "sample"
    input_model = FunctionRecord
    uses_sandbox = True

    def _open(self) -> None:
        self._r_sampler = SamplerHandle(self.config)

    def close(self) -> None:
        res = self.__dict__.pop("_r_sampler", None)
        if res is not None:
            res.close()

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        self.setup()
        fns: list[FunctionRecord] = list(records)
        outcomes: dict[str, Outcome] = {}
        to_sample = [f for f in fns if not f.ios and f.inputgen]
        to_recheck = [f for f in fns if f.ios and not f.meta.get("sampled_in_unify")]
        for f in fns:
            if f.ios and f.meta.get("sampled_in_unify"):
                outcomes[f.id] = Outcome(f.id, outputs=[f])
            elif not f.ios and not f.inputgen:
                outcomes[f.id] = self._fail(f, "no_inputgen", "no I/O pairs and no input generator")
        for f, out in zip(to_sample, self._r_sampler.sample_many(to_sample), strict=True):
            outcomes[f.id] = self._result(f, out)
        if to_recheck:
            if self.config.sample.recheck:
                results = self._r_sampler.recheck_many(to_recheck)
                for f, res in zip(to_recheck, results, strict=True):
                    outcomes[f.id] = self._recheck_result(f, res)
            else:
                for f in to_recheck:
                    outcomes[f.id] = Outcome(f.id, outputs=[f])
        return [outcomes[f.id] for f in fns]

    def _fail(self, f: FunctionRecord, reason: str, detail: str) -> Outcome:
        return Outcome(
            f.id, failure=Failure(stage=self.name, record_id=f.id, reason=reason, detail=detail)
        )

    def _result(self, f: FunctionRecord, out: FunctionRecord | Failure) -> Outcome:
        if isinstance(out, Failure):
            return Outcome(
                f.id, failure=out.model_copy(update={"stage": self.name, "record_id": f.id})
            )
        if len(out.ios) < self.config.sample.min_pairs:
            return self._fail(f, "too_few_pairs", f"{len(out.ios)} distinct pairs")
        return Outcome(f.id, outputs=[out], stats={"pairs": float(len(out.ios))})

    def _recheck_result(self, f: FunctionRecord, res: Any) -> Outcome:
        """Keep the pairs that reproduce; adapts to RecheckResult's fields."""
        kept = _kept_pairs(f, res)
        dropped = len(f.ios) - len(kept)
        stats = {"pairs": float(len(kept)), "pairs_dropped": float(dropped)}
        if len(kept) < self.config.sample.min_pairs:
            reason = res.reason if res.reason and res.reason != "ok" else "too_few_pairs"
            return Outcome(
                f.id,
                failure=Failure(
                    stage=self.name,
                    record_id=f.id,
                    reason=reason,
                    detail=f"{dropped} of {len(f.ios)} stored pairs do not reproduce"
                    + (f": {res.detail}" if res.detail else ""),
                ),
                stats=stats,
            )
        meta = {**f.meta, "pairs_dropped": dropped} if dropped else f.meta
        return Outcome(
            f.id, outputs=[f.model_copy(update={"ios": kept, "meta": meta})], stats=stats
        )


def _kept_pairs(f: FunctionRecord, res: Any) -> list[Any]:
    """The stored pairs the recheck reproduced; none when the function is not deterministic."""
    if not res.deterministic:
        return []
    good = {c.index for c in res.pairs if c.reproducible}
    return [pair for i, pair in enumerate(f.ios) if i in good]
