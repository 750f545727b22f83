"""Build a directory tree as deep as it can in the task dir until the deadline kills it.

Contained: the run ends within its deadline plus the engine's bounded clean-up budget (the
worker retires rather than spend longer), and the next task finds an empty task dir.
"""

import os

while True:
    os.mkdir("d")
    os.chdir("d")
