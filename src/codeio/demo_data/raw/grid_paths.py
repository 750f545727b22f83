"""Count the monotone lattice paths through a grid with blocked cells, by dynamic programming.

Input: `rows` (int), `cols` (int): grid size 1 to 6; `blocked` (list of [r, c]): cells that cannot be entered.
Output: `return` (int): number of right/down paths from the top-left to the bottom-right cell.
"""


def main_solution(rows, cols, blocked):
    bad = {tuple(b) for b in blocked}
    ways = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        for c in range(cols):
            if (r, c) in bad:
                continue
            if r == 0 and c == 0:
                ways[r][c] = 1
                continue
            ways[r][c] = (ways[r - 1][c] if r else 0) + (ways[r][c - 1] if c else 0)
    return ways[rows - 1][cols - 1]


def input_generator(rng):
    rows, cols = rng.randint(1, 6), rng.randint(1, 6)
    blocked = [[rng.randrange(rows), rng.randrange(cols)] for _ in range(rng.randint(0, 3))]
    return {"rows": rows, "cols": cols, "blocked": blocked}
