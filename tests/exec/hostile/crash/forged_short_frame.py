"""Write a frame header announcing 100 bytes, then only 10, and exit cleanly.

Contained: a typed `error` result (ResultChannelTampered); the rest of the batch is unaffected.
"""

import os
import struct

body = b"{" * 10
os.write(3, struct.pack("<I", 100) + body)
os._exit(0)
