r"""The two-step task (Daw et al. 2011) and its deterministic variant (Kool et al. 2016): the environment.

Each trial is one episode of two steps, seen by the agent as three tabular states (docs/tasks.md,
"Two-step task"):

- state 0 (stage 1): choice ``a1 ∈ {0, 1}``; a *common* transition (probability ``p_common``, 0.7) leads
  to second-stage state ``state2 = a1``, a *rare* one to ``1 - a1``; the agent observes ``1 + state2``;
- state ``1 + state2`` (stage 2): choice ``a2 ∈ {0, 1}``, reward ``~ Bernoulli(p_t[state2, a2])``, end.

The four reward probabilities drift from trial to trial as independent Gaussian random walks reflected
into ``bounds``,

.. math:: p_{t+1} = \operatorname{reflect}_{[l, u]}\big(p_t + \varepsilon_t\big), \quad
   \varepsilon_t \sim \mathcal{N}(0, \sigma^2), \ \sigma = 0.025, \ [l, u] = [0.25, 0.75],

or are given explicitly as an array ``(n_trials, 2, 2)`` indexed ``[trial, state2, choice2]``.
:func:`reflected_walk` is the package's one implementation of this drift (the cohort simulators of
:mod:`dopasoft.experiments` and :mod:`dopasoft.fitting.simulate` call it too).

With ``deterministic=True`` (Kool, Cushman & Gershman 2016) the transition is always common and the
second-stage choice has no consequence (the reward probability depends on the state only).

Agents (:class:`~dopasoft.agents.HybridTwoStepAgent`, :class:`~dopasoft.agents.StickyChoice`) live in
:mod:`dopasoft.agents`; the cohort simulator :func:`~dopasoft.experiments.simulate_two_step`,
:func:`~dopasoft.experiments.to_canonical` and :func:`~dopasoft.experiments.stay_probabilities` in
:mod:`dopasoft.experiments`.

References
----------
Daw, N. D., Gershman, S. J., Seymour, B., Dayan, P. & Dolan, R. J. (2011). Model-based influences on
humans' choices and striatal prediction errors. *Neuron* 69, 1204–1215.
Kool, W., Cushman, F. A. & Gershman, S. J. (2016). When does model-based control pay off?
*PLoS Computational Biology* 12, e1005090.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from dopasoft._messages import shown

__all__ = [
    "TwoStepTask",
    "drifting_reward_probs",
    "reflected_walk",
    "check_reward_probs",
    "check_task_settings",
    "reflect",
    "CANONICAL_COLUMNS",
]

CANONICAL_COLUMNS = ("subject", "trial", "choice1", "state2", "choice2", "reward")


@njit(cache=True)
def _reflect_one(x: float, low: float, high: float) -> float:  # pragma: no cover - compiled
    y = x
    if y > high:
        y = 2.0 * high - y
    if y < low:
        y = 2.0 * low - y
        if y > high:  # past the band twice: fold by the period of the repeated reflection
            width = high - low
            z = (x - low) % (2.0 * width)
            y = low + (2.0 * width - z if z > width else z)
    return y


@njit(cache=True)
def _reflect_flat(x, low, high):  # pragma: no cover - compiled
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _reflect_one(x[i], low, high)
    return out


@njit(cache=True)
def _walk_flat(p0, steps, low, high):  # pragma: no cover - compiled
    n, n_steps, k = steps.shape
    out = np.empty((n, n_steps + 1, k))
    for i in range(n):
        for j in range(k):
            p = p0[i, j]
            out[i, 0, j] = p
            for t in range(n_steps):
                p = _reflect_one(p + steps[i, t, j], low, high)
                out[i, t + 1, j] = p
    return out


def reflect(x: ArrayLike, low: float, high: float) -> NDArray[np.float64]:
    """Reflect values into ``[low, high]`` at both bounds, as often as needed (exact for any distance).

    Values inside the bounds are returned unchanged (bit for bit); a value that one reflection brings
    inside (``2 high - x`` or ``2 low - x``) gets exactly that; farther values are folded with the
    period ``2 (high - low)`` of the repeated reflection.

    Examples
    --------
    >>> reflect([0.8, 0.2, 0.5, 1.3, -0.3], 0.25, 0.75).round(12).tolist()
    [0.7, 0.3, 0.5, 0.3, 0.7]
    """
    x = np.asarray(x, dtype=float)
    return _reflect_flat(np.ascontiguousarray(x).ravel(), float(low), float(high)).reshape(x.shape)


def reflected_walk(initial: ArrayLike, steps: ArrayLike, low: float, high: float) -> NDArray[np.float64]:
    r"""Random walks reflected into ``[low, high]``: :math:`p_0 = ` ``initial``,
    :math:`p_{t+1} = \operatorname{reflect}(p_t + \text{steps}_t)` (:func:`reflect`), compiled.

    Parameters
    ----------
    initial : array_like, shape (..., 2, 2)
        First values (any leading axes, e.g. subjects).
    steps : array_like, shape (..., n_trials - 1, 2, 2)
        Increments; the time axis is third from the end.
    low, high : float
        Reflecting bounds.

    Returns
    -------
    ndarray, shape (..., n_trials, 2, 2)

    Examples
    --------
    >>> import numpy as np
    >>> from dopasoft.tasks import reflected_walk
    >>> initial = np.full((2, 2), 0.7)
    >>> steps = np.stack([np.full((2, 2), 0.1), np.full((2, 2), -0.3)])  # two steps
    >>> walk = reflected_walk(initial, steps, 0.25, 0.75)  # 0.7 -> 0.8, reflected to 0.7 -> 0.4
    >>> walk.shape, walk[:, 0, 0].round(2).tolist()
    ((3, 2, 2), [0.7, 0.7, 0.4])
    """
    d = np.asarray(steps, dtype=float)
    lead, n_steps, cell = d.shape[:-3], d.shape[-3], d.shape[-2:]
    n, k = int(np.prod(lead)), cell[0] * cell[1]  # explicit sizes: a walk may have no steps
    flat_steps = np.ascontiguousarray(d).reshape(n, n_steps, k)
    p0 = np.ascontiguousarray(np.broadcast_to(np.asarray(initial, dtype=float), lead + cell))
    walk = _walk_flat(p0.reshape(n, k), flat_steps, float(low), float(high))
    return walk.reshape(lead + (n_steps + 1,) + cell)


def _check_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (low, high), got {bounds!r}") from None
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"bounds must satisfy 0 <= low < high <= 1, got {bounds!r}")
    return low, high


def drifting_reward_probs(
    n_trials: int,
    *,
    sd: float = 0.025,
    bounds: tuple[float, float] = (0.25, 0.75),
    initial: ArrayLike | None = None,
    seed: int | np.random.Generator | None = None,
) -> NDArray[np.float64]:
    r"""Reward probabilities ``(n_trials, 2, 2)`` drifting as reflected Gaussian random walks.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    sd : float, default 0.025
        Standard deviation :math:`\sigma` of the trial-to-trial Gaussian steps (>= 0).
    bounds : (float, float), default (0.25, 0.75)
        Reflecting bounds.
    initial : array_like (2, 2), optional
        Probabilities on the first trial; uniform in ``bounds`` if omitted.
    seed : int or Generator, optional

    Returns
    -------
    ndarray, shape (n_trials, 2, 2)
        ``p[t, state2, choice2]``.

    Examples
    --------
    >>> from dopasoft.tasks import drifting_reward_probs
    >>> probs = drifting_reward_probs(200, seed=0)
    >>> probs.shape, bool(((probs >= 0.25) & (probs <= 0.75)).all())
    ((200, 2, 2), True)
    """
    n = _check_count(n_trials, "n_trials")
    low, high = _check_bounds(bounds)
    if not (np.isfinite(sd) and sd >= 0):
        raise ValueError(f"sd (drift_sd) must be >= 0, got {shown(sd)}")
    rng = np.random.default_rng(seed)
    if initial is None:
        p0 = rng.uniform(low, high, size=(2, 2))
    else:
        p0 = np.asarray(initial, dtype=float)
        if p0.shape != (2, 2) or np.any(p0 < low) or np.any(p0 > high):
            raise ValueError(f"initial must be a (2, 2) array within bounds {bounds}, got {initial!r}")
    steps = rng.normal(0.0, sd, size=(n - 1, 2, 2))
    return reflected_walk(p0, steps, low, high)


def check_reward_probs(reward_probs: ArrayLike, n_trials: int | None = None) -> NDArray[np.float64]:
    """Validate an explicit reward schedule: shape ``(n_trials, 2, 2)``, values in [0, 1].

    Raises
    ------
    ValueError
        Naming ``reward_probs`` and what is wrong (shape, length mismatch with ``n_trials``, range).
    """
    p = np.asarray(reward_probs, dtype=float)
    if p.ndim != 3 or p.shape[1:] != (2, 2) or p.shape[0] < 1:
        raise ValueError(f"reward_probs must have shape (n_trials, 2, 2), got {p.shape}")
    if n_trials is not None and p.shape[0] != n_trials:
        raise ValueError(f"reward_probs has {p.shape[0]} trials but n_trials={n_trials}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError("reward_probs must be probabilities in [0, 1]")
    return p


def check_task_settings(
    p_common: float, drift_sd: float, bounds: tuple[float, float], *, deterministic: bool = False
) -> tuple[float, float, tuple[float, float]]:
    """Validate the settings of :class:`TwoStepTask`; return ``(p_common, drift_sd, bounds)``.

    ``p_common`` is returned as 1 when ``deterministic``.

    Raises
    ------
    ValueError
        Naming ``p_common`` (not in [0.5, 1]), ``drift_sd`` (negative or not finite) or ``bounds``.
    """
    if isinstance(p_common, bool) or not (isinstance(p_common, int | float) and 0.5 <= p_common <= 1.0):
        raise ValueError(f"p_common must be in [0.5, 1], got {shown(p_common)}")
    low_high = _check_bounds(bounds)
    if isinstance(drift_sd, bool) or not (
        isinstance(drift_sd, int | float | np.integer | np.floating)
        and np.isfinite(drift_sd)
        and drift_sd >= 0
    ):
        raise ValueError(f"drift_sd must be >= 0, got {shown(drift_sd)}")
    return (1.0 if deterministic else float(p_common)), float(drift_sd), low_high


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {shown(value)}")
    return int(value)


class TwoStepTask(gym.Env):
    """The Daw et al. (2011) two-step task as an episodic environment (one trial per episode).

    Parameters
    ----------
    n_trials : int, optional
        Session length; default 200, or the length of ``reward_probs``.
    p_common : float, default 0.7
        Probability of the common transition, in [0.5, 1].
    drift_sd : float, default 0.025
        Standard deviation of the reward-probability random walk.
    bounds : (float, float), default (0.25, 0.75)
        Reflecting bounds of the random walk.
    reward_probs : array_like (n_trials, 2, 2), optional
        Explicit schedule ``p[t, state2, choice2]`` (then ``drift_sd``/``bounds`` are unused).
    deterministic : bool, default False
        Kool et al. (2016) variant: transitions always common, the second-stage choice has no effect
        (a generated schedule has equal probabilities for both second-stage actions).
    seed : int, optional
        Seed of the generated schedule, transitions and rewards. ``reset(seed=s)`` restarts the
        session at trial 0 and, unless the schedule was given, draws a new schedule from ``s``.

    Notes
    -----
    Observations: 0 (stage 1), 1 + state2 (stage 2); after the second step the episode terminates and
    the returned observation is 0. Step ``info``: ``stage``, ``event`` (``"stage1"``/``"stage2"``, which
    name the per-trial signal columns ``stage1_rpe``, ``stage2_rpe`` of :func:`dopasoft.simulate`), ``state2``
    and ``common`` after stage 1, ``reward_prob`` after stage 2.

    Examples
    --------
    >>> task = TwoStepTask(10, seed=0)
    >>> obs, info = task.reset()
    >>> obs, r, terminated, truncated, info = task.step(0)
    >>> obs in (1, 2), terminated
    (True, False)
    """

    metadata: dict[str, Any] = {"render_modes": []}
    n_states = 3
    n_actions = 2

    def __init__(
        self,
        n_trials: int | None = None,
        *,
        p_common: float = 0.7,
        drift_sd: float = 0.025,
        bounds: tuple[float, float] = (0.25, 0.75),
        reward_probs: ArrayLike | None = None,
        deterministic: bool = False,
        seed: int | None = None,
    ) -> None:
        self.deterministic = bool(deterministic)
        self.p_common, self.drift_sd, self.bounds = check_task_settings(
            p_common, drift_sd, bounds, deterministic=self.deterministic
        )
        self.explicit_schedule = reward_probs is not None
        if reward_probs is not None:
            if n_trials is not None:
                _check_count(n_trials, "n_trials")
            self.reward_probs = check_reward_probs(reward_probs, n_trials)
            self.n_trials = self.reward_probs.shape[0]
        else:
            self.n_trials = _check_count(200 if n_trials is None else n_trials, "n_trials")
            self.reward_probs = self._draw_schedule(seed)
        self.observation_space = gym.spaces.Discrete(3)
        self.action_space = gym.spaces.Discrete(2)
        self._seed = seed
        self._started = False
        self._trial = -1
        self._stage = 0
        self._state2 = 0

    def _draw_schedule(self, seed: int | None) -> NDArray[np.float64]:
        rng = np.random.default_rng(None if seed is None else [seed, 1])
        p = drifting_reward_probs(self.n_trials, sd=self.drift_sd, bounds=self.bounds, seed=rng)
        if self.deterministic:
            p[:, :, 1] = p[:, :, 0]
        return p

    @property
    def trial(self) -> int:
        """Index of the current trial (-1 before the first reset)."""
        return self._trial

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Start the next trial (``seed`` restarts the session; see the class notes)."""
        if seed is None and not self._started:
            seed = self._seed
        super().reset(seed=seed)
        if seed is not None or not self._started:
            if seed is not None and not self.explicit_schedule:
                self.reward_probs = self._draw_schedule(seed)
            self._trial = -1
            self._started = True
        self._trial += 1
        if self._trial >= self.n_trials:
            raise ValueError(
                f"the session has only {self.n_trials} trials (n_trials); call reset(seed=...) to restart"
            )
        self._stage = 1
        return 0, {"trial": self._trial}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Stage 1: transition to ``1 + state2`` (reward 0). Stage 2: reward and termination."""
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action must be 0 or 1, got {shown(action)}")
        a = int(action)
        if self._stage == 1:
            common = bool(self.np_random.random() < self.p_common)
            self._state2 = a if common else 1 - a
            self._stage = 2
            info = {"stage": 1, "event": "stage1", "state2": self._state2, "common": common}
            return 1 + self._state2, 0.0, False, False, info
        if self._stage == 2:
            p = float(self.reward_probs[self._trial, self._state2, a])
            reward = float(self.np_random.random() < p)
            self._stage = 0
            return 0, reward, True, False, {"stage": 2, "event": "stage2", "reward_prob": p}
        raise RuntimeError("call reset() before step()")
