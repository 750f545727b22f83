"""Worker-side code of the sandbox: runs inside the long-lived worker interpreters.

Stdlib only and importable without the ``codeio`` package, because the worker is started as a
bare ``python`` whose loaded modules every task inherits.
"""
