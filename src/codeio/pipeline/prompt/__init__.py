"""Prompts: prediction tasks, unify requests and revision turns, from editable templates."""

from __future__ import annotations

from codeio.pipeline.prompt.builders import (
    build_task,
    revision_message,
    teacher_context,
    unify_messages,
    unify_repair_message,
)
from codeio.pipeline.prompt.templates import TemplateError, load_template, render

__all__ = [
    "TemplateError",
    "build_task",
    "load_template",
    "render",
    "revision_message",
    "teacher_context",
    "unify_messages",
    "unify_repair_message",
]
