"""Encrypt a lowercase message with a Caesar shift.

Input: `message` (str): lowercase letters and spaces; `shift` (int): 0 to 25.
Output: `return` (str): the shifted message, spaces kept.
"""


def main_solution(message, shift):
    out = []
    for ch in message:
        if ch == " ":
            out.append(ch)
        else:
            out.append(chr((ord(ch) - 97 + shift) % 26 + 97))
    return "".join(out)


def input_generator(rng):
    letters = "abcdefghijklmnopqrstuvwxyz  "
    msg = "".join(rng.choice(letters) for _ in range(rng.randint(3, 12))).strip() or "a"
    return {"message": msg, "shift": rng.randint(0, 25)}
