"""Write a well-framed payload of an unknown kind, then a second frame.

Contained: a typed `error` result (ResultChannelTampered); the rest of the batch is unaffected.
"""

import os
import struct

body = b'{"kind": "surprise"}'
os.write(3, (struct.pack("<I", len(body)) + body) * 2)
os._exit(0)
