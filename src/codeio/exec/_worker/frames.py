"""Length-prefixed JSON frames: the only format on the host<->worker and worker<->child pipes."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

_HEADER = struct.Struct("<I")
MAX_FRAME = 1 << 30
TASK_HEADER = struct.Struct("<ddQ")
"""Prefix of a host->worker task body: timeout_s, cpu limit (s), output cap (bytes).

The worker needs only these; the rest of the body is the child's JSON, forwarded unparsed so
the worker touches (and copy-on-write faults) as little memory as possible per task.
"""


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
