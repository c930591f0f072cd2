"""In-place inverse of the symmetric positive definite matrices EASE solves.

``np.linalg.inv`` runs an LU factorisation on a copy and returns a second array: for a
9,742-film catalogue that is two extra 760 MB float64 matrices per inverse and twice the
arithmetic of a Cholesky factorisation. ``spd_inverse`` factorises and inverts in the
caller's array (LAPACK ``potrf`` + ``potri``) and mirrors the triangle LAPACK fills.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["spd_inverse", "symmetrize_from_lower"]

_BLOCK = 1024


def symmetrize_from_lower(a: np.ndarray) -> np.ndarray:
    """Copy the lower triangle of square ``a`` onto its upper triangle, in place, by blocks
    (whole-matrix index arrays would cost more memory than the matrix)."""
    n = a.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        a[start:stop, stop:] = a[stop:, start:stop].T
        block = a[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        block[upper] = block.T[upper]
    return a


def spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of symmetric ``a``, computed in ``a`` itself when it is positive definite.

    ``a`` must be a contiguous float64 square array. It is overwritten with the inverse (the
    returned array is ``a``); when it is not positive definite it is restored and a new
    array holding the LU-based inverse is returned. Callers pass a matrix they own.
    """
    if a.ndim == 2 and a.flags.f_contiguous and not a.flags.c_contiguous:
        return spd_inverse(a.T).T  # symmetric: the transpose is the same matrix, C-ordered
    if a.dtype != np.float64 or not a.flags.c_contiguous or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError("spd_inverse needs a contiguous square float64 array")
    if a.shape[0] == 0:
        return a
    # A symmetric C-ordered array is its own Fortran-ordered transpose, so LAPACK works on
    # a.T's memory without a copy; its "upper" triangle is a's lower one.
    f = a.T
    backup_diag = np.diag(a).copy()
    factor, info = lapack.dpotrf(f, lower=0, overwrite_a=1, clean=0)
    if info == 0:
        inverse, info = lapack.dpotri(factor, lower=0, overwrite_c=1)
        if info == 0 and np.shares_memory(inverse, a):
            return symmetrize_from_lower(a)
    # Not positive definite (or LAPACK copied): rebuild a from its untouched upper triangle
    # (a.T's lower one) and the saved diagonal, and fall back to LU.
    symmetrize_from_lower(a.T)
    a[np.diag_indices(a.shape[0])] = backup_diag
    return np.linalg.inv(a)
