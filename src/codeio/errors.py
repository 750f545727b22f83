"""Exception hierarchy.

CodeioError
├── ConfigError        bad configuration (stops a run)
├── InputError         bad input data; carries file and line
├── SandboxError       the execution engine itself failed (never the executed code's fault)
├── LLMError           an LLM request failed after retries; carries a reason
└── MissingExtraError  an optional dependency is not installed
"""

from __future__ import annotations

__all__ = [
    "CodeioError",
    "ConfigError",
    "InputError",
    "LLMError",
    "MissingExtraError",
    "SandboxError",
]


class CodeioError(Exception):
    """Base of every error codeio raises on purpose."""


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
