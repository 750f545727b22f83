"""Attacks found by an audit of the sandbox that the hostile suites did not cover.

Each test but the two guards of a fix's premise (text beyond the BMP still comes back; the code
cannot read back the harness's mark) fails on the engine as it was before its fix: the code's
objects taking the harness down while it reports, text that no caller can encode, /tmp left
writable outside the task dir, the host keeping every large input it scanned, and a forged
engine failure that makes callers give up on a whole batch.
"""

from __future__ import annotations

import json
import sqlite3
import tracemalloc

import pytest

from codeio.exec import DEFAULT_WARM, ExecLimits, Sandbox, Status
from codeio.exec.warm import warm_imports

HEALTHY = "import os\ndef f():\n    return ['healthy', os.listdir('.')]\n"

# -- the code's objects raise while the harness handles the outcome --------------------------

_EVIL_EQ = "class C:\n    __hash__ = None\n    def __eq__(self, other):\n        raise {exc}\n"

ESCAPES = {
    # Realistic buggy code: comparing an array with 0 raises "truth value is ambiguous".
    "sys_exit_with_an_array": (
        "import sys\nimport numpy as np\nsys.exit(np.array([1, 2]))\n",
        None,
        "SystemExit",
    ),
    "sys_exit_code_whose_eq_raises_keyboardinterrupt": (
        _EVIL_EQ.format(exc="KeyboardInterrupt") + "raise SystemExit(C())\n",
        None,
        "SystemExit",
    ),
    "sys_exit_code_whose_eq_raises_oserror": (
        _EVIL_EQ.format(exc="OSError('x')") + "raise SystemExit(C())\n",
        None,
        "SystemExit",
    ),
    "exception_with_a_class_property": (
        "class E(Exception):\n    @property\n    def __class__(self):\n"
        "        raise KeyboardInterrupt\n\ndef f():\n    raise E('x')\n",
        "f",
        "E",
    ),
    "exception_whose_metaclass_name_raises": (
        "class M(type):\n    @property\n    def __name__(cls):\n        raise SystemExit(0)\n\n"
        "class E(Exception, metaclass=M):\n    pass\n\ndef f():\n    raise E('x')\n",
        "f",
        "E",
    ),
}


@pytest.mark.parametrize("name", list(ESCAPES))
def test_what_the_codes_objects_raise_while_reporting_is_an_error_of_the_code(
    sandbox: Sandbox, name: str
) -> None:
    """Before: the exception escaped the harness into the frames of the worker the child was
    forked from; the task came back `killed` (SIGINT) or `EarlyExit`, with the worker's own
    traceback in its stderr."""
    code, entry, error_type = ESCAPES[name]
    result = sandbox.run(code, entry)
    assert (result.status, result.error_type) == (Status.ERROR, error_type), result
    assert "_worker" not in result.stderr, result.stderr
    assert sandbox.run(HEALTHY, "f").value == ["healthy", []]


def test_a_patched_json_dumps_that_raises_is_an_error_not_a_kill(sandbox: Sandbox) -> None:
    code = (
        "import json\n\nclass S(str):\n    def __len__(self):\n        raise KeyboardInterrupt\n\n"
        "json.dumps = lambda *a, **k: S('1')\n\ndef f():\n    return 1\n"
    )
    result = sandbox.run(code, "f")
    assert result.status is Status.ERROR, result
    assert "_worker" not in result.stderr, result.stderr


# -- text no caller can encode ---------------------------------------------------------------

FORGE = (
    "import json, os, struct\n"
    "def f():\n"
    "    body = json.dumps({kw}).encode()\n"
    "    os.write(3, struct.pack('<I', len(body)) + body)\n"
    "    os._exit(0)\n"
)


def _stores_as_utf8(text: str | None) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (x TEXT)")
    db.execute("INSERT INTO t VALUES (?)", (text,))  # raised UnicodeEncodeError before


@pytest.mark.parametrize(
    "code",
    [
        "def f():\n    raise ValueError('bad \\udcff text')\n",
        FORGE.format(
            kw="{'kind': 'error', 'error_type': 'E\\ud800', 'error_message': '\\udfff', "
            "'traceback': 'x\\udc80'}"
        ),
    ],
    ids=["exception_message", "forged_frame"],
)
def test_error_texts_are_always_encodable(sandbox: Sandbox, code: str) -> None:
    result = sandbox.run(code, "f")
    assert result.status is Status.ERROR, result
    json.loads(result.model_dump_json())
    for text in (result.error_type, result.error_message, result.traceback):
        _stores_as_utf8(text)


@pytest.mark.parametrize(
    "value", ["'\\ud800'", "{'k\\udcff': 1}", "[['ok', '\\udfff']]"], ids=["str", "key", "nested"]
)
def test_a_value_with_a_lone_surrogate_is_a_typed_error(sandbox: Sandbox, value: str) -> None:
    """Before: `ok` with the surrogate in it; exporting or storing it raised in the caller."""
    result = sandbox.run(f"def f():\n    return {value}\n", "f")
    assert (result.status, result.error_type) == (Status.ERROR, "ResultNotDecodable"), result
    json.loads(result.model_dump_json())


def test_text_beyond_the_bmp_is_still_returned(sandbox: Sandbox) -> None:
    result = sandbox.run("def f():\n    return ['\\U0001f600', 'é', '\\\\ud800']\n", "f")
    assert (result.status, result.value) == (Status.OK, ["\U0001f600", "é", "\\ud800"]), result


# -- no place outside the task dir to leave files in ---------------------------------------


def test_tmp_outside_the_task_dir_is_not_writable_by_the_task_uid(sandbox: Sandbox) -> None:
    """Before: /tmp was mode 1777. Landlock stops writes there, but where Landlock is missing
    (`landlock` in report.missing) a task could leave /tmp/anything for every later task of its
    worker: the clean-up empties only the task dir."""
    if not sandbox.report.detail.get("task_uid") or "tmp" not in sandbox.report.detail.get(
        "namespaces", ()
    ):
        pytest.skip("no task uid or no private /tmp here")
    code = "import os\ndef f():\n    return [os.stat('/tmp').st_mode & 0o7777, os.getuid()]\n"
    result = sandbox.run(code, "f")
    assert result.status is Status.OK, result
    mode, uid = result.value
    assert uid != 0 and not mode & 0o022, oct(mode)
    assert sandbox.run(HEALTHY, "f").value == ["healthy", []]


# -- the host's memory -----------------------------------------------------------------------


def test_scanning_large_kwargs_for_imports_keeps_nothing_alive() -> None:
    """Before: every text scanned (the code and each string in the kwargs: the inputs a model
    predicted, say) stayed a key of an 8192-entry cache, so the host held up to 8192 inputs of
    any size for good (50 of 768 KiB kept 37 MiB)."""
    tracemalloc.start()
    try:
        for i in range(20):
            text = f"import numpy\nx = {i}\n" + "#" * (1 << 20)
            assert warm_imports("def f(s):\n    return s\n", {"s": text}, DEFAULT_WARM) == (
                "numpy",
            )
            del text
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 4 << 20, f"{kept >> 20} MiB kept"


# -- a forged engine failure ------------------------------------------------------------------


def test_code_cannot_forge_an_engine_failure(sandbox: Sandbox) -> None:
    """`sandbox_error` means 'the engine failed, retry, never blame the code': the verifier
    retries it and then raises SandboxError for the whole batch. Before: a frame claiming it,
    written by the code before os._exit(0), was believed, so one record could end a batch."""
    forged = FORGE.format(kw="{'kind': 'sandbox_error', 'error_message': 'engine down'}")
    result = sandbox.run(forged, "f", limits=ExecLimits(timeout_s=5))
    assert (result.status, result.error_type) == (Status.ERROR, "ResultChannelTampered"), result
    # A plain script that does the same, and one that writes it and carries on.
    result = sandbox.run(forged + "f()\n")
    assert (result.status, result.error_type) == (Status.ERROR, "ResultChannelTampered"), result
    result = sandbox.run(forged.replace("os._exit(0)", "return 1"), "f")
    assert (result.status, result.error_type) == (Status.ERROR, "ResultChannelTampered"), result


def test_the_code_cannot_take_back_the_mark_that_it_ran(sandbox: Sandbox) -> None:
    """The host tells the engine's own failure from the code's claim by the empty frame the
    harness writes before the code runs; the code must not be able to read it back out of the
    pipe (reopening it through /proc, made dumpable again) and then forge the claim."""
    if not sandbox.report.detail.get("task_uid"):
        pytest.skip("tasks share the worker's uid here: it owns the pipe")
    code = (
        "import ctypes, json, os, struct\n"
        "def f():\n"
        "    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)\n"
        "    try:\n"
        "        fd = os.open('/proc/self/fd/3', os.O_RDONLY | os.O_NONBLOCK)\n"
        "        os.read(fd, 4)\n"
        "    except OSError:\n"
        "        return 'refused'\n"
        "    body = json.dumps({'kind': 'sandbox_error', 'error_message': 'x'}).encode()\n"
        "    os.write(3, struct.pack('<I', len(body)) + body)\n"
        "    os._exit(0)\n"
    )
    result = sandbox.run(code, "f")
    assert (result.status, result.value) == (Status.OK, "refused"), result


# -- a value that decodes into far more memory than its bytes --------------------------------


def test_a_value_of_millions_of_empty_lists_is_refused_before_it_is_decoded(
    sandbox: Sandbox,
) -> None:
    """Before: 12 MB of `[[],[],...]`, under the byte cap, decoded into ~300 MB of list objects
    in the host, once per worker returning one."""
    code = "def f():\n    return [[]] * 3_000_000\n"
    tracemalloc.start()
    try:
        result = sandbox.run(code, "f", limits=ExecLimits(timeout_s=20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.status, result.error_type) == (Status.ERROR, "ResultTooLarge"), result
    assert "values" in (result.error_message or ""), result
    assert peak < 100 << 20, peak
    # The cap is the caller's: raised, the same value comes back whole.
    big = sandbox.run(code, "f", limits=ExecLimits(timeout_s=20, result_values=4_000_000))
    assert big.status is Status.OK and len(big.value) == 3_000_000
    assert sandbox.run(HEALTHY, "f").value == ["healthy", []]
