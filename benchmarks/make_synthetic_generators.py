"""Compose the synthetic generator corpus: tests/data/generators/synthetic_generators.jsonl.

Each template below is a CodeI/O-style unified function (``main_solution`` plus helpers) and an
``input_generator(rng)`` (or a zero-argument one that uses the seeded global RNGs), written for
this corpus. Variants change ranges, sizes and names, which moves a function between fast and
slow and changes how often its generator repeats itself, so the corpus covers what sampling
meets in practice: pure-Python loops, string work, numpy, seeded randomness inside the function,
brute force that takes tens to hundreds of milliseconds per call, inputs that hang, and a set of
deliberately bad functions (``meta.expect``: unseeded random, wall-clock time, set order, hash
seed, state kept across calls, tuples that JSON turns into lists, non-JSON outputs, generators
that always fail). Good functions have ``meta.expect == "ok"`` (most should be kept), bad ones
name the defect (they must never yield a stored pair that does not reproduce).

    python benchmarks/make_synthetic_generators.py   # rewrites the JSONL, deterministically
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "generators"
OUT_FILE = OUT / "synthetic_generators.jsonl"

# (name, expect, refcode, inputgen, variants): $placeholders are filled from each variant.
TEMPLATES: list[tuple[str, str, str, str, list[dict[str, Any]]]] = []


def template(
    name: str, refcode: str, inputgen: str, variants: list[dict[str, Any]], expect: str = "ok"
) -> None:
    TEMPLATES.append((name, expect, refcode, inputgen, variants))


# --- fast pure-Python number work -------------------------------------------------------------
template(
    "gcd_lcm",
    """import math

def main_solution($a, $b):
    g = math.gcd($a, $b)
    return {"gcd": g, "lcm": $a * $b // g if g else 0}
""",
    """def input_generator(rng):
    return {"$a": rng.randint(1, $hi), "$b": rng.randint(1, $hi)}
""",
    [
        {"a": "a", "b": "b", "hi": 100},
        {"a": "x", "b": "y", "hi": 10**6},
        {"a": "m", "b": "n", "hi": 12},
        {"a": "p", "b": "q", "hi": 5000},
        {"a": "first", "b": "second", "hi": 360},
    ],
)
template(
    "fib_mod",
    """def main_solution(n, mod):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) % mod
    return a
""",
    """def input_generator(rng):
    return {"n": rng.randint(0, $n), "mod": rng.choice([$mods])}
""",
    [
        {"n": 50, "mods": "10, 100, 1000"},
        {"n": 5000, "mods": "10**9 + 7, 998244353"},
        {"n": 30, "mods": "7"},
        {"n": 20000, "mods": "97, 101, 65537"},
        {"n": 300, "mods": "2, 3, 5"},
    ],
)
template(
    "count_primes",
    """def sieve(limit):
    if limit < 2:
        return []
    is_prime = [True] * (limit + 1)
    is_prime[0] = is_prime[1] = False
    for i in range(2, int(limit ** 0.5) + 1):
        if is_prime[i]:
            for j in range(i * i, limit + 1, i):
                is_prime[j] = False
    return [i for i, p in enumerate(is_prime) if p]

def main_solution(limit):
    primes = sieve(limit)
    return {"count": len(primes), "largest": primes[-1] if primes else None}
""",
    """def input_generator(rng):
    return {"limit": rng.randint($lo, $hi)}
""",
    [
        {"lo": 0, "hi": 100},
        {"lo": 1000, "hi": 10**5},
        {"lo": 10**5, "hi": 10**6},
        {"lo": 2, "hi": 30},
        {"lo": 500, "hi": 5000},
    ],
)
template(
    "collatz",
    """def main_solution(start):
    steps, peak = 0, start
    while start != 1:
        start = start // 2 if start % 2 == 0 else 3 * start + 1
        peak = max(peak, start)
        steps += 1
    return [steps, peak]
""",
    """def input_generator(rng):
    return {"start": rng.randint(1, $hi)}
""",
    [{"hi": 50}, {"hi": 10**4}, {"hi": 10**9}, {"hi": 27}, {"hi": 999}],
)
template(
    "josephus",
    """class Circle:
    def __init__(self, n):
        self.people = list(range(1, n + 1))

    def eliminate(self, k):
        idx = 0
        while len(self.people) > 1:
            idx = (idx + k - 1) % len(self.people)
            self.people.pop(idx)
        return self.people[0]

def main_solution(n, k):
    return Circle(n).eliminate(k)
""",
    """def input_generator(rng):
    return {"n": rng.randint(1, $n), "k": rng.randint(1, $k)}
""",
    [
        {"n": 10, "k": 3},
        {"n": 2000, "k": 50},
        {"n": 100, "k": 100},
        {"n": 7, "k": 7},
        {"n": 500, "k": 2},
    ],
)
template(
    "roman",
    """VALUES = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
          (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]

def main_solution(number):
    out = []
    for value, symbol in VALUES:
        while number >= value:
            out.append(symbol)
            number -= value
    return "".join(out)
""",
    """def input_generator(rng):
    return {"number": rng.randint($lo, $hi)}
""",
    [{"lo": 1, "hi": 3999}, {"lo": 1, "hi": 20}, {"lo": 1900, "hi": 2100}, {"lo": 40, "hi": 90}],
)
template(
    "base_convert",
    """DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

def main_solution(value, base):
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    out = []
    while value:
        value, rem = divmod(value, base)
        out.append(DIGITS[rem])
    return sign + "".join(reversed(out))
""",
    """def input_generator(rng):
    return {"value": rng.randint(-$hi, $hi), "base": rng.randint(2, $base)}
""",
    [
        {"hi": 1000, "base": 16},
        {"hi": 10**12, "base": 36},
        {"hi": 64, "base": 2},
        {"hi": 255, "base": 8},
        {"hi": 10**6, "base": 10},
    ],
)
template(
    "pascal_row",
    """def main_solution(row):
    current = [1]
    for _ in range(row):
        current = [1] + [current[i] + current[i + 1] for i in range(len(current) - 1)] + [1]
    return current
""",
    """def input_generator(rng):
    return {"row": rng.randint(0, $hi)}
""",
    [{"hi": 9}, {"hi": 15}, {"hi": 5}, {"hi": 18}],
)
# --- fast list work -----------------------------------------------------------------------------
template(
    "kadane",
    """def main_solution(nums):
    best = current = nums[0]
    for x in nums[1:]:
        current = max(x, current + x)
        best = max(best, current)
    return best
""",
    """def input_generator(rng):
    return {"nums": [rng.randint(-$hi, $hi) for _ in range(rng.randint(1, $n))]}
""",
    [
        {"hi": 10, "n": 8},
        {"hi": 1000, "n": 19},
        {"hi": 3, "n": 5},
        {"hi": 50, "n": 15},
        {"hi": 10**6, "n": 12},
    ],
)
template(
    "two_sum",
    """def main_solution(nums, target):
    seen = {}
    for i, x in enumerate(nums):
        if target - x in seen:
            return [seen[target - x], i]
        seen[x] = i
    return []
""",
    """def input_generator(rng):
    nums = [rng.randint(-$hi, $hi) for _ in range(rng.randint(2, $n))]
    i, j = rng.sample(range(len(nums)), 2)
    target = nums[i] + nums[j] if rng.random() < 0.8 else rng.randint(-$hi, $hi)
    return {"nums": nums, "target": target}
""",
    [{"hi": 20, "n": 10}, {"hi": 10**4, "n": 19}, {"hi": 5, "n": 6}, {"hi": 100, "n": 15}],
)
template(
    "lis",
    """from bisect import bisect_left

def main_solution(sequence):
    tails = []
    for x in sequence:
        i = bisect_left(tails, x)
        if i == len(tails):
            tails.append(x)
        else:
            tails[i] = x
    return len(tails)
""",
    """def input_generator(rng):
    return {"sequence": [rng.randint(0, $hi) for _ in range(rng.randint(0, $n))]}
""",
    [{"hi": 100, "n": 19}, {"hi": 5, "n": 10}, {"hi": 10**5, "n": 18}, {"hi": 30, "n": 12}],
)
template(
    "insert_position",
    """def main_solution(sorted_list, value):
    lo, hi = 0, len(sorted_list)
    while lo < hi:
        mid = (lo + hi) // 2
        if sorted_list[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo
""",
    """def input_generator(rng):
    items = sorted(rng.randint(0, $hi) for _ in range(rng.randint(0, $n)))
    return {"sorted_list": items, "value": rng.randint(-1, $hi + 1)}
""",
    [{"hi": 50, "n": 15}, {"hi": 10**6, "n": 19}, {"hi": 10, "n": 8}, {"hi": 1000, "n": 5}],
)
template(
    "rotate_matrix",
    """def main_solution(matrix, turns):
    for _ in range(turns % 4):
        matrix = [list(row) for row in zip(*matrix[::-1])]
    return matrix
""",
    """def input_generator(rng):
    n = rng.randint(1, $n)
    return {"matrix": [[rng.randint(0, $hi) for _ in range(n)] for _ in range(n)],
            "turns": rng.randint(0, 7)}
""",
    [{"n": 4, "hi": 9}, {"n": 3, "hi": 99}, {"n": 2, "hi": 1}, {"n": 4, "hi": 5}],
)
template(
    "spiral",
    """def main_solution(grid):
    out = []
    while grid:
        out.extend(grid.pop(0))
        grid = [list(row) for row in zip(*grid)][::-1]
    return out
""",
    """def input_generator(rng):
    rows, cols = rng.randint(1, $r), rng.randint(1, $c)
    return {"grid": [[rng.randint(0, 9) for _ in range(cols)] for _ in range(rows)]}
""",
    [{"r": 4, "c": 4}, {"r": 3, "c": 6}, {"r": 2, "c": 2}, {"r": 5, "c": 3}],
)
template(
    "merge_intervals",
    """def main_solution(intervals):
    intervals = sorted(intervals)
    merged = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
""",
    """def input_generator(rng):
    out = []
    for _ in range(rng.randint(0, $n)):
        a = rng.randint(0, $hi)
        out.append([a, a + rng.randint(0, $w)])
    return {"intervals": out}
""",
    [{"n": 6, "hi": 50, "w": 10}, {"n": 8, "hi": 1000, "w": 300}, {"n": 4, "hi": 10, "w": 3}],
)
# --- string work --------------------------------------------------------------------------------
template(
    "caesar",
    """import string

def shift_char(ch, k):
    if ch in string.ascii_lowercase:
        return chr((ord(ch) - 97 + k) % 26 + 97)
    if ch in string.ascii_uppercase:
        return chr((ord(ch) - 65 + k) % 26 + 65)
    return ch

def main_solution(text, shift):
    return "".join(shift_char(c, shift) for c in text)
""",
    """import string

def input_generator(rng):
    alphabet = string.ascii_letters + "$extra"
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, $n)))
    return {"text": text, "shift": rng.randint(-$k, $k)}
""",
    [
        {"extra": " ", "n": 40, "k": 25},
        {"extra": ".,!? ", "n": 90, "k": 3},
        {"extra": "", "n": 10, "k": 13},
        {"extra": "0123456789", "n": 60, "k": 100},
    ],
)
template(
    "rle",
    """from itertools import groupby

def main_solution(s):
    return "".join(f"{len(list(g))}{ch}" for ch, g in groupby(s))
""",
    """def input_generator(rng):
    return {"s": "".join(rng.choice("$alphabet") * rng.randint(1, $run) for _ in range(rng.randint(0, $n)))}
""",
    [
        {"alphabet": "ab", "run": 4, "n": 8},
        {"alphabet": "abcdef", "run": 3, "n": 12},
        {"alphabet": "xyz", "run": 9, "n": 6},
        {"alphabet": "01", "run": 2, "n": 15},
    ],
)
template(
    "longest_palindrome",
    """def expand(s, lo, hi):
    while lo >= 0 and hi < len(s) and s[lo] == s[hi]:
        lo -= 1
        hi += 1
    return s[lo + 1:hi]

def main_solution(s):
    best = ""
    for i in range(len(s)):
        for cand in (expand(s, i, i), expand(s, i, i + 1)):
            if len(cand) > len(best):
                best = cand
    return best
""",
    """def input_generator(rng):
    return {"s": "".join(rng.choice("$alphabet") for _ in range(rng.randint(1, $n)))}
""",
    [
        {"alphabet": "ab", "n": 20},
        {"alphabet": "abc", "n": 60},
        {"alphabet": "abcdefgh", "n": 90},
        {"alphabet": "aab", "n": 30},
    ],
)
template(
    "word_freq",
    """from collections import Counter

def main_solution(text, k):
    counts = Counter(text.lower().split())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [[w, c] for w, c in ranked[:k]]
""",
    """WORDS = $words

def input_generator(rng):
    return {"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, $n))),
            "k": rng.randint(1, $k)}
""",
    [
        {"words": '["the", "cat", "sat", "on", "mat", "The", "dog"]', "n": 15, "k": 4},
        {"words": '["alpha", "beta", "gamma", "delta"]', "n": 20, "k": 3},
        {"words": '["a", "b", "c", "d", "e", "f", "g", "h"]', "n": 40, "k": 6},
    ],
)
template(
    "anagram_groups",
    """from collections import defaultdict

def main_solution(words):
    groups = defaultdict(list)
    for w in words:
        groups["".join(sorted(w))].append(w)
    return sorted(sorted(g) for g in groups.values())
""",
    """def input_generator(rng):
    base = ["$w1", "$w2", "$w3"]
    words = []
    for _ in range(rng.randint(1, $n)):
        w = list(rng.choice(base))
        rng.shuffle(w)
        words.append("".join(w))
    return {"words": words}
""",
    [
        {"w1": "listen", "w2": "stone", "w3": "night", "n": 8},
        {"w1": "abc", "w2": "aab", "w3": "xyz", "n": 12},
        {"w1": "tea", "w2": "eat", "w3": "ate", "n": 6},
    ],
)
template(
    "balanced",
    """PAIRS = {")": "(", "]": "[", "}": "{"}

def main_solution(expression):
    stack = []
    for ch in expression:
        if ch in "([{":
            stack.append(ch)
        elif ch in PAIRS:
            if not stack or stack.pop() != PAIRS[ch]:
                return False
    return not stack
""",
    """def input_generator(rng):
    return {"expression": "".join(rng.choice("$chars") for _ in range(rng.randint(0, $n)))}
""",
    [{"chars": "()", "n": 10}, {"chars": "()[]{}", "n": 12}, {"chars": "(()a)", "n": 20}],
)
template(
    "vowel_histogram",
    """def main_solution(sentence):
    counts = {v: 0 for v in "aeiou"}
    for ch in sentence.lower():
        if ch in counts:
            counts[ch] += 1
    return counts
""",
    """def input_generator():
    import random, string
    n = random.randint(0, $n)
    return {"sentence": "".join(random.choice(string.ascii_letters + " ") for _ in range(n))}
""",
    [{"n": 30}, {"n": 95}, {"n": 8}],
)
template(
    "edit_distance",
    """def main_solution(source, target):
    prev = list(range(len(target) + 1))
    for i, a in enumerate(source, 1):
        cur = [i]
        for j, b in enumerate(target, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return prev[-1]
""",
    """def input_generator(rng):
    def word():
        return "".join(rng.choice("$alphabet") for _ in range(rng.randint(0, $n)))
    return {"source": word(), "target": word()}
""",
    [
        {"alphabet": "abc", "n": 8},
        {"alphabet": "acgt", "n": 90},
        {"alphabet": "ab", "n": 4},
        {"alphabet": "kitten", "n": 30},
    ],
)
template(
    "dates",
    """import datetime

def main_solution(year, month, day, days):
    start = datetime.date(year, month, day)
    end = start + datetime.timedelta(days=days)
    return {"date": end.isoformat(), "weekday": end.strftime("%A")}
""",
    """def input_generator(rng):
    return {"year": rng.randint($y0, $y1), "month": rng.randint(1, 12), "day": rng.randint(1, 28),
            "days": rng.randint(-$d, $d)}
""",
    [
        {"y0": 1990, "y1": 2030, "d": 400},
        {"y0": 1, "y1": 9000, "d": 10**5},
        {"y0": 2000, "y1": 2001, "d": 31},
    ],
)
# --- moderate: DP, graphs, search -------------------------------------------------------------
template(
    "knapsack",
    """def main_solution(weights, values, capacity):
    best = [0] * (capacity + 1)
    for w, v in zip(weights, values):
        for c in range(capacity, w - 1, -1):
            best[c] = max(best[c], best[c - w] + v)
    return best[capacity]
""",
    """def input_generator(rng):
    n = rng.randint(1, $n)
    return {"weights": [rng.randint(1, $w) for _ in range(n)],
            "values": [rng.randint(1, 100) for _ in range(n)],
            "capacity": rng.randint(0, $cap)}
""",
    [
        {"n": 6, "w": 10, "cap": 30},
        {"n": 19, "w": 100, "cap": 5000},
        {"n": 3, "w": 5, "cap": 5},
        {"n": 15, "w": 50, "cap": 500},
    ],
)
template(
    "coin_change",
    """def main_solution(coins, amount):
    ways = [1] + [0] * amount
    for c in coins:
        for a in range(c, amount + 1):
            ways[a] += ways[a - c]
    return ways[amount] % (10**9 + 7)
""",
    """def input_generator(rng):
    return {"coins": sorted(rng.sample(range(1, $cmax), rng.randint(1, $k))),
            "amount": rng.randint(0, $amount)}
""",
    [
        {"cmax": 20, "k": 4, "amount": 100},
        {"cmax": 60, "k": 8, "amount": 20000},
        {"cmax": 6, "k": 2, "amount": 12},
    ],
)
template(
    "grid_bfs",
    """from collections import deque

def main_solution(grid):
    rows, cols = len(grid), len(grid[0])
    if grid[0][0] == 1 or grid[-1][-1] == 1:
        return -1
    dist = {(0, 0): 0}
    queue = deque([(0, 0)])
    while queue:
        r, c = queue.popleft()
        if (r, c) == (rows - 1, cols - 1):
            return dist[(r, c)]
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and grid[nr][nc] == 0 and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return -1
""",
    """def input_generator(rng):
    rows, cols = rng.randint(1, $n), rng.randint(1, $n)
    return {"grid": [[1 if rng.random() < $wall else 0 for _ in range(cols)] for _ in range(rows)]}
""",
    [{"n": 6, "wall": 0.2}, {"n": 8, "wall": 0.35}, {"n": 3, "wall": 0.1}, {"n": 7, "wall": 0.5}],
)
template(
    "components",
    """def find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x

def main_solution(n, edges):
    parent = list(range(n))
    for a, b in edges:
        ra, rb = find(parent, a), find(parent, b)
        if ra != rb:
            parent[ra] = rb
    return len({find(parent, x) for x in range(n)})
""",
    """def input_generator(rng):
    n = rng.randint(1, $n)
    edges = [[rng.randrange(n), rng.randrange(n)] for _ in range(rng.randint(0, $e))]
    return {"n": n, "edges": edges}
""",
    [{"n": 10, "e": 8}, {"n": 50, "e": 19}, {"n": 4, "e": 3}],
)
template(
    "dijkstra",
    """import heapq

def main_solution(n, edges, source):
    graph = [[] for _ in range(n)]
    for a, b, w in edges:
        graph[a].append((b, w))
        graph[b].append((a, w))
    dist = [None] * n
    heap = [(0, source)]
    while heap:
        d, node = heapq.heappop(heap)
        if dist[node] is not None:
            continue
        dist[node] = d
        for nxt, w in graph[node]:
            if dist[nxt] is None:
                heapq.heappush(heap, (d + w, nxt))
    return dist
""",
    """def input_generator(rng):
    n = rng.randint(1, $n)
    edges = [[rng.randrange(n), rng.randrange(n), rng.randint(1, $w)] for _ in range(rng.randint(0, $e))]
    return {"n": n, "edges": edges, "source": rng.randrange(n)}
""",
    [{"n": 8, "w": 10, "e": 12}, {"n": 15, "w": 100, "e": 6}, {"n": 5, "w": 3, "e": 10}],
)
template(
    "topo_sort",
    """import heapq

def main_solution(n, deps):
    indeg = [0] * n
    out = [[] for _ in range(n)]
    for a, b in deps:
        out[a].append(b)
        indeg[b] += 1
    ready = [i for i in range(n) if indeg[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        x = heapq.heappop(ready)
        order.append(x)
        for y in out[x]:
            indeg[y] -= 1
            if indeg[y] == 0:
                heapq.heappush(ready, y)
    return order if len(order) == n else []
""",
    """def input_generator(rng):
    n = rng.randint(1, $n)
    deps = []
    for _ in range(rng.randint(0, $e)):
        a, b = sorted(rng.sample(range(n), 2)) if n > 1 else (0, 0)
        if a != b:
            deps.append([a, b] if rng.random() < $fwd else [b, a])
    return {"n": n, "deps": deps}
""",
    [{"n": 8, "e": 10, "fwd": 1.0}, {"n": 12, "e": 15, "fwd": 0.9}, {"n": 5, "e": 4, "fwd": 1.0}],
)
template(
    "permutations_rank",
    """from itertools import permutations

def main_solution(word):
    ordered = sorted(set(permutations(word)))
    return ordered.index(tuple(word)) + 1
""",
    """def input_generator(rng):
    return {"word": "".join(rng.choice("$alphabet") for _ in range(rng.randint(1, $n)))}
""",
    [{"alphabet": "abc", "n": 5}, {"alphabet": "abcdefgh", "n": 7}, {"alphabet": "ab", "n": 6}],
)
# --- slow: brute force ----------------------------------------------------------------------------
template(
    "subset_sum_count",
    """from itertools import combinations

def main_solution(nums, target):
    count = 0
    for r in range(len(nums) + 1):
        for combo in combinations(nums, r):
            if sum(combo) == target:
                count += 1
    return count
""",
    """def input_generator(rng):
    nums = [rng.randint(1, $hi) for _ in range(rng.randint($lo_n, $n))]
    return {"nums": nums, "target": rng.randint(0, sum(nums))}
""",
    [
        {"hi": 20, "lo_n": 1, "n": 10},
        {"hi": 50, "lo_n": 14, "n": 17},
        {"hi": 9, "lo_n": 16, "n": 18},
        {"hi": 100, "lo_n": 12, "n": 15},
    ],
)
template(
    "n_queens",
    """def solve(n, row, cols, diag1, diag2):
    if row == n:
        return 1
    total = 0
    for c in range(n):
        if c in cols or row + c in diag1 or row - c in diag2:
            continue
        cols.add(c); diag1.add(row + c); diag2.add(row - c)
        total += solve(n, row + 1, cols, diag1, diag2)
        cols.remove(c); diag1.remove(row + c); diag2.remove(row - c)
    return total

def main_solution(n):
    return solve(n, 0, set(), set(), set())
""",
    """def input_generator(rng):
    return {"n": rng.randint($lo, $hi)}
""",
    [{"lo": 1, "hi": 8}, {"lo": 4, "hi": 10}, {"lo": 8, "hi": 11}],
)
template(
    "tsp_brute",
    """from itertools import permutations
import math

def main_solution(points):
    best = math.inf
    first, rest = points[0], points[1:]
    for order in permutations(rest):
        path = [first, *order, first]
        length = sum(math.dist(a, b) for a, b in zip(path, path[1:]))
        best = min(best, length)
    return round(best, 6)
""",
    """def input_generator(rng):
    return {"points": [[rng.randint(0, 100), rng.randint(0, 100)] for _ in range(rng.randint($lo, $hi))]}
""",
    [{"lo": 2, "hi": 6}, {"lo": 6, "hi": 8}, {"lo": 8, "hi": 9}],
)
template(
    "hangs_on_some",
    """def main_solution(n):
    # A loop that never ends for negative input (an unhandled case in the reference code).
    steps = 0
    while n != 0:
        n -= 1
        steps += 1
    return steps
""",
    """def input_generator(rng):
    return {"n": rng.randint(-$neg, $hi)}
""",
    [{"neg": 1, "hi": 50}, {"neg": 5, "hi": 5}, {"neg": 3, "hi": 40}],
)
# --- numpy ------------------------------------------------------------------------------------------
template(
    "np_det",
    """import numpy as np

def main_solution(matrix):
    return round(float(np.linalg.det(np.array(matrix, dtype=float))), 6)
""",
    """def input_generator(rng):
    n = rng.randint(1, $n)
    return {"matrix": [[rng.randint(-$hi, $hi) for _ in range(n)] for _ in range(n)]}
""",
    [{"n": 3, "hi": 5}, {"n": 4, "hi": 9}, {"n": 2, "hi": 100}],
)
template(
    "np_polyfit",
    """import numpy as np

def main_solution(xs, ys, degree):
    coeffs = np.polyfit(np.array(xs, dtype=float), np.array(ys, dtype=float), degree)
    return [round(float(c), 4) for c in coeffs]
""",
    """def input_generator(rng):
    n = rng.randint($deg + 2, $n)
    xs = sorted(rng.sample(range(-50, 50), n))
    return {"xs": xs, "ys": [rng.randint(-100, 100) for _ in xs], "degree": rng.randint(1, $deg)}
""",
    [{"deg": 1, "n": 10}, {"deg": 2, "n": 15}, {"deg": 3, "n": 8}],
)
template(
    "np_stats",
    """import numpy as np

def main_solution(values):
    arr = np.asarray(values, dtype=float)
    return {"mean": round(float(arr.mean()), 6), "std": round(float(arr.std()), 6),
            "median": round(float(np.median(arr)), 6)}
""",
    """def input_generator(rng):
    return {"values": [round(rng.uniform(-$hi, $hi), 2) for _ in range(rng.randint(1, $n))]}
""",
    [{"hi": 10, "n": 10}, {"hi": 1000, "n": 19}, {"hi": 1, "n": 5}],
)
template(
    "np_matmul",
    """import numpy as np

def main_solution(a, b):
    return (np.array(a) @ np.array(b)).tolist()
""",
    """import numpy as np

def input_generator(rng):
    gen = np.random.default_rng(rng.randint(0, 2**31))
    n, k, m = (int(x) for x in gen.integers(1, $n + 1, size=3))
    return {"a": gen.integers(-$hi, $hi, size=(n, k)).tolist(), "b": gen.integers(-$hi, $hi, size=(k, m)).tolist()}
""",
    [{"n": 3, "hi": 5}, {"n": 4, "hi": 20}, {"n": 2, "hi": 3}],
)
template(
    "np_eig",
    """import numpy as np

def main_solution(matrix):
    m = np.array(matrix, dtype=float)
    sym = (m + m.T) / 2
    return [round(float(v), 5) for v in sorted(np.linalg.eigvalsh(sym))]
""",
    """def input_generator(rng):
    n = rng.randint(1, $n)
    return {"matrix": [[rng.randint(-9, 9) for _ in range(n)] for _ in range(n)]}
""",
    [{"n": 3}, {"n": 4}, {"n": 2}],
)
template(
    "np_convolve",
    """import numpy as np

def main_solution(signal, kernel):
    return np.convolve(np.array(signal), np.array(kernel), mode="$mode").tolist()
""",
    """def input_generator(rng):
    return {"signal": [rng.randint(-5, 5) for _ in range(rng.randint(3, $n))],
            "kernel": [rng.randint(-2, 2) for _ in range(rng.randint(1, 3))]}
""",
    [{"mode": "full", "n": 12}, {"mode": "same", "n": 15}, {"mode": "valid", "n": 10}],
)
template(
    "np_monte_carlo",
    """import numpy as np

def main_solution(samples, seed):
    gen = np.random.default_rng(seed)
    pts = gen.random((samples, 2))
    inside = int(((pts ** 2).sum(axis=1) <= 1.0).sum())
    return round(4.0 * inside / samples, 6)
""",
    """def input_generator(rng):
    return {"samples": rng.randint($lo, $hi), "seed": rng.randint(0, 10**6)}
""",
    [{"lo": 10, "hi": 1000}, {"lo": 10**4, "hi": 10**5}, {"lo": 10**5, "hi": 10**6}],
)
# --- seeded randomness inside the function (deterministic) -------------------------------------
template(
    "seeded_shuffle",
    """import random

def main_solution(items, seed):
    local = random.Random(seed)
    items = list(items)
    local.shuffle(items)
    return items
""",
    """def input_generator(rng):
    return {"items": [rng.randint(0, $hi) for _ in range(rng.randint(0, $n))], "seed": rng.randint(0, 999)}
""",
    [{"hi": 9, "n": 8}, {"hi": 1000, "n": 15}],
)
template(
    "dice_game",
    """import random

def main_solution(players, rounds, seed):
    random.seed(seed)
    scores = [0] * players
    for _ in range(rounds):
        for p in range(players):
            scores[p] += random.randint(1, 6)
    return scores
""",
    """def input_generator(rng):
    return {"players": rng.randint(1, $p), "rounds": rng.randint(1, $r), "seed": rng.randint(0, 10**4)}
""",
    [{"p": 4, "r": 10}, {"p": 8, "r": 200}, {"p": 2, "r": 3}],
)

# --- more everyday functions ---------------------------------------------------------------------
template(
    "stock_profit",
    """class Solution:
    def maxProfit(self, prices):
        best, low = 0, float("inf")
        for p in prices:
            low = min(low, p)
            best = max(best, p - low)
        return best

def main_solution(prices):
    return Solution().maxProfit(prices)
""",
    """def input_generator(rng):
    return {"prices": [rng.randint(1, $hi) for _ in range(rng.randint(1, $n))]}
""",
    [{"hi": 10, "n": 8}, {"hi": 500, "n": 19}, {"hi": 3, "n": 5}],
)
template(
    "sliding_max",
    """from collections import deque

def main_solution(nums, k):
    window, out = deque(), []
    for i, x in enumerate(nums):
        while window and nums[window[-1]] <= x:
            window.pop()
        window.append(i)
        if window[0] <= i - k:
            window.popleft()
        if i >= k - 1:
            out.append(nums[window[0]])
    return out
""",
    """def input_generator(rng):
    nums = [rng.randint(-$hi, $hi) for _ in range(rng.randint(1, $n))]
    return {"nums": nums, "k": rng.randint(1, len(nums))}
""",
    [{"hi": 10, "n": 12}, {"hi": 1000, "n": 19}, {"hi": 2, "n": 6}],
)
template(
    "common_prefix",
    """import os

def main_solution(words):
    return os.path.commonprefix(words) if words else ""
""",
    """def input_generator(rng):
    stem = "".join(rng.choice("$alphabet") for _ in range(rng.randint(0, 5)))
    return {"words": [stem + "".join(rng.choice("$alphabet") for _ in range(rng.randint(0, 4)))
                      for _ in range(rng.randint(1, $n))]}
""",
    [{"alphabet": "ab", "n": 5}, {"alphabet": "flower", "n": 8}, {"alphabet": "xyzw", "n": 3}],
)
template(
    "isomorphic",
    """def main_solution(s, t):
    if len(s) != len(t):
        return False
    forward, backward = {}, {}
    for a, b in zip(s, t):
        if forward.setdefault(a, b) != b or backward.setdefault(b, a) != a:
            return False
    return True
""",
    """def input_generator(rng):
    n = rng.randint(1, $n)
    s = "".join(rng.choice("$alphabet") for _ in range(n))
    t = "".join(rng.choice("$alphabet") for _ in range(n + rng.choice([0, 0, 0, 1])))
    return {"s": s, "t": t}
""",
    [{"alphabet": "ab", "n": 6}, {"alphabet": "abcd", "n": 10}, {"alphabet": "egg", "n": 4}],
)
template(
    "zigzag",
    """def main_solution(text, rows):
    if rows == 1 or rows >= len(text):
        return text
    lines = [""] * rows
    row, step = 0, 1
    for ch in text:
        lines[row] += ch
        if row == 0:
            step = 1
        elif row == rows - 1:
            step = -1
        row += step
    return "".join(lines)
""",
    """import string

def input_generator(rng):
    return {"text": "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(1, $n))),
            "rows": rng.randint(1, $r)}
""",
    [{"n": 20, "r": 4}, {"n": 60, "r": 9}, {"n": 8, "r": 3}],
)
template(
    "happy_numbers",
    """def is_happy(n):
    seen = set()
    while n != 1 and n not in seen:
        seen.add(n)
        n = sum(int(d) ** 2 for d in str(n))
    return n == 1

def main_solution(lo, count):
    out, n = [], lo
    while len(out) < count:
        if is_happy(n):
            out.append(n)
        n += 1
    return out
""",
    """def input_generator(rng):
    return {"lo": rng.randint(1, $hi), "count": rng.randint(1, $c)}
""",
    [{"hi": 100, "c": 5}, {"hi": 10**5, "c": 12}, {"hi": 10, "c": 3}],
)
template(
    "min_path_sum",
    """def main_solution(grid):
    rows, cols = len(grid), len(grid[0])
    best = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        for c in range(cols):
            above = best[r - 1][c] if r else None
            left = best[r][c - 1] if c else None
            prior = min(x for x in (above, left) if x is not None) if (r or c) else 0
            best[r][c] = prior + grid[r][c]
    return best[-1][-1]
""",
    """def input_generator(rng):
    rows, cols = rng.randint(1, $n), rng.randint(1, $n)
    return {"grid": [[rng.randint(0, $hi) for _ in range(cols)] for _ in range(rows)]}
""",
    [{"n": 4, "hi": 9}, {"n": 5, "hi": 99}, {"n": 2, "hi": 3}],
)
template(
    "np_global_random",
    """import numpy as np

def main_solution(values, scale):
    arr = np.array(values, dtype=float) * scale
    return {"max": round(float(arr.max()), 4), "argmax": int(arr.argmax()),
            "norm": round(float(np.linalg.norm(arr)), 4)}
""",
    """import numpy as np

def input_generator():
    n = int(np.random.randint(1, $n))
    return {"values": np.round(np.random.uniform(-$hi, $hi, size=n), 3).tolist(),
            "scale": float(np.random.choice([0.5, 1.0, 2.0, 10.0]))}
""",
    [{"n": 10, "hi": 5}, {"n": 19, "hi": 100}, {"n": 4, "hi": 1}],
)

# --- bad functions: every pair they yield must be caught ------------------------------------------
_BAD_GEN = """def input_generator(rng):
    return {"x": rng.randint(0, 10**6)}
"""
template(
    "unseeded_random",
    "import random\n\ndef main_solution(x):\n    return x + random.randint(0, $hi)\n",
    _BAD_GEN,
    [{"hi": 10**9}, {"hi": 1000}, {"hi": 3}],
    expect="nondeterministic",
)
template(
    "wall_clock",
    "import time\n\ndef main_solution(x):\n    return [x, $expr]\n",
    _BAD_GEN,
    [{"expr": "time.time()"}, {"expr": "time.perf_counter_ns() % 1000"}],
    expect="nondeterministic",
)
template(
    "set_order",
    "def main_solution(words):\n    return $expr\n",
    """def input_generator(rng):
    return {"words": rng.sample(["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "owl"], $k)}
""",
    [
        {"expr": "list(set(words))", "k": 6},
        {"expr": "[w for w in set(words)][:3]", "k": 7},
        {"expr": "''.join(set(''.join(words)))", "k": 5},
    ],
    expect="nondeterministic",
)
template(
    "hash_seed",
    "def main_solution(s):\n    return hash(s) % $m\n",
    """def input_generator(rng):
    return {"s": "".join(rng.choice("abcdef") for _ in range(8))}
""",
    [{"m": 1000}, {"m": 97}],
    expect="nondeterministic",
)
template(
    "state_across_calls",
    "CALLS = []\n\ndef main_solution(x):\n    CALLS.append(x)\n    return $expr\n",
    _BAD_GEN,
    [{"expr": "len(CALLS)"}, {"expr": "sum(CALLS)"}],
    expect="nondeterministic",
)
template(
    "tuple_input",
    "def main_solution(point):\n    return $expr\n",
    """def input_generator(rng):
    return {"point": (rng.randint(0, 99), rng.randint(0, 99))}
""",
    [{"expr": "isinstance(point, tuple)"}, {"expr": "type(point).__name__"}],
    expect="nondeterministic",
)
template(
    "mutates_input",
    "def main_solution(xs):\n    xs.append($v)\n    xs.sort()\n    return xs[len(xs) // 2]\n",
    """def input_generator(rng):
    return {"xs": [rng.randint(0, 50) for _ in range(rng.randint(1, 9))]}
""",
    [{"v": 99}, {"v": -1}],
    expect="ok",  # the stored input is the snapshot from before the call: pairs reproduce
)
template(
    "not_json_output",
    "def main_solution(x):\n    return $expr\n",
    _BAD_GEN,
    [{"expr": "{x, x + 1}"}, {"expr": "complex(x, 1)"}, {"expr": "object()"}],
    expect="not_json",
)
template(
    "generator_fails",
    "def main_solution(x):\n    return x\n",
    """def input_generator(rng):
    return {"x": $expr}
""",
    [{"expr": "1 / 0"}, {"expr": "undefined_name"}, {"expr": "rng.choice([])"}],
    expect="generator_error",
)
template(
    "output_too_big",
    "def main_solution(n):\n    return list(range(n))\n",
    """def input_generator(rng):
    return {"n": rng.randint($lo, $hi)}
""",
    [{"lo": 100, "hi": 1000}],
    expect="too_few_pairs",
)


def compose() -> list[dict[str, Any]]:
    rows = []
    for name, expect, refcode, inputgen, variants in TEMPLATES:
        for number, params in enumerate(variants):
            rows.append(
                {
                    "id": f"synthetic-{name}-{number}",
                    "funcname": "main_solution",
                    "refcode": Template(refcode).substitute(params),
                    "inputgen": Template(inputgen).substitute(params),
                    "meta": {"template": name, "expect": expect},
                }
            )
    return rows


def main() -> None:
    rows = compose()
    OUT.mkdir(parents=True, exist_ok=True)
    with OUT_FILE.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} functions -> {OUT_FILE}")


if __name__ == "__main__":
    main()
