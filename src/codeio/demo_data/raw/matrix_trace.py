"""Trace of the product of two square matrices.

Input: `a` (list of list of int), `b` (list of list of int): n x n matrices with n from 1 to 3.
Output: `return` (int): trace(a @ b).
"""


def main_solution(a, b):
    n = len(a)
    return sum(a[i][k] * b[k][i] for i in range(n) for k in range(n))


def input_generator(rng):
    n = rng.randint(1, 3)

    def mat():
        return [[rng.randint(-5, 5) for _ in range(n)] for _ in range(n)]

    return {"a": mat(), "b": mat()}
