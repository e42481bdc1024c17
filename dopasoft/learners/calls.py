"""The learners' packed calls into the one step.

numba's dispatcher costs about 0.1 µs per argument, so :class:`~dopasoft.learners.SoftQLambda` keeps its
arrays as row blocks of one float buffer and one int buffer (:func:`pack_rows`) and calls
:func:`tabular_learner_step` / :func:`linear_learner_step`, adaptors that slice the buffers (and, for
linear states, find the active features) and call :func:`dopasoft.kernel.soft_q_step`. They are not a
second copy of the step: the update is made by ``soft_q_step`` alone (docs/architecture.md).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dopasoft.kernel import N_SIGNALS, soft_q_step

__all__ = ["sparse_features", "pack_rows", "tabular_learner_step", "linear_learner_step"]


@njit(cache=True)
def sparse_features(x):
    """Indices and values of the non-zero entries of a feature vector, and whether all are finite."""
    n = 0
    finite = True
    for k in range(x.shape[0]):
        if x[k] != 0.0:
            n += 1
        if not math.isfinite(x[k]):
            finite = False
    idx = np.empty(n, dtype=np.int64)
    val = np.empty(n)
    j = 0
    for k in range(x.shape[0]):
        if x[k] != 0.0:
            idx[j] = k
            val[j] = x[k]
            j += 1
    return idx, val, finite


def pack_rows(n_states: int, n_actions: int, n_prior_rows: int) -> tuple[int, int, int, int, int]:
    """Row offsets of a tabular learner's one float buffer (see :func:`tabular_learner_step`).

    Parameters
    ----------
    n_states, n_actions : int
    n_prior_rows : int
        1 (one default policy) or ``n_states`` (one per state).

    Returns
    -------
    tuple of int
        ``(work, signals, ones, prior, total)``: the first row of the scratch (4 rows), signals
        (``ceil(N_SIGNALS / n_actions)`` rows), one-hot values (``ceil(n_states / n_actions)`` rows)
        and log-prior blocks, and the number of rows; ``W`` and ``E`` are rows ``0:n`` and ``n:2n``.

    Examples
    --------
    >>> pack_rows(3, 2, 1)
    (6, 10, 13, 15, 16)
    """
    signals = 2 * n_states + 4
    ones = signals + -(-N_SIGNALS // n_actions)
    prior = ones + -(-n_states // n_actions)
    return 2 * n_states, signals, ones, prior, prior + n_prior_rows


@njit(cache=True)
def tabular_learner_step(
    fbuf, ibuf, s, a, r, ns, terminated, alpha, tau, gamma, lam, prow, nprow, trace, replacing, b_a
):
    """:func:`soft_q_step` on a tabular learner whose arrays live in two buffers; return ``delta``.

    An adaptor, not a second step: every call from Python pays numba's dispatch per argument, so the
    learner keeps its weights, traces, scratch, signals, one-hot values and log prior as row blocks of
    one C-contiguous float buffer ``fbuf`` (layout of :func:`pack_rows`; ``W`` = rows ``0:n``, ``E`` =
    rows ``n:2n``) and its live-row list and state indices in one int buffer ``ibuf`` (``live`` then
    ``arange(n)``), and passes scalars only. ``prow, nprow`` are the ``fbuf`` rows of ``log pi0`` at
    ``s`` and ``ns``; ``terminated`` and ``replacing`` are 0 or 1.
    """
    n = (ibuf.shape[0] - 1) // 2
    n_actions = fbuf.shape[1]
    work_row = 2 * n
    sig_row = work_row + 4
    ones_row = sig_row + (N_SIGNALS + n_actions - 1) // n_actions
    prior_row = ones_row + (n + n_actions - 1) // n_actions
    index = ibuf[n + 1 :]
    ones = fbuf[ones_row:prior_row].ravel()
    _, delta = soft_q_step(
        fbuf[:n],
        fbuf[n : 2 * n],
        ibuf[: n + 1],
        index,
        ones,
        s,
        s + 1,
        a,
        r,
        index,
        ones,
        ns,
        ns + 1,
        terminated != 0,
        alpha,
        tau,
        gamma,
        lam,
        fbuf[prow],
        fbuf[nprow],
        trace,
        replacing != 0,
        b_a,
        fbuf[work_row:sig_row],
        None,
        fbuf[sig_row:ones_row].ravel(),
        None,
        None,
        None,
        None,
    )
    return delta


@njit(cache=True)
def linear_learner_step(fbuf, ibuf, x, nx, a, r, terminated, alpha, tau, gamma, lam, trace, replacing, b_a):
    """:func:`soft_q_step` on a linear learner packed as in :func:`tabular_learner_step`; return
    ``(delta, status)``.

    An adaptor, not a second step: the feature vectors ``x`` and ``nx`` (``nx`` is ignored when
    ``terminated``) are reduced to their non-zero entries here, as :func:`sparse_features` does, so that
    one call from Python does it all. ``status`` is 0, or 1 (2) when ``x`` (``nx``) has a non-finite
    entry, in which case nothing is updated. ``fbuf`` has one log-prior row.
    """
    n = (ibuf.shape[0] - 1) // 2
    n_actions = fbuf.shape[1]
    for k in range(n):
        if not math.isfinite(x[k]):
            return math.nan, 1
    if not terminated:
        for k in range(n):
            if not math.isfinite(nx[k]):
                return math.nan, 2
    idx = np.empty(2 * n, np.int64)
    val = np.empty(2 * n)
    hi = 0
    for k in range(n):
        if x[k] != 0.0:
            idx[hi] = k
            val[hi] = x[k]
            hi += 1
    next_lo, next_hi = 0, hi
    if not terminated:
        next_lo = next_hi = hi
        for k in range(n):
            if nx[k] != 0.0:
                idx[next_hi] = k
                val[next_hi] = nx[k]
                next_hi += 1
    work_row = 2 * n
    sig_row = work_row + 4
    ones_row = sig_row + (N_SIGNALS + n_actions - 1) // n_actions
    prior_row = ones_row + (n + n_actions - 1) // n_actions
    _, delta = soft_q_step(
        fbuf[:n],
        fbuf[n : 2 * n],
        ibuf[: n + 1],
        idx,
        val,
        0,
        hi,
        a,
        r,
        idx,
        val,
        next_lo,
        next_hi,
        terminated != 0,
        alpha,
        tau,
        gamma,
        lam,
        fbuf[prior_row],
        fbuf[prior_row],
        trace,
        replacing != 0,
        b_a,
        fbuf[work_row:sig_row],
        None,
        fbuf[sig_row:ones_row].ravel(),
        None,
        None,
        None,
        None,
    )
    return delta, 0
