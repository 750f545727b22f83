"""Run-length encode a string of letters.

Input: `s` (str): a string of lowercase letters.
Output: `return` (str): each run written as letter followed by its length, e.g. aab -> a2b1.
"""


def main_solution(s):
    if not s:
        return ""
    out = []
    prev, count = s[0], 1
    for ch in s[1:]:
        if ch == prev:
            count += 1
        else:
            out.append(f"{prev}{count}")
            prev, count = ch, 1
    out.append(f"{prev}{count}")
    return "".join(out)


def input_generator(rng):
    return {"s": "".join(rng.choice("aab") for _ in range(rng.randint(1, 12)))}
