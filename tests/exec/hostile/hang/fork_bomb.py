"""A fork bomb.

Contained: the process limit stops it; the run ends by its deadline at the latest and no
process survives.
"""

import os

while True:
    try:
        os.fork()
    except OSError:
        pass
