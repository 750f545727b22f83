"""Count the subsets of a list of numbers whose sum equals a target, recursively.

Input: `nums` (list of int): up to 10 small integers; `target` (int).
Output: `return` (int): number of subsets (by position) summing to target.
"""


def count(nums, i, target):
    if i == len(nums):
        return 1 if target == 0 else 0
    return count(nums, i + 1, target - nums[i]) + count(nums, i + 1, target)


def main_solution(nums, target):
    return count(nums, 0, target)


def input_generator(rng):
    nums = [rng.randint(1, 9) for _ in range(rng.randint(1, 10))]
    return {"nums": nums, "target": rng.randint(0, 20)}
