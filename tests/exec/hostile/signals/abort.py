"""Call abort().

Contained: `killed` with signal 6.
"""

import os

SIGNAL = 6
os.abort()
