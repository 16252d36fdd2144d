"""Make numeric libraries follow the job's ``threads`` (call before importing numpy or polars)."""

import os

_VARIABLES = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit(threads: int) -> None:
    for name in _VARIABLES:
        os.environ[name] = str(max(1, int(threads)))
