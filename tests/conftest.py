"""Suite-wide settings.

The engine's matrices are small: one BLAS thread is faster than several fighting over two cores, and it keeps
runs repeatable. Set before numpy is first imported (pytest imports this file before any test module).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
