"""Each limit turns into its own status, and the engine stays usable afterwards."""

from __future__ import annotations

from codeio.exec import ExecLimits, Sandbox, Status


def _still_usable(sb: Sandbox) -> None:
    assert sb.run("def f():\n    return 'alive'\n", "f").value == "alive"


def test_infinite_loop_times_out(sandbox: Sandbox) -> None:
    result = sandbox.run("while True:\n    pass\n", limits=ExecLimits(timeout_s=0.5))
    assert result.status is Status.TIMEOUT
    _still_usable(sandbox)


def test_cpu_limit_is_a_timeout(sandbox: Sandbox) -> None:
    result = sandbox.run("while True:\n    pass\n", limits=ExecLimits(timeout_s=5, cpu_s=1))
    assert result.status is Status.TIMEOUT


def test_big_allocation_is_memory(sandbox: Sandbox) -> None:
    limits = ExecLimits(memory_mb=512)
    assert sandbox.run("x = bytearray(2 << 30)", limits=limits).status is Status.MEMORY
    code = "import numpy\nx = numpy.ones((40000, 40000))\n"
    assert sandbox.run(code, limits=limits).status is Status.MEMORY
    _still_usable(sandbox)


def test_output_flood_is_output_limit(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "while True:\n    print('x' * 1000)\n", limits=ExecLimits(output_bytes=10_000)
    )
    assert result.status is Status.OUTPUT_LIMIT
    assert 0 < len(result.stdout) <= 10_000
    result = sandbox.run(
        "import os\nwhile True:\n    os.write(2, b'y' * 4096)\n",
        limits=ExecLimits(output_bytes=10_000),
    )
    assert result.status is Status.OUTPUT_LIMIT
    _still_usable(sandbox)


def test_segfault_is_killed_with_signal(sandbox: Sandbox) -> None:
    result = sandbox.run("import ctypes\nctypes.string_at(0)\n")
    assert result.status is Status.KILLED
    assert result.signal == 11
    _still_usable(sandbox)


def test_file_size_limit(sandbox: Sandbox) -> None:
    code = "f = open('big', 'wb')\nf.write(b'x' * (3 << 20))\nf.close()\n"
    result = sandbox.run(code, limits=ExecLimits(file_size_mb=1))
    assert result.status is not Status.OK


def test_duration_and_peak_memory_reported(sandbox: Sandbox) -> None:
    result = sandbox.run("x = bytearray(64 << 20)\nx[::4096] = b'1' * len(x[::4096])\n")
    assert result.status is Status.OK
    assert result.duration_s > 0
    assert result.peak_memory_mb is not None and result.peak_memory_mb >= 64


def test_result_cap_is_result_too_large(sandbox: Sandbox) -> None:
    limits = ExecLimits(result_bytes=1000)
    result = sandbox.run("def f():\n    return 'x' * 2000\n", "f", limits=limits)
    assert (result.status, result.error_type) == (Status.ERROR, "ResultTooLarge")
    # Written past the harness, straight into the result channel: the host's own cap holds.
    flood = "import os\nwhile True:\n    os.write(3, b'[' * 65536)\n"
    result = sandbox.run(flood, limits=limits)
    assert (result.status, result.error_type) == (Status.ERROR, "ResultTooLarge")
    assert sandbox.run("def f():\n    return 'x' * 900\n", "f", limits=limits).ok
    _still_usable(sandbox)


def test_deep_traceback_is_bounded_and_quick(sandbox: Sandbox) -> None:
    code = (
        "import sys\nsys.setrecursionlimit(200_000)\n"
        "def f(n):\n    return f(n + 1) if n < 150_000 else 1 / 0\n"
    )
    result = sandbox.run(code, "f", {"n": 0}, limits=ExecLimits(timeout_s=20))
    assert (result.status, result.error_type) == (Status.ERROR, "ZeroDivisionError")
    assert "earlier frames not shown" in (result.traceback or "")
    assert len(result.traceback or "") <= 4000
