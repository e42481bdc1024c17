r"""Agents: what the simulation loop needs from a learner (:class:`Agent`) and the two-step agents.

:class:`Agent` names the methods :func:`dopasoft.simulation.simulate` calls. The learners of
:mod:`dopasoft.learners` (:class:`~dopasoft.SoftQLambda`, :class:`~dopasoft.NStepSoftQ`) and the agents
here satisfy it. Environments live in :mod:`dopasoft.tasks`; cohort runners in
:mod:`dopasoft.experiments`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dopasoft._messages import shown
from dopasoft.learners import SoftQLambda, StepSignals
from dopasoft.simulation import Agent, td_signals
from dopasoft.soft import boltzmann_policy, soft_value

__all__ = [
    "Agent",
    "HybridTwoStepAgent",
    "SemiMarkovTD",
    "StickyChoice",
    "TWO_STEP_MODELS",
    "make_two_step_agent",
    "merge_two_step_params",
]


class HybridTwoStepAgent:
    r"""A small soft hybrid model-based / model-free agent for the two-step task (Daw et al. 2011).

    Model-free values ``Q_MF`` (3 states × 2 actions) learn by Soft Q(λ) with an uncorrected trace
    (docs/maths.md §4): :math:`\delta_1 = \gamma V(s_2) - Q_{MF}(0, a_1)`,
    :math:`\delta_2 = r - Q(s_2, a_2)`, :math:`Q(s_2, a_2) \mathrel{+}= \alpha\delta_2`,
    :math:`Q_{MF}(0, a_1) \mathrel{+}= \alpha\delta_1 + \alpha\gamma\lambda\delta_2`. Model-based
    stage-1 values use the known transition matrix ``T``,

    .. math:: Q_{MB}(0, a) = \gamma \sum_{s_2} T(s_2 | a)\, V(1 + s_2), \qquad
       Q(0, a) = w\, Q_{MB}(0, a) + (1 - w)\, Q_{MF}(0, a),

    with the soft value ``V`` at temperature ``tau`` (uniform default policy); choices are Boltzmann at
    ``tau``. ``w = 1`` is purely model-based, ``w = 0`` model-free. The recorded signals
    (``last_step``) are those of the net values. Satisfies :class:`Agent`. Its compiled cohort form is
    :func:`dopasoft.experiments.generators.soft_hybrid_generate_two_step` (tested equal step by step).
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
                raise ValueError(f"{name} must be in [0, 1], got {shown(value)}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {shown(tau)}")
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
    """The first action whose cumulative probability exceeds one uniform draw."""
    return int(min(np.searchsorted(np.cumsum(p), rng.random(), side="right"), len(p) - 1))


class StickyChoice:
    r"""Wrap an agent so that its stage-1 choices repeat: ``kappa`` is added to the previous choice's logit.

    :math:`P(a_1) \propto \pi(a_1|0)\, e^{\kappa [a_1 = a_1^{prev}]}`: behaviour only, the learning
    target is untouched (:meth:`policy` is this behaviour; values, ``update`` and every other attribute
    are the wrapped agent's, so it satisfies :class:`Agent` when the wrapped agent does).
    """

    def __init__(self, agent: Agent, kappa: float) -> None:
        if not np.isfinite(kappa):
            raise ValueError(f"kappa must be finite, got {shown(kappa)}")
        self.agent = agent
        self.kappa = float(kappa)
        self._previous: int | None = None  # the stage-1 choice that is sticky now
        self._latest: int | None = None  # this trial's stage-1 choice

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agent, name)

    def policy(self, state: int) -> NDArray[np.float64]:
        """The behaviour policy: sticky at stage 1 (state 0), the wrapped agent's elsewhere.

        The stickiness is towards the previous trial's choice until the next trial starts
        (:meth:`reset_traces` or the next stage-1 :meth:`act`), so right after a choice this is the
        ``b(a|s)`` that choice was drawn from, which :func:`~dopasoft.simulate` hands to an off-policy
        learner.
        """
        p = self.agent.policy(state)
        if state == 0 and self._previous is not None and self.kappa != 0.0:
            logits = np.log(np.maximum(p, 1e-300))
            logits[self._previous] += self.kappa
            p = np.exp(logits - logits.max())
            p /= p.sum()
        return p

    def _new_trial(self) -> None:
        if self._latest is not None:
            self._previous, self._latest = self._latest, None

    def reset_traces(self) -> None:
        """Start a new trial: the last stage-1 choice becomes the sticky one; reset the wrapped agent."""
        self._new_trial()
        self.agent.reset_traces()

    def act(self, state: int, rng: np.random.Generator) -> int:
        """Sample from :meth:`policy` (a stage-1 choice is the next trial's sticky choice)."""
        if state == 0:
            self._new_trial()
        action = _sample(self.policy(state), rng)
        if state == 0:
            self._latest = action
        return action


TWO_STEP_MODELS: dict[str, dict[str, float]] = {
    "soft-q-lambda": {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "kappa": 0.0},
    "soft-q-lambda-on-policy": {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "kappa": 0.0},
    "soft-q-lambda-uncorrected": {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "kappa": 0.0},
    "soft-hybrid": {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "w": 0.5, "kappa": 0.0},
}
"""Two-step agent models (of :func:`make_two_step_agent` and
:func:`dopasoft.experiments.simulate_two_step`) with their parameters and defaults.

The Soft Q(λ) names are the fitting models of the same name (:func:`dopasoft.fitting.get_model`);
``soft-hybrid`` is :class:`HybridTwoStepAgent`, a simulation-only agent (no likelihood; ``w = 1`` is
purely model-based). It is not the fitting model ``daw-hybrid`` (hBayesDM ``ts_par7``), which
:func:`dopasoft.experiments.simulate_two_step` simulates with the fitting model's own generator."""

_TRACES = {
    "soft-q-lambda": "tree-backup",
    "soft-q-lambda-on-policy": "on-policy",
    "soft-q-lambda-uncorrected": "uncorrected",
}


def merge_two_step_params(model: str, params: Mapping[str, float] | None) -> dict[str, float]:
    """The model's default parameters updated by ``params`` (unknown names and non-numbers rejected)."""
    if model not in TWO_STEP_MODELS:
        raise ValueError(f"unknown model {model!r}; agent models: {', '.join(TWO_STEP_MODELS)}")
    return updated_params(TWO_STEP_MODELS[model], params, model)


def updated_params(
    defaults: Mapping[str, float], params: Mapping[str, float] | None, model: str
) -> dict[str, float]:
    """``defaults`` updated by ``params``; a name not among the defaults or a value that is not a number
    is refused with a message naming it and ``model``."""
    merged = dict(defaults)
    for name, value in (params or {}).items():
        if name not in merged:
            raise ValueError(
                f"unknown parameter {name!r} for model {model!r}; its parameters: {', '.join(merged)}"
            )
        try:
            merged[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"parameter {name!r} must be a number, got {shown(value)}") from None
    return merged


def make_two_step_agent(
    model: str, params: Mapping[str, float] | None = None, p_common: float = 0.7
) -> Agent:
    """The step-by-step Python agent of a :data:`TWO_STEP_MODELS` model (for :func:`~dopasoft.simulate`).

    Its compiled cohort form is :func:`dopasoft.experiments.simulate_two_step`.

    Parameters
    ----------
    model : str
        A key of :data:`TWO_STEP_MODELS`.
    params : mapping, optional
        Parameters overriding the model's defaults; a non-zero ``kappa`` wraps the agent in
        :class:`~dopasoft.agents.StickyChoice`.
    p_common : float, default 0.7
        Transition probability the model-based agents assume.

    Returns
    -------
    Agent

    Raises
    ------
    ValueError
        For an unknown model or parameter, or a parameter out of its range (named).

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import make_two_step_agent, to_canonical
    >>> from dopasoft.tasks import TwoStepTask
    >>> agent = make_two_step_agent("soft-q-lambda", {"lam": 0.5})
    >>> data = to_canonical(ds.simulate(agent, TwoStepTask(), 20, seed=0))
    >>> len(data)
    20
    """
    merged = merge_two_step_params(model, params)
    if model in _TRACES:
        agent: Agent = SoftQLambda(
            3, 2, alpha=merged["alpha"], tau=merged["tau"], lam=merged["lam"], trace=_TRACES[model]
        )
    else:  # soft-hybrid
        agent = HybridTwoStepAgent(
            alpha=merged["alpha"], tau=merged["tau"], lam=merged["lam"], w=merged["w"], p_common=p_common
        )
    if not np.isfinite(merged["kappa"]):
        raise ValueError(f"kappa must be finite, got {shown(merged['kappa'])}")
    return StickyChoice(agent, merged["kappa"]) if merged["kappa"] else agent


class SemiMarkovTD:
    r"""Semi-Markov TD (Daw, Courville & Touretzky 2006): learning at events, the dwell discounted whole.

    For observations ``[x..., d]`` (features, then the seconds ``d`` since the previous event, as
    :class:`~dopasoft.tasks.conditioning.SemiMarkovConditioningTask` gives them) each step is

    .. math:: \delta = \gamma_1^{d}\,\big(r + V(x')\big) - V(x), \qquad w \leftarrow w + \alpha\,\delta\,x,

    computed by a linear :class:`~dopasoft.SoftQLambda` with :math:`\gamma = 1`, one action and
    :math:`\lambda = 0`, given the reward :math:`\gamma_1^d r` and the next features
    :math:`\gamma_1^d x'` (so the one learning step serves this model too).

    Parameters
    ----------
    n_features : int
        Length of the observation, dwell included.
    alpha : float
        Step size per event.
    gamma_per_s : float
        Discount per second, in [0, 1].

    Attributes
    ----------
    gamma : float
        1.0: the discount is applied to each step's dwell.
    last_step : StepSignals or None
        Signals of the latest update (``delta`` is the semi-Markov TD error).

    Examples
    --------
    >>> agent = SemiMarkovTD(3, alpha=0.5, gamma_per_s=0.5)
    >>> agent.update([1.0, 0.0, 0.0], 0, 1.0, [0.0, 1.0, 2.0], False)  # reward 2 s after entering ISI
    0.25
    >>> agent.value([1.0, 0.0, 0.0])
    0.125
    """

    n_actions = 1

    def __init__(self, n_features: int, *, alpha: float, gamma_per_s: float) -> None:
        if not 0.0 <= gamma_per_s <= 1.0:
            raise ValueError(f"gamma_per_s must be in [0, 1], got {shown(gamma_per_s)}")
        self.gamma_per_s = float(gamma_per_s)
        self.gamma = 1.0
        self._inner = SoftQLambda(n_features - 1, 1, alpha=alpha, tau=1.0, lam=0.0, gamma=1.0, linear=True)

    @property
    def last_step(self) -> StepSignals | None:
        """Signals of the latest :meth:`update`."""
        return self._inner.last_step

    @property
    def weights(self) -> NDArray[np.float64]:
        """The learnt value of each macro-state feature."""
        return self._inner.q[:, 0].copy()

    @staticmethod
    def _x(state: Any) -> NDArray[np.float64]:
        return np.asarray(state, dtype=float)[:-1]

    def value(self, state: Any) -> float:
        """``V(x)`` of an observation (its dwell entry is not a feature)."""
        return float(self._inner.value(self._x(state)))

    def q_values(self, state: Any) -> NDArray[np.float64]:
        """``[V(x)]`` (one action)."""
        return np.array([self.value(state)])

    def policy(self, state: Any) -> NDArray[np.float64]:
        """``[1.0]`` (one action)."""
        return np.ones(1)

    def act(self, state: Any, rng: np.random.Generator) -> int:
        """Action 0 (Pavlovian)."""
        return 0

    def reset_traces(self) -> None:
        """Nothing to reset (λ = 0)."""
        self._inner.reset_traces()

    def update(
        self,
        state: Any,
        action: int,
        reward: float,
        next_state: Any,
        terminated: bool,
        behaviour_prob: float | None = None,
    ) -> float:
        """Learn from the event that ends ``state``; the dwell is ``next_state[-1]`` seconds."""
        nxt = np.asarray(next_state, dtype=float)
        discount = self.gamma_per_s ** float(nxt[-1])
        return self._inner.update(
            self._x(state), 0, discount * float(reward), discount * nxt[:-1], terminated
        )
