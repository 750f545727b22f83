"""The names a unified function may use without importing them, shared by every stage that runs one."""

from __future__ import annotations

__all__ = ["REFCODE_PRELUDE", "with_prelude"]

REFCODE_PRELUDE = """\
import bisect, collections, copy, datetime, functools, heapq, itertools, json, math, operator
import random, re, string, sys
import numpy as np
from bisect import bisect, bisect_left, bisect_right, insort
from collections import Counter, OrderedDict, defaultdict, deque
from copy import deepcopy
from functools import cache, cmp_to_key, lru_cache, partial, reduce
from heapq import heapify, heappop, heappush, heapreplace, merge, nlargest
from itertools import (accumulate, chain, combinations, count, cycle, groupby, islice, pairwise,
                       permutations, product, repeat, zip_longest)
from math import (atan2, ceil, comb, dist, factorial, floor, gcd, hypot, inf, isqrt, lcm, log,
                  log2, log10, pi, prod, sqrt)
from operator import and_, itemgetter, or_, sub, xor
from os.path import commonprefix
from random import randint, randrange, shuffle
from re import search as re_search
from string import ascii_lowercase, ascii_uppercase
from typing import (Any, Callable, Dict, Generator, Iterable, Iterator, List, Optional, Set,
                    Tuple, Union)
"""
"""Names every reference-generated ``refcode`` may use without importing them.

The reference pipeline prepends a block of imports to each function before running it, and the
LLM-written functions of its corpus lean on it; running them without these names would flag
good functions as broken. Executed in each fresh module namespace (the modules themselves are
already imported by the warm worker, so this costs microseconds).
"""


def with_prelude(code: str, prelude: str = REFCODE_PRELUDE) -> str:
    """``code`` preceded by the prelude, so it runs exactly as it did when its pairs were sampled."""
    return f"{prelude}\n{code}" if prelude else code
