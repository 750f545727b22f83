"""Write a frame header announcing 2 GiB, then 1 MiB, and exit cleanly.

Contained: a typed `error` result (ResultChannelTampered); the rest of the batch is unaffected.
"""

import os
import struct

body = b"[" * (1 << 20)
os.write(3, struct.pack("<I", (1 << 31) - 1) + body)
os._exit(0)
