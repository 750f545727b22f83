"""Repeatedly sum the digits of a number until a single digit remains.

Input: `n` (int): a non-negative integer.
Output: `return` (list of int): every intermediate value, starting with n and ending with the digital root.
"""


def main_solution(n):
    chain = [n]
    while n >= 10:
        n = sum(int(d) for d in str(n))
        chain.append(n)
    return chain


def input_generator(rng):
    return {"n": rng.randint(0, 10**6)}
