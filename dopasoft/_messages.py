"""How messages show the values they name: numbers as the user would write them, never a numpy repr."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["shown"]


def shown(value: object) -> str:
    """``2.5``, ``inf``, ``nan``, ``3``, ``True``, ``'abc'``: numbers (Python or numpy) with ``:g`` (integers
    in full), anything else as its ``repr`` (so a string keeps its quotes); ``np.float64(inf)`` never appears."""
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):g}"
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    return repr(value)
