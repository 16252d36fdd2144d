"""Data-quality bits, JWST-style (stdatamodels ``dqflags``), the single definition for the project.

Flags combine by bitwise OR into a uint32 map per pixel. Descriptive bits (DEAD, HOT, ...)
travel with the action bit DO_NOT_USE when the pixel must be excluded; an excluded pixel is
NaN in every product.
"""

from __future__ import annotations

import enum

import numpy as np

DQ_DTYPE = np.uint32


class DQ(enum.IntFlag):
    GOOD = 0
    DO_NOT_USE = 1 << 0
    SATURATED = 1 << 1
    # A CDS frame of the pixel was rejected as a temporal outlier (cosmic ray); the pixel is kept.
    JUMP_DET = 1 << 2
    AD_FLOOR = 1 << 6
    DEAD = 1 << 10
    HOT = 1 << 11
    NO_FLAT_FIELD = 1 << 18
    NO_LIN_CORR = 1 << 20
    UNRELIABLE_DARK = 1 << 23


def empty(shape: tuple[int, ...]) -> np.ndarray:
    """A DQ map with every pixel GOOD."""
    return np.zeros(shape, dtype=DQ_DTYPE)


def excluded(dq: np.ndarray) -> np.ndarray:
    """Boolean map of pixels that must not be used (NaN in products)."""
    return (dq & DQ.DO_NOT_USE) != 0


def counts(dq: np.ndarray) -> dict[str, int]:
    """Number of pixels carrying each named flag, for metadata."""
    return {flag.name: int(np.count_nonzero(dq & flag)) for flag in DQ if flag is not DQ.GOOD}
