"""RunConfig: every setting of a pipeline run, validated; the only place settings are read.

A run is configured by one YAML or TOML file plus ``--set key.sub=value`` overrides. Unknown
keys are errors that name the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from codeio.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10 ships no TOML reader
    import tomli as tomllib

__all__ = [
    "BreakerSettings",
    "ExecSettings",
    "ExportSettings",
    "GenerateSettings",
    "InputSettings",
    "LLMSettings",
    "PromptSettings",
    "ReviseSettings",
    "RunConfig",
    "RunnerSettings",
    "SampleSettings",
    "TranslateSettings",
    "UnifySettings",
    "VerifySettings",
    "apply_overrides",
    "load_config",
]

InputKind = Literal["raw", "unified", "ios"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSettings(_Section):
    path: list[str] = Field(default_factory=list)
    """Files or folders: ``.jsonl`` (raw, unified or ios records), ``.py`` files, folders of them."""
    kind: InputKind | None = None
    """What the records are; detected from their fields when absent."""
    limit: int | None = Field(None, gt=0)
    """Read at most this many records (per run, in file order)."""

    @field_validator("path", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class BreakerSettings(_Section):
    """When a run stops because the endpoint fails systematically (``codeio.llm.breaker``)."""

    enabled: bool = True
    auth_failures: int = Field(3, ge=1)
    """Stop after this many authentication failures (401/403) in a row."""
    window: int = Field(20, ge=1)
    """Stop when, among the last ``window`` requests (once ``min_calls`` are in it), ..."""
    min_calls: int = Field(10, ge=1)
    failure_rate: float = Field(0.6, gt=0, le=1)
    """... this share failed with connection / timeout / 5xx / 429 after the client's retries."""


class LLMSettings(_Section):
    spec: str = "trace"
    """``openai:MODEL``, ``vllm:PATH``, ``transformers:PATH`` or ``trace`` (offline teacher)."""
    base_url: str | None = None
    api_key_env: str | None = None
    cache: bool = True
    concurrency: int = Field(64, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(4096, gt=0)
    prices: dict[str, float] | None = None
    """USD per million tokens: ``{"input": 0.27, "output": 1.1}``; enables cost in status."""
    rpm: float | None = Field(None, gt=0)
    """Requests per minute for the whole run (cluster-wide under the Ray runner)."""
    tpm: float | None = Field(None, gt=0)
    """Tokens per minute for the whole run (cluster-wide under the Ray runner)."""
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    max_response_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    """An HTTP response body longer than this is not read further; the call fails (openai)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Backend options passed through, e.g. ``{"mistake_rate": 0.2}`` for the trace teacher."""

    def rate_limits(self) -> tuple[float | None, float | None]:
        """(rpm, tpm): the top-level keys, else the older ``options.rpm`` / ``options.tpm``."""
        rpm = self.rpm if self.rpm is not None else self.options.get("rpm")
        tpm = self.tpm if self.tpm is not None else self.options.get("tpm")
        return (float(rpm) if rpm else None), (float(tpm) if tpm else None)

    @field_validator("prices")
    @classmethod
    def _price_keys(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None and set(v) - {"input", "output"}:
            raise ValueError("prices takes only the keys 'input' and 'output' (USD per 1M tokens)")
        return v


class ExecSettings(_Section):
    workers: int | None = Field(None, gt=0)
    """Sandbox worker processes; default: the CPU count."""
    timeout_s: float = Field(10.0, gt=0)
    memory_mb: int = Field(2048, gt=0)


class UnifySettings(_Section):
    repair_retries: int = Field(1, ge=0)
    """How often a failed unified record goes back to the LLM with its concrete error."""
    min_pairs: int = Field(2, ge=1)
    """A unified function must yield at least this many pairs to pass."""


class SampleSettings(_Section):
    pairs: int = Field(10, gt=0)
    tries: int = Field(1000, gt=0)
    time_budget_s: float = Field(10.0, gt=0)
    soft_budget_s: float | None = Field(0.5, gt=0)
    """Per function at its own pace: see ``codeio.pipeline.sample.SampleConfig``."""
    call_timeout_s: float | None = Field(None, gt=0)
    """One call of a generator or ``main_solution``; default 2 s when sampling and 5 s when
    rechecking stored pairs (those were measured on another machine, perhaps a faster one)."""
    max_bytes: int = Field(1024, gt=0)
    determinism: Literal["function", "pair", "off"] = "function"
    recheck: bool = True
    """For records that arrive with ``ios``: re-run each stored input and drop pairs that differ."""
    min_pairs: int = Field(2, ge=1)
    """A function with fewer (reproducible) pairs than this is dropped."""


class PromptSettings(_Section):
    pairs_per_function: int | None = Field(None, gt=0)
    """Use at most this many pairs of each function; all when absent."""
    kinds: list[Literal["output", "input"]] = Field(default_factory=lambda: ["output", "input"])
    include_code: bool = True


class TranslateSettings(_Section):
    """An LLM that rewrites the trace teacher's narration into fluent reasoning (docs/PROCESS.md).

    A rewrite is kept only when it keeps the final answer and the claim checker finds no
    contradicted step in it; otherwise the template narration is kept and the reason counted.
    """

    spec: str | None = None
    """``openai:MODEL`` (or any codeio.llm spec); unset = no translation."""
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float = Field(0.3, ge=0)
    max_tokens: int = Field(4096, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)
    concurrency: int = Field(16, gt=0)


class GenerateSettings(_Section):
    temperature: float | None = Field(None, ge=0)
    """Overrides llm.temperature for prediction turns."""
    translate: TranslateSettings = Field(default_factory=TranslateSettings)
    """Rewrite the trace teacher's narration with an LLM (needs ``llm.spec: trace``)."""


class VerifySettings(_Section):
    rel_tol: float = Field(1e-3, ge=0)
    abs_tol: float = Field(1e-6, ge=0)
    process: bool = True
    """Check every claim of each response against a trace of the real run (docs/PROCESS.md)."""


class ReviseSettings(_Section):
    rounds: int = Field(1, ge=0)
    """Revision rounds (CodeI/O++); 0 turns revision off."""
    on_contradiction: bool = False
    """Also revise a correct answer whose steps contradict the trace (needs verify.process)."""


class RunnerSettings(_Section):
    kind: Literal["local", "ray"] = "local"
    batch_size: int = Field(128, gt=0)
    address: str | None = None
    """Ray cluster address (ray runner only)."""


class ExportSettings(_Section):
    format: Literal["messages", "sharegpt", "codeio", "parquet", "hf", "llamafactory"] = "messages"
    include: Literal["correct", "wrong", "all"] = "correct"
    """Which samples enter the SFT file, by final verdict (DPO pairs use every sample)."""
    holdout: float = Field(0.0, ge=0, lt=1)
    """Fraction of functions held out as evaluation tasks."""
    report: bool = True
    """Write the HTML report after export."""


class RunConfig(_Section):
    seed: int = 0
    out: str | None = None
    """Run directory; ``--out`` overrides it."""
    input: InputSettings = Field(default_factory=InputSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    exec: ExecSettings = Field(default_factory=ExecSettings)
    unify: UnifySettings = Field(default_factory=UnifySettings)
    sample: SampleSettings = Field(default_factory=SampleSettings)
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    verify: VerifySettings = Field(default_factory=VerifySettings)
    revise: ReviseSettings = Field(default_factory=ReviseSettings)
    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @model_validator(mode="after")
    def _translate_needs_teacher(self) -> RunConfig:
        # The translator rewrites the trace teacher's narration; another model's rationale
        # has no template to fall back on.
        if self.generate.translate.spec and self.llm.spec.strip().lower().partition(":")[0] != (
            "trace"
        ):
            raise ValueError(
                "generate.translate.spec needs llm.spec 'trace' (it rewrites the trace "
                f"teacher's narration), not {self.llm.spec!r}"
            )
        return self


def _format_validation(exc: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if not err["loc"]:  # a rule across sections names its keys itself
            lines.append(f"  {msg.removeprefix('Value error, ')}")
            continue
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def _parse_value(text: str) -> Any:
    # YAML scalars give ints, floats, bools, null and [lists] the way a shell user expects.
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings to a nested dict (a copy); values parse as YAML."""
    data = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key.sub=value")
        key, value = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override {item!r} has an empty key")
        node = data
        for p in parts[:-1]:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {p!r} is not a section")
            node = child
        node[parts[-1]] = _parse_value(value)
    return data


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give the config file (YAML or TOML)")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a BOM from a Windows editor is fine
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from exc
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text) or {}
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot parse: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    # Relative input paths mean relative to the config file, not to wherever codeio was started.
    inp = data.get("input")
    if isinstance(inp, dict) and "path" in inp:
        paths = inp["path"] if isinstance(inp["path"], list) else [inp["path"]]
        inp["path"] = [
            str((path.parent / p).resolve())
            if isinstance(p, str) and not Path(p).is_absolute()
            else p
            for p in paths
        ]
    return data


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    base: dict[str, Any] | None = None,
) -> RunConfig:
    """Read, override and validate; raises ConfigError naming every bad key."""
    data: dict[str, Any] = dict(base or {})
    source = "defaults"
    if path is not None:
        data = _merge(data, read_config_file(path))
        source = str(path)
    if overrides:
        data = apply_overrides(data, overrides)
        source += " + overrides"
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, source)) from None


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
