"""Write a well-framed body that is not JSON (nor UTF-8).

Contained: a typed `error` result (ResultNotDecodable); the rest of the batch is unaffected.
"""

import os
import struct

body = b"\x80\x81 not json"
os.write(3, struct.pack("<I", len(body)) + body)
os._exit(0)
