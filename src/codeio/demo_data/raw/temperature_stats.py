"""Mean, minimum and maximum of temperature readings converted to Fahrenheit.

Input: `celsius` (list of float): readings in degrees Celsius.
Output: `return` (dict): `mean`, `min`, `max` in Fahrenheit, rounded to 1 decimal.
"""


def main_solution(celsius):
    f = [c * 9 / 5 + 32 for c in celsius]
    return {"mean": round(sum(f) / len(f), 1), "min": round(min(f), 1), "max": round(max(f), 1)}


def input_generator(rng):
    return {"celsius": [round(rng.uniform(-20, 40), 1) for _ in range(rng.randint(1, 7))]}
