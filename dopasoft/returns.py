r"""Soft n-step returns (forward view), as small pure functions of one trajectory segment.

A segment starts at the pair :math:`(s_t, a_t)` being updated and has ``h`` transitions
(``h = n``, or fewer when the episode terminated inside the horizon). Arrays indexed ``mid`` describe the
intermediate states :math:`s_{t+1}, \dots, s_{t+h-1}` and the actions taken there (length ``h - 1``);
``v_last`` is :math:`V(s_{t+h})`, 0 when the segment ends in termination. See docs/maths.md §3 and
``docs/maths.md``.

References
----------
Sutton, R. S. & Barto, A. G. (2018). Reinforcement Learning: An Introduction, 2nd ed., ch. 7.
Precup, D., Sutton, R. S. & Singh, S. (2000). Eligibility traces for off-policy policy evaluation. ICML.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dopasoft._messages import shown
from dopasoft.soft import _check_gamma, check_tau

__all__ = ["soft_n_step_return", "soft_tree_backup_return", "importance_weight"]


def soft_n_step_return(
    rewards: ArrayLike, kl_mid: ArrayLike, v_last: float, gamma: float, tau: float
) -> float:
    r"""On-policy soft n-step return.

    .. math:: G = r_{t+1} + \sum_{k=1}^{h-1}\gamma^k\big[r_{t+k+1} - \tau\,\mathrm{KL}(\pi(\cdot|s_{t+k})
              \,\|\,\pi_0(\cdot|s_{t+k}))\big] + \gamma^h V(s_{t+h})

    The KL penalty is the expectation, under the Boltzmann policy, of the entropy-regularisation term
    :math:`-\tau\log(\pi/\pi_0)` of the intermediate actions; the first action is the one being
    evaluated and carries none.

    Parameters
    ----------
    rewards : array_like, shape (h,)
        :math:`r_{t+1}, \dots, r_{t+h}`.
    kl_mid : array_like, shape (h - 1,)
        KL of the policy at :math:`s_{t+1}, \dots, s_{t+h-1}`.
    v_last : float
        :math:`V(s_{t+h})` (0 at termination).
    gamma, tau : float

    Examples
    --------
    >>> from dopasoft import soft_n_step_return
    >>> soft_n_step_return([1.0], [], v_last=2.0, gamma=0.5, tau=1.0)  # one step: r + gamma V(s')
    2.0
    """
    r = _segment(rewards, "rewards")
    h = r.shape[0]
    kl = _segment(kl_mid, "kl_mid", h - 1)
    if np.any(kl < 0):
        i = int(np.flatnonzero(kl < 0)[0])
        raise ValueError(f"kl_mid[{i}] is {kl[i]:g}: a KL divergence is >= 0")
    v_last = _finite(v_last, "v_last")
    gamma = _check_gamma(gamma)
    tau = check_tau(tau)
    return _soft_n_step_return(r, kl, v_last, gamma, tau)


def _soft_n_step_return(r: NDArray, kl: NDArray, v_last: float, gamma: float, tau: float) -> float:
    """:func:`soft_n_step_return` without the checks (the learners' inputs are valid by construction)."""
    h = r.shape[0]
    disc = gamma ** np.arange(h)
    return float(disc @ r - tau * (disc[1:] @ kl) + gamma**h * v_last)


def soft_tree_backup_return(
    rewards: ArrayLike,
    v_mid: ArrayLike,
    pi_mid: ArrayLike,
    q_mid: ArrayLike,
    v_last: float,
    gamma: float,
) -> float:
    r"""Soft tree-backup n-step return, computed backwards from the horizon.

    .. math:: G_{t+h-1} = r_{t+h} + \gamma V(s_{t+h}), \qquad
              G_{t+k} = r_{t+k+1} + \gamma\big[V(s_{t+k+1}) - \pi(a_{t+k+1}|s_{t+k+1})Q(s_{t+k+1},a_{t+k+1})
              + \pi(a_{t+k+1}|s_{t+k+1})\,G_{t+k+1}\big]

    The soft value already holds the KL penalty, so none appears. The behaviour policy is not needed.

    Parameters
    ----------
    rewards : array_like, shape (h,)
    v_mid, pi_mid, q_mid : array_like, shape (h - 1,)
        :math:`V(s_{t+k})`, :math:`\pi(a_{t+k}|s_{t+k})` and :math:`Q(s_{t+k}, a_{t+k})` for
        ``k = 1..h-1``.
    v_last : float
    gamma : float

    Examples
    --------
    >>> from dopasoft import soft_tree_backup_return
    >>> soft_tree_backup_return([1.0], [], [], [], v_last=2.0, gamma=0.5)  # one step: r + gamma V(s')
    2.0
    """
    r = _segment(rewards, "rewards")
    h = r.shape[0]
    v = _segment(v_mid, "v_mid", h - 1)
    p = _probabilities(pi_mid, "pi_mid", h - 1, zero_ok=True)
    q = _segment(q_mid, "q_mid", h - 1)
    v_last = _finite(v_last, "v_last")
    gamma = _check_gamma(gamma)
    return _soft_tree_backup_return(r, v, p, q, v_last, gamma)


def _soft_tree_backup_return(
    r: NDArray, v: NDArray, p: NDArray, q: NDArray, v_last: float, gamma: float
) -> float:
    """:func:`soft_tree_backup_return` without the checks."""
    h = r.shape[0]
    g = r[-1] + gamma * v_last
    for k in range(h - 2, -1, -1):
        g = r[k] + gamma * (v[k] - p[k] * q[k] + p[k] * g)
    return float(g)


def importance_weight(pi_mid: ArrayLike, b_mid: ArrayLike) -> float:
    r"""Per-decision importance-sampling ratio of the intermediate actions.

    .. math:: \rho = \prod_{k=1}^{h-1} \frac{\pi(a_{t+k}|s_{t+k})}{b(a_{t+k}|s_{t+k})}

    The first action (being evaluated) and the value at the horizon need no correction.

    Parameters
    ----------
    pi_mid : array_like
        Target-policy probabilities π(a|s) of the intermediate actions ``a_{t+1} .. a_{t+h-1}``.
    b_mid : array_like
        Behaviour-policy probabilities b(a|s) of the same actions.

    Examples
    --------
    >>> from dopasoft import importance_weight
    >>> importance_weight([0.5, 0.2], [0.25, 0.4])
    1.0
    """
    p = _probabilities(pi_mid, "pi_mid", None, zero_ok=True)
    b = _probabilities(b_mid, "b_mid", None, zero_ok=False)
    if p.shape != b.shape:
        raise ValueError(f"pi_mid and b_mid must have the same shape, got {p.shape} and {b.shape}")
    return _importance_weight(p, b)


def _importance_weight(p: NDArray, b: NDArray) -> float:
    """:func:`importance_weight` without the checks."""
    return float(np.prod(p / b))


def _segment(x: ArrayLike, name: str, length: int | None = None) -> NDArray:
    """A finite 1-D array (of ``length`` entries when given; ``rewards`` needs at least one)."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D array of numbers") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    if length is None and a.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one entry (a segment has at least one transition)")
    if length is not None and a.shape != (length,):
        raise ValueError(f"{name} must have length len(rewards) - 1 = {length}, got {a.shape[0]}")
    if not np.all(np.isfinite(a)):
        i = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{name}[{i}] is {a[i]:g}: it must be finite")
    return a


def _probabilities(x: ArrayLike, name: str, length: int | None, *, zero_ok: bool) -> NDArray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D array of probabilities") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    if length is not None and a.shape != (length,):
        raise ValueError(f"{name} must have length len(rewards) - 1 = {length}, got {a.shape[0]}")
    low_ok = (a >= 0.0) if zero_ok else (a > 0.0)
    bad = ~(low_ok & (a <= 1.0))  # also NaN
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        interval = "[0, 1]" if zero_ok else "(0, 1]"
        raise ValueError(f"{name}[{i}] is {a[i]:g}: a probability in {interval}")
    return a


def _finite(x: float, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {shown(x)}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v:g}")
    return v
