"""Write a well-framed body of JSON nested 200,000 deep.

Contained: a typed `error` result (ResultNotDecodable); the rest of the batch is unaffected.
"""

import os
import struct

body = b"[" * 200_000 + b"]" * 200_000
os.write(3, struct.pack("<I", len(body)) + body)
os._exit(0)
