"""Input for the scaling benchmarks: the first records of a corpus, replicated with new ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def replicate(path: Path, source: Path, records: int, copies: int) -> int:
    """Write ``copies`` copies of the first ``records`` records of ``source`` to ``path``.

    A comment line added to each copy's code gives it a new content hash, so the pipeline treats
    every copy as a new function (new ids) while doing exactly the same work.
    """
    base: list[dict[str, Any]] = []
    with source.open() as f:
        for line in f:
            if line.strip():
                base.append(json.loads(line))
            if len(base) >= records:
                break
    n = 0
    with path.open("w") as out:
        for copy in range(copies):
            for rec in base:
                rec = dict(rec)
                rec["refcode"] = f"# copy {copy}\n" + rec["refcode"]
                out.write(json.dumps(rec) + "\n")
                n += 1
    return n
