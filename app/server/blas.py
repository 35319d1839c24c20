"""Keep numpy's BLAS to one thread.

The playground's matrices are small (a 10,000 × 8 grid at most a few hundred wide) and one scheduler
thread trains every session: BLAS worker threads only fight over the cores (on a busy 2-core machine a
10,000 × 8 by 8 × 8 product took 9 ms with OpenBLAS's threads and 0.09 ms without).
"""

from __future__ import annotations

import ctypes
import glob
import os

_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")


def limit_blas_threads(threads: int = 1) -> bool:
    """Ask BLAS for ``threads`` threads: via the environment (before numpy loads it) and, when numpy's
    bundled OpenBLAS is already loaded, through its own setter. Returns whether a setter was called."""
    for name in _VARIABLES:
        os.environ.setdefault(name, str(threads))
    import numpy

    libs = os.path.join(os.path.dirname(numpy.__file__), os.pardir, "numpy.libs", "*openblas*")
    for path in glob.glob(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter in _SETTERS:
            function = getattr(lib, setter, None)
            if function is not None:
                function(threads)
                return True
    return False
