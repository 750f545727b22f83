"""Write a well-framed ok payload whose value_json is a number, not JSON text.

Contained: a typed `error` result (ResultNotDecodable); the rest of the batch is unaffected.
"""

import os
import struct

body = b'{"kind": "ok", "value_json": 123}'
os.write(3, struct.pack("<I", len(body)) + body)
os._exit(0)
