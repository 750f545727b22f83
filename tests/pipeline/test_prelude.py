"""The refcode prelude and warm-import detection."""

from __future__ import annotations

from codeio.pipeline.prelude import REFCODE_PRELUDE, warm_imports, with_prelude


def test_warm_imports_lists_installed_top_level_imports_by_use() -> None:
    codes = [
        "import numpy as np\nfrom json import dumps\n",
        "import numpy\nimport no_such_module_codeio\n",
        "def f():\n    import math  # inside a function: not warmed\n",
        "this is not python (",
    ]
    warm = warm_imports(codes)
    assert warm[0] == "numpy"  # used by two records
    assert "json" in warm
    assert "no_such_module_codeio" not in warm and "math" not in warm
    assert warm_imports(codes, limit=1) == ["numpy"]


def test_with_prelude_puts_the_reference_names_in_scope() -> None:
    namespace: dict[str, object] = {}
    exec(with_prelude("x = List\ny = np.int64(2) + Counter('aa')['a']"), namespace)
    assert namespace["y"] == 4
    assert with_prelude("pass", prelude="") == "pass"
    assert REFCODE_PRELUDE.startswith("import")
