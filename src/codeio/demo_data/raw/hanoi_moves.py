"""Number of moves and the first few moves of the Towers of Hanoi, computed recursively.

Input: `disks` (int): number of disks, 1 to 8.
Output: `return` (dict): `count` (int) total moves and `first` (list of [from, to]) the first three moves.
"""


def hanoi(n, src, dst, via, moves):
    if n == 0:
        return
    hanoi(n - 1, src, via, dst, moves)
    moves.append([src, dst])
    hanoi(n - 1, via, dst, src, moves)


def main_solution(disks):
    moves = []
    hanoi(disks, "A", "C", "B", moves)
    return {"count": len(moves), "first": moves[:3]}


def input_generator(rng):
    return {"disks": rng.randint(1, 8)}
