r"""The two-step task (Daw et al. 2011), its deterministic variant (Kool et al. 2016) and cohort simulation.

Each trial is one episode of two steps, seen by the agent as three tabular states (SPEC §2–3):

- state 0 (stage 1): choice ``a1 ∈ {0, 1}``; a *common* transition (probability ``p_common``, 0.7) leads
  to second-stage state ``state2 = a1``, a *rare* one to ``1 - a1``; the agent observes ``1 + state2``;
- state ``1 + state2`` (stage 2): choice ``a2 ∈ {0, 1}``, reward ``~ Bernoulli(p_t[state2, a2])``, end.

The four reward probabilities drift from trial to trial as independent Gaussian random walks reflected
into ``bounds``,

.. math:: p_{t+1} = \operatorname{reflect}_{[l, u]}\big(p_t + \varepsilon_t\big), \quad
   \varepsilon_t \sim \mathcal{N}(0, \sigma^2), \ \sigma = 0.025, \ [l, u] = [0.25, 0.75],

or are given explicitly as an array ``(n_trials, 2, 2)`` indexed ``[trial, state2, choice2]``.

With ``deterministic=True`` (Kool, Cushman & Gershman 2016) the transition is always common and the
second-stage choice has no consequence (the reward probability depends on the state only).

References
----------
Daw, N. D., Gershman, S. J., Seymour, B., Dayan, P. & Dolan, R. J. (2011). Model-based influences on
humans' choices and striatal prediction errors. *Neuron* 69, 1204–1215.
Kool, W., Cushman, F. A. & Gershman, S. J. (2016). When does model-based control pay off?
*PLoS Computational Biology* 12, e1005090.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from dopasoft.learners import SoftQLambda, StepSignals
from dopasoft.simulation import SimulationResult, simulate, td_signals
from dopasoft.soft import boltzmann_policy, soft_value

__all__ = [
    "TwoStepTask",
    "drifting_reward_probs",
    "check_reward_probs",
    "reflect",
    "HybridTwoStepAgent",
    "StickyChoice",
    "to_canonical",
    "simulate_two_step",
    "stay_probabilities",
    "TWO_STEP_MODELS",
    "CANONICAL_COLUMNS",
]

CANONICAL_COLUMNS = ("subject", "trial", "choice1", "state2", "choice2", "reward")


def reflect(x: ArrayLike, low: float, high: float) -> NDArray[np.float64]:
    """Reflect values into ``[low, high]`` at both bounds (repeatedly if needed)."""
    width = high - low
    y = np.mod(np.asarray(x, dtype=float) - low, 2.0 * width)
    return low + np.where(y > width, 2.0 * width - y, y)


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
    """
    n = _check_count(n_trials, "n_trials")
    low, high = _check_bounds(bounds)
    if not (np.isfinite(sd) and sd >= 0):
        raise ValueError(f"sd (drift_sd) must be >= 0, got {sd!r}")
    rng = np.random.default_rng(seed)
    if initial is None:
        p0 = rng.uniform(low, high, size=(2, 2))
    else:
        p0 = np.asarray(initial, dtype=float)
        if p0.shape != (2, 2) or np.any(p0 < low) or np.any(p0 > high):
            raise ValueError(f"initial must be a (2, 2) array within bounds {bounds}, got {initial!r}")
    steps = rng.normal(0.0, sd, size=(n - 1, 2, 2))
    out = np.empty((n, 2, 2))
    out[0] = p0
    for t in range(1, n):
        out[t] = reflect(out[t - 1] + steps[t - 1], low, high)
    return out


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


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
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
    name the per-trial signal columns ``stage1_rpe``, ``stage2_rpe`` of :func:`simulate`), ``state2``
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
        if not (isinstance(p_common, int | float) and 0.5 <= p_common <= 1.0):
            raise ValueError(f"p_common must be in [0.5, 1], got {p_common!r}")
        self.deterministic = bool(deterministic)
        self.p_common = 1.0 if self.deterministic else float(p_common)
        self.bounds = _check_bounds(bounds)
        if not (np.isfinite(drift_sd) and drift_sd >= 0):
            raise ValueError(f"drift_sd must be >= 0, got {drift_sd!r}")
        self.drift_sd = float(drift_sd)
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
            raise ValueError(f"action must be 0 or 1, got {action!r}")
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


class HybridTwoStepAgent:
    r"""A small soft hybrid model-based / model-free agent for the two-step task (Daw et al. 2011).

    Model-free values ``Q_MF`` (3 states × 2 actions) learn as in SPEC §3 with an uncorrected trace:
    :math:`\delta_1 = \gamma V(s_2) - Q_{MF}(0, a_1)`, :math:`\delta_2 = r - Q(s_2, a_2)`,
    :math:`Q(s_2, a_2) \mathrel{+}= \alpha\delta_2`, :math:`Q_{MF}(0, a_1) \mathrel{+}= \alpha\delta_1
    + \alpha\gamma\lambda\delta_2`. Model-based stage-1 values use the known transition matrix ``T``,

    .. math:: Q_{MB}(0, a) = \gamma \sum_{s_2} T(s_2 | a)\, V(1 + s_2), \qquad
       Q(0, a) = w\, Q_{MB}(0, a) + (1 - w)\, Q_{MF}(0, a),

    with the soft value ``V`` at temperature ``tau``; choices are Boltzmann at ``tau``. ``w = 1`` is
    purely model-based, ``w = 0`` model-free. The recorded signals (``last_step``) are those of the net
    values. Same interface as :class:`~dopasoft.SoftQLambda`.
    """

    n_states = 3
    n_actions = 2

    def __init__(
        self,
        *,
        alpha: float,
        tau: float,
        lam: float = 1.0,
        w: float = 1.0,
        p_common: float = 0.7,
        gamma: float = 1.0,
    ) -> None:
        for name, value in (("alpha", alpha), ("lam", lam), ("w", w), ("gamma", gamma)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau!r}")
        self.alpha, self.tau, self.lam, self.w, self.gamma = alpha, tau, lam, w, gamma
        self.transitions = np.array([[p_common, 1 - p_common], [1 - p_common, p_common]])
        self.q_mf = np.zeros((3, 2))
        self._first: int | None = None
        self.last_step: StepSignals | None = None

    @property
    def q(self) -> NDArray[np.float64]:
        """Net action values ``(3, 2)`` (stage 1 mixed, stage 2 model-free)."""
        return np.stack([self.q_values(s) for s in range(3)])

    def q_values(self, state: int) -> NDArray[np.float64]:
        """Net ``Q(s, .)``."""
        if state != 0:
            return self.q_mf[state].copy()
        v2 = soft_value(self.q_mf[1:], self.tau)
        q_mb = self.gamma * self.transitions @ v2
        return self.w * q_mb + (1.0 - self.w) * self.q_mf[0]

    def value(self, state: int) -> float:
        """Soft value of the net action values."""
        return float(soft_value(self.q_values(state), self.tau))

    def policy(self, state: int) -> NDArray[np.float64]:
        """Boltzmann policy of the net action values."""
        return boltzmann_policy(self.q_values(state), self.tau)

    def act(self, state: int, rng: np.random.Generator) -> int:
        """Sample an action from :meth:`policy`."""
        return _sample(self.policy(state), rng)

    def reset_traces(self) -> None:
        """Forget the stage-1 pair awaiting the stage-2 error."""
        self._first = None

    def update(
        self,
        state: int,
        action: int,
        reward: float,
        next_state: int,
        terminated: bool,
        behaviour_prob: float | None = None,
    ) -> float:
        """Learn from one step; return the net TD error (signals in :attr:`last_step`)."""
        self.last_step = td_signals(self, state, action, reward, next_state, terminated)
        v_next = 0.0 if terminated else float(soft_value(self.q_mf[next_state], self.tau))
        delta = reward + self.gamma * v_next - self.q_mf[state, action]
        self.q_mf[state, action] += self.alpha * delta
        if state == 0:
            self._first = action
        elif self._first is not None:
            self.q_mf[0, self._first] += self.alpha * self.gamma * self.lam * delta
        if terminated:
            self._first = None
        return self.last_step.delta


def _sample(p: NDArray[np.float64], rng: np.random.Generator) -> int:
    return int(min(np.searchsorted(np.cumsum(p), rng.random(), side="right"), len(p) - 1))


class StickyChoice:
    r"""Wrap an agent so that its stage-1 choices repeat: ``kappa`` is added to the previous choice's logit.

    :math:`P(a_1) \propto \pi(a_1|0)\, e^{\kappa [a_1 = a_1^{prev}]}` (SPEC §3): behaviour only, the
    learning target is untouched. Every other attribute is the wrapped agent's.
    """

    def __init__(self, agent: Any, kappa: float) -> None:
        if not np.isfinite(kappa):
            raise ValueError(f"kappa must be finite, got {kappa!r}")
        self.agent = agent
        self.kappa = float(kappa)
        self._previous: int | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agent, name)

    def act(self, state: int, rng: np.random.Generator) -> int:
        """Sample from the sticky stage-1 policy (the plain policy at stage 2)."""
        p = self.agent.policy(state)
        if state == 0 and self._previous is not None and self.kappa != 0.0:
            logits = np.log(np.maximum(p, 1e-300))
            logits[self._previous] += self.kappa
            p = np.exp(logits - logits.max())
            p /= p.sum()
        action = _sample(p, rng)
        if state == 0:
            self._previous = action
        return action


def to_canonical(result: SimulationResult | pd.DataFrame, subject: int | str = 0) -> pd.DataFrame:
    """Canonical two-step data (SPEC §3) from a two-step simulation.

    Returns one row per trial with exactly the columns ``subject, trial, choice1, state2, choice2,
    reward`` (integers, and a float reward); ``trial`` is numbered from 1 (the simulation's trial + 1),
    as in :mod:`dopasoft.fitting`.
    """
    steps = result.steps if isinstance(result, SimulationResult) else result
    if "stage" not in steps.columns:
        raise ValueError("not a two-step simulation: the step table has no 'stage' column")
    s1 = steps[steps["stage"] == 1].set_index("trial")
    s2 = steps[steps["stage"] == 2].set_index("trial")
    out = pd.DataFrame(
        {
            "subject": subject,
            "trial": s1.index.to_numpy(dtype=int) + 1,
            "choice1": s1["action"].to_numpy(dtype=int),
            "state2": s1["state2"].to_numpy(dtype=int),
            "choice2": s2["action"].reindex(s1.index).to_numpy(dtype=int),
            "reward": s2["reward"].reindex(s1.index).to_numpy(dtype=float),
        }
    )
    return out[list(CANONICAL_COLUMNS)]


TWO_STEP_MODELS: dict[str, dict[str, float]] = {
    "soft-q-lambda": {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "kappa": 0.0},
    "soft-q-lambda-on-policy": {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "kappa": 0.0},
    "soft-q-lambda-uncorrected": {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "kappa": 0.0},
    "hybrid": {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "w": 0.5, "kappa": 0.0},
    "model-based": {"alpha": 0.5, "tau": 0.2, "kappa": 0.0},
}
"""Generative models of :func:`simulate_two_step` with their parameters and defaults."""

_TRACES = {
    "soft-q-lambda": "tree-backup",
    "soft-q-lambda-on-policy": "on-policy",
    "soft-q-lambda-uncorrected": "uncorrected",
}


def _make_agent(model: str, params: Mapping[str, float], p_common: float) -> Any:
    if model in _TRACES:
        agent: Any = SoftQLambda(
            3, 2, alpha=params["alpha"], tau=params["tau"], lam=params["lam"], trace=_TRACES[model]
        )
    elif model == "hybrid":
        agent = HybridTwoStepAgent(
            alpha=params["alpha"], tau=params["tau"], lam=params["lam"], w=params["w"],
            p_common=p_common,
        )  # fmt: skip
    else:
        agent = HybridTwoStepAgent(alpha=params["alpha"], tau=params["tau"], w=1.0, p_common=p_common)
    return StickyChoice(agent, params["kappa"]) if params["kappa"] else agent


def simulate_two_step(
    n_subjects: int,
    n_trials: int,
    *,
    model: str = "soft-q-lambda",
    params: Mapping[str, float] | None = None,
    p_common: float = 0.7,
    drift_sd: float = 0.025,
    bounds: tuple[float, float] = (0.25, 0.75),
    reward_probs: ArrayLike | None = None,
    deterministic: bool = False,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate a cohort on the two-step task; return canonical data (SPEC §3).

    Each subject has its own agent and (unless ``reward_probs`` is given) its own drifting schedule.

    Parameters
    ----------
    n_subjects, n_trials : int
        Positive counts.
    model : str, default "soft-q-lambda"
        One of :data:`TWO_STEP_MODELS`: Soft Q(λ) (``tree-backup``, ``on-policy``, ``uncorrected``
        traces, γ = 1, uniform default policy), the soft ``hybrid`` (with weight ``w``) or
        ``model-based`` (:class:`HybridTwoStepAgent` with ``w = 1``).
    params : mapping, optional
        Model parameters overriding the defaults of :data:`TWO_STEP_MODELS` (``kappa`` is the stage-1
        stickiness of :class:`StickyChoice`).
    p_common, drift_sd, bounds, reward_probs, deterministic
        Task settings (:class:`TwoStepTask`); an explicit ``reward_probs`` is shared by all subjects.
    seed : int or Generator, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, trial, choice1, state2, choice2, reward``.

    Raises
    ------
    ValueError
        For an unknown model or parameter (named), non-positive counts or a mismatched schedule.
    """
    n_sub = _check_count(n_subjects, "n_subjects")
    n_tr = _check_count(n_trials, "n_trials")
    if model not in TWO_STEP_MODELS:
        raise ValueError(f"unknown model {model!r}; valid models: {', '.join(TWO_STEP_MODELS)}")
    merged = dict(TWO_STEP_MODELS[model])
    for name, value in (params or {}).items():
        if name not in merged:
            raise ValueError(
                f"unknown parameter {name!r} for model {model!r}; its parameters: {', '.join(merged)}"
            )
        merged[name] = float(value)
    if reward_probs is not None:
        reward_probs = check_reward_probs(reward_probs, n_tr)
    rng = np.random.default_rng(seed)
    frames = []
    for subject in range(n_sub):
        task = TwoStepTask(
            n_tr, p_common=p_common, drift_sd=drift_sd, bounds=bounds, reward_probs=reward_probs,
            deterministic=deterministic,
        )  # fmt: skip
        agent = _make_agent(model, merged, task.p_common)
        result = simulate(agent, task, seed=int(rng.integers(2**32)))
        frames.append(to_canonical(result, subject=subject))
    return pd.concat(frames, ignore_index=True)


def stay_probabilities(data: pd.DataFrame) -> pd.DataFrame:
    """Probability of repeating the stage-1 choice by previous reward and transition (Daw et al. 2011).

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data (several subjects allowed; trials are paired within subject).

    Returns
    -------
    pandas.DataFrame
        Index ``rewarded`` (bool), columns ``common``/``rare``: mean stay probabilities.
    """
    missing = [c for c in CANONICAL_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"data is missing the canonical column(s) {missing}")
    d = data.dropna(subset=["choice1", "state2"]).sort_values(["subject", "trial"])
    previous = d.groupby("subject")[["choice1", "state2", "reward"]].shift(1)
    keep = previous["choice1"].notna()
    frame = pd.DataFrame(
        {
            "rewarded": previous.loc[keep, "reward"].to_numpy() > 0,
            "transition": np.where(
                previous.loc[keep, "choice1"] == previous.loc[keep, "state2"], "common", "rare"
            ),
            "stay": (d.loc[keep, "choice1"] == previous.loc[keep, "choice1"]).to_numpy(dtype=float),
        }
    )
    return frame.pivot_table(index="rewarded", columns="transition", values="stay", aggfunc="mean")
