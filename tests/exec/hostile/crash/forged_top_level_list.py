"""Write a well-framed payload that is a JSON list, not an object.

Contained: a typed `error` result (ResultNotDecodable); the rest of the batch is unaffected.
"""

import os
import struct

body = b"[1, 2, 3]"
os.write(3, struct.pack("<I", len(body)) + body)
os._exit(0)
