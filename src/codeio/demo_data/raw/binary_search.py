"""Find the insertion index of a value in a sorted list by binary search.

Input: `items` (list of int): sorted ascending; `target` (int).
Output: `return` (int): the leftmost index where target could be inserted keeping order.
"""


def main_solution(items, target):
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def input_generator(rng):
    items = sorted(rng.randint(0, 50) for _ in range(rng.randint(0, 10)))
    return {"items": items, "target": rng.randint(0, 50)}
