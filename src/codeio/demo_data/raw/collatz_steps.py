"""Count the steps the Collatz sequence takes to reach 1.

Input: `n` (int): a positive starting number.
Output: `return` (int): how many steps until the sequence reaches 1.
"""


def main_solution(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def input_generator(rng):
    return {"n": rng.randint(1, 200)}
