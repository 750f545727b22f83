"""Return an int with 20,000+ digits after lifting the digit limit (so it can be encoded).

Contained: a typed `error` (ResultNotDecodable), never a ValueError out of the host.
"""

import sys

sys.set_int_max_str_digits(0)


def main(ctx=None):
    return 7**24_000
