"""The refcode prelude shared by every stage that runs a unified function."""

from __future__ import annotations

from codeio.pipeline.prelude import REFCODE_PRELUDE, with_prelude


def test_with_prelude_puts_the_reference_names_in_scope() -> None:
    namespace: dict[str, object] = {}
    exec(with_prelude("x = List\ny = np.int64(2) + Counter('aa')['a']"), namespace)
    assert namespace["y"] == 4
    assert with_prelude("pass", prelude="") == "pass"
    assert REFCODE_PRELUDE.startswith("import")
