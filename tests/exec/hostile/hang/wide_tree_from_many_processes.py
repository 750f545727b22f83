"""Eight processes fill the task dir with as many small files as they can until the deadline.

Contained: the run ends within its deadline plus the engine's bounded clean-up budget, and the
next task finds an empty task dir.
"""

import os

for _ in range(3):
    os.fork()
n = 0
me = os.getpid()
while True:
    try:
        os.close(os.open(f"f{me}_{n}", os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError:
        pass
    n += 1
