"""Count how often each word occurs in a sentence and report the most common one.

Input: `sentence` (str): words separated by spaces.
Output: `return` (dict): `top` (str) the most frequent word (alphabetically first on ties) and `counts` (dict) word -> count.
"""


def main_solution(sentence):
    counts = {}
    for word in sentence.split():
        counts[word] = counts.get(word, 0) + 1
    top = sorted(counts, key=lambda w: (-counts[w], w))[0]
    return {"top": top, "counts": dict(sorted(counts.items()))}


def input_generator(rng):
    vocab = ["red", "blue", "green", "red", "sky", "blue"]
    return {"sentence": " ".join(rng.choice(vocab) for _ in range(rng.randint(2, 8)))}
