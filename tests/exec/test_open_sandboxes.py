"""``open_sandboxes``: several sandboxes started at once, all or none."""

from __future__ import annotations

import os
import time

import pytest

from codeio.exec import Sandbox, SandboxUnavailable, open_sandboxes

HASH = "def f():\n    return hash('codeio')\n"


def test_each_sandbox_gets_its_own_settings() -> None:
    first, second = open_sandboxes({"workers": 1, "hash_seed": 0}, {"workers": 1, "hash_seed": 1})
    try:
        assert isinstance(first, Sandbox) and isinstance(second, Sandbox)
        assert first.hash_seed == 0 and second.hash_seed == 1
        # Different PYTHONHASHSEEDs inside: the same string hashes differently.
        assert first.run(HASH, "f").value != second.run(HASH, "f").value
    finally:
        first.close()
        second.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_one_that_cannot_start_closes_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Sandbox] = []
    pids: list[int] = []
    real_init = Sandbox.__init__

    def spy(self: Sandbox, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        started.append(self)
        pids.extend(self.worker_pids())

    monkeypatch.setattr(Sandbox, "__init__", spy)
    with pytest.raises(SandboxUnavailable, match="codeio_no_such_module"):
        open_sandboxes({"workers": 1}, {"workers": 1, "prelude": ("codeio_no_such_module",)})
    assert len(started) == 1 and pids
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)
    with pytest.raises(RuntimeError, match="closed"):
        started[0].run(HASH, "f")


def test_closing_while_templates_start_leaves_nothing_on_stderr() -> None:
    # Templates prepared in the background may still be starting when a run ends: closing the
    # sandbox ends them quietly (no worker traceback on the user's terminal), at any moment.
    import subprocess
    import sys

    code = (
        "import time\n"
        "from codeio.exec import Sandbox\n"
        "for i in range(8):\n"
        "    sb = Sandbox(workers=1)\n"
        "    for wanted in (['scipy.stats'], ['sympy'], ['pandas']):\n"
        "        sb.prepare(wanted)\n"
        "    time.sleep(0.04 * i)\n"
        "    sb.close()\n"
        "print('closed')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "closed"
    assert run.stderr == ""
