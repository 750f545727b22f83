"""Write an ``input_generator(rng)`` for each function of the CodeI/O demo corpus, from its examples.

The demo corpus (``rawcode_1k_parsed.jsonl``, see /work/shared/data/README.md) has the reference's
refcode and stored I/O pairs but not the generators that produced them. For a sampling workload
with the cost profile of real CodeI/O functions, this script infers a schema per argument from the
stored inputs (int and float ranges, string alphabets and lengths, list and matrix shapes) and
writes it out as a plain, readable generator, the kind an LLM writes from ``io_requirements``:

    def input_generator(rng):
        n = rng.randint(1, 40)
        grid = [[rng.randint(0, 9) for _ in range(cols)] for _ in range(rows)]  # shapes drawn
        return {"n": n, "grid": grid}

Arguments whose structure it cannot describe (nested dicts, mixed lists, punctuated strings such
as formulas) are drawn from the stored examples. Constraints between arguments are not inferred,
so some generated inputs make ``main_solution`` raise, as with LLM-written generators.

For benchmarks only: the product never needs this corpus. Functions that already have a
hand-written generator in tests/data/generators/demo_generators.jsonl are left out.

    python benchmarks/derive_generators.py PARSED.jsonl -o derived.jsonl
"""

from __future__ import annotations

import argparse
import json
import string
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_GENERATORS = ROOT / "tests" / "data" / "generators" / "demo_generators.jsonl"
_WORD_CHARS = set(string.ascii_letters + string.digits + " ")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "none"
    if isinstance(value, list):
        inner = {_kind(item) for item in value}
        if inner <= {"int"}:
            return "list_int"
        if inner <= {"int", "float"}:
            return "list_float"
        if inner <= {"str"}:
            return "list_str"
        if inner <= {"list_int"}:
            return "matrix_int"
        if inner <= {"list_int", "list_float"}:
            return "matrix_float"
        return "other"
    return "other"


def _decimals(values: list[float]) -> int:
    places = [len(repr(v).split(".")[1]) if "." in repr(v) else 0 for v in values]
    return max(1, min(4, max(places)))


def _int_range(values: list[int]) -> tuple[int, int]:
    lo, hi = min(values), max(values)
    if lo == hi:
        # One value seen: allow a little room around it, never crossing zero.
        lo, hi = (lo - 2, hi + 2) if lo > 2 or lo < 0 else (lo, hi + 3)
    return lo, hi


def _float_expr(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = (lo * 0.5, hi * 1.5) if lo > 0 else (lo - 1.0, hi + 1.0)
    return f"round(rng.uniform({round(lo, 4)!r}, {round(hi, 4)!r}), {_decimals(values)})"


def _len_range(lists: list[list[Any] | str]) -> tuple[int, int]:
    sizes = [len(item) for item in lists]
    lo, hi = min(sizes), max(sizes)
    return lo, max(hi, lo + 1)


def _string_expr(values: list[str]) -> str | None:
    chars = sorted(set("".join(values)))
    if not chars or not set(chars) <= _WORD_CHARS:
        return None
    lo, hi = _len_range(values)  # type: ignore[arg-type]
    alphabet = "".join(chars)
    if len(set(values)) <= 3 and len(values) >= 4:
        return None  # looks categorical: draw from the examples
    return f"''.join(rng.choice({alphabet!r}) for _ in range(rng.randint({lo}, {hi})))"


def _expr(name: str, values: list[Any], lines: list[str]) -> str:
    """A Python expression drawing one value like ``values``; may add set-up lines."""
    kinds = {_kind(v) for v in values}
    kind = kinds.pop() if len(kinds) == 1 else "other"
    if kind == "bool":
        return "rng.random() < 0.5"
    if kind == "int":
        lo, hi = _int_range(values)
        return f"rng.randint({lo}, {hi})"
    if kind == "float":
        return _float_expr(values)
    if kind == "str":
        expr = _string_expr(values)
        if expr is not None:
            return expr
    if kind in ("list_int", "list_float", "list_str"):
        lo, hi = _len_range(values)
        flat = [item for value in values for item in value]
        if flat:
            if kind == "list_int":
                a, b = _int_range(flat)
                item = f"rng.randint({a}, {b})"
            elif kind == "list_float":
                item = _float_expr([float(x) for x in flat])
            else:
                item = _string_expr(flat) or f"rng.choice({sorted(set(flat))!r})"
            if all(len(set(v)) == len(v) for v in values) and kind == "list_int" and hi > 2:
                span = b - a + 1
                if span >= hi:
                    lines.append(f"    {name}_n = rng.randint({lo}, {hi})")
                    return f"rng.sample(range({a}, {b + 1}), {name}_n)"
            return f"[{item} for _ in range(rng.randint({lo}, {hi}))]"
    if kind in ("matrix_int", "matrix_float"):
        rows = [len(v) for v in values]
        cols = [len(row) for v in values for row in v]
        flat = [x for v in values for row in v for x in row]
        if flat and min(rows) > 0:
            item = (
                "rng.randint({}, {})".format(*_int_range(flat))
                if kind == "matrix_int"
                else _float_expr([float(x) for x in flat])
            )
            square = all(len(v) == len(row) for v in values for row in v)
            lines.append(f"    {name}_rows = rng.randint({min(rows)}, {max(rows)})")
            if square:
                lines.append(f"    {name}_cols = {name}_rows")
            else:
                lines.append(f"    {name}_cols = rng.randint({min(cols)}, {max(cols)})")
            return f"[[{item} for _ in range({name}_cols)] for _ in range({name}_rows)]"
    # Structure not described: one of the stored examples (a fresh copy every call).
    lines.append(f"    {name}_examples = {json.dumps(values)}")
    return f"json.loads(json.dumps(rng.choice({name}_examples)))"


def generator_source(inputs: list[dict[str, Any]]) -> str | None:
    names = list(inputs[0])
    if any(list(item) != names for item in inputs) or not all(n.isidentifier() for n in names):
        return None
    body: list[str] = []
    exprs = {}
    for name in names:
        exprs[name] = _expr(name, [item[name] for item in inputs], body)
    uses_json = any("json.loads" in expr for expr in exprs.values())
    lines = (["import json", ""] if uses_json else []) + ["def input_generator(rng):"]
    lines.extend(body)
    for name in names:
        lines.append(f"    {name} = {exprs[name]}")
    lines.append("    return {" + ", ".join(f"{name!r}: {name}" for name in names) + "}")
    return "\n".join(lines) + "\n"


def derive(parsed: Path) -> list[dict[str, Any]]:
    known = {json.loads(line)["refcode"] for line in DEMO_GENERATORS.read_text().splitlines()}
    out = []
    for number, line in enumerate(parsed.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        if row["refcode"] in known or not row.get("ios"):
            continue
        source = generator_source([pair["input"] for pair in row["ios"]])
        if source is None:
            continue
        out.append(
            {
                "id": f"derived-{number}",
                "funcname": row.get("funcname") or "main_solution",
                "refcode": row["refcode"],
                "inputgen": source,
                "meta": {"source_line": number, "generator": "derived"},
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parsed", type=Path, help="rawcode_1k_parsed.jsonl")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    rows = derive(args.parsed)
    with args.output.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} functions with derived generators -> {args.output}")


if __name__ == "__main__":
    main()
