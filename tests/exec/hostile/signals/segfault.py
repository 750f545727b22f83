"""Dereference a null pointer through ctypes.

Contained: `killed` with signal 11.
"""

import ctypes

SIGNAL = 11
ctypes.string_at(0)
