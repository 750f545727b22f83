"""Convert an integer to a Roman numeral.

Input: `number` (int): 1 to 3999.
Output: `return` (str): the Roman numeral.
"""


def main_solution(number):
    table = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ]
    out = []
    for value, sym in table:
        while number >= value:
            out.append(sym)
            number -= value
    return "".join(out)


def input_generator(rng):
    return {"number": rng.randint(1, 3999)}
