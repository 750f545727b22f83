"""The offline ``trace`` teacher: rationales written from a sandboxed execution trace, no model."""

from __future__ import annotations

from codeio.llm.trace_teacher.backend import TraceTeacherBackend

__all__ = ["TraceTeacherBackend"]
