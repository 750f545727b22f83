"""Approximate a square root with Newton's method.

Input: `x` (float): a positive number; `iterations` (int): Newton steps to take.
Output: `return` (float): the approximation after the given steps, rounded to 6 decimals.
"""


def main_solution(x, iterations):
    guess = x if x > 1 else 1.0
    for _ in range(iterations):
        guess = 0.5 * (guess + x / guess)
    return round(guess, 6)


def input_generator(rng):
    return {"x": round(rng.uniform(0.1, 1000), 3), "iterations": rng.randint(1, 8)}
