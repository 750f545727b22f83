"""Write a well-framed error payload whose fields have the wrong types.

Contained: a typed `error` result (error, with string fields only); the rest of the batch is unaffected.
"""

import os
import struct

body = b'{"kind": "error", "error_type": 5, "error_message": [1], "traceback": {}}'
os.write(3, struct.pack("<I", len(body)) + body)
os._exit(0)
