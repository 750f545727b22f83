"""Wire formats: length-prefixed JSON frames on the task and result pipes, and the small tagged
messages on the host<->worker control socket.

The control socket is a ``SOCK_SEQPACKET`` pair: each message keeps its boundary and may carry
file descriptors. Nothing on it ever holds task data: the worker forks and supervises, the host
writes the task straight into the child's pipe and reads its output and result itself.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

_HEADER = struct.Struct("<I")
MAX_FRAME = 1 << 30
STARTED = _HEADER.pack(0)
"""An empty frame the child writes on the result pipe right before the code runs. The code can
neither read it back nor reopen the pipe (it belongs to the worker's root): the host takes a
``sandbox_error`` frame for the engine's only when it comes without this mark."""

# -- control messages (one tag byte, then the payload) -----------------------------------------
CONFIG = b"c"
"""host -> worker, first: the configuration as JSON."""
READY = b"r"
"""worker -> host: the containment report as JSON, once the template is ready."""
CHILD = b"C"
"""worker -> host, after READY: the first child, forked ahead for the first task
(``CHILD_MSG``), carrying the host's ends of its pipes as SCM_RIGHTS in ``CHILD_FDS`` order."""
KILL = b"K"
"""host -> worker: end this child now (``KILL_MSG``): its deadline passed, or its output or
result went over a cap. The host keeps the clock; a KILL naming an earlier child is ignored."""
DONE = b"D"
"""worker -> host: how the task's process ended (``DONE_MSG``), sent once every process of the
task is gone and the task dir is empty again; it carries the next child's pipes as CHILD does
(none when the worker retires)."""

CHILD_MSG = struct.Struct("<ci")  # tag, pid
CHILD_FDS = ("task", "stdout", "stderr", "result")
KILL_MSG = struct.Struct("<ci")  # tag, pid of the child
DONE_MSG = struct.Struct("<ciIddqi")
"""tag, wait status (-1: not reaped), flags (``DONE_*``), seconds from the child's end to this
message (the host subtracts it from what it measured), cpu_s, peak RSS (KiB), next child's pid
(0: none)."""
DONE_TIMEOUT = 1
"""Set by the host (never sent): it killed the task at its deadline."""
DONE_HOST_KILL = 2
"""Killed at the host's request."""
DONE_RETIRE = 4
"""The worker cannot promise a clean next task (leftovers it could not reap, a task dir it could
not empty in time, its own limits changed): it exits after this message."""
MAX_CONTROL = 1 << 20
"""Largest control message (the config and the ready report are the only large ones)."""


def encode(obj: Any) -> bytes:
    body = json.dumps(obj, allow_nan=True, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, obj: Any) -> None:
    write_all(fd, encode(obj))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_exact(fd: int, n: int) -> bytes | None:
    """``n`` bytes, or None on EOF before the first byte; raises EOFError on a torn frame."""
    chunks: list[bytes] = []
    got = 0
    while got < n:
        chunk = os.read(fd, n - got)
        if not chunk:
            if got == 0:
                return None
            raise EOFError("pipe closed inside a frame")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_body(fd: int) -> bytes | None:
    """The next frame's undecoded body; None at a clean EOF."""
    header = read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes")
    body = read_exact(fd, size) if size else b""
    if body is None:
        raise EOFError("pipe closed inside a frame")
    return body


def frame_bytes(body: bytes | memoryview) -> bytes:
    """A frame carrying an already encoded body."""
    return _HEADER.pack(len(body)) + body


def read_frame(fd: int) -> Any:
    """The next frame's object; None at a clean EOF."""
    body = read_body(fd)
    return None if body is None else json.loads(body)


def split_frames(data: bytes) -> list[bytes] | None:
    """Bodies of the frames that exactly make up ``data``; None if it is not a clean sequence."""
    bodies: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(data, pos)
        pos += _HEADER.size
        if len(data) - pos < size:
            return None
        bodies.append(data[pos : pos + size])
        pos += size
    return bodies
