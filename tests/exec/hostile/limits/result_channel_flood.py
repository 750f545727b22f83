"""Write to the result channel (fd 3) without end, as fast as possible.

Contained: `error` (ResultTooLarge or ResultChannelTampered) well before the deadline; neither
the host's nor the worker's memory grows by more than the result cap.
"""

import os

chunk = b"\0" * (1 << 20)
while True:
    os.write(3, chunk)
