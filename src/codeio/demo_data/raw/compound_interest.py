"""Balance of a savings account with yearly compound interest.

Input: `principal` (float): starting amount; `rate` (float): yearly rate in percent; `years` (int).
Output: `return` (float): balance after the given years, rounded to 2 decimals.
"""


def main_solution(principal, rate, years):
    balance = principal
    for _ in range(years):
        balance *= 1 + rate / 100
    return round(balance, 2)


def input_generator(rng):
    return {
        "principal": round(rng.uniform(100, 5000), 2),
        "rate": round(rng.uniform(0.5, 9.0), 1),
        "years": rng.randint(1, 30),
    }
