"""List the primes up to a limit with the sieve of Eratosthenes and report their count and sum.

Input: `limit` (int): upper bound, 2 to 500.
Output: `return` (dict): `count` (int) and `total` (int) of the primes not above limit.
"""


def main_solution(limit):
    is_prime = [True] * (limit + 1)
    is_prime[0:2] = [False, False]
    for i in range(2, int(limit**0.5) + 1):
        if is_prime[i]:
            for j in range(i * i, limit + 1, i):
                is_prime[j] = False
    primes = [i for i, p in enumerate(is_prime) if p]
    return {"count": len(primes), "total": sum(primes)}


def input_generator(rng):
    return {"limit": rng.randint(2, 500)}
