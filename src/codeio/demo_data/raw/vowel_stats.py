"""Count vowels per word and find the word with the most vowels.

Input: `words` (list of str): lowercase words.
Output: `return` (dict): `per_word` (list of int) vowel counts in order and `best` (str) the first word with the most vowels.
"""


def main_solution(words):
    per_word = [sum(ch in "aeiou" for ch in w) for w in words]
    best = words[per_word.index(max(per_word))]
    return {"per_word": per_word, "best": best}


def input_generator(rng):
    pool = ["banana", "sky", "queue", "rhythm", "audio", "tree", "idea"]
    return {"words": [rng.choice(pool) for _ in range(rng.randint(1, 5))]}
