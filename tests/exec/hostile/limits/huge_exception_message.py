"""Raise an exception whose message is 100 MiB long.

Contained: `error` (ValueError) whose message and traceback are each a few KiB at most.
"""

raise ValueError("y" * (100 << 20))
