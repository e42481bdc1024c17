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
from numpy.typing import ArrayLike

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
    """
    r = np.asarray(rewards, dtype=float)
    kl = np.asarray(kl_mid, dtype=float)
    h = r.shape[0]
    if kl.shape != (h - 1,):
        raise ValueError(f"kl_mid must have length len(rewards) - 1 = {h - 1}, got {kl.shape}")
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
    """
    r = np.asarray(rewards, dtype=float)
    v = np.asarray(v_mid, dtype=float)
    p = np.asarray(pi_mid, dtype=float)
    q = np.asarray(q_mid, dtype=float)
    h = r.shape[0]
    for name, arr in (("v_mid", v), ("pi_mid", p), ("q_mid", q)):
        if arr.shape != (h - 1,):
            raise ValueError(f"{name} must have length len(rewards) - 1 = {h - 1}, got {arr.shape}")
    g = r[-1] + gamma * v_last
    for k in range(h - 2, -1, -1):
        g = r[k] + gamma * (v[k] - p[k] * q[k] + p[k] * g)
    return float(g)


def importance_weight(pi_mid: ArrayLike, b_mid: ArrayLike) -> float:
    r"""Per-decision importance-sampling ratio of the intermediate actions.

    .. math:: \rho = \prod_{k=1}^{h-1} \frac{\pi(a_{t+k}|s_{t+k})}{b(a_{t+k}|s_{t+k})}

    The first action (being evaluated) and the value at the horizon need no correction.
    """
    p = np.asarray(pi_mid, dtype=float)
    b = np.asarray(b_mid, dtype=float)
    if p.shape != b.shape:
        raise ValueError(f"pi_mid and b_mid must have the same shape, got {p.shape} and {b.shape}")
    return float(np.prod(p / b))
