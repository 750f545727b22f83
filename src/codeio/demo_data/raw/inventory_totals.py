"""Total value of an inventory per category.

Input: `items` (list of dict): each with `category` (str), `price` (float) and `qty` (int).
Output: `return` (dict): category -> total value rounded to 2 decimals.
"""


def main_solution(items):
    totals = {}
    for item in items:
        totals[item["category"]] = totals.get(item["category"], 0.0) + item["price"] * item["qty"]
    return {k: round(v, 2) for k, v in sorted(totals.items())}


def input_generator(rng):
    cats = ["fruit", "tools", "books"]
    items = [
        {
            "category": rng.choice(cats),
            "price": round(rng.uniform(0.5, 20), 2),
            "qty": rng.randint(1, 9),
        }
        for _ in range(rng.randint(1, 5))
    ]
    return {"items": items}
