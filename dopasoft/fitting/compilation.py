"""What a fit compiles, whether it is compiled already, and compiling it before the fit starts.

dopasoft's likelihoods are numba functions compiled on their first call and cached on disk
(``__pycache__`` beside the package, or ``NUMBA_CACHE_DIR``). The first run of a command therefore
spends seconds compiling (docs/performance.md, "First run"); :func:`prepare_fit` does it up front, on
one subject's data, so that a progress bar can say so instead of standing still.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import numpy as np

from dopasoft.fitting.data import Transitions
from dopasoft.fitting.models.base import ChoiceModel

__all__ = ["COMPILING_MESSAGE", "is_ready", "prepare_fit"]

COMPILING_MESSAGE = "compiling the likelihood (first run only)"


def _cache_index(function) -> str | None:
    """Path of a numba dispatcher's on-disk cache index, or None where numba does not say."""
    cache = getattr(function, "_cache", None)
    return getattr(getattr(cache, "_cache_file", None), "_index_path", None)


def is_ready(functions: Iterable) -> bool:
    """Whether every numba function in ``functions`` is compiled in this process or has an on-disk
    cache to load (then a first call takes a fraction of a second, not seconds)."""
    for fn in functions:
        if getattr(fn, "signatures", None):
            continue
        index = _cache_index(fn)
        if index is None or not os.path.exists(index):
            return False
    return True


def prepare_fit(model: ChoiceModel, tr: Transitions, on_compile: Callable[[str], None] | None = None) -> bool:
    """Compile, or load from the on-disk cache, the likelihood a fit of ``model`` to ``tr`` runs.

    Evaluates the fit's own objective (the likelihood with its gradient where the model has one) once,
    on the first subject's data, at the middle of each parameter's start range.

    Parameters
    ----------
    model : ChoiceModel
    tr : Transitions
        The data to be fitted (any number of subjects; one is used).
    on_compile : callable, optional
        Called with :data:`COMPILING_MESSAGE` before compiling, when something must be compiled
        (e.g. to set a progress bar's description).

    Returns
    -------
    bool
        Whether anything had to be compiled.
    """
    compiling = not is_ready(model.compiled_functions())
    if compiling and on_compile is not None:
        on_compile(COMPILING_MESSAGE)
    if tr.n_subjects == 0:
        return compiling
    small = tr.take([0])
    theta = np.array([[0.5 * (p.start[0] + p.start[1]) for p in model.params]])
    subj = np.zeros(1, np.int64)
    if model.nll_grad_pairs is not None:
        model.nll_grad_pairs(small, subj, theta)
    else:
        model.nll_pairs(small, subj, theta)
    return compiling
