r"""Distributional TD (Dabney et al. 2020): a population of RPE units with asymmetric learning rates.

Unit :math:`i` predicts the reward of a cue with a value :math:`V_i` and learns from its own error
:math:`\delta_i = r - V_i`,

.. math:: V_i \leftarrow V_i + \alpha^+_i \delta_i \ \text{if}\ \delta_i > 0, \qquad
          V_i \leftarrow V_i + \alpha^-_i \delta_i \ \text{otherwise},

so that at convergence :math:`V_i` is the :math:`\tau_i`-expectile of the reward distribution,
:math:`\tau_i = \alpha^+_i / (\alpha^+_i + \alpha^-_i)`: the value :math:`m` with
:math:`\tau\,E[(r - m)^+] = (1 - \tau)\,E[(m - r)^+]` (:func:`expectiles`). A unit's *reversal point* is
the reward magnitude at which its mean :math:`\delta_i` is 0; optimistic units (:math:`\tau_i > 1/2`)
reverse above the mean, pessimistic ones below. The reward distribution can be read back from the
reversal points by *expectile imputation* (:func:`impute_distribution`): samples whose expectiles
match them.

The default rewards are the seven juice magnitudes of Dabney et al. (2020; 0.1, 0.3, 1.2, 2.5, 5, 10,
20 µl) with the frequencies at which they were delivered in their variable-magnitude task
(:data:`DABNEY_PROBABILITIES`, the empirical frequencies used in the analysis code released with the
paper).

References
----------
Dabney, W., Kurth-Nelson, Z., Uchida, N., Starkweather, C. K., Hassabis, D., Munos, R. & Botvinick, M.
(2020). A distributional code for value in dopamine-based reinforcement learning. *Nature* 577,
671–675.
Newey, W. K. & Powell, J. L. (1987). Asymmetric least squares estimation and testing. *Econometrica*
55, 819–847. (expectiles)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import brentq, minimize

from dopasoft._memory import require_memory
from dopasoft._messages import shown
from dopasoft.soft import boltzmann_policy

__all__ = [
    "DABNEY_MAGNITUDES",
    "DABNEY_PROBABILITIES",
    "DEFAULT_ARMS",
    "DistributionalBanditResult",
    "DistributionalResult",
    "distributional_bandit",
    "distributional_rpe",
    "expectiles",
    "impute_distribution",
]

DABNEY_MAGNITUDES = (0.1, 0.3, 1.2, 2.5, 5.0, 10.0, 20.0)
"""Juice magnitudes (µl) of the variable-magnitude task of Dabney et al. (2020)."""

DABNEY_PROBABILITIES = (0.06612594, 0.09090909, 0.14847358, 0.15489467, 0.31159175, 0.1509519, 0.07705306)
"""How often each of :data:`DABNEY_MAGNITUDES` was delivered (empirical frequencies; sum 1 to 1e-8)."""


def _distribution(rewards, probabilities) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r = np.asarray(rewards, dtype=float).reshape(-1)
    if r.size == 0 or not np.all(np.isfinite(r)):
        raise ValueError(f"rewards must be finite numbers, got {shown(rewards)}")
    if probabilities is None:
        p = np.full(r.size, 1.0 / r.size)
    else:
        p = np.asarray(probabilities, dtype=float).reshape(-1)
        if p.shape != r.shape:
            raise ValueError(
                f"probabilities must have one value per reward ({r.size}), got {shown(probabilities)}"
            )
        if not np.all(np.isfinite(p)) or np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-6):
            raise ValueError(f"probabilities must be >= 0 and sum to 1, got {shown(probabilities)}")
        p = p / p.sum()
    return r, p


def _asymmetries(taus, name: str = "asymmetries") -> NDArray[np.float64]:
    t = np.asarray(taus, dtype=float).reshape(-1)
    if t.size == 0 or not np.all((t > 0) & (t < 1)):
        raise ValueError(
            f"{name} must be numbers in (0, 1) (tau = alpha+ / (alpha+ + alpha-)), got {shown(taus)}"
        )
    return t


def expectiles(
    rewards: Sequence[float], probabilities: Sequence[float] | None, taus: Sequence[float]
) -> NDArray[np.float64]:
    r"""The :math:`\tau`-expectiles of a discrete distribution (root of the expectile equation).

    :math:`e_\tau` solves :math:`\tau\sum_k p_k (r_k - e)^+ = (1 - \tau)\sum_k p_k (e - r_k)^+`; the
    0.5-expectile is the mean.

    Parameters
    ----------
    rewards : sequence of float
    probabilities : sequence of float or None
        None: equally likely.
    taus : sequence of float
        In (0, 1).

    Returns
    -------
    ndarray
        One expectile per ``tau``.

    Raises
    ------
    ValueError
        For a ``tau`` outside (0, 1) or probabilities that do not sum to 1.

    Examples
    --------
    >>> expectiles([0.0, 1.0], [0.5, 0.5], [0.5, 0.75]).round(6).tolist()
    [0.5, 0.75]
    """
    r, p = _distribution(rewards, probabilities)
    out = []
    for tau in _asymmetries(taus, "taus"):

        def balance(e, tau=tau):
            return tau * p @ np.maximum(r - e, 0.0) - (1.0 - tau) * p @ np.maximum(e - r, 0.0)

        lo, hi = float(r.min()), float(r.max())
        out.append(lo if hi == lo else brentq(balance, lo, hi, xtol=1e-13))
    return np.asarray(out)


def impute_distribution(
    reversal_points: Sequence[float],
    asymmetries: Sequence[float],
    *,
    n_samples: int = 100,
    seed: int | np.random.Generator | None = None,
) -> NDArray[np.float64]:
    r"""Expectile imputation (Dabney et al. 2020): samples whose :math:`\tau_i`-expectiles match the reversal points.

    Minimises :math:`\sum_i \big(\frac1N\sum_j w_{ij} (z_j - e_i)\big)^2` over the samples :math:`z`,
    :math:`w_{ij} = \tau_i` if :math:`z_j > e_i` else :math:`1 - \tau_i` (the expectile equation of each
    unit, evaluated on the samples), from a seeded start spread over the reversal points' range.

    Parameters
    ----------
    reversal_points : sequence of float
        One per unit (:math:`e_i`).
    asymmetries : sequence of float
        :math:`\tau_i` in (0, 1), one per unit.
    n_samples : int, default 100
    seed : int or Generator, optional

    Returns
    -------
    ndarray
        ``n_samples`` values, sorted.

    Raises
    ------
    ValueError
        For unequal lengths, a ``tau`` outside (0, 1) or non-finite reversal points.

    Examples
    --------
    >>> z = impute_distribution([0.25, 0.5, 0.75], [0.25, 0.5, 0.75], n_samples=50, seed=0)
    >>> round(float(z.mean()), 2)
    0.5
    """
    e = np.asarray(reversal_points, dtype=float).reshape(-1)
    taus = _asymmetries(asymmetries)
    if e.shape != taus.shape or not np.all(np.isfinite(e)):
        raise ValueError(
            f"reversal_points must be finite, one per asymmetry ({taus.size}), got {shown(reversal_points)}"
        )
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {shown(n_samples)}")
    rng = np.random.default_rng(seed)
    span = max(float(e.max() - e.min()), 1e-6)
    start = rng.uniform(e.min() - 0.5 * span, e.max() + 0.5 * span, int(n_samples))

    def loss(z):
        diff = z[None, :] - e[:, None]
        w = np.where(diff > 0, taus[:, None], 1.0 - taus[:, None])
        g = (w * diff).mean(axis=1)
        grad = 2.0 * (g[:, None] * w).sum(axis=0) / z.size
        return float(g @ g), grad

    fit = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-12})
    return np.sort(fit.x)


@dataclass
class DistributionalResult:
    """Output of :func:`distributional_rpe`.

    Examples
    --------
    >>> res = distributional_rpe(n_units=4, n_trials=200, seed=0)
    >>> len(res.units), len(res.rpe), res.values.shape, res.decoded.size
    (4, 28, (201, 4), 100)

    Attributes
    ----------
    units : pandas.DataFrame
        One row per unit: ``unit``, ``asymmetry`` (:math:`\\tau_i`), ``alpha_plus``, ``alpha_minus``,
        ``value`` (:math:`V_i`, mean over the second half of training), ``reversal_point`` (where the
        unit's mean RPE against magnitude crosses 0) and ``expectile`` (the :math:`\\tau_i`-expectile of
        the reward distribution, what the value should converge to).
    rpe : pandas.DataFrame
        One row per unit and magnitude: ``unit``, ``asymmetry``, ``magnitude``, ``delta`` (mean
        :math:`r - V_i` over the second half of training), ``response`` (the asymmetrically scaled
        response, ``delta`` times :math:`\\tau_i` if positive, :math:`1 - \\tau_i` if negative) and ``n``.
    decoded : ndarray
        Samples of the reward distribution imputed from the reversal points.
    rewards, probabilities : ndarray
        The reward distribution.
    values : ndarray
        ``(n_trials + 1, n_units)``: every unit's value before each trial and after the last.
    """

    units: pd.DataFrame
    rpe: pd.DataFrame
    decoded: NDArray[np.float64]
    rewards: NDArray[np.float64]
    probabilities: NDArray[np.float64]
    values: NDArray[np.float64]


def _reversal_point(magnitudes: NDArray, delta: NDArray) -> float:
    """Magnitude where the mean RPE crosses 0, by linear interpolation between the bracketing magnitudes."""
    ok = np.isfinite(delta)
    m, d = magnitudes[ok], delta[ok]
    if m.size == 0:
        return np.nan
    if np.all(d < 0):
        return float(m[-1])
    if np.all(d > 0):
        return float(m[0])
    k = int(np.argmax(d >= 0))  # first magnitude with a non-negative mean RPE
    if k == 0 or d[k] == 0:
        return float(m[k])
    return float(m[k - 1] + (m[k] - m[k - 1]) * (-d[k - 1]) / (d[k] - d[k - 1]))


def _asymmetric_step(v: NDArray, r: float, a_plus: NDArray, a_minus: NDArray) -> NDArray:
    """The one distributional update: every unit moves towards ``r`` at alpha+ above, alpha- below."""
    delta = r - v
    return v + np.where(delta > 0, a_plus, a_minus) * delta


def _check_common(asymmetries, n_units, alpha, n_trials) -> NDArray[np.float64]:
    if asymmetries is None:
        if isinstance(n_units, bool) or not isinstance(n_units, int | np.integer) or n_units < 1:
            raise ValueError(f"n_units must be an integer >= 1, got {shown(n_units)}")
        taus = (np.arange(int(n_units)) + 0.5) / int(n_units)
    else:
        taus = _asymmetries(asymmetries)
    if not (isinstance(alpha, int | float) and 0.0 < alpha <= 1.0):
        raise ValueError(f"alpha must be in (0, 1], got {shown(alpha)}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 2:
        raise ValueError(f"n_trials must be an integer >= 2, got {shown(n_trials)}")
    return taus


def distributional_rpe(
    rewards: Sequence[float] = DABNEY_MAGNITUDES,
    probabilities: Sequence[float] | None = DABNEY_PROBABILITIES,
    *,
    asymmetries: Sequence[float] | None = None,
    n_units: int = 20,
    alpha: float = 0.02,
    n_trials: int = 20_000,
    n_samples: int = 100,
    seed: int | np.random.Generator | None = None,
) -> DistributionalResult:
    r"""Simulate a population of distributional RPE units on a variable-magnitude reward task.

    Every trial a cue is followed by one reward drawn from ``rewards`` with ``probabilities``; unit
    :math:`i` has :math:`\alpha^+_i = \alpha\,\tau_i` and :math:`\alpha^-_i = \alpha\,(1 - \tau_i)` and
    learns as in the module docstring, so its value settles at the :math:`\tau_i`-expectile. Values and
    RPEs are averaged over the second half of training (a constant step size leaves the values
    fluctuating around the expectile).

    Parameters
    ----------
    rewards : sequence of float, default :data:`DABNEY_MAGNITUDES`
    probabilities : sequence of float or None, default :data:`DABNEY_PROBABILITIES`
        None: equally likely rewards.
    asymmetries : sequence of float, optional
        :math:`\tau_i` per unit, in (0, 1). Default: ``n_units`` evenly spaced, :math:`(i + 1/2)/n`.
    n_units : int, default 20
        Used when ``asymmetries`` is not given.
    alpha : float, default 0.02
        :math:`\alpha^+_i + \alpha^-_i`, in (0, 1].
    n_trials : int, default 20000
    n_samples : int, default 100
        Samples of the decoded distribution (:func:`impute_distribution`).
    seed : int or Generator, optional
        Reward draws and the decoder's start: same seed, same result.

    Returns
    -------
    DistributionalResult
        ``.units`` has one row per unit with ``asymmetry`` and ``reversal_point``.

    Raises
    ------
    ValueError
        For rewards or probabilities that are not a distribution, asymmetries outside (0, 1), or an
        ``alpha``, ``n_units`` or ``n_trials`` out of range.

    Examples
    --------
    >>> res = distributional_rpe(asymmetries=[0.1, 0.5, 0.9], n_trials=4000, seed=0)
    >>> res.units[["asymmetry", "reversal_point", "expectile"]].round(1).values.tolist()
    [[0.1, 1.9, 2.0], [0.5, 5.0, 5.2], [0.9, 10.5, 10.8]]
    """
    r, p = _distribution(rewards, probabilities)
    taus = _check_common(asymmetries, n_units, alpha, n_trials)
    require_memory(
        8.0 * (int(n_trials) + 1) * taus.size * 2,
        f"n_trials={int(n_trials)} with {taus.size} units (every unit's value before every trial)",
        "use fewer trials or units",
    )
    rng = np.random.default_rng(seed)
    a_plus, a_minus = alpha * taus, alpha * (1.0 - taus)
    drawn = rng.choice(r.size, size=int(n_trials), p=p)
    values = np.zeros((int(n_trials) + 1, taus.size))
    v = np.zeros(taus.size)
    for t, k in enumerate(drawn):
        v = _asymmetric_step(v, r[k], a_plus, a_minus)
        values[t + 1] = v
    half = int(n_trials) // 2
    late_values = values[half:-1]  # the value each late trial's RPE was computed from
    rows = []
    for k, m in enumerate(r):
        sel = drawn[half:] == k
        delta = (m - late_values[sel]).mean(axis=0) if sel.any() else np.full(taus.size, np.nan)
        for i, tau in enumerate(taus):
            d = float(delta[i])
            rows.append(
                {
                    "unit": i,
                    "asymmetry": float(tau),
                    "magnitude": float(m),
                    "delta": d,
                    "response": d * (tau if d > 0 else 1.0 - tau),
                    "n": int(sel.sum()),
                }
            )
    rpe = pd.DataFrame(rows).sort_values(["unit", "magnitude"], kind="stable").reset_index(drop=True)
    sorted_r = np.sort(r)  # the rows of each unit are in this order
    reversal = [
        _reversal_point(sorted_r, rpe.loc[rpe["unit"] == i, "delta"].to_numpy()) for i in range(taus.size)
    ]
    units = pd.DataFrame(
        {
            "unit": np.arange(taus.size),
            "asymmetry": taus,
            "alpha_plus": a_plus,
            "alpha_minus": a_minus,
            "value": late_values.mean(axis=0),
            "reversal_point": reversal,
            "expectile": expectiles(r, p, taus),
        }
    )
    decoded = impute_distribution(units["reversal_point"], taus, n_samples=n_samples, seed=rng)
    return DistributionalResult(
        units=units, rpe=rpe, decoded=decoded, rewards=r, probabilities=p, values=values
    )


DEFAULT_ARMS = ((DABNEY_MAGNITUDES, DABNEY_PROBABILITIES), ((2.0, 8.0), (0.5, 0.5)))
"""The default arms of :func:`distributional_bandit`: Dabney et al.'s variable magnitudes, and 2 or 8 µl."""


@dataclass
class DistributionalBanditResult:
    """Output of :func:`distributional_bandit`.

    Examples
    --------
    >>> res = distributional_bandit(n_units=3, n_trials=300, seed=0)
    >>> len(res.units), res.values.shape, list(res.trials.columns[:3])
    (6, (301, 3, 2), ['trial', 'choice', 'reward'])

    Attributes
    ----------
    units : pandas.DataFrame
        One row per unit and arm: ``unit``, ``arm``, ``asymmetry``, ``alpha_plus``, ``alpha_minus``,
        ``value`` (:math:`Q_i(a)`, mean over the second half of training), ``reversal_point`` (where the
        unit's mean RPE on that arm, against magnitude, crosses 0) and ``expectile`` (the
        :math:`\\tau_i`-expectile of the arm's reward distribution).
    trials : pandas.DataFrame
        One row per trial: ``trial``, ``choice``, ``reward`` and ``p_0``, ``p_1``, ... (the Boltzmann
        policy the choice was drawn from).
    values : ndarray
        ``(n_trials + 1, n_units, n_arms)``: every unit's value of every arm before each trial and after
        the last.
    arms : list of (ndarray, ndarray)
        Each arm's rewards and probabilities.
    """

    units: pd.DataFrame
    trials: pd.DataFrame
    values: NDArray[np.float64]
    arms: list


def distributional_bandit(
    arms: Sequence[tuple[Sequence[float], Sequence[float] | None]] = DEFAULT_ARMS,
    *,
    asymmetries: Sequence[float] | None = None,
    n_units: int = 20,
    alpha: float = 0.02,
    beta: float = 0.3,
    n_trials: int = 5000,
    seed: int | np.random.Generator | None = None,
) -> DistributionalBanditResult:
    r"""Distributional TD where choices exist: a population of units on a bandit, choosing softly.

    Each arm :math:`a` pays a reward drawn from its own distribution. Unit :math:`i` keeps a value
    :math:`Q_i(a)` of every arm and, after a choice :math:`a_t` and reward :math:`r_t`, updates the chosen
    arm's value with the update of :func:`distributional_rpe` (the same function),

    .. math:: \delta_i = r_t - Q_i(a_t), \qquad
              Q_i(a_t) \leftarrow Q_i(a_t) + (\alpha^+_i\,[\delta_i > 0] + \alpha^-_i\,[\delta_i \le 0])\,\delta_i,

    with :math:`\alpha^+_i = \alpha\tau_i`, :math:`\alpha^-_i = \alpha(1 - \tau_i)`. Choices follow the
    Boltzmann (soft) policy of the *population mean* value
    :math:`\bar Q(a) = \frac1N\sum_i Q_i(a)`,

    .. math:: \pi(a) = \frac{\exp(\beta \bar Q(a))}{\sum_b \exp(\beta \bar Q(b))}

    (:func:`dopasoft.soft.boltzmann_policy` with temperature :math:`1/\beta`). Every arm keeps a positive
    probability, so every unit's value of every arm converges to the :math:`\tau_i`-expectile of that
    arm's reward distribution, whatever the policy (docs/maths.md §10).

    Parameters
    ----------
    arms : sequence of (rewards, probabilities), default :data:`DEFAULT_ARMS`
        One reward distribution per arm (probabilities None: equally likely), at least two arms.
    asymmetries : sequence of float, optional
        :math:`\tau_i` per unit, in (0, 1). Default: ``n_units`` evenly spaced, :math:`(i + 1/2)/n`.
    n_units : int, default 20
        Used when ``asymmetries`` is not given.
    alpha : float, default 0.02
        :math:`\alpha^+_i + \alpha^-_i`, in (0, 1].
    beta : float, default 0.3
        Inverse temperature of the policy (per reward unit), >= 0 (0: uniform choices).
    n_trials : int, default 5000
    seed : int or Generator, optional
        Choices and rewards: same seed, same result.

    Returns
    -------
    DistributionalBanditResult
        ``.units`` has one row per unit and arm.

    Raises
    ------
    ValueError
        For fewer than two arms, an arm that is not a distribution, asymmetries outside (0, 1), or an
        ``alpha``, ``beta``, ``n_units`` or ``n_trials`` out of range.

    Examples
    --------
    >>> res = distributional_bandit(asymmetries=[0.2, 0.8], n_trials=4000, seed=0)
    >>> res.units[["unit", "arm", "value", "expectile"]].round(1).values.tolist()
    [[0.0, 0.0, 3.0, 2.9], [0.0, 1.0, 3.2, 3.2], [1.0, 0.0, 8.7, 8.5], [1.0, 1.0, 6.8, 6.8]]
    """
    try:
        dists = [_distribution(r, p) for r, p in arms]
    except (TypeError, ValueError) as err:
        raise ValueError(f"arms must be (rewards, probabilities) pairs, got {shown(arms)}: {err}") from None
    if len(dists) < 2:
        raise ValueError(f"a bandit needs at least two arms, got {len(dists)}")
    taus = _check_common(asymmetries, n_units, alpha, n_trials)
    if not (isinstance(beta, int | float) and not isinstance(beta, bool) and 0.0 <= beta < np.inf):
        raise ValueError(f"beta must be a finite number >= 0, got {shown(beta)}")
    n_arms, n = len(dists), int(n_trials)
    require_memory(
        8.0 * (n + 1) * taus.size * n_arms * 2,
        f"n_trials={n} with {taus.size} units and {n_arms} arms (every value before every trial)",
        "use fewer trials or units",
    )
    rng = np.random.default_rng(seed)
    a_plus, a_minus = alpha * taus, alpha * (1.0 - taus)
    q = np.zeros((taus.size, n_arms))
    values = np.zeros((n + 1, taus.size, n_arms))
    choices = np.zeros(n, dtype=np.int64)
    rewards = np.zeros(n)
    policy = np.zeros((n, n_arms))
    uniform = np.full(n_arms, 1.0 / n_arms)
    for t in range(n):
        pi = boltzmann_policy(q.mean(axis=0), 1.0 / beta) if beta > 0 else uniform
        a = int(rng.choice(n_arms, p=pi))
        r_vals, r_p = dists[a]
        r = float(r_vals[rng.choice(r_vals.size, p=r_p)])
        q[:, a] = _asymmetric_step(q[:, a], r, a_plus, a_minus)
        values[t + 1], choices[t], rewards[t], policy[t] = q, a, r, pi
    half = n // 2
    rows = []
    for a, (r_vals, r_p) in enumerate(dists):
        late = (np.arange(n) >= half) & (choices == a)
        before = values[:-1][late, :, a]  # the value each late choice's RPE was computed from
        mags = np.sort(np.unique(r_vals))
        mean_delta = np.array(
            [
                (m - before[rewards[late] == m]).mean(axis=0)
                if np.any(rewards[late] == m)
                else np.full(taus.size, np.nan)
                for m in mags
            ]
        )
        exp_a = expectiles(r_vals, r_p, taus)
        for i, tau in enumerate(taus):
            rows.append(
                {
                    "unit": i,
                    "arm": a,
                    "asymmetry": float(tau),
                    "alpha_plus": float(a_plus[i]),
                    "alpha_minus": float(a_minus[i]),
                    "value": float(values[half:-1, i, a].mean()),
                    "reversal_point": _reversal_point(mags, mean_delta[:, i]),
                    "expectile": float(exp_a[i]),
                }
            )
    units = pd.DataFrame(rows).sort_values(["unit", "arm"], kind="stable").reset_index(drop=True)
    trials = pd.DataFrame({"trial": np.arange(n), "choice": choices, "reward": rewards})
    for a in range(n_arms):
        trials[f"p_{a}"] = policy[:, a]
    return DistributionalBanditResult(units=units, trials=trials, values=values, arms=dists)
