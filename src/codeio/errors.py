"""Exception hierarchy.

CodeioError
├── ConfigError        bad configuration (stops a run)
├── InputError         bad input data; carries file and line
├── SandboxError       the execution engine itself failed (never the executed code's fault)
├── LLMError           an LLM request failed after retries; carries a reason
│   └── LLMEndpointDown  the endpoint fails systematically (circuit breaker): stop the run
├── StageFailedError   a stage failed every record, or produced nothing
└── MissingExtraError  an optional dependency is not installed

Every class carries ``exit_code`` (see ``codeio.exit_codes``): the CLI exits with it after one
line on stderr.
"""

from __future__ import annotations

from codeio import exit_codes

__all__ = [
    "CodeioError",
    "LLMEndpointDown",
    "StageFailedError",
    "ConfigError",
    "InputError",
    "LLMError",
    "MissingExtraError",
    "SandboxError",
]


class CodeioError(Exception):
    """Base of every error codeio raises on purpose."""

    exit_code: int = exit_codes.CANNOT_RUN


class ConfigError(CodeioError):
    """The configuration is invalid."""


class InputError(CodeioError):
    """A record of the input could not be read; names the file and 1-based line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")


class SandboxError(CodeioError):
    """The sandbox could not run a task (not a failure of the code it ran)."""


class LLMError(CodeioError):
    """An LLM request failed; ``reason`` is a short machine-readable tag."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class LLMEndpointDown(LLMError):
    """The endpoint fails systematically (bad key, outage): the run stops early and resumes later."""

    exit_code = exit_codes.LLM_ENDPOINT_DOWN


class StageFailedError(CodeioError):
    """A stage failed every record (its reasons named, with an example) or produced nothing."""

    exit_code = exit_codes.STAGE_EMPTY


class MissingExtraError(CodeioError, ImportError):
    """An optional dependency is missing; says which ``codeio[extra]`` to install."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs the optional extra: pip install 'codeio[{extra}]'")
        self.extra = extra


def require(module: str, extra: str, what: str | None = None):  # type: ignore[no-untyped-def]
    """Import ``module`` or raise MissingExtraError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(what or module, extra) from exc
