"""Shuffle a list and return its first element (fails on purpose: unseeded randomness).

Input: `items` (list of int).
Output: `return` (int): the first element after shuffling.
"""

import random


def main_solution(items):
    items = list(items)
    random.shuffle(items)
    return items[0] * 1000 + random.randint(0, 999)


def input_generator(rng):
    return {"items": [rng.randint(0, 99) for _ in range(rng.randint(5, 9))]}
