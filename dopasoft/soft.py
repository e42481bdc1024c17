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

from dopasoft._messages import shown

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
    if isinstance(tau, bool):
        raise ValueError(f"{name} must be a positive number, got {shown(tau)}")
    try:
        value = float(tau)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {shown(tau)}") from None
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0 (the temperature), got {value:g}")
    return value


PRIOR_SUM_RTOL = 1e-9  # a default policy's row must sum to 1 within this (relative) tolerance


def _where(index: tuple[int, ...]) -> str:
    return f"row {index[0]}" if len(index) == 1 else f"row {tuple(int(i) for i in index)}"


def check_prior(
    prior: ArrayLike | None, n_actions: int, name: str = "prior", *, q_shape: tuple[int, ...] | None = None
) -> FloatArray | None:
    """Validate a default policy ``pi0`` whose last axis is the actions.

    Every entry must be finite and >= 0 and every row (distribution over the last axis) must sum to one
    within ``PRIOR_SUM_RTOL`` (1e-9, relative); a bad row is named with its sum. With ``q_shape`` (the
    shape of the action values it weights) the prior must also broadcast to exactly that shape: one
    distribution for every state (shape ``(n_actions,)``) or a table of ``q``'s shape (leading axes of
    length 1 broadcast). Returns a float array, or ``None`` for ``None`` (uniform).
    """
    if prior is None:
        return None
    try:
        p = np.asarray(prior, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be an array of probabilities with the actions ({n_actions}) on its last axis"
        ) from None
    if p.ndim == 0 or p.shape[-1] != n_actions:
        raise ValueError(f"{name} must have the actions ({n_actions}) on its last axis, got shape {p.shape}")
    if q_shape is not None:
        ok = p.ndim <= len(q_shape)
        if ok:
            try:
                ok = np.broadcast_shapes(p.shape, tuple(q_shape)) == tuple(q_shape)
            except ValueError:
                ok = False
        if not ok:
            raise ValueError(
                f"{name} must have shape ({n_actions},) (one default policy for every state) or the "
                f"shape of the action values {tuple(q_shape)}, got shape {p.shape}"
            )
    bad = ~np.isfinite(p)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be a probability distribution: entry {idx} is {p[idx]:g}")
    if np.any(p < 0):
        idx = tuple(int(i) for i in np.argwhere(p < 0)[0])
        raise ValueError(f"{name} must be a probability distribution: entry {idx} is negative ({p[idx]:g})")
    sums = np.atleast_1d(p.sum(axis=-1)) if p.ndim > 1 else p.sum(axis=-1, keepdims=True)
    off = np.abs(sums - 1.0) > PRIOR_SUM_RTOL
    if np.any(off):
        where = tuple(int(i) for i in np.argwhere(off)[0])
        at = "" if p.ndim == 1 else f" {_where(where)}"
        raise ValueError(
            f"{name}{at} sums to {sums[where]:.12g}, not 1: a default policy must be a probability "
            f"distribution over the actions (normalise it; tolerance {PRIOR_SUM_RTOL:g})"
        )
    return p


def _as_values(q: ArrayLike, name: str = "q") -> FloatArray:
    """Action values as a finite float array with at least one action on the last axis."""
    try:
        a = np.asarray(q, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers with the actions on its last axis") from None
    if a.ndim == 0 or a.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one action on its last axis, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{name} must be finite: entry {idx} is {a[idx]:g}")
    return a


def _checked(
    q: ArrayLike, tau: float, prior: ArrayLike | None
) -> tuple[FloatArray, float, FloatArray | None]:
    q = _as_values(q)
    tau = check_tau(tau)
    return q, tau, check_prior(prior, q.shape[-1], q_shape=q.shape)


def _log_prior(q: FloatArray, prior: FloatArray | None) -> FloatArray | float:
    if prior is None:
        return -np.log(q.shape[-1])
    with np.errstate(divide="ignore"):
        return np.log(prior)


def soft_value(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""Soft (log-sum-exp) state value along the last axis.

    .. math:: V(s) = \tau \log \sum_a \pi_0(a|s) \exp(Q(s,a)/\tau)

    Computed as ``m + tau * log(sum(pi0 * exp((Q - m) / tau)))`` with ``m = max_a Q`` over the actions
    that ``pi0`` allows, so it neither overflows nor underflows. ``tau -> 0`` gives ``max_a Q``; ``Q = 0``
    with any ``pi0`` gives 0.

    Parameters
    ----------
    q : array_like, shape (..., n_actions)
        Action values, finite.
    tau : float
        Temperature, finite and > 0.
    prior : array_like, optional
        Default policy ``pi0``: shape ``(n_actions,)`` (the same for every state) or ``q``'s shape (one
        per state); entries >= 0, each distribution summing to 1 within 1e-9. Uniform when omitted.

    Raises
    ------
    ValueError
        Non-finite ``q``, a bad ``tau``, or a prior of another shape, with a negative or non-finite entry,
        or a distribution that does not sum to 1 (the message names the row and its sum). The same checks
        apply to every function of this module that takes ``q``, ``tau`` and ``prior``.

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
    return _soft_value(*_checked(q, tau, prior))


def _soft_value(q: FloatArray, tau: float, prior: FloatArray | None) -> FloatArray:
    z = q / tau + _log_prior(q, prior)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return tau * (np.log(np.sum(np.exp(z - m), axis=-1)) + m[..., 0])


def log_policy(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""Log of the Boltzmann policy, ``log pi(a|s) = log pi0(a|s) + (Q(s,a) - V(s)) / tau``.

    Parameters
    ----------
    q : array_like
        Action values, actions along the last axis.
    tau : float
        Temperature > 0.
    prior : array_like, optional
        Default policy π0 (broadcast against ``q``); uniform if omitted.

    Examples
    --------
    >>> import numpy as np, dopasoft as ds
    >>> q = np.array([1.0, 0.0])
    >>> bool(np.allclose(np.exp(ds.log_policy(q, tau=0.5)), ds.boltzmann_policy(q, tau=0.5)))
    True
    """
    return _log_policy(*_checked(q, tau, prior))


def _log_policy(q: FloatArray, tau: float, prior: FloatArray | None) -> FloatArray:
    z = q / tau + _log_prior(q, prior)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def boltzmann_policy(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""Boltzmann (softmax) policy relative to a default policy.

    .. math:: \pi(a|s) = \pi_0(a|s) \exp\big((Q(s,a) - V(s))/\tau\big)

    ``tau -> 0`` gives the greedy policy (ties share the mass in proportion to ``pi0``).

    Parameters
    ----------
    q : array_like
        Action values, actions along the last axis.
    tau : float
        Temperature >= 0 (0: greedy).
    prior : array_like, optional
        Default policy π0 (broadcast against ``q``); uniform if omitted.

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

    Parameters
    ----------
    q : array_like
        Action values, actions along the last axis.
    tau : float
        Temperature > 0.
    prior : array_like, optional
        Default policy π0 (broadcast against ``q``); uniform if omitted.

    Examples
    --------
    >>> import dopasoft as ds
    >>> ds.action_term([1.0, 0.0], tau=1.0).round(3).tolist()  # Q - V, V = log(0.5 e + 0.5)
    [0.38, -0.62]
    """
    q, tau, prior = _checked(q, tau, prior)
    return q - _soft_value(q, tau, prior)[..., None]


def policy_kl(q: ArrayLike, tau: float, prior: ArrayLike | None = None) -> FloatArray:
    r"""KL divergence of the Boltzmann policy from the default policy, along the last axis.

    .. math:: \mathrm{KL}(\pi \| \pi_0) = \sum_a \pi(a|s) \log\frac{\pi(a|s)}{\pi_0(a|s)}
              = \frac{1}{\tau}\Big(\sum_a \pi(a|s) Q(s,a) - V(s)\Big)

    so that ``V(s) = E_pi[Q(s, .)] - tau * KL``. Actions with zero probability contribute zero.

    Parameters
    ----------
    q : array_like
        Action values, actions along the last axis.
    tau : float
        Temperature > 0.
    prior : array_like, optional
        Default policy π0 (broadcast against ``q``); uniform if omitted.

    Examples
    --------
    >>> import dopasoft as ds
    >>> float(ds.policy_kl([0.0, 0.0], tau=1.0))  # equal values: the policy is the default policy
    0.0
    >>> bool(ds.policy_kl([2.0, 0.0], tau=1.0) > 0)
    True
    """
    q, tau, prior = _checked(q, tau, prior)
    logpi = _log_policy(q, tau, prior)
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

    Examples
    --------
    >>> import numpy as np, dopasoft as ds
    >>> res = ds.soft_value_iteration(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), gamma=0.5, tau=1.0)
    >>> res.q.shape, res.v.shape, res.policy.shape
    ((1, 2), (1,), (1, 2))
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
    tol : float
        Stop when the sup-norm change of ``V`` in a sweep is below ``tol``.
    max_iter : int
        At most this many sweeps; ``ValueError`` if ``tol`` is not reached.

    Examples
    --------
    >>> import numpy as np, dopasoft as ds
    >>> P = np.ones((1, 2, 1)); R = np.array([[1.0, 0.0]])
    >>> res = ds.soft_value_iteration(P, R, gamma=0.5, tau=1.0)
    >>> bool(np.allclose(res.q[0, 0] - res.q[0, 1], 1.0))
    True
    """
    P = _as_array(P, "P")
    R = _as_array(R, "R")
    tau = check_tau(tau)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape (n_states, n_actions, n_states), got {P.shape}")
    n_states, n_actions, _ = P.shape
    if not np.all(np.isfinite(P)) or np.any(P < 0) or not np.allclose(P.sum(axis=2), 1.0, atol=1e-8):
        raise ValueError("P must hold probability distributions over next states: P[s, a].sum() == 1")
    if not np.all(np.isfinite(R)):
        raise ValueError("R must be finite")
    if R.shape == (n_states, n_actions, n_states):
        R = np.sum(P * R, axis=2)
    elif R.shape != (n_states, n_actions):
        raise ValueError(
            f"R must have shape {(n_states, n_actions)} or {(n_states, n_actions, n_states)}, got {R.shape}"
        )
    gamma = _check_gamma(gamma)
    prior = check_prior(prior, n_actions, q_shape=(n_states, n_actions))
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
        v = _soft_value(q, tau, prior) * live
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
    v = _soft_value(q, tau, prior) * live
    return SoftValueIterationResult(q=q, v=v, policy=np.exp(_log_policy(q, tau, prior)), n_iter=n_iter)


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
    q = _stack_tasks(qs, "qs")
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


def _as_array(x: ArrayLike, name: str) -> FloatArray:
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers") from None


def _check_gamma(gamma: float) -> float:
    if isinstance(gamma, bool):
        raise ValueError(f"gamma must be a number in [0, 1], got {shown(gamma)}")
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be a number in [0, 1], got {shown(gamma)}") from None
    if not 0.0 <= g <= 1.0:  # also refuses NaN
        raise ValueError(f"gamma must be in [0, 1], got {g:g}")
    return g


def _stack_tasks(qs: ArrayLike, name: str) -> FloatArray:
    """The tasks' values as one array (first axis = tasks), or one line naming the tasks' shapes."""
    try:
        return np.asarray(qs, dtype=float)
    except (TypeError, ValueError):
        pass
    try:
        shapes = [np.shape(x) for x in qs]
    except (TypeError, ValueError):
        shapes = []
    if len(set(shapes)) > 1:
        listed = ", ".join(f"task {i}: {s}" for i, s in enumerate(shapes[:6]))
        raise ValueError(f"{name} must hold one array of the same shape per task, got shapes {listed}")
    raise ValueError(f"{name} must hold numbers: one array of action values per task (first axis = tasks)")


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
