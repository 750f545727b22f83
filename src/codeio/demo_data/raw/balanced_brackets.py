"""Check whether a string of brackets is balanced, using a stack.

Input: `s` (str): characters from ()[]{}.
Output: `return` (bool): True when every bracket is closed in the right order.
"""


def main_solution(s):
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for ch in s:
        if ch in "([{":
            stack.append(ch)
        elif not stack or stack.pop() != pairs[ch]:
            return False
    return not stack


def input_generator(rng):
    return {"s": "".join(rng.choice("()[]{}") for _ in range(rng.randint(0, 10)))}
