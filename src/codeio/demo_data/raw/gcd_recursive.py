"""Greatest common divisor of two numbers by Euclid's algorithm, written recursively.

Input: `a` (int), `b` (int): non-negative integers, not both zero.
Output: `return` (int): gcd(a, b).
"""


def gcd(a, b):
    return a if b == 0 else gcd(b, a % b)


def main_solution(a, b):
    return gcd(a, b)


def input_generator(rng):
    return {"a": rng.randint(1, 500), "b": rng.randint(0, 500)}
