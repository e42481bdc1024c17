"""Soft (entropy-regularised) operators on action values.

Small pure functions, batched along every leading axis (the actions are the last axis), each stable for
extreme ``Q / tau`` through a max-shifted log-sum-exp. Notation follows ``docs/maths.md``: temperature
``tau > 0`` (inverse temperature ``beta = 1 / tau``), default policy ``pi0`` (``prior``; uniform when
``None``).

References
----------
Haarnoja, T., Tang, H., Abbeel, P. & Levine, S. (2017). Reinforcement learning with deep energy-based
policies. ICML. (soft Bellman backup)
Fox, R., Pakman, A. & Tishby, N. (2016). Taming the noise in reinforcement learning via soft updates. UAI.
(the KL-regularised form with a default policy)
Todorov, E. (2009). Compositionality of optimal control laws. NeurIPS. (linearly solvable composition)
Van Niekerk, B., James, S., Earle, A. & Rosman, B. (2019). Composing value functions in reinforcement
learning. ICML. (composition of soft Q-functions)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "soft_value",
    "boltzmann_policy",
    "log_policy",
    "policy_kl",
    "action_term",
    "soft_value_iteration",
    "SoftValueIterationResult",
    "compose",
    "check_prior",
    "check_tau",
]

FloatArray = NDArray[np.float64]


def check_tau(tau: float, name: str = "tau") -> float:
    """Return ``tau`` as a float, or raise ``ValueError`` unless it is finite and > 0."""
    try:
        value = float(tau)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {tau!r}") from None
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0 (the temperature), got {tau!r}")
    return value


def check_prior(prior: ArrayLike | None, n_actions: int, name: str = "prior") -> FloatArray | None:
    """Validate a default policy ``pi0`` whose last axis is the actions.

    Every row must be non-negative and sum to one (to 1e-8). Returns a float array or ``None``.
    """
    if prior is None:
        return None
    p = np.asarray(prior, dtype=float)
    if p.ndim == 0 or p.shape[-1] != n_actions:
        raise ValueError(f"{name} must have the actions ({n_actions}) on its last axis, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{name} must be a probability distribution: it has negative or non-finite entries")
    sums = p.sum(axis=-1)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=1e-8):
        bad = np.flatnonzero(np.abs(np.atleast_1d(sums) - 1.0) > 1e-8)
        raise ValueError(
            f"{name} must be a probability distribution over actions: row(s) {bad.tolist()[:5]} "
            f"sum to {np.atleast_1d(sums)[bad][:5].tolist()}, not 1"
        )
    return p


def _log_prior(q: FloatArray, prior: ArrayLike | None) -> FloatArray | float:
    if prior is None:
        return -np.log(q.shape[-1])
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(prior, dtype=float))


def soft_value(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""Soft (log-sum-exp) state value along the last axis.

    .. math:: V(s) = \tau \log \sum_a \pi_0(a|s) \exp(Q(s,a)/\tau)

    Computed as ``m + tau * log(sum(pi0 * exp((Q - m) / tau)))`` with ``m = max_a Q`` over the actions
    that ``pi0`` allows, so it neither overflows nor underflows. ``tau -> 0`` gives ``max_a Q``; ``Q = 0``
    with any ``pi0`` gives 0.

    Parameters
    ----------
    q : array_like, shape (..., n_actions)
        Action values.
    tau : float
        Temperature, > 0.
    prior : array_like, optional
        Default policy ``pi0``, broadcastable to ``q``; uniform when omitted.

    Returns
    -------
    ndarray, shape (...)
        The soft value of each leading index.

    Examples
    --------
    >>> import dopasoft as ds
    >>> float(ds.soft_value([0.0, 0.0], tau=1.0))
    0.0

    As τ → 0 the soft value approaches the max, from below by τ log 2 here (uniform π0 over two actions):

    >>> round(float(ds.soft_value([1.0, 3.0], tau=1e-4)), 7)
    2.9999307
    """
    q = np.asarray(q, dtype=float)
    tau = check_tau(tau)
    logp = _log_prior(q, prior)
    z = q / tau + logp
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return tau * (np.log(np.sum(np.exp(z - m), axis=-1)) + m[..., 0])


def log_policy(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""Log of the Boltzmann policy, ``log pi(a|s) = log pi0(a|s) + (Q(s,a) - V(s)) / tau``."""
    q = np.asarray(q, dtype=float)
    tau = check_tau(tau)
    z = q / tau + _log_prior(q, prior)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def boltzmann_policy(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""Boltzmann (softmax) policy relative to a default policy.

    .. math:: \pi(a|s) = \pi_0(a|s) \exp\big((Q(s,a) - V(s))/\tau\big)

    ``tau -> 0`` gives the greedy policy (ties share the mass in proportion to ``pi0``).

    Examples
    --------
    >>> import dopasoft as ds
    >>> ds.boltzmann_policy([0.0, 0.0], tau=1.0).tolist()
    [0.5, 0.5]
    """
    return np.exp(log_policy(q, tau, prior))


def action_term(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""The "action term" ``Q(s,a) - V(s) = tau * log(pi(a|s) / pi0(a|s))`` for every action.

    It is the part of the soft TD error that is not a state-value prediction error (docs/maths.md §6):
    ``delta = value_rpe - action_term``.
    """
    q = np.asarray(q, dtype=float)
    return q - soft_value(q, tau, prior)[..., None]


def policy_kl(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""KL divergence of the Boltzmann policy from the default policy, along the last axis.

    .. math:: \mathrm{KL}(\pi \| \pi_0) = \sum_a \pi(a|s) \log\frac{\pi(a|s)}{\pi_0(a|s)}
              = \frac{1}{\tau}\Big(\sum_a \pi(a|s) Q(s,a) - V(s)\Big)

    so that ``V(s) = E_pi[Q(s, .)] - tau * KL``. Actions with zero probability contribute zero.
    """
    q = np.asarray(q, dtype=float)
    logpi = log_policy(q, tau, prior)
    pi = np.exp(logpi)
    logp = np.broadcast_to(_log_prior(q, prior), logpi.shape)
    live = pi > 0.0
    log_ratio = np.where(live, logpi - np.where(live, logp, 0.0), 0.0)
    return np.maximum(np.sum(pi * log_ratio, axis=-1), 0.0)


class SoftValueIterationResult(NamedTuple):
    """Fixed point of the soft Bellman optimality operator.

    Attributes
    ----------
    q : ndarray, shape (n_states, n_actions)
        Soft-optimal action values ``Q*``.
    v : ndarray, shape (n_states,)
        Soft-optimal state values ``V*`` (0 at terminal states).
    policy : ndarray, shape (n_states, n_actions)
        The Boltzmann policy of ``Q*``.
    n_iter : int
        Sweeps until the sup-norm change fell below ``tol``.
    """

    q: FloatArray
    v: FloatArray
    policy: FloatArray
    n_iter: int


def soft_value_iteration(
    P: ArrayLike,
    R: ArrayLike,
    *,
    gamma: float,
    tau: float,
    prior: ArrayLike | None = None,
    terminal: ArrayLike | None = None,
    tol: float = 1e-12,
    max_iter: int = 1_000_000,
) -> SoftValueIterationResult:
    r"""Soft value iteration on a known model: the ground truth for every learner.

    Iterates :math:`Q(s,a) \leftarrow \bar R(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s')` with the soft value
    :func:`soft_value` and ``V(s') = 0`` at terminal states, until the sup-norm change is below ``tol``.
    For ``gamma < 1`` this is a ``gamma``-contraction; for ``gamma = 1`` it converges when every policy
    reaches a terminal state (a proper model), otherwise ``ValueError`` after ``max_iter`` sweeps.

    Parameters
    ----------
    P : array_like, shape (n_states, n_actions, n_states)
        Transition probabilities ``P[s, a, s']``; each ``P[s, a]`` sums to one.
    R : array_like, shape (n_states, n_actions) or (n_states, n_actions, n_states)
        Expected reward of ``(s, a)``, or of ``(s, a, s')``.
    gamma : float
        Discount in [0, 1].
    tau : float
        Temperature > 0.
    prior : array_like, optional
        Default policy, shape (n_actions,) or (n_states, n_actions).
    terminal : array_like of bool or int indices, optional
        Terminal (absorbing, value 0) states.

    Examples
    --------
    >>> import numpy as np, dopasoft as ds
    >>> P = np.ones((1, 2, 1)); R = np.array([[1.0, 0.0]])
    >>> res = ds.soft_value_iteration(P, R, gamma=0.5, tau=1.0)
    >>> bool(np.allclose(res.q[0, 0] - res.q[0, 1], 1.0))
    True
    """
    P = np.asarray(P, dtype=float)
    R = np.asarray(R, dtype=float)
    tau = check_tau(tau)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape (n_states, n_actions, n_states), got {P.shape}")
    n_states, n_actions, _ = P.shape
    if np.any(P < 0) or not np.allclose(P.sum(axis=2), 1.0, atol=1e-8):
        raise ValueError("P must hold probability distributions over next states: P[s, a].sum() == 1")
    if R.shape == (n_states, n_actions, n_states):
        R = np.sum(P * R, axis=2)
    elif R.shape != (n_states, n_actions):
        raise ValueError(
            f"R must have shape {(n_states, n_actions)} or {(n_states, n_actions, n_states)}, got {R.shape}"
        )
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    prior = check_prior(prior, n_actions)
    live = np.ones(n_states)
    if terminal is not None:
        t = np.asarray(terminal)
        idx = np.flatnonzero(t) if t.dtype == bool else t.astype(int)
        if t.dtype == bool and t.shape != (n_states,):
            raise ValueError(f"terminal as a mask must have shape ({n_states},), got {t.shape}")
        if np.any((idx < 0) | (idx >= n_states)):
            raise ValueError(f"terminal holds states outside 0..{n_states - 1}")
        live[idx] = 0.0
    q = np.zeros((n_states, n_actions))
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (n_iter is reported)
        v = soft_value(q, tau, prior) * live
        q_new = R + gamma * P @ v
        change = np.max(np.abs(q_new - q))
        q = q_new
        if change <= tol * max(1.0, np.max(np.abs(q))):
            break
    else:
        raise ValueError(
            f"soft value iteration did not converge in {max_iter} sweeps (gamma = {gamma}): "
            "with gamma = 1 every policy must reach a terminal state"
        )
    v = soft_value(q, tau, prior) * live
    return SoftValueIterationResult(q=q, v=v, policy=boltzmann_policy(q, tau, prior), n_iter=n_iter)


def compose(qs: ArrayLike, weights: ArrayLike, tau: float) -> FloatArray:
    r"""Compose soft action values of several tasks into the values of their weighted "OR".

    .. math:: Q_\text{comp}(s,a) = \tau \log \sum_i w_i \exp\big(Q_i(s,a)/\tau\big), \qquad w_i \ge 0

    Exact (Todorov 2009; Van Niekerk et al. 2019; ``docs/maths.md`` §8) when γ = 1, transitions are
    deterministic, every task shares π0, τ and all rewards except those received on entering absorbing goal
    states, and the tasks differ only in those goal rewards ``r_i(g)``: ``compose`` then returns the soft-optimal
    values of the task whose goal rewards are :math:`\tau \log \sum_i w_i \exp(r_i(g)/\tau)` (see
    :func:`compose_rewards`), without new learning. Elsewhere (stochastic transitions, γ < 1, tasks that
    differ in other rewards) it is an approximation. Equal weights ``1/n`` give an "OR" of the goals
    (Mahajan & Seymour 2025: value composition as a function of dopamine).

    Parameters
    ----------
    qs : array_like, shape (n_tasks, ...)
        Soft action values of each task (same shape for every task).
    weights : array_like, shape (n_tasks,)
        Non-negative weights, at least one positive. A zero weight leaves its task out.
    tau : float
        The temperature the values were learnt at (> 0).

    Returns
    -------
    ndarray, shape (...)
        Composed action values (a stable log-sum-exp over tasks).

    Raises
    ------
    ValueError
        Fewer than one task, weights of the wrong length, negative, non-finite or all-zero weights,
        non-finite values, or a bad ``tau``.

    Examples
    --------
    >>> import numpy as np, dopasoft as ds
    >>> q1, q2 = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    >>> ds.compose([q1, q2], [1.0, 1.0], tau=1.0).round(4).tolist()
    [[1.3133, 1.3133]]
    >>> ds.compose([q1, q2], [1.0, 0.0], tau=1.0).tolist()    # a zero weight leaves task 2 out
    [[1.0, 0.0]]
    """
    tau = check_tau(tau)
    q = np.asarray(qs, dtype=float)
    if q.ndim < 1 or q.shape[0] < 1:
        raise ValueError("qs must hold the values of at least one task (first axis = tasks)")
    w = _check_weights(weights, q.shape[0])
    if not np.all(np.isfinite(q)):
        i = int(np.flatnonzero(~np.all(np.isfinite(q.reshape(q.shape[0], -1)), axis=1))[0])
        raise ValueError(f"qs[{i}] holds non-finite values; compose needs finite action values")
    keep = w > 0
    z = q[keep] / tau + np.log(w[keep]).reshape((-1,) + (1,) * (q.ndim - 1))
    m = np.max(z, axis=0)
    return tau * (m + np.log(np.sum(np.exp(z - m), axis=0)))


def compose_rewards(rewards: ArrayLike, weights: ArrayLike, tau: float) -> FloatArray:
    r"""Goal rewards of the composed task: :math:`\tau \log \sum_i w_i \exp(r_i/\tau)` over tasks.

    The same weighted soft maximum as :func:`compose`, applied to the rewards each task gives on entering a
    goal; under the conditions stated there, ``compose`` of the tasks' soft-optimal values equals the
    soft-optimal values of the task with these goal rewards.

    Parameters
    ----------
    rewards : array_like, shape (n_tasks, ...)
        Each task's reward on entering each goal.
    weights : array_like, shape (n_tasks,)
    tau : float

    Returns
    -------
    ndarray, shape (...)

    Examples
    --------
    >>> import dopasoft as ds
    >>> float(ds.soft.compose_rewards([[0.0], [0.0]], [0.5, 0.5], tau=1.0)[0])
    0.0
    """
    return compose(rewards, weights, tau)


def _check_weights(weights: ArrayLike, n_tasks: int) -> FloatArray:
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"weights must be numbers, got {weights!r}") from None
    if w.shape != (n_tasks,):
        raise ValueError(f"weights must have one entry per task ({n_tasks}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights must be finite and >= 0, got {w.tolist()}")
    if not np.any(w > 0):
        raise ValueError("at least one weight must be positive")
    return w
