"""Which heavy libraries a task will import, so that it can run from a template that has them.

Every template pays, on every fork, for each library it holds: copying page tables, exiting and
faulting in pages all grow with it (numpy alone adds about a third to a trivial task). So the
base template holds only the standard-library prelude, and a task whose code imports one of the
``warm`` libraries runs from a template that imported exactly those modules once. The scan is
textual and conservative: a name it misses is imported by the task itself (slower, never wrong);
a name it wrongly finds costs one template start.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_WARM", "warm_imports"]

DEFAULT_WARM: tuple[str, ...] = (
    "numpy", "scipy", "sklearn", "pandas", "sympy", "networkx", "matplotlib", "nltk",
)  # fmt: skip
"""Installed libraries that a template may import for the tasks that use them.

Only these (and their submodules) are ever imported on a task's behalf, and only after the
template has confined itself exactly as a task is confined.
"""

# `import a.b as c, d` and `from a.b import (c, d as e)`, at any indentation (imports inside
# functions run on every call, so they count too).
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+import[ \t]+\(?([^\n#;)]*)|import[ \t]+([^\n#;]*))",
    re.MULTILINE,
)


def _names(text: str) -> list[str]:
    return [part.split()[0] for part in text.split(",") if part.strip()]


@functools.lru_cache(maxsize=8192)
def _scan(text: str, warm: frozenset[str]) -> frozenset[str]:
    if not any(name in text for name in warm):  # the common case, and cheap
        return frozenset()
    found: set[str] = set()
    for module, imported, plain in _IMPORT.findall(text):
        if module:
            if module.split(".")[0] not in warm:
                continue
            found.add(module)
            # `from scipy import stats` imports a submodule; `from numpy import array` does not.
            # Both are candidates; the template reports which ones are modules.
            found.update(f"{module}.{name}" for name in _names(imported) if name.isidentifier())
        else:
            found.update(name for name in _names(plain) if name.split(".")[0] in warm)
    return frozenset(found)


def warm_imports(
    code: str, kwargs: Mapping[str, Any] | None, warm: Iterable[str]
) -> tuple[str, ...]:
    """Sorted module names under ``warm`` that ``code`` (or a source text passed in ``kwargs``,
    as harnesses that exec a function do, also inside lists and dicts) imports; () when it
    imports none of them."""
    allowed = warm if isinstance(warm, frozenset) else frozenset(warm)
    if not allowed:
        return ()
    found = set(_scan(code, allowed))
    _scan_values((kwargs or {}).values(), allowed, found, 3)
    return tuple(sorted(found))


def _scan_values(values: Iterable[Any], warm: frozenset[str], found: set[str], depth: int) -> None:
    """Source texts among ``values``, also inside lists and dicts (a batch task passes the
    code of several functions), down to ``depth`` levels."""
    for value in values:
        if isinstance(value, str):
            if len(value) > 10:
                found |= _scan(value, warm)
        elif depth > 0 and isinstance(value, (list, tuple)):
            _scan_values(value, warm, found, depth - 1)
        elif depth > 0 and isinstance(value, dict):
            _scan_values(value.values(), warm, found, depth - 1)
