"""Average of a list of numbers (fails on purpose: divides by zero for every input).

Input: `values` (list of int).
Output: `return` (float): the average.
"""


def main_solution(values):
    total = sum(values)
    return total / (len(values) - len(values))


def input_generator(rng):
    return {"values": [rng.randint(0, 9) for _ in range(rng.randint(1, 5))]}
