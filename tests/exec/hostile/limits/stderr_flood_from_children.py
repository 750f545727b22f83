"""Four processes write to the shared stderr without end.

Contained: `output_limit`, at most the cap of stderr kept, and none of the writers survives.
"""

import os

for _ in range(3):
    if os.fork() == 0:
        break
while True:
    os.write(2, b"e" * 65536)
