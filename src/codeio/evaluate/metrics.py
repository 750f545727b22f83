"""pass@k: the unbiased estimator of Chen et al. (2021) and its aggregation over problems."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["mean_pass_at_k", "pass_at_k", "usable_ks"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` (``c`` correct) is correct.

    ``1 - C(n - c, k) / C(n, k)``, computed as a running product so large ``n`` does not overflow.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Mean pass@k over problems given as ``(n, c)``; 0.0 when there are none."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    return float(np.mean(values)) if values else 0.0


def usable_ks(ks: Sequence[int], n: int) -> list[int]:
    """The ``k`` values that ``n`` samples can estimate (``k <= n``), sorted, without repeats."""
    return sorted({k for k in ks if 1 <= k <= n})
