"""Decide whether a phrase is a palindrome, ignoring case and non-letters.

Input: `text` (str): a phrase.
Output: `return` (bool): True when the letters read the same backwards.
"""


def main_solution(text):
    letters = [c.lower() for c in text if c.isalpha()]
    return letters == letters[::-1]


def input_generator(rng):
    words = ["level", "noon", "abc", "Racecar", "step on no pets", "hello", "Was it a cat I saw"]
    return {"text": rng.choice(words) + rng.choice(["", "!", " x"])}
