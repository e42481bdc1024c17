r"""Soft Q(λ) choice model: likelihood (with forward-mode gradient) and simulation, all by the one step.

Every function here replays or generates steps through :func:`dopasoft.kernel.soft_q_step` on a
tabular ``Q`` (one-hot states, uniform default policy, ``Q ≡ 0`` at the start); the likelihood with
derivatives is the same loop given tangent arrays, and :func:`softq_replay_signals` is the same loop
given an output array for the per-step signals (``docs/maths.md`` §4), so the fitted, the simulated,
the replayed and the public learner's model are one function (``docs/maths.md`` §5, "Where the step
lives").

The probability of each observed choice is the Boltzmann policy before the step's update, with the
stickiness ``κ`` (optional) on the previous choice in first-stage states only; ``κ`` enters
behaviour, never the learning target. Retrace traces need ``b(a|s)``, which choice data do not record,
so :class:`dopasoft.fitting.models.SoftQLambdaModel` refuses ``trace="retrace"``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dopasoft.fitting.data import STEP_CHOICE_BIT, STEP_FIELD_BITS, STEP_TERMINAL_BIT
from dopasoft.fitting.softq_policy import (
    COLUMN_DIRECTIONS,
    N_COLS,
    SQ_ALPHA0,
    SQ_ALPHA_PI,
    SQ_GO_BIAS,
    SQ_KAPPA,
    SQ_LAM,
    SQ_SHARED_PRIOR,
    SQ_TAU0,
    SQ_VALENCE,
    check_full,
    reset_prior,
    softq_behaviour_dlogp,
    sticky_factor,
    sticky_logp,
    valence_column,
)
from dopasoft.fitting.threads import run_blocks
from dopasoft.kernel import (
    D_ALPHA,
    D_LAM,
    D_LOGP,
    D_TAU,
    N_SIGNALS,
    SIG_ACTION_TERM,
    SIG_DELTA,
    SIG_VALUE,
    SIG_VALUE_RPE,
    clear_traces,
    forget_cached_state,
    log_normaliser,
    prior_update,
    soft_q_step,
    tangent_rows,
)

# columns of the per-step output of the replay: the step's signals (``kernel.SIG_*``), p_choice, action_pe
OUT_P_CHOICE = N_SIGNALS
OUT_ACTION_PE = N_SIGNALS + 1
N_OUT = N_SIGNALS + 2

# the replay sums log-probabilities as the log of a running product (docs/maths.md §5):
# the product is logged and restarted before it falls below PRODUCT_FLOOR; a probability below
# TINY_P (which could underflow the product) is logged exactly, from the step's Q(s, .)
PRODUCT_FLOOR = 1e-100
TINY_P = 1e-200

_FIELD = (1 << STEP_FIELD_BITS) - 1


@njit(cache=True, inline="always")
def unpack_step(code):
    """``(state, action, next_state, terminal, is_choice)`` of one packed step (``Transitions.steps``).

    ``action = -1``: nothing observed; ``next_state = -1`` at terminal steps.
    """
    s = code & _FIELD
    a = ((code >> STEP_FIELD_BITS) & _FIELD) - 1
    ns = ((code >> 2 * STEP_FIELD_BITS) & _FIELD) - 1
    return s, a, ns, (code >> STEP_TERMINAL_BIT) & 1 != 0, (code >> STEP_CHOICE_BIT) & 1 != 0


def replay_data(tr) -> tuple:
    """The data arguments of the compiled replays for :class:`dopasoft.fitting.data.Transitions` ``tr``.

    ``(steps, reward, n_steps, stage_of, n_states, n_actions)``: the packed steps (``tr.steps``), the
    rewards, the steps per subject, the stage of each state and the sizes.
    """
    return (tr.steps, tr.reward, tr.n_steps, tr.state_stage, tr.n_states, tr.n_actions)


@njit(cache=True)
def _softq_scratch(n_states, n_actions):
    """The replay's arrays for one thread's block of pairs (:func:`_softq_replay` resets them).

    Returns the tuple ``(W, E, live, work, cache, last, prior, log_prior)``: weights and traces
    (n_states, n_actions), the live trace rows, the step's scratch and cache, the previous choice per
    state, and the default policy per state and its logarithm (n_states, n_actions).
    """
    W = np.zeros((n_states, n_actions))
    E = np.zeros((n_states, n_actions))
    live = np.zeros(n_states + 1, np.int64)
    work = np.empty((4, n_actions))
    cache = np.full(3 + n_actions, -1.0)
    last = np.full(n_states, -1, np.int64)
    prior = np.full((n_states, n_actions), 1.0 / n_actions)
    log_prior = np.full((n_states, n_actions), -math.log(n_actions))
    return W, E, live, work, cache, last, prior, log_prior


@njit(cache=True)
def _tangent_scratch(n_states, n_actions, n_tangents):
    """The tangent arrays ``dW, dE, dpar`` of :func:`dopasoft.kernel.soft_q_step` for one block, in
    ``n_tangents`` directions."""
    dW = np.zeros((n_states, n_actions, n_tangents))
    dE = np.zeros((n_states, n_actions, n_tangents))
    dpar = np.zeros((tangent_rows(n_actions), n_tangents))
    return dW, dE, dpar


@njit(cache=True, inline="always")
def _set_direction_row(row, masks, col):
    """``row[d] = 1`` for the directions ``d`` that move kernel column ``col``, else 0: the tangent of
    a step parameter read from that column."""
    for d in range(len(masks)):
        row[d] = 1.0 if (masks[d] >> col) & 1 else 0.0


@njit(cache=True, _nrt=False)
def _softq_replay(data, n, stage_of, p, gamma, trace, replacing, dW, dE, dpar, grad, masks, scratch, out):
    """NLL of one subject: its steps replayed through :func:`dopasoft.kernel.soft_q_step`.

    ``data``: the subject's ``(steps, reward)`` rows (packed steps, see :func:`unpack_step`);
    ``scratch``: the arrays of :func:`_softq_scratch`, in any state (reset here).
    ``dW, dE, dpar, grad, masks``: ``None`` (value only; compiled without derivatives) or the
    step's tangent arrays in the ``K = len(masks)`` directions ``masks`` (a tuple, each direction the
    bit mask of the kernel columns it moves: :func:`dopasoft.fitting.softq_policy.tangent_directions`;
    ``K`` is a compile-time count) and ``grad`` (K,), which receives the gradient of the NLL along each
    direction. ``out``: ``None`` or an array (>= n, N_OUT) receiving per step the step's signals
    (columns ``kernel.SIG_*``), ``p_choice`` (column ``OUT_P_CHOICE``) and ``action_pe = 1 - pi0(a|s)``
    before the prior's update (``OUT_ACTION_PE``), NaN where no action. The default policy of each state
    starts uniform (or go-biased) in ``prior, log_prior``; with ``p[SQ_ALPHA_PI] > 0`` it learns from
    each observed choice after its step (:func:`dopasoft.kernel.prior_update`); with
    ``p[SQ_SHARED_PRIOR] != 0`` every state uses and learns row 0 (policy compression). The step reuses the
    log-sum-exp of ``V(s')`` as the next step's normaliser while that row is unchanged and skips the
    decay pass when no trace is live (after a terminal step).
    """
    steps, reward = data
    W, E, live, work, cache, last, prior, log_prior = scratch
    if masks is None:  # value only: the step has no tangents
        n_tan = N_COLS
    else:
        n_tan = len(masks)
    kappa = p[SQ_KAPPA]
    expm1_kappa = math.expm1(kappa)
    exp_kappa = math.exp(kappa)
    prod = 1.0  # choice probabilities not yet logged (docs/maths.md §5)
    lam = p[SQ_LAM]
    rate = p[SQ_ALPHA_PI]
    valence = p[SQ_VALENCE] != 0.0
    learns_prior = rate > 0.0
    shared = p[SQ_SHARED_PRIOR] != 0.0  # one pi0 (row 0) for every state: policy compression
    n_states, n_actions = W.shape
    for i in range(n_states):
        last[i] = -1
        for b in range(n_actions):
            W[i, b] = 0.0
            E[i, b] = 0.0
    reset_prior(prior, log_prior, p[SQ_GO_BIAS])
    acol = -1
    live[0] = 0
    cache[0] = -1.0
    if dW is not None:
        dW[:] = 0.0
        dE[:] = 0.0
        grad[:] = 0.0
        dpar[:] = 0.0
        _set_direction_row(dpar[D_LAM], masks, SQ_LAM)
    stage = -1
    nll = 0.0
    for t in range(n):
        s, a, ns, term, choice = unpack_step(steps[t])
        if a < 0:
            if term:
                clear_traces(E, live, dE)
            if out is not None:
                for j in range(N_OUT):
                    out[t, j] = math.nan
            continue
        stg = stage_of[s]
        tau = p[SQ_TAU0 + stg]
        if term:
            ns = s
        ps = 0 if shared else s  # the rows of pi0 of s and s'
        lp_s = log_prior[ps]
        lp_ns = log_prior[0 if shared else ns]
        if valence:  # the learning rate of the sign of this step's error
            col = valence_column(W, None, None, s, a, reward[t], ns, term, tau, gamma, lp_ns, work)
        else:
            col = SQ_ALPHA0 + stg
        if dW is not None:  # this step's alpha and tau are kernel columns
            if stg != stage:
                _set_direction_row(dpar[D_TAU], masks, SQ_TAU0 + stg)
                stage = stg
            if col != acol:
                _set_direction_row(dpar[D_ALPHA], masks, col)
                acol = col
        # stickiness: the behaviour policy differs from the learner's (at kappa = 0 it is the
        # learner's, whose log-probability and tangents the step gives; d/dkappa is added below)
        sticky = choice and stg == 0 and last[s] >= 0 and kappa != 0.0
        if sticky and dW is not None:  # before the step changes W and dW
            softq_behaviour_dlogp(W, dW, s, a, tau, kappa, last[s], lp_s, SQ_TAU0 + stg, grad, masks)
        soft_q_step(
            W,
            E,
            live,
            None,
            None,
            s,
            s + 1,
            a,
            reward[t],
            None,
            None,
            ns,
            ns + 1,
            term,
            p[col],
            tau,
            gamma,
            lam,
            lp_s,
            lp_ns,
            trace,
            replacing,
            1.0,
            work,
            cache,
            None if out is None else out[t],
            dW,
            dE,
            dpar,
            n_tan,
        )
        if choice:  # P(a|s) of the behaviour policy, from the step's pi(.|s) before the update
            p_a = work[2, a]
            if sticky:
                p_a *= sticky_factor(work[2, last[s]], a == last[s], exp_kappa, expm1_kappa)
            if p_a >= TINY_P:
                if prod < PRODUCT_FLOOR:
                    nll -= math.log(prod)
                    prod = 1.0
                prod *= p_a
            else:  # too small for the product: log P(a|s) from Q(s, .), still in work[0]
                inv_tau = 1.0 / tau
                lp_a = (
                    work[0, a] * inv_tau
                    + lp_s[a]
                    - log_normaliser(work, None, None, 0, 1, inv_tau, lp_s, work, 0)
                )
                if sticky:
                    lp_a = sticky_logp(lp_a, work[2, last[s]], a == last[s], kappa, expm1_kappa)
                nll -= lp_a
            if dW is not None and not sticky:  # (sticky steps: softq_behaviour_dlogp above)
                for d in range(n_tan):
                    grad[d] -= dpar[D_LOGP, d]
                    # kappa = 0: d log P(a|s)/d kappa = [a = last] - pi(last|s)
                    if stg == 0 and last[s] >= 0 and (masks[d] >> SQ_KAPPA) & 1:
                        grad[d] -= (1.0 if a == last[s] else 0.0) - work[2, last[s]]
            if out is not None:
                out[t, OUT_P_CHOICE] = p_a
        elif out is not None:
            out[t, OUT_P_CHOICE] = math.nan
        if out is not None:  # the step wrote its signals into out[t, :N_SIGNALS]
            out[t, OUT_ACTION_PE] = 1.0 - prior[ps, a]
        if learns_prior:  # after the step, which used pi0 before it (docs/maths.md §7)
            prior_update(prior[ps], log_prior[ps], a, rate)
            if shared:  # every state's pi0 changed: no cached normaliser holds
                cache[0] = -1.0
            else:
                forget_cached_state(cache, s)
        last[s] = a
    return nll - math.log(prod)


@njit(cache=True, nogil=True)
def _nll_block(
    lo, hi, steps, reward, n_steps, stage_of, n_states, n_actions, subj, full, gamma, trace, replacing, out
):
    """``out[k]`` = NLL of pairs ``lo <= k < hi`` (subject row ``subj[k]`` under ``full[k]``), replayed
    with one set of scratch arrays."""
    scratch = _softq_scratch(n_states, n_actions)
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _softq_replay(
            (steps[i], reward[i]),
            n_steps[i],
            stage_of,
            full[k],
            gamma,
            trace,
            replacing,
            None,
            None,
            None,
            None,
            None,
            scratch,
            None,
        )


@njit(cache=True, nogil=True)
def _nll_grad_block(
    lo,
    hi,
    steps,
    reward,
    n_steps,
    stage_of,
    n_states,
    n_actions,
    subj,
    full,
    gamma,
    trace,
    replacing,
    out,
    grad,
    masks,
):
    """:func:`_nll_block` with the step carrying forward-mode tangents: also ``grad[k]``, the gradient of
    pair ``k``'s NLL along each tangent direction of ``masks`` (a tuple of column bit masks,
    :func:`dopasoft.fitting.softq_policy.tangent_directions`; numba compiles one copy per length)."""
    scratch = _softq_scratch(n_states, n_actions)
    dW, dE, dpar = _tangent_scratch(n_states, n_actions, np.int64(len(masks)))
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _softq_replay(
            (steps[i], reward[i]),
            n_steps[i],
            stage_of,
            full[k],
            gamma,
            trace,
            replacing,
            dW,
            dE,
            dpar,
            grad[k],
            masks,
            scratch,
            None,
        )


@njit(cache=True, nogil=True)
def _signals_block(
    lo, hi, steps, reward, n_steps, stage_of, n_states, n_actions, full, gamma, trace, replacing, nll, out
):
    """``nll[i]`` and the per-step outputs ``out[i]`` (``N_OUT`` columns) of subjects ``lo <= i < hi``."""
    scratch = _softq_scratch(n_states, n_actions)
    for i in range(lo, hi):
        nll[i] = _softq_replay(
            (steps[i], reward[i]),
            n_steps[i],
            stage_of,
            full[i],
            gamma,
            trace,
            replacing,
            None,
            None,
            None,
            None,
            None,
            scratch,
            out[i],
        )


def _pairs(full, subj) -> tuple[np.ndarray, np.ndarray]:
    """``full`` and ``subj`` as the compiled blocks take them, after :func:`check_full`."""
    subj = np.ascontiguousarray(subj, dtype=np.int64)
    full = np.ascontiguousarray(full, dtype=np.float64)
    if full.ndim != 2:
        raise ValueError(f"full must be a 2-d parameter matrix, got {full.ndim} dimension(s)")
    check_full(full, subj.shape[0])
    return full, subj


def softq_nll_pairs(
    steps, reward, n_steps, stage_of, n_states, n_actions, subj, full, gamma, trace, replacing
):
    """NLL of soft Q(λ) for ``len(subj)`` (subject, parameter vector) pairs, on the likelihood threads.

    ``full[k]`` holds the kernel columns ``SQ_COLUMNS`` for subject row ``subj[k]``; the data arguments
    are :func:`replay_data`'s. Pairs are independent: the result does not depend on the number of
    threads (:func:`dopasoft.fitting.threads.run_blocks`).
    """
    full, subj = _pairs(full, subj)
    out = np.empty(subj.shape[0])
    data = (steps, reward, n_steps, stage_of, n_states, n_actions)
    run_blocks(_nll_block, subj.shape[0], *data, subj, full, gamma, trace, replacing, out)
    return out


def softq_nll_grad_pairs(
    steps,
    reward,
    n_steps,
    stage_of,
    n_states,
    n_actions,
    subj,
    full,
    gamma,
    trace,
    replacing,
    masks=COLUMN_DIRECTIONS,
):
    """NLL and its gradient along tangent directions, for (subject, vector) pairs.

    The same replay as :func:`softq_nll_pairs`, with the step carrying forward-mode tangents in the
    directions ``masks`` (each the bit mask of the kernel columns it moves; default one per kernel
    column up to ``kappa``, a model's own: :func:`dopasoft.fitting.softq_policy.tangent_directions`).
    Returns ``(nll, grad)`` of shapes ``(n_pairs,)`` and ``(n_pairs, len(masks))``.
    """
    full, subj = _pairs(full, subj)
    masks = tuple(int(m) for m in masks)
    out = np.empty(subj.shape[0])
    grad = np.empty((subj.shape[0], len(masks)))
    data = (steps, reward, n_steps, stage_of, n_states, n_actions)
    run_blocks(_nll_grad_block, subj.shape[0], *data, subj, full, gamma, trace, replacing, out, grad, masks)
    return out, grad


def softq_replay_signals(
    steps, reward, n_steps, stage_of, n_states, n_actions, full, gamma, trace, replacing
):
    r"""Per-step model signals of every subject, from the replay that gives the likelihood.

    Runs :func:`_softq_replay` (the loop of :func:`softq_nll_pairs`, through
    :func:`dopasoft.kernel.soft_q_step`) once per subject with that subject's parameter vector, and
    records at each step what the step computed before its update (``docs/maths.md`` §4).

    Parameters
    ----------
    steps : int64 array, shape (S, T)
        The packed steps ``Transitions.steps`` (state, action, next state, terminal, is_choice; see
        :func:`unpack_step`; ``action = -1``: nothing observed).
    reward : float64 array, shape (S, T)
    n_steps : int64 array, shape (S,)
        Steps per subject.
    stage_of : int64 array, shape (n_states,)
        Stage (0 or 1) of each state: which ``alpha``, ``tau`` columns a step uses and where ``kappa``
        applies (stage 0).
    n_states, n_actions : int
    full : float64 array, shape (S, 10)
        One parameter vector per subject, kernel columns ``SQ_COLUMNS`` (``alpha0, alpha1, tau0, tau1,
        lam, kappa, alpha_pi, valence, go_bias, shared_prior``).
    gamma : float
    trace : int
        ``kernel.TREE_BACKUP``, ``ON_POLICY`` or ``UNCORRECTED``.
    replacing : bool

    Returns
    -------
    nll : float64 array, shape (S,)
        Negative log-likelihood per subject, the same number as :func:`softq_nll_pairs`.
    p_choice : float64 array, shape (S, T)
        Probability of the recorded action under the behaviour policy (with ``kappa``), before the
        update; NaN at steps that are not choices. ``-sum(log(p_choice))`` over a subject's non-NaN
        steps is its ``nll``.
    delta : float64 array, shape (S, T)
        Soft TD error ``r + gamma V(s') - Q(s, a)``, the learning signal.
    value_rpe : float64 array, shape (S, T)
        ``r + gamma V(s') - V(s)``.
    action_term : float64 array, shape (S, T)
        ``Q(s, a) - V(s) = tau log(pi(a|s) / pi0(a|s))``; ``delta = value_rpe - action_term``.
    value : float64 array, shape (S, T)
        ``V(s)`` before the update.
    action_pe : float64 array, shape (S, T)
        ``1 - pi0(a|s)`` before the default policy's update (docs/maths.md §7): ``1 - 1/n_actions``
        with a fixed (uniform) ``pi0``.

    Every signal is NaN where the action is missing (``action = -1``) and beyond ``n_steps``.
    """
    full, _ = _pairs(full, np.arange(steps.shape[0]))
    n_sub = full.shape[0]
    out = np.full((n_sub, steps.shape[1], N_OUT), np.nan)
    nll = np.empty(n_sub)
    data = (steps, reward, n_steps, stage_of, n_states, n_actions)
    run_blocks(_signals_block, n_sub, *data, full, gamma, trace, replacing, nll, out)
    return (
        nll,
        np.ascontiguousarray(out[:, :, OUT_P_CHOICE]),
        np.ascontiguousarray(out[:, :, SIG_DELTA]),
        np.ascontiguousarray(out[:, :, SIG_VALUE_RPE]),
        np.ascontiguousarray(out[:, :, SIG_ACTION_TERM]),
        np.ascontiguousarray(out[:, :, SIG_VALUE]),
        np.ascontiguousarray(out[:, :, OUT_ACTION_PE]),
    )
