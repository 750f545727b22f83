"""Return a value whose JSON is 40 MiB, ten times the cap the runner sets.

Contained: `error` with error_type ResultTooLarge; the host's memory does not grow by the
value's size.
"""


def main(ctx=None):
    return ["x" * (1 << 20)] * 40
