"""Compute the n-th Fibonacci number modulo m, iteratively.

Input: `n` (int): index, 0-based; `m` (int): modulus greater than 1.
Output: `return` (int): F(n) mod m.
"""


def main_solution(n, m):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) % m
    return a % m


def input_generator(rng):
    return {"n": rng.randint(0, 60), "m": rng.randint(2, 1000)}
