"""The Soft Q(λ) choice models' parameter columns and the behaviour policy on top of the learner's.

The compiled replay (:mod:`dopasoft.fitting.softq`) and the generators
(:mod:`dopasoft.fitting.softq_generators`) pass each model's parameters as one vector of kernel columns
(``SQ_*``). Choices are drawn from the learner's Boltzmann policy plus the stickiness ``kappa`` on the
previous choice in a state (:func:`softq_behaviour_logp`, its derivative and :func:`softq_sample`); the
default policy starts uniform or go-biased (:func:`reset_prior`); with valence learning rates the step's
rate is picked by the sign of its own error (:func:`valence_column`). The update itself is
:func:`dopasoft.kernel.soft_q_step` alone.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dopasoft.kernel import (
    N_TANGENTS,
    log_normaliser,
)

__all__ = [
    "SQ_COLUMNS",
    "SQ_SHARED_PRIOR",
    "N_COLS",
    "N_FULL",
    "COLUMN_DIRECTIONS",
    "tangent_directions",
    "check_full",
    "softq_behaviour_logp",
    "sticky_logp",
    "sticky_factor",
    "softq_behaviour_dlogp",
    "softq_sample",
    "valence_column",
    "reset_prior",
]

# columns of the "full" parameter vector passed to the soft Q(λ) kernels; ``alpha_pi`` (the learning
# rate of the default policy, docs/maths.md §7) > 0 makes pi0 per state learned from the choices
# ``valence`` = 1: columns alpha0 / alpha1 are the learning rates of errors >= 0 / < 0 (any stage), not
# of stages 0 / 1 (option valence, docs/fitting.md); ``go_bias`` b != 0 (two actions): pi0 starts at
# (1 - sigmoid(b), sigmoid(b)) in every state, action 1 being "go"
# ``shared_prior`` = 1: one default policy for all states (row 0), learned from every choice at rate
# ``alpha_pi`` (option compression: policy compression, docs/maths.md §7)
(
    SQ_ALPHA0,
    SQ_ALPHA1,
    SQ_TAU0,
    SQ_TAU1,
    SQ_LAM,
    SQ_KAPPA,
    SQ_ALPHA_PI,
    SQ_VALENCE,
    SQ_GO_BIAS,
    SQ_SHARED_PRIOR,
) = range(10)
SQ_COLUMNS = (
    "alpha0",
    "alpha1",
    "tau0",
    "tau1",
    "lam",
    "kappa",
    "alpha_pi",
    "valence",
    "go_bias",
    "shared_prior",
)
# the step carries one tangent per kernel column up to kappa: pi0 depends on alpha_pi, go_bias and the
# choices only, so the tangents of the others see it as a constant, and d/d alpha_pi, d/d go_bias are
# difference quotients (SoftQLambdaModel.nll_grad_pairs)
N_COLS = N_TANGENTS
N_FULL = len(SQ_COLUMNS)
# the step's tangent directions, each given by the kernel columns it moves (a bit mask): one per column
COLUMN_DIRECTIONS = tuple(1 << c for c in range(N_COLS))


def tangent_directions(source: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The tangent directions of a model: one per free parameter that sets kernel columns below ``N_COLS``.

    Direction ``d`` moves every kernel column of its parameter at once, so its tangent is the
    derivative with respect to that parameter (the sum of its columns' derivatives). The compiled
    replay carries ``K = len(masks)`` tangents, a compile-time count: ``soft-q`` (``alpha`` and
    ``tau``, on columns ``alpha0, alpha1`` and ``tau0, tau1``) needs two where all columns would be
    six; numba compiles the replay once per ``K``.

    Parameters
    ----------
    source : tuple of int
        The model's parameter of each kernel column (``-1``: a constant), as ``ChoiceModel.source``.

    Returns
    -------
    masks : tuple of int
        Per direction, the bit mask of the kernel columns it moves (bit ``c``: column ``c``).
    params : tuple of int
        Per direction, its parameter (an index into ``source``'s parameters). A model without such
        parameters gets one direction that moves nothing (``masks == (0,)``, ``params == (-1,)``).

    Examples
    --------
    >>> from dopasoft.fitting.softq_policy import tangent_directions
    >>> tangent_directions((0, 0, 1, 1, -1, -1, -1, -1, -1))  # soft-q: alpha, tau
    ((3, 12), (0, 1))
    >>> tangent_directions((0, 0, 1, 1, 2, 3, -1, -1, -1))  # soft-q-lambda+kappa
    ((3, 12, 16, 32), (0, 1, 2, 3))
    """
    params = sorted({j for j in source[:N_COLS] if j >= 0})
    if not params:
        return (0,), (-1,)
    masks = tuple(sum(1 << c for c in range(N_COLS) if source[c] == j) for j in params)
    return masks, tuple(params)


@njit(cache=True, _nrt=False)
def check_full(full, n_rows):
    """Refuse a parameter matrix that is not ``(n_rows, N_FULL)``.

    The compiled loops index ``full`` without bounds checks: a matrix with too few columns would read
    memory past its end and give a silently wrong (or NaN) likelihood.
    """
    if full.shape[1] != N_FULL:
        raise ValueError("full must have one column per SQ_COLUMNS entry (10)")
    if full.shape[0] != n_rows:
        raise ValueError("full must have one row per (subject, parameter vector) pair")


@njit(cache=True, _nrt=False)
def softq_behaviour_logp(W, s, a, tau, kappa, last, log_prior):
    """``log P(a|s)``: Boltzmann at ``tau`` plus ``kappa`` on the action ``last`` (-1: none)."""
    n = W.shape[1]
    m = -np.inf
    for b in range(n):
        z = W[s, b] / tau + log_prior[b]
        if b == last:
            z += kappa
        if z > m:
            m = z
    total = 0.0
    za = 0.0
    for b in range(n):
        z = W[s, b] / tau + log_prior[b]
        if b == last:
            z += kappa
        total += math.exp(z - m)
        if b == a:
            za = z
    return za - m - math.log(total)


@njit(cache=True, inline="always")
def sticky_factor(pi_last, a_is_last, exp_kappa, expm1_kappa):
    r"""``P(a|s) / pi(a|s)``: the sticky behaviour policy's probability relative to the learner's.

    .. math::

        P(a|s) = \pi(a|s)\, \frac{e^{\kappa [a = \ell]}}{1 + \pi(\ell|s)\,(e^{\kappa} - 1)}

    (``docs/maths.md`` §5): the soft-max of :func:`softq_behaviour_logp` with ``kappa`` on the previous
    choice ``ell``, written from the learner's own policy at ``s`` (the step has it), so that it costs a
    division instead of the two exponentials and a log of a fresh soft-max (``exp_kappa`` and
    ``expm1_kappa`` are computed once per subject).

    Parameters
    ----------
    pi_last : float
        ``pi(last|s)``, the learner's probability of the previous choice ``last`` in ``s``.
    a_is_last : bool
    exp_kappa, expm1_kappa : float
        ``exp(kappa)`` and ``expm1(kappa)``.
    """
    return (exp_kappa if a_is_last else 1.0) / (1.0 + pi_last * expm1_kappa)


@njit(cache=True, inline="always")
def sticky_logp(log_pi_a, pi_last, a_is_last, kappa, expm1_kappa):
    """``log P(a|s)`` of the sticky behaviour policy: ``log pi(a|s)`` plus the log of :func:`sticky_factor`.

    Written as ``kappa [a = ell] - log1p(pi(ell|s) expm1(kappa))``, accurate for small ``kappa``.
    """
    return log_pi_a + (kappa if a_is_last else 0.0) - math.log1p(pi_last * expm1_kappa)


@njit(cache=True, _nrt=False)
def softq_behaviour_dlogp(W, dW, s, a, tau, kappa, last, log_prior, j_tau, out, masks):
    """Subtract ``d log P(a|s)`` of :func:`softq_behaviour_logp` from ``out`` (per tangent direction).

    ``dW`` (S, A, K): tangents of ``W`` in the ``K`` directions ``masks`` (:func:`tangent_directions`);
    ``j_tau``: the kernel column of this step's ``tau``.
    """
    n = W.shape[1]
    inv_tau = 1.0 / tau
    lp_a = softq_behaviour_logp(W, s, a, tau, kappa, last, log_prior)
    z_a = W[s, a] * inv_tau + log_prior[a] + (kappa if a == last else 0.0)
    log_total = z_a - lp_a  # log sum_b exp(z_b)
    for b in range(n):
        z_b = W[s, b] * inv_tau + log_prior[b] + (kappa if b == last else 0.0)
        weight = (1.0 if b == a else 0.0) - math.exp(z_b - log_total)  # d logP / d z_b
        for d in range(len(masks)):
            out[d] -= weight * dW[s, b, d] * inv_tau
            if (masks[d] >> j_tau) & 1:
                out[d] += weight * W[s, b] * inv_tau * inv_tau
            if b == last and (masks[d] >> SQ_KAPPA) & 1:
                out[d] -= weight


@njit(cache=True)
def softq_sample(W, s, tau, kappa, last, log_prior, u):
    """Sample an action from :func:`softq_behaviour_logp` with uniform ``u``; return it and its probability."""
    n = W.shape[1]
    acc = 0.0
    p = 0.0
    for b in range(n):
        p = math.exp(softq_behaviour_logp(W, s, b, tau, kappa, last, log_prior))
        acc += p
        if u < acc:
            return b, p
    return n - 1, p


@njit(cache=True, inline="always")
def valence_column(W, rows, ones, s, a, r, ns, terminated, tau, gamma, next_log_prior, work):
    """``SQ_ALPHA0`` if the step's error ``r + gamma V(s') - Q(s, a)`` is >= 0, else ``SQ_ALPHA1``.

    The same operations as :func:`dopasoft.kernel.soft_q_step` computes its ``delta`` with (so the same
    number); ``work[1]``, ``work[3]`` are overwritten, as the step does.
    """
    v_next = 0.0
    if not terminated:
        v_next = tau * log_normaliser(W, rows, ones, ns, ns + 1, 1.0 / tau, next_log_prior, work, 1)
    return SQ_ALPHA0 if r + gamma * v_next - W[s, a] >= 0.0 else SQ_ALPHA1


@njit(cache=True, _nrt=False)
def reset_prior(prior, log_prior, go_bias):
    """Set every row of a default-policy table to uniform, or with ``go_bias`` != 0 (two actions) to
    ``(1 - sigmoid(b), sigmoid(b))``, and its logarithm."""
    n_states, n_actions = prior.shape
    for i in range(n_states):
        if go_bias == 0.0:
            for b in range(n_actions):
                prior[i, b] = 1.0 / n_actions
                log_prior[i, b] = -math.log(n_actions)
        else:  # log sigmoid(x) = -log1p(exp(-x)), written without overflow
            b = go_bias
            log_go = -math.log1p(math.exp(-b)) if b >= 0.0 else b - math.log1p(math.exp(b))
            log_nogo = -b + log_go
            log_prior[i, 0], log_prior[i, 1] = log_nogo, log_go
            prior[i, 0], prior[i, 1] = math.exp(log_nogo), math.exp(log_go)
