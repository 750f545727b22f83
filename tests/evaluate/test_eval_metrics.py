from __future__ import annotations

import itertools
from math import comb

import pytest

from codeio.evaluate.metrics import mean_pass_at_k, pass_at_k, usable_ks


def _brute(n: int, c: int, k: int) -> float:
    """Share of k-subsets of n samples (c correct) holding at least one correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize(
    "n,c,k", [(5, 1, 1), (5, 2, 3), (10, 3, 5), (6, 0, 2), (4, 4, 4), (7, 5, 3)]
)
def test_pass_at_k_matches_counting(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(_brute(n, c, k))
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_1_is_the_fraction_correct_and_large_n_is_stable() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert 0.0 < pass_at_k(1000, 1, 10) < 1.0
    assert mean_pass_at_k([(2, 1), (2, 2), (2, 0)], 1) == pytest.approx(0.5)
    assert mean_pass_at_k([], 1) == 0.0


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    assert usable_ks([5, 1, 1, 10], 5) == [1, 5]
