r"""One agent loop for every task: run an agent trial by trial and record the model-dopamine signals.

:func:`simulate` drives any :class:`Agent` (``act``, ``policy``, ``update``,
``last_step``, ``reset_traces``, ``q_values``, ``value``, ``gamma``) on any gymnasium-style episodic task
(one episode is one trial) and returns a :class:`SimulationResult` with a tidy per-step table and a per-trial summary.

Every step emits (docs/maths.md §6)

.. math::
    \delta = r + \gamma V(s') - Q(s, a), \qquad
    \text{value\_rpe} = r + \gamma V(s') - V(s), \qquad
    \text{action\_term} = Q(s, a) - V(s) = \tau \log \frac{\pi(a|s)}{\pi_0(a|s)},

with :math:`V(s') = 0` on termination, all from the values *before* the step's update; so
``delta = value_rpe - action_term``. It also emits the value-free action prediction error
``action_pe`` :math:`= 1 - \pi_0(a|s)` (docs/maths.md §7; NaN for an agent without ``default_policy``). On trials whose reset ``info`` says ``learn=False`` (conditioning
probes ``"B?"``) the same signals are computed by :func:`td_signals` and the agent is not updated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft._messages import shown
from dopasoft.learners import StepSignals


@runtime_checkable
class Agent(Protocol):
    """What :func:`dopasoft.simulation.simulate` needs from a learner.

    Two further attributes are read when present: ``n_actions`` (an agent with one action is not
    asked to act) and ``needs_behaviour_prob`` (then :meth:`update` receives ``b(a|s)`` from
    :meth:`policy`).

    Attributes
    ----------
    gamma : float
        Discount, used for the signals of steps that are not learnt from.
    last_step : StepSignals or None
        Signals of the latest :meth:`update` (``delta``, ``value_rpe``, ``action_term``, ``value``,
        ``next_value``), from the values before that update.
    """

    gamma: float
    last_step: StepSignals | None

    def act(self, state: Any, rng: np.random.Generator) -> int:
        """Sample an action in ``state`` with ``rng``."""
        ...

    def policy(self, state: Any) -> NDArray[np.float64]:
        """Action probabilities in ``state``."""
        ...

    def q_values(self, state: Any) -> NDArray[np.float64]:
        """Action values ``Q(state, .)``."""
        ...

    def value(self, state: Any) -> float:
        """State value ``V(state)``."""
        ...

    def reset_traces(self) -> None:
        """Forget within-trial memory (eligibility traces) at the start of a trial."""
        ...

    def update(
        self,
        state: Any,
        action: int,
        reward: float,
        next_state: Any,
        terminated: bool,
        behaviour_prob: float | None = None,
    ) -> float:
        """Learn from one step; set :attr:`last_step` and return its TD error."""
        ...


__all__ = ["Agent", "simulate", "SimulationResult", "td_signals", "SIGNALS"]

SIGNALS = ("delta", "value_rpe", "action_term", "value", "next_value", "action_pe")
_SCALARS = (str, int, float, bool, np.integer, np.floating, np.bool_)


def td_signals(
    agent: Agent, state: Any, action: int, reward: float, next_state: Any, terminated: bool
) -> StepSignals:
    r"""The step's signals from the agent's current values, without learning.

    ``delta = r + gamma V(s') - Q(s, a)``, ``value_rpe = r + gamma V(s') - V(s)``,
    ``action_term = Q(s, a) - V(s)``, with ``V(s') = 0`` when ``terminated``, and
    ``action_pe = 1 - pi0(a|s)`` from the agent's ``default_policy(state)`` (NaN if it has none).
    """
    q = float(agent.q_values(state)[action])
    v = float(agent.value(state))
    v_next = 0.0 if terminated else float(agent.value(next_state))
    target = float(reward) + agent.gamma * v_next
    default_policy = getattr(agent, "default_policy", None)
    action_pe = math.nan if default_policy is None else 1.0 - float(default_policy(state)[action])
    return StepSignals(target - q, target - v, q - v, v, v_next, action_pe)


@dataclass
class SimulationResult:
    """Output of :func:`simulate`.

    Attributes
    ----------
    steps : pandas.DataFrame
        One row per step: ``trial, step, state, action, reward, next_state, terminated, truncated,
        learn, delta, value_rpe, action_term, value, next_value, action_pe`` and the task's ``info`` entries
        (reset info such as ``phase``, ``trial_type``; step info such as ``time``, ``event``). ``state``
        is the observation for integer observations and the step's bin (``step``) for feature vectors
        (then ``next_state = step + 1``).
    trials : pandas.DataFrame
        One row per trial: ``trial``, the reset info, ``n_steps``, ``reward`` (sum) and, for every step
        whose info has a non-empty ``event`` (e.g. ``"cue"``, ``"reward"``),
        ``<event>_rpe`` (its ``delta``), ``<event>_value_rpe``, ``<event>_action_term`` and
        ``<event>_action_pe``.
    agent : Agent
        The agent after the run (it is modified in place).
    task : object
        The task.
    """

    steps: pd.DataFrame
    trials: pd.DataFrame
    agent: Agent
    task: Any

    def traces(self, signal: str = "delta", align: str = "time") -> pd.DataFrame:
        """Within-trial traces: trials × ``align`` (e.g. time from cue onset) table of ``signal``."""
        if signal not in self.steps.columns or align not in self.steps.columns:
            raise ValueError(
                f"signal {signal!r} and align {align!r} must be columns of the step table: "
                f"{list(self.steps.columns)}"
            )
        return self.steps.pivot(index="trial", columns=align, values=signal)


def _resolve_n_trials(task: Any, n_trials: int | None) -> int:
    available = getattr(task, "n_trials", None)
    if n_trials is None:
        if available is None:
            raise ValueError(f"n_trials is required: {type(task).__name__} has no fixed session length")
        return int(available)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 0:
        raise ValueError(f"n_trials must be an integer >= 0, got {shown(n_trials)}")
    if available is not None and n_trials > available:
        raise ValueError(
            f"n_trials={n_trials} exceeds the {available} trials of the task's schedule "
            f"({type(task).__name__}.n_trials)"
        )
    return int(n_trials)


def _state_label(obs: Any, step: int) -> int:
    if np.ndim(obs) == 0:
        return int(obs)
    return step


def _scalar_items(info: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if isinstance(v, _SCALARS)}


def simulate(
    agent: Agent,
    task: Any,
    n_trials: int | None = None,
    *,
    seed: int | np.random.Generator | None = None,
    learn: bool = True,
    max_steps: int = 100_000,
) -> SimulationResult:
    """Run ``agent`` on ``task`` for ``n_trials`` trials (episodes) and record every step.

    At the start of each trial the task is reset (with a seed drawn from ``seed`` on the first trial,
    so the whole run is reproducible) and the agent's eligibility traces are cleared. Each step the
    agent acts (``agent.act(obs, rng)``; action 0 without sampling if it has a single action) and
    learns through ``agent.update(...)`` (its ``last_step`` gives the signals) unless ``learn`` is
    False or the trial's reset info has ``learn=False``; then the signals come from
    :func:`td_signals` and nothing is learnt.

    Parameters
    ----------
    agent : Agent
        :class:`~dopasoft.SoftQLambda`, :class:`~dopasoft.NStepSoftQ`, the agents of :mod:`dopasoft.agents`
        or any object with the methods of the :class:`Agent` protocol.
    task : gymnasium.Env
        Episodic task; its ``n_trials`` attribute (if any) is the session length.
    n_trials : int, optional
        Number of trials; defaults to ``task.n_trials``. Must not exceed it.
    seed : int or numpy.random.Generator, optional
        Source of the agent's action sampling and of the task's seed: same seed, same tables.
    learn : bool, default True
        False replays the task with a frozen agent.
    max_steps : int, default 100000
        Safety limit on the steps of one trial.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        For a negative ``n_trials`` or one larger than the task's schedule.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.tasks import chain_mdp
    >>> agent = ds.SoftQLambda(3, 2, alpha=0.5, tau=0.5, lam=0.9)
    >>> result = ds.simulate(agent, chain_mdp(3), 5, seed=0)
    >>> len(result.trials), {"delta", "value_rpe", "action_term"} <= set(result.steps.columns)
    (5, True)
    """
    n = _resolve_n_trials(task, n_trials)
    rng = np.random.default_rng(seed)
    task_seed = int(rng.integers(2**32))
    rows: dict[str, list[Any]] = {}
    info_rows: list[dict[str, Any]] = []
    trial_rows: list[dict[str, Any]] = []
    single_action = getattr(agent, "n_actions", None) == 1  # nothing to sample
    for trial in range(n):
        obs, info = task.reset(seed=task_seed if trial == 0 else None)
        agent.reset_traces()
        trial_info = _scalar_items(info)
        trial_learn = bool(learn and info.get("learn", True))
        summary: dict[str, Any] = {"trial": trial, **trial_info, "learn": trial_learn}
        total, step, done = 0.0, 0, False
        while not done:
            action = 0 if single_action else int(agent.act(obs, rng))
            next_obs, reward, terminated, truncated, step_info = task.step(action)
            if trial_learn:
                # off-policy corrections need b(a|s): the agent acted with its own policy
                b = (
                    float(agent.policy(obs)[action])
                    if getattr(agent, "needs_behaviour_prob", False)
                    else None
                )
                agent.update(obs, action, reward, next_obs, terminated, behaviour_prob=b)
                sig = agent.last_step
            else:
                sig = td_signals(agent, obs, action, reward, next_obs, terminated)
            record = {
                "trial": trial,
                "step": step,
                "state": _state_label(obs, step),
                "action": action,
                "reward": float(reward),
                "next_state": _state_label(next_obs, step + 1),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
                "learn": trial_learn,
                **{name: float(getattr(sig, name)) for name in SIGNALS},
            }
            for key, value in record.items():
                rows.setdefault(key, []).append(value)
            extra = {**trial_info, **_scalar_items(step_info)}
            info_rows.append(extra)
            event = step_info.get("event")
            if event:
                summary[f"{event}_rpe"] = record["delta"]
                summary[f"{event}_value_rpe"] = record["value_rpe"]
                summary[f"{event}_action_term"] = record["action_term"]
                summary[f"{event}_action_pe"] = record["action_pe"]
            total += float(reward)
            step += 1
            done = bool(terminated or truncated)
            obs = next_obs
            if step >= max_steps and not done:
                raise RuntimeError(f"trial {trial} did not end within max_steps={max_steps} steps")
        summary.update(n_steps=step, reward=total)
        trial_rows.append(summary)
    steps = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["trial", "step", *SIGNALS])
    if info_rows:
        extra = pd.DataFrame(info_rows)
        extra = extra.drop(columns=[c for c in extra.columns if c in steps.columns])
        steps = pd.concat([steps, extra], axis=1)
    trials = pd.DataFrame(trial_rows)
    return SimulationResult(steps=steps, trials=trials, agent=agent, task=task)
