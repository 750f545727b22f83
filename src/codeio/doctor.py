"""Environment checks: can this machine run codeio's main job, and what is it missing?

``codeio doctor`` prints them; ``codeio run``/``demo`` run the cheap ones before any stage
(:func:`check_run_dir`, :func:`check_inputs`, :func:`validate_llm_spec`), and a stage that failed every record asks :func:`prelude_problem` whether
the sandbox itself is the cause. Each check is one line with a verdict: ``ok``, ``warn`` (a
feature is unavailable, the main job still works) or ``FAIL`` (the main job cannot work).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeio.errors import ConfigError, InputError, MissingExtraError

if TYPE_CHECKING:
    from codeio.config import LLMSettings, RunConfig
    from codeio.exec import Sandbox

__all__ = [
    "EXTRAS",
    "Check",
    "check_extras",
    "check_gpu",
    "check_llm",
    "check_python",
    "check_sandbox",
    "failed",
    "parse_llm_spec",
    "check_inputs",
    "check_run_dir",
    "prelude_problem",
    "run_checks",
    "spec_problem",
    "validate_llm_spec",
    "writable_target",
]

OK, WARN, FAIL = "ok", "warn", "FAIL"

MIN_PYTHON = (3, 10)

EXTRAS: dict[str, str] = {
    "torch": "local, train",
    "transformers": "local, train",
    "trl": "train",
    "datasets": "hf, train",
    "ray": "ray",
    "vllm": "vllm",
}
"""Optional libraries codeio uses -> the ``codeio[extra]`` that installs them."""

_IMPORT_TEST = """
def codeio_import_test(modules):
    import importlib
    out = {}
    for name in modules:
        try:
            importlib.import_module(name)
            out[name] = None
        except BaseException as exc:  # a broken library may raise anything while importing
            out[name] = (type(exc).__name__ + ": " + str(exc)).splitlines()[0][:300]
    return out
"""
# Module names travel as a list, not in the code text, so the sandbox runs this task from the
# base template and each import really happens inside the task (not in a warm template).


@dataclass
class Check:
    name: str
    verdict: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def failed(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.verdict == FAIL]


# -- python and codeio -------------------------------------------------------------------------
def check_python() -> Check:
    from codeio import __version__

    version = platform.python_version()
    data = {"python": version, "executable": sys.executable, "codeio": __version__}
    if sys.version_info[:2] < MIN_PYTHON:
        need = ".".join(map(str, MIN_PYTHON))
        return Check("python", FAIL, f"Python {version} is too old: codeio needs {need}+", data)
    return Check("python", OK, f"Python {version}, codeio {__version__} ({sys.executable})", data)


# -- sandbox -----------------------------------------------------------------------------------
def _import_inside(sandbox: Sandbox, modules: list[str], timeout_s: float) -> dict[str, str | None]:
    """module -> None, or the error importing it inside ``sandbox`` gave."""
    self_test = getattr(sandbox, "self_test", None)
    if callable(self_test):
        return dict(self_test(modules))
    from codeio.exec import ExecLimits

    # Generous: several heavy libraries import in one task, on a machine that may be busy.
    limits = ExecLimits(timeout_s=timeout_s, memory_mb=max(8192, sandbox.limits.memory_mb))
    result = sandbox.run(_IMPORT_TEST, "codeio_import_test", {"modules": modules}, limits=limits)
    if result.ok and isinstance(result.value, dict):
        return {m: result.value.get(m) for m in modules}
    why = f"{result.status.value}: {result.error_type or ''} {result.error_message or ''}".strip()
    return dict.fromkeys(modules, f"the import test did not finish ({why})")


def prelude_problem(sandbox: Sandbox) -> str | None:
    """Why the refcode prelude (every unified function's implicit imports) fails inside
    ``sandbox``, or None when it runs."""
    from codeio.pipeline.prelude import REFCODE_PRELUDE

    result = sandbox.run(REFCODE_PRELUDE)
    if result.ok:
        return None
    detail = f"{result.error_type or result.status.value}: {result.error_message or ''}"
    return detail.strip().rstrip(":")


def _host_hint(problem: str) -> str:
    """When the module the sandbox misses is installed on the host, say where: the sandbox
    then cannot see that folder (a virtual environment under /tmp, for instance)."""
    match = re.search(r"No module named '([\w.]+)'", problem)
    if match is None:
        return ""
    try:
        spec = importlib.util.find_spec(match.group(1).split(".")[0])
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin:
        return ""
    where = Path(spec.origin).parent.parent
    return (
        f" (installed on the host in {where}, a folder the sandbox does not see, such as one"
        " under /tmp; see docs/SANDBOX.md)"
    )


def check_sandbox(warm: Iterable[str] | None = None, *, timeout_s: float = 180.0) -> list[Check]:
    """Start a sandbox; report its containment, the prelude and each warm library inside it
    (``warm=()`` skips the libraries: importing all of them takes tens of seconds)."""
    from codeio.exec import DEFAULT_WARM, Sandbox

    modules = list(DEFAULT_WARM if warm is None else warm)
    try:
        sandbox = Sandbox(workers=1, warm=())
    except Exception as exc:  # the engine itself cannot start: nothing else can be checked
        return [Check("sandbox", FAIL, f"the sandbox cannot start: {type(exc).__name__}: {exc}")]
    checks: list[Check] = []
    try:
        report = sandbox.report
        data = {
            "level": report.level,
            "active": list(report.active),
            "missing": list(report.missing),
        }
        if report.full:
            checks.append(Check("sandbox", OK, "containment full", data))
        else:
            from codeio.exec.containment import MECHANISMS

            lost = "; ".join(f"{m} ({MECHANISMS.get(m, m)})" for m in report.missing)
            checks.append(
                Check("sandbox", WARN, f"containment {report.level}: missing {lost}", data)
            )
        problem = prelude_problem(sandbox)
        if problem is None:
            checks.append(Check("prelude", OK, "the refcode prelude runs inside the sandbox"))
        else:
            checks.append(
                Check(
                    "prelude",
                    FAIL,
                    f"the refcode prelude fails inside the sandbox: {problem}{_host_hint(problem)}",
                    {"error": problem},
                )
            )
        if not modules:
            return checks
        installed = [m for m in modules if importlib.util.find_spec(m) is not None]
        absent = [m for m in modules if m not in installed]
        results = _import_inside(sandbox, installed, timeout_s) if installed else {}
        broken = {m: err for m, err in results.items() if err}
        data = {"imports": results, "not_installed": absent}
        if broken:
            lines = "; ".join(f"{m}: {err}" for m, err in broken.items())
            summary = (
                f"{len(broken)} of {len(installed)} installed libraries fail to import inside "
                f"the sandbox ({lines}); records that use them will fail"
            )
            # numpy is part of the prelude: without it no record can run.
            verdict = FAIL if "numpy" in broken else WARN
            checks.append(Check("sandbox imports", verdict, summary, data))
        else:
            ok = ", ".join(installed) or "none"
            more = f"; not installed: {', '.join(absent)} (extra 'corpus')" if absent else ""
            checks.append(
                Check(
                    "sandbox imports",
                    WARN if absent else OK,
                    f"import inside the sandbox: {ok}{more}",
                    data,
                )
            )
    finally:
        sandbox.close()
    return checks


# -- extras and GPU ----------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_extras() -> Check:
    versions = {name: _version(name) for name in EXTRAS}
    have = [f"{n} {v}" for n, v in versions.items() if v]
    missing = [f"{n} ({EXTRAS[n]})" for n, v in versions.items() if not v]
    summary = f"installed: {', '.join(have) or 'none'}"
    if missing:
        summary += f"; not installed: {', '.join(missing)}"
    # The extras serve training, local models and Ray: the core pipeline needs none of them.
    return Check("extras", OK, summary, {"versions": versions})


def check_gpu() -> Check:
    if _version("torch") is None:
        smi = shutil.which("nvidia-smi")
        if smi is None:
            return Check("gpu", OK, "no torch installed and no nvidia-smi: CPU only", {})
        names = _nvidia_smi(smi)
        return Check(
            "gpu",
            WARN,
            f"GPU present ({names or 'nvidia-smi found'}) but torch is not installed",
            {"nvidia_smi": names},
        )
    try:
        import torch  # only when installed: this import takes seconds
    except Exception as exc:
        return Check("gpu", WARN, f"torch is installed but does not import: {exc}", {})
    if not torch.cuda.is_available():
        build = "CPU build" if torch.version.cuda is None else f"CUDA {torch.version.cuda} build"
        return Check("gpu", OK, f"no CUDA GPU visible to torch {torch.__version__} ({build})", {})
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return Check(
        "gpu",
        OK,
        f"{len(names)} CUDA GPU(s): {', '.join(names)} (torch {torch.__version__})",
        {"devices": names},
    )


def _nvidia_smi(smi: str) -> str:
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return ", ".join(line.strip() for line in out.stdout.splitlines() if line.strip())


# -- LLM -----------------------------------------------------------------------------------------
def parse_llm_spec(spec: str) -> tuple[str, str]:
    """``(kind, arg)`` of a spec, or a ConfigError naming the option and listing the backends."""
    from codeio.llm.factory import KINDS, parse_spec

    try:
        return parse_spec(spec)
    except ConfigError as exc:
        raise ConfigError(
            f"--llm / llm.spec {spec!r}: {spec_problem(exc)}; backends: "
            f"{', '.join(KINDS)} (openai:MODEL, transformers:PATH, vllm:PATH, trace)"
        ) from exc


def validate_llm_spec(settings: LLMSettings) -> tuple[str, str]:
    """Refuse a spec that cannot work before any stage runs: unknown backend, missing extra,
    missing model path or API key. Returns ``(kind, arg)``."""
    from codeio.llm.factory import resolve_api_key

    kind, arg = parse_llm_spec(settings.spec)
    if kind == "openai":
        resolve_api_key(settings.api_key_env, settings.base_url)
    elif kind == "transformers":
        if importlib.util.find_spec("transformers") is None:
            raise MissingExtraError("the transformers backend", "local")
        if not Path(arg).exists():
            raise ConfigError(f"--llm / llm.spec {settings.spec!r}: no model at {arg}")
    elif kind == "vllm" and importlib.util.find_spec("vllm") is None:
        raise MissingExtraError("the vllm backend", "vllm")
    if kind == "trace":
        _check_trace_options(settings, arg)
    return kind, arg


def _check_trace_options(settings: LLMSettings, arg: str) -> None:
    """Build the trace teacher once (cheap: its sandbox starts on first use), so a typo in
    ``trace:mistake_rat=..`` or ``llm.options`` stops the run before ingest and sampling, not
    as a crash when generate opens the backend."""
    import inspect

    from codeio.llm.factory import make_client
    from codeio.llm.trace_teacher import TraceTeacherBackend

    takes = set(inspect.signature(TraceTeacherBackend).parameters) - {"model", "sandbox"}
    # The client's own options (rpm, tpm, ...) ride in llm.options too; they never reach it.
    options = {k: v for k, v in settings.options.items() if k in takes}
    unknown = sorted(set(settings.options) - takes - set(inspect.signature(make_client).parameters))
    where = f"--llm / llm.spec {settings.spec!r}" + (" with llm.options" if options else "")
    if unknown:
        raise ConfigError(
            f"llm.options: unknown option(s) {', '.join(unknown)} for the trace teacher; "
            f"it takes {', '.join(sorted(takes))}"
        )
    try:
        TraceTeacherBackend(**({"model": arg} if arg else {}), **options)  # type: ignore[abstract]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def spec_problem(exc: ConfigError) -> str:
    """What is wrong with a spec, from parse_spec's message, without repeating the kinds."""
    text = str(exc)
    if text.startswith("unknown LLM spec"):
        return "unknown backend"
    _, sep, tail = text.partition("needs a model: ")
    return f"needs a model: {tail}" if sep else text


def check_llm(settings: LLMSettings, *, timeout_s: float = 10.0) -> Check:
    """Whether the configured backend can answer: one request to an endpoint, never more."""
    from codeio.errors import CodeioError

    try:
        kind, arg = validate_llm_spec(settings)
    except CodeioError as exc:
        return Check("llm", FAIL, str(exc), {"spec": settings.spec})
    if kind == "trace":
        return Check(
            "llm", OK, "trace: the offline teacher (no endpoint, no key)", {"spec": "trace"}
        )
    if kind != "openai":
        return Check("llm", OK, f"{kind}: local model {arg}", {"spec": settings.spec})
    return _probe_openai(settings, arg, timeout_s)


def _probe_openai(settings: LLMSettings, model: str, timeout_s: float) -> Check:
    import httpx

    from codeio.llm.factory import resolve_api_key
    from codeio.llm.openai_compat import DEFAULT_BASE_URL

    base = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
    key = resolve_api_key(settings.api_key_env, settings.base_url)
    data: dict[str, Any] = {"spec": settings.spec, "base_url": base}
    limit = settings.max_response_bytes
    body = bytearray()
    try:
        with httpx.stream(
            "GET", f"{base}/models", headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s
        ) as resp:
            # Read no more than a run would: the probe must not be what a huge body takes down.
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > limit:
                    break
    except httpx.HTTPError as exc:
        return Check("llm", FAIL, f"{base} is not reachable: {type(exc).__name__}: {exc}", data)
    data["status"] = resp.status_code
    if len(body) > limit:
        return Check(
            "llm",
            FAIL,
            f"{base}/models answered more than llm.max_response_bytes={limit} bytes",
            data,
        )
    if resp.status_code in (401, 403):
        env = settings.api_key_env or "OPENAI_API_KEY"
        return Check(
            "llm", FAIL, f"{base} refused the API key (HTTP {resp.status_code}): check {env}", data
        )
    if resp.status_code >= 400:
        return Check("llm", FAIL, f"{base}/models answered HTTP {resp.status_code}", data)
    try:
        listed = json.loads(bytes(body)).get("data", [])
        models = [str(m.get("id")) for m in listed if isinstance(m, dict)]
    except (ValueError, AttributeError, TypeError, RecursionError):
        models = []
    data["models"] = models
    shown = ", ".join(models[:5]) + (" ..." if len(models) > 5 else "")
    if models and model not in models:
        return Check(
            "llm",
            WARN,
            f"{base} is up but does not list model {model!r} (it serves: {shown})",
            data,
        )
    return Check("llm", OK, f"{base} is up; model {model!r} ({shown or 'no model list'})", data)


# -- together ------------------------------------------------------------------------------------
def run_checks(config: RunConfig | None = None, *, quick: bool = False) -> list[Check]:
    """All checks; ``quick`` skips the slow ones (library imports in the sandbox, torch)."""
    checks = [check_python()]
    checks.extend(check_sandbox(() if quick else None))
    checks.append(check_extras())
    if not quick:
        checks.append(check_gpu())
    if config is not None:
        checks.append(check_llm(config.llm))
    return checks


def check_inputs(config: RunConfig) -> None:
    """Every input path exists, and the input is not empty. One empty file among others only
    adds nothing (like a bad line, the rest is kept); an input that is all empty files is a
    mistake worth one clear line."""
    empty: list[str] = []
    for raw in config.input.path:
        path = Path(raw)
        if not path.exists():
            raise InputError("no such file or folder (input.path)", path=raw)
        if path.is_file() and _blank(path):
            empty.append(raw)
    if empty and len(empty) == len(config.input.path):
        raise InputError(
            "the input file is empty (input.path): give a file with at least one record",
            path=", ".join(empty),
        )


def _blank(path: Path, limit: int = 1 << 20) -> bool:
    """Whether a file holds nothing but whitespace (read up to its first ``limit`` bytes)."""
    if path.stat().st_size == 0:
        return True
    if path.suffix not in (".jsonl", ".json", ".py"):
        return False
    with path.open("rb") as handle:
        head = handle.read(limit)
    return not head.strip() and len(head) < limit


def check_run_dir(run_dir: Path) -> None:
    """The run directory must be a writable folder, or creatable (nothing is created here)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(
            f"--out {run_dir}: it is a file, not a run directory; choose a folder path"
        )
    if run_dir.is_dir():
        if not os.access(run_dir, os.W_OK | os.X_OK):
            raise ConfigError(
                f"--out {run_dir}: the run directory is not writable; choose a writable --out "
                "(`codeio status`, `export -o` and `report -o` read a read-only run)"
            )
        return
    parent = run_dir.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"--out {run_dir}: cannot create the run directory ({parent} is not a writable "
            "folder); choose a writable path"
        )


def writable_target(path: Path, option: str, *, folder_ok: bool = False) -> None:
    """Refuse an output file whose folder cannot be written, naming the file and the option.

    ``folder_ok``: the output is itself a folder (``hf``, ``llamafactory``), so an existing one
    is what a rerun finds, not a mistake.
    """
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if path.is_dir() and not folder_ok:
        raise ConfigError(f"{path}: is a folder; pass {option} with a file path")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot write {path}: {folder} is not writable (read-only run directory?); "
            f"pass {option} to write somewhere else"
        )
