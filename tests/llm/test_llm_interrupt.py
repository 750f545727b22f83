"""Ctrl-C while a blocking call waits: the loop's tasks are cancelled, nothing pending is left
for asyncio to complain about at exit (it printed "Task was destroyed but it is pending!")."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = r"""
import asyncio, os, signal, threading
from codeio.llm.base import LLMBackend
from codeio.llm.client import LLMClient
from codeio.llm import LLMRequest, SamplingParams
from codeio.records import Message

class Slow(LLMBackend):
    kind = "slow"
    model = "slow"
    async def acomplete(self, request):
        await asyncio.sleep(60)

client = LLMClient(Slow())
requests = [
    LLMRequest(messages=[Message(role="user", content=str(i))], params=SamplingParams(),
               stage="generate")
    for i in range(4)
]
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    with client:  # as the stages use it: closed on the way out
        client.{call}
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def _run(call: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM.replace("{call}", call)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_interrupting_complete_many_leaves_no_pending_task() -> None:
    for call in ("complete_many(requests)", "complete(requests[0])"):
        res = _run(call)
        assert res.stdout.strip() == "interrupted", res.stderr[-2000:]
        assert "Task was destroyed" not in res.stderr, res.stderr[-2000:]
        assert "Traceback" not in res.stderr, res.stderr[-2000:]
