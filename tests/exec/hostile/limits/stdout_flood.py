"""Print without end to stdout.

Contained: `output_limit`, with at most the cap of stdout kept; host memory does not grow.
"""

while True:
    print("x" * 4096)
