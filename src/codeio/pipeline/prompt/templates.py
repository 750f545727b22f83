"""Load the editable prompt templates shipped in ``codeio/prompts`` and fill their placeholders."""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["PLACEHOLDER", "TemplateError", "load_template", "render"]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
"""``{{name}}``; double braces so single braces in code and JSON stay literal."""


class TemplateError(KeyError):
    """A template is missing, or its placeholders do not match the values given."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def load_template(name: str) -> str:
    """The text of ``codeio/prompts/<name>.txt`` (read on each call, so edits show at once)."""
    path = resources.files("codeio").joinpath("prompts").joinpath(f"{name}.txt")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TemplateError(f"no prompt template named {name!r}") from exc


def render(name: str, **values: str) -> str:
    """Fill every placeholder of template ``name`` from ``values``, in one pass.

    Inserted values are never scanned again, so a value containing ``{{x}}`` stays as it is.
    """
    template = load_template(name)
    wanted = set(PLACEHOLDER.findall(template))
    missing = wanted - values.keys()
    unknown = values.keys() - wanted
    if missing or unknown:
        raise TemplateError(
            f"template {name!r}: missing values {sorted(missing)}, unknown values {sorted(unknown)}"
        )
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
