r"""The compiled Soft Q(λ) step: one kernel for simulation, replay of data and likelihood.

Every learner in dopasoft, every simulation and every likelihood evaluation goes through
:func:`soft_q_lambda_step`. Action values are linear in sparse features,

.. math:: Q(x, a) = \sum_k x_k W[k, a],

a state being given as the indices ``idx`` and values ``val`` of its non-zero features; a tabular
state ``s`` is the one-hot feature ``idx = [s], val = [1]``, so the tabular learner is the linear one
with one-hot inputs. Eligibility traces ``E`` have the shape of ``W``.

One step, with ``pi`` and ``V`` taken from the weights *before* this step's update (SPEC §1.2)::

    delta   = r + gamma * V(x') - Q(x, a)                       (V(x') = 0 when terminated)
    tree-backup : E <- gamma lam pi(a|x) E ;   E[:, a] += x ;   W += alpha delta E
    uncorrected : E <- gamma lam E         ;   E[:, a] += x ;   W += alpha delta E
    retrace     : E <- gamma lam min(1, pi(a|x) / b(a|x)) E ;  E[:, a] += x ;  W += alpha delta E
    on-policy   : E <- gamma lam E ;  W += alpha delta_bar E ;  W[:, a] += alpha delta x ;  E[:, a] += x
                  with delta_bar = r + gamma V(x') - sum_b pi(b|x) Q(x, b)

(replacing traces set ``E[k, a] = x_k`` on the active features instead of adding). Traces are cleared
after a terminal step. The derivations are in ``docs/maths.md``.

References
----------
Precup, D., Sutton, R. S. & Singh, S. (2000). Eligibility traces for off-policy policy evaluation. ICML.
Harutyunyan, A., Bellemare, M. G., Stepleton, T. & Munos, R. (2016). Q(λ) with off-policy corrections. ALT.
Munos, R., Stepleton, T., Harutyunyan, A. & Bellemare, M. G. (2016). Safe and efficient off-policy
reinforcement learning. NeurIPS.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Trace variants, as integers for the compiled code.
TREE_BACKUP = 0
ON_POLICY = 1
UNCORRECTED = 2
RETRACE = 3
TRACE_CODES = {
    "tree-backup": TREE_BACKUP,
    "on-policy": ON_POLICY,
    "uncorrected": UNCORRECTED,
    "retrace": RETRACE,
}

# Layout of the ``signals`` output array of :func:`soft_q_lambda_step`.
SIG_DELTA, SIG_VALUE_RPE, SIG_ACTION_TERM, SIG_VALUE, SIG_NEXT_VALUE, SIG_LOG_PI = range(6)
N_SIGNALS = 6


@njit(cache=True)
def action_values(W, idx, val, out):
    """Write ``Q(x, .) = sum_k val[k] * W[idx[k], .]`` into ``out``."""
    n_actions = W.shape[1]
    for b in range(n_actions):
        out[b] = 0.0
    for k in range(idx.shape[0]):
        row = idx[k]
        v = val[k]
        for b in range(n_actions):
            out[b] += v * W[row, b]


@njit(cache=True)
def soft_value_and_policy(q, tau, log_prior, pi):
    """Return ``V = tau log sum_a pi0 exp(q / tau)`` and write the Boltzmann policy into ``pi``.

    Max-shifted log-sum-exp; actions with ``log_prior = -inf`` get probability 0.
    """
    n = q.shape[0]
    m = -np.inf
    for b in range(n):
        z = q[b] / tau + log_prior[b]
        if z > m:
            m = z
    total = 0.0
    for b in range(n):
        e = math.exp(q[b] / tau + log_prior[b] - m)
        pi[b] = e
        total += e
    for b in range(n):
        pi[b] /= total
    return tau * (m + math.log(total))


@njit(cache=True)
def soft_q_lambda_step(
    W,
    E,
    idx,
    val,
    action,
    reward,
    next_idx,
    next_val,
    terminated,
    alpha,
    tau,
    gamma,
    lam,
    log_prior,
    next_log_prior,
    trace,
    replacing,
    behaviour_prob,
    work,
    signals,
):
    """One online Soft Q(λ) update of ``W`` and ``E`` in place; returns the TD error ``delta``.

    Parameters
    ----------
    W, E : float64 arrays, shape (n_features, n_actions)
        Weights and eligibility traces, updated in place.
    idx, val : int64 and float64 arrays
        Active features of the current state (tabular: ``[s]``, ``[1.0]``).
    action : int
    reward : float
    next_idx, next_val : arrays
        Active features of the next state (ignored when ``terminated``).
    terminated : bool
    alpha, tau, gamma, lam : float
    log_prior, next_log_prior : float64 arrays, shape (n_actions,)
        ``log pi0`` at the current and the next state.
    trace : int
        One of ``TREE_BACKUP``, ``ON_POLICY``, ``UNCORRECTED``, ``RETRACE``.
    replacing : bool
    behaviour_prob : float
        ``b(a|x)``; used by ``RETRACE`` only.
    work : float64 array, length >= 3 * n_actions
        Scratch space (no allocation in the hot loop).
    signals : float64 array, length >= 6
        Receives ``delta, value_rpe, action_term, V(x), V(x'), log pi(a|x)``.
    """
    n_actions = W.shape[1]
    q = work[0:n_actions]
    pi = work[n_actions : 2 * n_actions]
    q_next = work[2 * n_actions : 3 * n_actions]

    action_values(W, idx, val, q)
    v = soft_value_and_policy(q, tau, log_prior, pi)
    if terminated:
        v_next = 0.0
    else:
        action_values(W, next_idx, next_val, q_next)
        v_next = soft_value_and_policy(q_next, tau, next_log_prior, q_next)
    target = reward + gamma * v_next
    delta = target - q[action]
    pi_a = pi[action]

    if trace == TREE_BACKUP:
        decay = gamma * lam * pi_a
    elif trace == RETRACE:
        ratio = pi_a / behaviour_prob
        decay = gamma * lam * (ratio if ratio < 1.0 else 1.0)
    else:
        decay = gamma * lam

    n_features = W.shape[0]
    if decay == 0.0:
        E[:, :] = 0.0
    elif decay != 1.0:
        for i in range(n_features):
            for b in range(n_actions):
                E[i, b] *= decay

    if trace == ON_POLICY:
        expected_q = 0.0
        for b in range(n_actions):
            expected_q += pi[b] * q[b]
        delta_bar = target - expected_q
        if decay != 0.0:
            step = alpha * delta_bar
            for i in range(n_features):
                for b in range(n_actions):
                    W[i, b] += step * E[i, b]
        step = alpha * delta
        for k in range(idx.shape[0]):
            W[idx[k], action] += step * val[k]
            if replacing:
                E[idx[k], action] = val[k]
            else:
                E[idx[k], action] += val[k]
    else:
        for k in range(idx.shape[0]):
            if replacing:
                E[idx[k], action] = val[k]
            else:
                E[idx[k], action] += val[k]
        step = alpha * delta
        if decay == 0.0:
            for k in range(idx.shape[0]):
                W[idx[k], action] += step * E[idx[k], action]
        else:
            for i in range(n_features):
                for b in range(n_actions):
                    W[i, b] += step * E[i, b]

    if terminated:
        E[:, :] = 0.0

    signals[SIG_DELTA] = delta
    signals[SIG_VALUE_RPE] = target - v
    signals[SIG_ACTION_TERM] = q[action] - v
    signals[SIG_VALUE] = v
    signals[SIG_NEXT_VALUE] = v_next
    signals[SIG_LOG_PI] = (q[action] - v) / tau + log_prior[action]
    return delta



@njit(cache=True)
def soft_q_lambda_tabular_step(
    W,
    E,
    state,
    action,
    reward,
    next_state,
    terminated,
    alpha,
    tau,
    gamma,
    lam,
    log_prior,
    trace,
    replacing,
    behaviour_prob,
    signals,
):
    """:func:`soft_q_lambda_step` for a tabular state: the same update with ``x`` one-hot at ``state``.

    Indexing replaces the feature sums, and the log-sum-exps skip the ``exp(0)`` of their maximum; the
    tests check it against the feature form step by step. This is the step that the tabular learners, the
    replay of choice data and the likelihood of the fitted models run.

    ``log_prior`` is ``log pi0`` with one row per state, or a single row shared by all states. Returns
    ``delta``; ``signals`` receives ``delta, value_rpe, action_term, V(s), V(s'), log pi(a|s)``.
    """
    n_states, n_actions = W.shape
    row = state if log_prior.shape[0] > 1 else 0
    inv_tau = 1.0 / tau
    m = W[state, 0] * inv_tau + log_prior[row, 0]
    for b in range(1, n_actions):
        z = W[state, b] * inv_tau + log_prior[row, b]
        if z > m:
            m = z
    total = 0.0
    expected_q = 0.0
    e_a = 0.0
    on_policy = trace == ON_POLICY
    for b in range(n_actions):
        z = W[state, b] * inv_tau + log_prior[row, b]
        e = 1.0 if z == m else math.exp(z - m)
        total += e
        if on_policy:
            expected_q += e * W[state, b]
        if b == action:
            e_a = e
    lse = m + math.log(total)
    pi_a = e_a / total
    v = tau * lse
    q_a = W[state, action]
    log_pi_a = q_a * inv_tau + log_prior[row, action] - lse
    if terminated:
        v_next = 0.0
    else:
        nrow = next_state if log_prior.shape[0] > 1 else 0
        mn = W[next_state, 0] * inv_tau + log_prior[nrow, 0]
        for b in range(1, n_actions):
            z = W[next_state, b] * inv_tau + log_prior[nrow, b]
            if z > mn:
                mn = z
        tn = 0.0
        for b in range(n_actions):
            z = W[next_state, b] * inv_tau + log_prior[nrow, b]
            tn += 1.0 if z == mn else math.exp(z - mn)
        v_next = tau * (mn + math.log(tn))
    target = reward + gamma * v_next
    delta = target - q_a

    if trace == TREE_BACKUP:
        decay = gamma * lam * pi_a
    elif trace == RETRACE:
        ratio = pi_a / behaviour_prob
        decay = gamma * lam * (ratio if ratio < 1.0 else 1.0)
    else:
        decay = gamma * lam

    if trace == ON_POLICY:
        step_bar = alpha * (target - expected_q / total)
        for i in range(n_states):
            for b in range(n_actions):
                E[i, b] *= decay
                W[i, b] += step_bar * E[i, b]
        W[state, action] += alpha * delta
        if replacing:
            E[state, action] = 1.0
        else:
            E[state, action] += 1.0
    elif decay == 0.0:
        for i in range(n_states):
            for b in range(n_actions):
                E[i, b] = 0.0
        E[state, action] = 1.0
        W[state, action] += alpha * delta
    else:
        if replacing:
            for i in range(n_states):
                for b in range(n_actions):
                    E[i, b] *= decay
            E[state, action] = 1.0
        else:
            for i in range(n_states):
                for b in range(n_actions):
                    E[i, b] *= decay
            E[state, action] += 1.0
        step = alpha * delta
        for i in range(n_states):
            for b in range(n_actions):
                W[i, b] += step * E[i, b]

    if terminated:
        for i in range(n_states):
            for b in range(n_actions):
                E[i, b] = 0.0

    signals[SIG_DELTA] = delta
    signals[SIG_VALUE_RPE] = target - v
    signals[SIG_ACTION_TERM] = q_a - v
    signals[SIG_VALUE] = v
    signals[SIG_NEXT_VALUE] = v_next
    signals[SIG_LOG_PI] = log_pi_a
    return delta

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
