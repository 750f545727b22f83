"""Return a list nested 5,000 deep after raising the recursion limit (so it can be encoded).

Contained: a typed `error` (ResultTooDeep or ResultNotSerializable), never an exception out of
the host's run()/map().
"""

import sys

sys.setrecursionlimit(100_000)


def main(ctx=None):
    value = []
    for _ in range(5000):
        value = [value]
    return value
