"""Recurse without end after lifting the recursion limit, so the stack holds millions of frames
when memory or the limit runs out.

Contained: `memory` or `error` (MemoryError / RecursionError) with a short traceback, reported
quickly after the stack gives out, never `timeout` because formatting the traceback outlived
the deadline.
"""

import sys

sys.setrecursionlimit(10**8)


def down(n):
    return down(n + 1) + 1


down(0)
