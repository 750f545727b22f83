"""Programs the claim tests narrate, shared by the style test modules."""

EVENS = """
def main_solution(nums):
    total = 0
    count = 0
    for x in nums:
        if x % 2 == 0:
            total += x
        count += 1
    avg = total / count
    return {"total": total, "count": count, "avg": round(avg, 2)}
"""
EVENS_IN = {"nums": [3, 4, 6, 7]}
EVENS_OUT = {"total": 10, "count": 4, "avg": 2.5}
