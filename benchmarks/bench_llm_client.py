"""Throughput of LLMClient against a server that answers after a fixed delay.

The ideal at concurrency C and delay D is C / D requests per second (256 / 0.1 s = 2560 rps);
efficiency is measured rps / ideal. The server runs in its own process so it does not share the
client's core; the client's CPU time (all its threads) is reported next to the wall time.

    python benchmarks/bench_llm_client.py [--transport sdk|httpx|fast|all] [--requests 3000]
        [--concurrency 256] [--delay 0.1] [--no-cache] [--profile FILE]

The client runs as a real run does: response cache on, every answer written to SQLite. The
server's CPU time is reported too (``server_cores`` near 1.0 would mean the server, not the
client, is the bottleneck). On a shared machine wall time is noisy; ``client_cpu_per_req_us``
is the stable number (one core sustains 1e6 / it requests per second).

Last line: JSON {"efficiency", "rps", "ideal_rps", "client_cpu_s", ...} of the last transport run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing as mp
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_BODY = json.dumps(
    {
        "id": "bench",
        "object": "chat.completion",
        "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }
).encode()  # fmt: skip
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_BODY)).encode()
    + b"\r\n\r\n"
    + _BODY
)


class _DelayProtocol(asyncio.Protocol):
    """Minimal keep-alive HTTP/1.1: answer every request after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        loop = asyncio.get_running_loop()
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buf[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            self.buf = self.buf[end:]
            loop.call_later(self.delay, self._reply)

    def _reply(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_RESPONSE)


def _serve(sock: socket.socket, delay: float) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _DelayProtocol(delay), sock=sock, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def _call(fn: Callable[[], object]) -> None:
    fn()


def _proc_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of another process, from /proc (Linux only)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _runqueue_wait_s(pid: int) -> float | None:
    """Seconds the threads of ``pid`` were runnable but waiting for a CPU (Linux schedstat).

    On a shared, overloaded machine this, not the client's own CPU, is what stretches wall time.
    """
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        return total / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _delta(a: float | None, b: float | None) -> float | None:
    return round(b - a, 3) if a is not None and b is not None else None


def _run(
    transport: str, url: str, n: int, concurrency: int, delay: float, cache: bool,
    server_pid: int, profile: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    from codeio.llm import LLMRequest, SamplingParams, make_client
    from codeio.records import Message

    params = SamplingParams(temperature=0.0, max_tokens=8)

    def reqs(tag: str, count: int) -> list[LLMRequest]:
        return [
            LLMRequest(messages=[Message(role="user", content=f"{tag}-{i}")], params=params)
            for i in range(count)
        ]

    with tempfile.TemporaryDirectory() as tmp:
        cache_path = Path(tmp) / "cache.sqlite" if cache else None
        client = make_client(
            "openai:bench", base_url=url, concurrency=concurrency, timeout_s=30,
            cache_path=cache_path, transport=transport,
        )  # fmt: skip
        with client:
            client.complete_many(reqs(f"warm-{transport}", concurrency))  # connections, imports
            batch = reqs(f"run-{transport}", n)
            prof = cProfile.Profile(time.process_time) if profile else None
            if prof is not None:
                # All client work runs on its private loop thread: profile that thread.
                client._loop().submit(_call(prof.enable)).result()
            srv0, wait0 = _proc_cpu_s(server_pid), _runqueue_wait_s(os.getpid())
            srv_wait0 = _runqueue_wait_s(server_pid)
            cpu0, t0 = time.process_time(), time.perf_counter()
            results = client.complete_many(batch)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            srv1, wait1 = _proc_cpu_s(server_pid), _runqueue_wait_s(os.getpid())
            srv_wait1 = _runqueue_wait_s(server_pid)
            if prof is not None:
                client._loop().submit(_call(prof.disable)).result()
                prof.dump_stats(f"{profile}.{transport}.pstat")
            failed = sum(1 for r in results if isinstance(r, Exception))
    ideal = concurrency / delay
    rps = n / wall
    return {
        "transport": transport,
        "efficiency": round(rps / ideal, 4),
        "rps": round(rps, 1),
        "ideal_rps": ideal,
        "client_cpu_s": round(cpu, 3),
        "client_cpu_per_req_us": round(cpu / n * 1e6, 1),
        "client_cores": round(cpu / wall, 3),
        # The rate one fully available core would sustain with this CPU per request.
        "client_one_core_rps": round(n / cpu, 1) if cpu > 0 else None,
        "client_runqueue_wait_s": _delta(wait0, wait1),
        "wall_s": round(wall, 3),
        "server_cores": (
            round((srv1 - srv0) / wall, 3) if srv0 is not None and srv1 is not None else None
        ),
        "server_cpu_per_req_us": (
            round((srv1 - srv0) / n * 1e6, 1) if srv0 is not None and srv1 is not None else None
        ),
        "server_runqueue_wait_s": _delta(srv_wait0, srv_wait1),
        "requests": n,
        "failed": failed,
        "concurrency": concurrency,
        "delay_s": delay,
        "cache": cache,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transport", choices=["sdk", "httpx", "fast", "all"], default="all")
    # 20 full rounds of 256: a partial last round would cap efficiency below 1 by itself.
    ap.add_argument("--requests", type=int, default=5120)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--delay", type=float, default=0.1)
    ap.add_argument(
        "--no-cache", action="store_true", help="no SQLite cache (a real run writes one)"
    )
    ap.add_argument(
        "--profile",
        help="write a cProfile of the client's loop thread to PROFILE.<transport>.pstat",
    )
    args = ap.parse_args()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server = mp.get_context("spawn").Process(target=_serve, args=(sock, args.delay), daemon=True)
    server.start()
    try:
        transports = ["sdk", "httpx", "fast"] if args.transport == "all" else [args.transport]
        out = [
            _run(
                t,
                url,
                args.requests,
                args.concurrency,
                args.delay,
                not args.no_cache,
                server.pid or 0,
                args.profile,
            )  # fmt: skip
            for t in transports
        ]
    finally:
        server.terminate()
        server.join()
    for o in out[:-1]:
        print(json.dumps(o))
    print(json.dumps(out[-1]))


if __name__ == "__main__":
    main()
