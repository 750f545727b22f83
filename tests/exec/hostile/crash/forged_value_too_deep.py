"""Write a well-framed ok payload whose value is JSON nested 200,000 deep.

Contained: a typed `error` result (ResultTooDeep); the rest of the batch is unaffected.
"""

import os
import struct

body = ('{"kind": "ok", "value_json": "' + "[" * 200_000 + "]" * 200_000 + '"}').encode()
os.write(3, struct.pack("<I", len(body)) + body)
os._exit(0)
