r"""The compiled Soft Q(λ) step: one function for learners, simulation, replay of data and likelihood.

Every learner in dopasoft, every simulation, every replay of choice data and every likelihood
evaluation (with or without derivatives) goes through :func:`soft_q_step`. Action values are linear
in sparse features,

.. math:: Q(x, a) = \sum_k x_k W[k, a],

a state being given as the indices ``idx`` and values ``val`` of its non-zero features; a tabular
state ``s`` is the one-hot feature ``idx = [s], val = [1]``. Eligibility traces ``E`` have the shape
of ``W``.

One step, with ``pi`` and ``V`` taken from the weights *before* this step's update
(``docs/maths.md`` §4)::

    delta = r + gamma V(x') - Q(x, a)                 (V(x') = 0 when terminated)
    c     = trace_coefficient(trace, pi(a|x), b(a|x), lam, gamma)
    E <- c E ;  E[:, a] += x ;  W += alpha delta E     (tree-backup, uncorrected, retrace)
    E <- c E ;  W += alpha delta_bar E ;  W[:, a] += alpha delta x ;  E[:, a] += x    (on-policy)

(replacing traces set ``E[k, a] = x_k`` on the active features instead of adding). Traces are cleared
after a terminal step.

Derivatives ride along the same step: given tangent arrays (``dW``, ``dE`` and the tangents of
``alpha, tau, lam``) the step also propagates them (forward mode, dual numbers stored as extra
arrays). Passing ``None`` instead makes numba compile a specialisation without any tangent code, so
learners and simulation pay nothing for it.

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

# Layout of the ``signals`` output array of :func:`soft_q_step`.
SIG_DELTA, SIG_VALUE_RPE, SIG_ACTION_TERM, SIG_VALUE, SIG_NEXT_VALUE, SIG_LOG_PI = range(6)
N_SIGNALS = 6

# Most tangent directions the step carries (one per kernel column of the likelihood up to kappa); a
# likelihood passes its own count (its model's free parameters) as the step's ``n_tangents``.
N_TANGENTS = 6

# Smallest probability a learned default policy keeps for an action it started with (see prior_update).
PRIOR_FLOOR = 1e-300

# Rows of the step's ``dpar`` tangent array: the tangents of its scalar parameters (given) and of
# log pi(a|x) (written by the step); the step's scratch rows follow (``tangent_rows``).
D_ALPHA, D_TAU, D_LAM, D_LOGP = range(4)
_D_SCRATCH = 4


@njit(cache=True, forceinline=True)
def trace_coefficient(trace, pi_a, b_a, lam, gamma):
    r"""The factor ``c_t`` by which the traces decay at step ``t``, and its two partial derivatives.

    Every trace variant is the same backward-view update with another ``c_t`` (the off-policy return
    written once with a coefficient, as in Munos et al. 2016 and rlax's ``multistep``):

    =================  ==================================  =====================================
    ``trace``          ``c_t``                             reference
    =================  ==================================  =====================================
    ``TREE_BACKUP``    :math:`\gamma\lambda\,\pi(a_t|s_t)`   Precup, Sutton & Singh (2000)
    ``ON_POLICY``      :math:`\gamma\lambda`                 Sutton & Barto (2018) §12.7, soft form
    ``UNCORRECTED``    :math:`\gamma\lambda`                 Harutyunyan et al. (2016), Q(λ) with
                                                             off-policy corrections
    ``RETRACE``        :math:`\gamma\lambda\min(1, \pi(a_t|s_t)/b(a_t|s_t))`  Munos et al. (2016)
    =================  ==================================  =====================================

    ``ON_POLICY`` and ``UNCORRECTED`` share ``c_t`` but differ in the error the decayed traces
    receive: on-policy gives earlier pairs :math:`\bar\delta_t = r + \gamma V(s') - \sum_b
    \pi(b|s_t) Q(s_t, b)` and the current pair :math:`\delta_t`, because its λ-return averages over
    the actions the Boltzmann policy would take (``docs/maths.md`` §4); every other variant gives all
    pairs :math:`\delta_t`.

    Parameters
    ----------
    trace : int
        ``TREE_BACKUP``, ``ON_POLICY``, ``UNCORRECTED`` or ``RETRACE``.
    pi_a : float
        ``pi(a_t|s_t)`` under the current (target) policy.
    b_a : float
        ``b(a_t|s_t)``, the probability with which the action was taken (Retrace only).
    lam, gamma : float

    Returns
    -------
    c : float
    dc_dlam : float
        ``∂c/∂λ``.
    dc_dlogpi : float
        ``∂c/∂ log pi(a_t|s_t)`` (``b`` held fixed).
    """
    if trace == TREE_BACKUP:
        rho = pi_a
        dlog = 1.0
    elif trace == RETRACE:
        rho = pi_a / b_a
        dlog = 1.0
        if rho >= 1.0:
            rho = 1.0
            dlog = 0.0
    else:
        rho = 1.0
        dlog = 0.0
    c = gamma * lam * rho
    return c, gamma * rho, c * dlog


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
def log_normaliser(W, idx, val, lo, hi, inv_tau, log_prior, work, row):
    """Write ``Q(x, .)`` into ``work[row]`` and ``pi(.|x)`` into ``work[row + 2]``; return the log-normaliser.

    The log-normaliser is ``L = log sum_b exp(Q(x, b) / tau + log pi0_b)`` (``V = tau L``), computed as
    ``z_max - log(pi_max)`` from :func:`normaliser_terms`.
    """
    z_max, pi_max = normaliser_terms(W, idx, val, lo, hi, inv_tau, log_prior, work, row)
    return z_max - math.log(pi_max)


@njit(cache=True, forceinline=True)
def normaliser_terms(W, idx, val, lo, hi, inv_tau, log_prior, work, row):
    """Write ``Q(x, .)`` into ``work[row]`` and ``pi(.|x)`` into ``work[row + 2]``; return
    ``(z_max, pi_max)``, the log-normaliser being ``L = z_max - log(pi_max)``.

    With ``z_b = Q(x, b) / tau + log pi0_b``, ``L = log sum_b exp(z_b)`` (``V = tau L``), ``z_max`` the
    largest ``z_b`` and ``pi_max = exp(z_max - L)`` its action's probability. The logarithm is left to
    the caller, so that a caller that needs the policy only (the likelihood at a step's current state)
    compiles without it.

    ``x`` is given by its features ``idx[lo:hi], val[lo:hi]`` (no slicing in the hot loop), or with
    ``idx`` and ``val`` ``None`` it is the tabular state ``lo`` (row ``lo`` of ``W``; numba then
    compiles no feature code). Two actions: ``p_max = 1 / (1 + exp(z_min - z_max))`` (one exp, one
    division; ``z_max - log(p_max)`` is within about 2e-16 of ``z_max + log1p(exp(z_min - z_max))``
    and faster, glibc's ``log1p`` being slow); more actions: the max-shifted sum, skipping the
    ``exp(0)`` of the maximum, and ``p_max = 1 / sum``. The policy comes from the same exponentials.

    Examples
    --------
    >>> import math
    >>> import numpy as np
    >>> from dopasoft.kernel import normaliser_terms
    >>> W, work = np.array([[0.0, math.log(3.0)]]), np.empty((4, 2))
    >>> z_max, pi_max = normaliser_terms(W, None, None, 0, 1, 1.0, np.zeros(2), work, 0)
    >>> round(z_max - math.log(pi_max), 12) == round(math.log(4.0), 12), work[2].tolist()
    (True, [0.25, 0.75])
    """
    n = W.shape[1]
    if idx is None:  # tabular state lo (compiled without the feature loop)
        for b in range(n):
            work[row, b] = W[lo, b]
    elif hi - lo == 1 and val[lo] == 1.0:  # one-hot state
        i = idx[lo]
        for b in range(n):
            work[row, b] = W[i, b]
    else:
        for b in range(n):
            acc = 0.0
            for k in range(lo, hi):
                acc += val[k] * W[idx[k], b]
            work[row, b] = acc
    if n == 2:
        z0 = work[row, 0] * inv_tau + log_prior[0]
        z1 = work[row, 1] * inv_tau + log_prior[1]
        if z0 >= z1:
            e = math.exp(z1 - z0)
            p_max = 1.0 / (1.0 + e)
            work[row + 2, 0] = p_max
            work[row + 2, 1] = e * p_max
            return z0, p_max
        e = math.exp(z0 - z1)
        p_max = 1.0 / (1.0 + e)
        work[row + 2, 0] = e * p_max
        work[row + 2, 1] = p_max
        return z1, p_max
    m = work[row, 0] * inv_tau + log_prior[0]
    for b in range(1, n):
        z = work[row, b] * inv_tau + log_prior[b]
        if z > m:
            m = z
    total = 0.0
    for b in range(n):
        z = work[row, b] * inv_tau + log_prior[b]
        e = 1.0 if z == m else math.exp(z - m)
        work[row + 2, b] = e
        total += e
    for b in range(n):
        work[row + 2, b] /= total
    return m, 1.0 / total


@njit(cache=True, _nrt=False, forceinline=True)
def clear_traces(E, live, dE):
    """Set the traces (and their tangents ``dE``, unless ``None``) to 0 on the live rows; empty ``live``."""
    for j in range(1, live[0] + 1):
        i = live[j]
        for b in range(E.shape[1]):
            E[i, b] = 0.0
            if dE is not None:
                for c in range(dE.shape[2]):
                    dE[i, b, c] = 0.0
    live[0] = 0


# rows of the tangent scratch array (after 2 * n_actions rows for dq and dz)
_T_TARGET, _T_DELTA, _T_C, _T_STEP, _T_CUR = range(5)


@njit(cache=True)
def tangent_rows(n_actions):
    """Rows of :func:`soft_q_step`'s ``dpar`` tangent array for ``n_actions`` actions.

    Examples
    --------
    >>> from dopasoft.kernel import tangent_rows
    >>> tangent_rows(2)
    13
    """
    return _D_SCRATCH + 2 * n_actions + 5


@njit(cache=True, inline="always")
def soft_q_step(
    W,
    E,
    live,
    idx,
    val,
    lo,
    hi,
    a,
    r,
    next_idx,
    next_val,
    next_lo,
    next_hi,
    terminated,
    alpha,
    tau,
    gamma,
    lam,
    log_prior,
    next_log_prior,
    trace,
    replacing,
    b_a,
    work,
    cache,
    signals,
    dW,
    dE,
    dpar,
    n_tangents,
):
    """One online Soft Q(λ) update of ``W`` and ``E`` in place (and of their tangents, if given).

    Parameters
    ----------
    W, E : float64 arrays, shape (n_features, n_actions)
        Weights and eligibility traces, updated in place.
    live : int64 array, shape (n_features + 1,)
        Rows of ``E`` that may be non-zero: ``live[0]`` of them, in ``live[1:]``. Every other row of
        ``E`` is exactly 0, so the decay pass skips it (all of them after a terminal step). Updated here.
    idx, val : int64 and float64 arrays, or None; lo, hi : int
        The current state's active features are ``idx[lo:hi]`` with values ``val[lo:hi]``. Tabular
        state ``s``: ``idx = val = None``, ``lo, hi = s, s + 1`` (numba compiles the step without the
        feature loops; ``idx = arange(n_states)``, ``val = ones`` gives the same numbers).
    a : int
    r : float
    next_idx, next_val, next_lo, next_hi
        The next state's features, likewise (ignored when ``terminated``).
    terminated : bool
    alpha, tau, gamma, lam : float
    log_prior, next_log_prior : float64 arrays, shape (n_actions,)
        ``log pi0`` at the current and the next state.
    trace : int
        ``TREE_BACKUP``, ``ON_POLICY``, ``UNCORRECTED`` or ``RETRACE`` (see :func:`trace_coefficient`).
    replacing : bool
    b_a : float
        ``b(a|x)``; used by ``RETRACE`` only.
    work : float64 array, shape (4, n_actions)
        Scratch space (no allocation in the step): ``Q`` and ``pi`` of the two states.
    cache : float64 array of length 3 + n_actions, or None
        ``(row, tau, lse, pi)``: the log-normaliser ``lse`` and policy ``pi`` of the one-hot state
        ``row`` at ``tau``, valid while that row of ``W`` is unchanged; ``row = -1``: empty. When given,
        the step reuses them for the current state and leaves there the next state's, computed for
        ``V(x')``, if the update leaves that row unchanged (no live trace on it). It assumes that the log prior of a one-hot
        state depends on the state only.
    signals : float64 array of length >= 6, or None
        Receives ``delta, value_rpe, action_term, V(x), V(x'), log pi(a|x)``.
    dW, dE : float64 arrays, shape (n_features, n_actions, K), or None
        Forward-mode tangents of ``W`` and ``E`` in ``K = n_tangents`` directions, updated in place.
        ``None`` (with ``dpar`` and ``n_tangents``): no derivatives, and numba compiles the step
        without them.
    dpar : float64 array, shape (tangent_rows(n_actions), K), or None
        Rows ``D_ALPHA, D_TAU, D_LAM``: the tangents of ``alpha, tau, lam`` (given); row ``D_LOGP``
        receives ``d log pi(a|x)``; the other rows are scratch.
    n_tangents : int or None
        ``K``, the number of tangent directions (at most the columns of the tangent arrays). Pass a
        compile-time constant (``N_TANGENTS``, or ``len`` of a tuple): the step is inlined into its
        caller, so the tangent loops unroll, and a likelihood carries the directions of its model's
        free parameters only (two for a learning rate and a temperature).

    Returns
    -------
    log_pi_a : float
        ``log pi(a|x)`` before the update.
    delta : float
        The soft TD error.
    """
    n_actions = W.shape[1]
    inv_tau = 1.0 / tau
    # one-hot states are read as a row of W: ``row`` (``next_row``); idx (next_idx) None: row lo (next_lo)
    row = lo
    if idx is None:
        one_hot = True
    else:
        one_hot = hi - lo == 1 and val[lo] == 1.0
        if one_hot:
            row = idx[lo]
    next_row = next_lo
    next_one_hot = not terminated
    if next_idx is not None and not terminated:
        next_one_hot = next_hi - next_lo == 1 and next_val[next_lo] == 1.0
        if next_one_hot:
            next_row = next_idx[next_lo]
    if cache is not None and one_hot and cache[0] == row and cache[1] == tau:
        for b in range(n_actions):
            work[0, b] = W[row, b]
            work[2, b] = cache[3 + b]
        lse = cache[2]
    else:
        z_max, pi_max = normaliser_terms(W, idx, val, lo, hi, inv_tau, log_prior, work, 0)
        lse = z_max - math.log(pi_max)  # (compiled away where nothing reads it)
    q_a = work[0, a]
    log_pi_a = q_a * inv_tau + log_prior[a] - lse
    if terminated:
        v_next = 0.0
        lse_next = math.nan
    else:
        z_max, pi_max = normaliser_terms(
            W, next_idx, next_val, next_lo, next_hi, inv_tau, next_log_prior, work, 1
        )
        lse_next = z_max - math.log(pi_max)
        v_next = tau * lse_next
    target = r + gamma * v_next
    delta = target - q_a
    c, dc_dlam, dc_dlogpi = trace_coefficient(trace, work[2, a], b_a, lam, gamma)
    on_policy = trace == ON_POLICY
    if on_policy:  # earlier pairs learn from delta_bar = target - sum_b pi(b|x) Q(x, b)
        expected_q = 0.0
        for b in range(n_actions):
            expected_q += work[2, b] * work[0, b]
        err = target - expected_q
    else:
        err = delta
    step = alpha * err

    if dW is not None:
        # scratch rows of dpar: dq_b at S + b, dz_b at S + n_actions + b, then _T_* at S + 2 n_actions
        # (S = _D_SCRATCH); d log pi(a|x) in row D_LOGP
        o = _D_SCRATCH + 2 * n_actions
        dlogp = dpar[D_LOGP]
        # d log pi(a|x) = dz_a - sum_b pi_b dz_b,  z_b = q_b / tau + log pi0_b
        for c_ in range(n_tangents):
            dlogp[c_] = 0.0
        for b in range(n_actions):
            pi_b = work[2, b]
            for c_ in range(n_tangents):
                if one_hot:
                    acc = dW[row, b, c_]
                else:
                    acc = 0.0
                    if idx is not None:
                        for k in range(lo, hi):
                            acc += val[k] * dW[idx[k], b, c_]
                dpar[_D_SCRATCH + b, c_] = acc
                dz = acc * inv_tau - work[0, b] * inv_tau * inv_tau * dpar[D_TAU, c_]
                dpar[_D_SCRATCH + n_actions + b, c_] = dz
                dlogp[c_] -= pi_b * dz
        for c_ in range(n_tangents):
            dlogp[c_] += dpar[_D_SCRATCH + n_actions + a, c_]
        # d target = gamma dV(x'),  dV = sum_b pi'_b dq'_b + dtau (V - sum_b pi'_b q'_b) / tau
        for c_ in range(n_tangents):
            dpar[o + _T_TARGET, c_] = 0.0
        if not terminated:
            eq = 0.0
            for b in range(n_actions):
                pn_b = work[3, b]
                eq += pn_b * work[1, b]
                for c_ in range(n_tangents):
                    if next_one_hot:
                        acc = dW[next_row, b, c_]
                    else:
                        acc = 0.0
                        if next_idx is not None:
                            for k in range(next_lo, next_hi):
                                acc += next_val[k] * dW[next_idx[k], b, c_]
                    dpar[o + _T_TARGET, c_] += pn_b * acc
            for c_ in range(n_tangents):
                dpar[o + _T_TARGET, c_] = gamma * (
                    dpar[o + _T_TARGET, c_] + dpar[D_TAU, c_] * (v_next - eq) * inv_tau
                )
        for c_ in range(n_tangents):
            dd = dpar[o + _T_TARGET, c_] - dpar[_D_SCRATCH + a, c_]
            dpar[o + _T_DELTA, c_] = dd
            dpar[o + _T_C, c_] = dc_dlam * dpar[D_LAM, c_] + dc_dlogpi * dlogp[c_]
            dpar[o + _T_CUR, c_] = dpar[D_ALPHA, c_] * delta + alpha * dd
            dpar[o + _T_STEP, c_] = dpar[o + _T_CUR, c_]
        if on_policy:  # d expected_q = sum_b (dpi_b q_b + pi_b dq_b),  dpi_b = pi_b (dz_b - dz_a + dlogp)
            for c_ in range(n_tangents):
                dexp = 0.0
                for b in range(n_actions):
                    pi_b = work[2, b]
                    dzb = (
                        dpar[_D_SCRATCH + n_actions + b, c_]
                        - dpar[_D_SCRATCH + n_actions + a, c_]
                        + dlogp[c_]
                    )
                    dexp += pi_b * (dzb * work[0, b] + dpar[_D_SCRATCH + b, c_])
                dpar[o + _T_STEP, c_] = dpar[D_ALPHA, c_] * err + alpha * (dpar[o + _T_TARGET, c_] - dexp)

    # decay the live traces and apply the error to them: E <- c E; W += step E (and tangents)
    if dW is None and c == 0.0:
        clear_traces(E, live, None)
    else:
        for j in range(1, live[0] + 1):
            i = live[j]
            for b in range(n_actions):
                e_old = E[i, b]
                e = e_old * c
                if dW is not None:
                    o = _D_SCRATCH + 2 * n_actions
                    for c_ in range(n_tangents):
                        de = dpar[o + _T_C, c_] * e_old + c * dE[i, b, c_]
                        dE[i, b, c_] = de
                        dW[i, b, c_] += dpar[o + _T_STEP, c_] * e + step * de
                E[i, b] = e
                W[i, b] += step * e

    # the current pair
    cur = alpha * delta if on_policy else step
    for k in range(lo, hi):
        if idx is None:
            i = k
            x = 1.0
        else:
            i = idx[k]
            x = val[k]
        if dW is not None:
            o = _D_SCRATCH + 2 * n_actions
            for c_ in range(n_tangents):
                if replacing and not on_policy:  # W[i, a] += step (x - E[i, a])
                    dW[i, a, c_] += dpar[o + _T_STEP, c_] * (x - E[i, a]) - step * dE[i, a, c_]
                else:
                    dW[i, a, c_] += dpar[o + _T_CUR, c_] * x
                if replacing:
                    dE[i, a, c_] = 0.0
        if replacing:
            W[i, a] += cur * x if on_policy else step * (x - E[i, a])
            E[i, a] = x
        else:
            W[i, a] += cur * x
            E[i, a] += x
        if terminated:  # the traces end with this step: the current pair's is not kept
            E[i, a] = 0.0
            if dE is not None:
                for c_ in range(n_tangents):
                    dE[i, a, c_] = 0.0
            continue
        known = False
        for j in range(1, live[0] + 1):
            if live[j] == i:
                known = True
                break
        if not known:
            live[0] += 1
            live[live[0]] = i

    if terminated and live[0] > 0:
        clear_traces(E, live, dE)

    if cache is not None:
        cache[0] = -1.0
        if not terminated and next_one_hot:
            ns = next_row
            unchanged = True
            for j in range(1, live[0] + 1):
                if live[j] == ns:
                    unchanged = False
            if unchanged:
                cache[0] = ns
                cache[1] = tau
                cache[2] = lse_next
                for b in range(n_actions):
                    cache[3 + b] = work[3, b]

    if signals is not None:
        v = tau * lse
        signals[SIG_DELTA] = delta
        signals[SIG_VALUE_RPE] = target - v
        signals[SIG_ACTION_TERM] = q_a - v
        signals[SIG_VALUE] = v
        signals[SIG_NEXT_VALUE] = v_next
        signals[SIG_LOG_PI] = log_pi_a
    return log_pi_a, delta


@njit(cache=True)
def prior_update(prior, log_prior, a, rate):
    r"""Learn the default policy of one state from the action taken there; return ``action_pe``.

    The default policy moves towards the one-hot vector of the taken action (SPEC of docs/maths.md §7):

    .. math::
        \text{action\_pe}_t = 1 - \pi_0(a_t|s_t), \qquad
        \pi_0(\cdot|s_t) \leftarrow \pi_0(\cdot|s_t) + \alpha_\pi\,(e_{a_t} - \pi_0(\cdot|s_t)),

    a stochastic-approximation (exponentially weighted) estimate of the behaviour's action frequencies
    in ``s_t``. ``action_pe`` is the taken action's component of :math:`e_{a_t} - \pi_0`, read *before*
    the update: a value-free action prediction error (Greenstreet et al. 2025). The step
    (:func:`soft_q_step`) uses :math:`\pi_0` before this update, so call it after the step. With
    :math:`0 \le \alpha_\pi < 1` a positive distribution stays positive (and actions with
    :math:`\pi_0 = 0` stay impossible); in floating point a component that the update would shrink
    below ``PRIOR_FLOOR`` (1e-300, after e.g. 1000 repeats of another action at
    :math:`\alpha_\pi = 0.5`) is kept there, so underflow never makes an action impossible.

    Parameters
    ----------
    prior : float64 array, shape (n_actions,)
        :math:`\pi_0(\cdot|s_t)`, updated in place.
    log_prior : float64 array, shape (n_actions,)
        Its logarithm (what :func:`soft_q_step` reads), rewritten in place (``-inf`` where ``prior`` is 0).
    a : int
        The action taken.
    rate : float
        :math:`\alpha_\pi` in [0, 1); 0 leaves both arrays untouched.

    Returns
    -------
    action_pe : float
        :math:`1 - \pi_0(a_t|s_t)` before the update.

    Notes
    -----
    A :func:`soft_q_step` ``cache`` assumes the cached state's log prior unchanged. The step never
    leaves there the state it has just learnt (its ``W`` row has a live trace, bandit steps with
    ``s' = s`` included), so this update cannot make the cache stale; a caller that keeps the cache
    across other changes guards it with :func:`forget_cached_state` (tested in
    ``tests/test_learned_prior.py``).

    References
    ----------
    Greenstreet, F. et al. (2025). Dopaminergic action prediction errors serve as a value-free teaching
    signal. Nature 643, 1333-1342. Choice kernel: Wilson, R. C. & Collins, A. G. E. (2019). Ten simple
    rules for the computational modeling of behavioral data. eLife 8, e49547.
    """
    pe = 1.0 - prior[a]
    if rate == 0.0:
        return pe
    for b in range(prior.shape[0]):
        target = 1.0 if b == a else 0.0
        old = prior[b]
        if old == 0.0:  # an impossible action stays impossible
            continue
        p = old + rate * (target - old)
        if p < PRIOR_FLOOR:
            p = PRIOR_FLOOR
        prior[b] = p
        log_prior[b] = math.log(p)
    return pe


@njit(cache=True)
def forget_cached_state(cache, state):
    """Empty a :func:`soft_q_step` ``cache`` if it holds the one-hot state ``state`` (after its prior changed)."""
    if cache[0] == state:
        cache[0] = -1.0
