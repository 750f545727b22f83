"""Group words that are anagrams of each other.

Input: `words` (list of str): lowercase words.
Output: `return` (list of list of str): groups with more than one word, each sorted, groups sorted.
"""


def main_solution(words):
    groups = {}
    for w in words:
        groups.setdefault("".join(sorted(w)), []).append(w)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def input_generator(rng):
    pool = ["listen", "silent", "enlist", "google", "act", "cat", "tac", "dog", "god", "bird"]
    return {"words": rng.sample(pool, rng.randint(2, 8))}
