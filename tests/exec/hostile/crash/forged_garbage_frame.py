"""Write bytes that are not a frame to the result channel and exit cleanly.

Contained: a typed `error` result (ResultChannelTampered); the rest of the batch is unaffected.
"""

import os

body = b"\xff" * 100
os.write(3, body)
os._exit(0)
