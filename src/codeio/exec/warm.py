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
import importlib.machinery
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_WARM", "FAMILY_IMPORTS", "family_imports", "libraries", "warm_imports"]

DEFAULT_WARM: tuple[str, ...] = (
    "numpy", "scipy", "sklearn", "pandas", "sympy", "networkx", "matplotlib", "nltk",
)  # fmt: skip
"""Installed libraries that a template may import for the tasks that use them.

Only these (and their submodules) are ever imported on a task's behalf, and only after the
template has confined itself exactly as a task is confined.
"""

FAMILY_IMPORTS: dict[str, tuple[str, ...]] = {
    "scipy": ("scipy.stats",),
    "matplotlib": ("matplotlib.pyplot",),
}
"""What a template for a library also imports, beyond the modules its first tasks named.

Code names different submodules of one library (``scipy.spatial``, ``scipy.optimize``, ...);
each set would otherwise start its own template and import the library again (a second or more
of CPU for scipy, on both sandboxes). ``scipy.stats`` imports nearly all of scipy, so one scipy
template serves them all, and a task whose modules its template lacks imports them itself.
"""


def libraries(names: Iterable[str]) -> frozenset[str]:
    """The top-level packages of dotted module ``names``."""
    return frozenset(name.split(".")[0] for name in names)


def family_imports(wanted: Iterable[str]) -> list[str]:
    """``wanted`` plus the family modules of the libraries it names (sorted, no duplicates)."""
    names = set(wanted)
    for top in libraries(names):
        names.update(FAMILY_IMPORTS.get(top, ()))
    return sorted(names)


# `import a.b as c, d` and `from a.b import (c, d as e)`, at any indentation (imports inside
# functions run on every call, so they count too).
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+import[ \t]+\(?([^\n#;)]*)|import[ \t]+([^\n#;]*))",
    re.MULTILINE,
)


def _names(text: str) -> list[str]:
    return [part.split()[0] for part in text.split(",") if part.strip()]


_CACHED_TEXT = 1 << 16
"""Texts up to this many characters have their scan cached (a harness's source repeats from
task to task). A longer one, a data string in the kwargs say, is scanned each time: the cache
keeps its keys alive, and 8192 inputs of a megabyte would hold 8 GiB of the host's memory."""


def _scan(text: str, warm: frozenset[str]) -> frozenset[str]:
    if len(text) > _CACHED_TEXT:
        return _scan_text(text, warm)
    return _scan_cached(text, warm)


@functools.lru_cache(maxsize=8192)
def _scan_cached(text: str, warm: frozenset[str]) -> frozenset[str]:
    return _scan_text(text, warm)


def _scan_text(text: str, warm: frozenset[str]) -> frozenset[str]:
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
    # `from scipy.stats import norm` names a function, not a module: dropping it here lets
    # the task share the template of `import scipy.stats` instead of starting its own.
    return tuple(sorted(name for name in found if _on_disk(name) is not False))


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


@functools.lru_cache(maxsize=4096)
def _on_disk(name: str) -> bool | None:
    """Whether the dotted ``name`` is a module file or package of its library, found on disk
    without importing anything; None when the library cannot be located that way (then the
    template's own report decides)."""
    top, *rest = name.split(".")
    if not rest:
        return True
    try:
        spec = importlib.machinery.PathFinder.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    dirs = list(spec.submodule_search_locations)
    for part in rest[:-1]:
        dirs = [os.path.join(d, part) for d in dirs if os.path.isdir(os.path.join(d, part))]
        if not dirs:
            return False
    last = rest[-1]
    suffixes = (".py", *importlib.machinery.EXTENSION_SUFFIXES)
    for directory in dirs:
        if os.path.isdir(os.path.join(directory, last)):
            return True
        if any(os.path.isfile(os.path.join(directory, last + suffix)) for suffix in suffixes):
            return True
    return False
