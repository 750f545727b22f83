"""Turn what a task left (its wait status, output, result frame) into a typed ``ExecResult``.

Everything here reads bytes the task controlled: the result pipe is written by the harness, but
the code can reach it too. So nothing is trusted: every field is type-checked and bounded, and
whatever does not decode becomes ``error`` with its own ``error_type`` instead of an exception.
"""

from __future__ import annotations

import json
import os
import re
import signal
from typing import Any

from codeio.exec._worker import frames
from codeio.exec.limits import ExecLimits
from codeio.exec.result import ExecResult, Status

__all__ = ["build", "signal_name"]

MESSAGE_CHARS = 2000
TRACEBACK_CHARS = 4000
TYPE_CHARS = 200


def signal_name(sig: int) -> str:
    """``SIGSEGV``; ``SIGRTMIN+6`` for real-time signals; ``signal 99`` for anything else."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        if signal.SIGRTMIN <= sig <= signal.SIGRTMAX:
            return f"SIGRTMIN+{sig - signal.SIGRTMIN}"
        return f"signal {sig}"


def _clip(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return _unicode(value if len(value) <= limit else value[: limit - 3] + "...")


def _unicode(text: str) -> str:
    """``text`` with any lone surrogate (JSON lets ``"\\ud800"`` through, ``str(exc)`` of the
    code may hold one) escaped, so a caller can always encode it as UTF-8 (a file, SQLite, a
    pydantic dump), as it can stdout and stderr."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _text(data: bytes | bytearray, cap: int) -> str:
    return bytes(data[:cap]).decode("utf-8", errors="replace")


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"status": Status.ERROR, "error_type": error_type, "error_message": message}


def build(
    *,
    wait_status: int,
    flags: int,
    duration_s: float,
    cpu_s: float,
    peak_kb: int,
    stdout: bytes | bytearray,
    stderr: bytes | bytearray,
    result: bytes | bytearray,
    result_over: bool,
    limits: ExecLimits,
) -> ExecResult:
    cap = limits.output_bytes
    fields: dict[str, Any] = {
        "stdout": _text(stdout, cap),
        "stderr": _text(stderr, cap),
        "duration_s": duration_s,
        "peak_memory_mb": peak_kb / 1024,
    }
    fields.update(_classify(wait_status, flags, cpu_s, stdout, stderr, result, result_over, limits))
    # Built from checked fields only; validating again per task would cost more than the rest of
    # the host's share of a trivial task.
    return ExecResult.model_construct(**fields)


def _classify(
    wait_status: int,
    flags: int,
    cpu_s: float,
    stdout: bytes | bytearray,
    stderr: bytes | bytearray,
    result: bytes | bytearray,
    result_over: bool,
    limits: ExecLimits,
) -> dict[str, Any]:
    cap = limits.output_bytes
    if len(stdout) > cap or len(stderr) > cap:
        return {"status": Status.OUTPUT_LIMIT}
    if result_over:
        return _error(
            "ResultTooLarge",
            f"the result channel carried more than the cap of {limits.result_bytes} bytes",
        )
    if flags & frames.DONE_TIMEOUT:
        return {"status": Status.TIMEOUT}
    if wait_status < 0:
        return {
            "status": Status.KILLED,
            "error_type": "Unreapable",
            "error_message": "the task's process was killed but could not be reaped in time",
        }
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        cpu_limit = float(limits.cpu_s or limits.timeout_s)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= cpu_limit):
            return {"status": Status.TIMEOUT, "signal": sig}
        return {"status": Status.KILLED, "signal": sig, "error_message": signal_name(sig)}
    code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else -1
    bodies = frames.split_frames(bytes(result))
    started = bool(bodies) and bodies[0] == b""  # frames.STARTED: the code ran
    if started:
        bodies = bodies[1:]
    if bodies is None or len(bodies) > 1:
        # Only the harness writes here, once, after the code finished: more is forgery.
        return _error("ResultChannelTampered", "the code wrote to the result channel")
    if code != 0 or not bodies:
        return _error("EarlyExit", f"the process exited with code {code} before returning")
    return _payload(bodies[0], limits, started)


def _payload(body: bytes, limits: ExecLimits, started: bool) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except Exception as exc:  # not JSON, not UTF-8, too deep
        return _error("ResultNotDecodable", f"the result frame is not JSON: {type(exc).__name__}")
    if not isinstance(payload, dict):
        return _error("ResultNotDecodable", "the result frame is not a JSON object")
    kind = payload.get("kind")
    if (kind == "sandbox_error") == started:
        # The engine's own failure is reported only before the code runs; after that a claim
        # of it is the code's (callers retry it and then give up on the whole batch).
        return _error("ResultChannelTampered", "the code wrote to the result channel")
    if kind == "ok":
        return _value(payload.get("value_json"), limits)
    if kind in ("error", "memory"):
        return {
            "status": Status.MEMORY if kind == "memory" else Status.ERROR,
            "error_type": _clip(payload.get("error_type"), TYPE_CHARS) or "UnknownError",
            "error_message": _clip(payload.get("error_message"), MESSAGE_CHARS),
            "traceback": _clip(payload.get("traceback"), TRACEBACK_CHARS),
        }
    if kind == "sandbox_error":
        return {
            "status": Status.SANDBOX_ERROR,
            "error_type": "SandboxError",
            "error_message": _clip(payload.get("error_message"), MESSAGE_CHARS),
        }
    return _error("ResultNotDecodable", "the result frame has no known kind")


def _value(value_json: Any, limits: ExecLimits) -> dict[str, Any]:
    if value_json is None:
        return {"status": Status.OK, "value": None}
    if not isinstance(value_json, str):
        return _error("ResultNotDecodable", "the return value is not encoded as JSON text")
    if len(value_json) > limits.result_bytes:
        return _error(
            "ResultTooLarge",
            f"the return value is {len(value_json)} bytes of JSON, over the cap of "
            f"{limits.result_bytes}",
        )
    # A text no longer than the cap cannot hold more values than that: not counted.
    values = _value_count(value_json) if len(value_json) > limits.result_values else 0
    if values > limits.result_values:
        return _error(
            "ResultTooLarge",
            f"the return value holds about {values} values (lists, dicts, items), over the cap "
            f"of {limits.result_values}",
        )
    try:
        value = json.loads(value_json)
    except RecursionError:
        return _error("ResultTooDeep", "the return value is nested too deeply to decode")
    except ValueError as exc:  # not JSON, or an integer with too many digits to convert
        return _error("ResultNotDecodable", _clip(f"the return value: {exc}", MESSAGE_CHARS) or "")
    except Exception as exc:
        return _error("ResultNotDecodable", f"the return value: {type(exc).__name__}")
    if (not value_json.isascii() or _SURROGATE_ESCAPE.search(value_json)) and not _encodable(value):
        return _error(
            "ResultNotDecodable",
            "the return value holds text that is not Unicode (a lone surrogate such as "
            "'\\ud800'), which no caller could write out as UTF-8",
        )
    return {"status": Status.OK, "value": value}


def _value_count(text: str) -> int:
    """An upper bound on the values that decoding ``text`` creates, counted on the text (C
    speed, no objects made): every value but the outermost follows a comma or the opening
    bracket of a non-empty list or dict. A comma or bracket inside a string counts too, which
    errs on the safe side."""
    opening = text.count("[") + text.count("{") - text.count("[]") - text.count("{}")
    return 1 + text.count(",") + opening


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""Where a string of the value may hold a surrogate: the harness's JSON is ASCII, and only these
escapes (a character beyond the BMP, or a lone surrogate) decode to one."""


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except Exception:  # too deep to encode again here: decoded fine, leave it to the caller
        return True
    return True
