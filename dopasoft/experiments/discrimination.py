r"""Action prediction errors in a two-choice discrimination task: an agent with a learned default policy.

The experiment behind ``docs/maths.md`` §7 and ``dopasoft simulate discrimination``: a tabular Soft Q(λ)
agent learns the cue → action mapping of :class:`~dopasoft.tasks.discrimination.DiscriminationTask` and,
with ``prior_rate > 0``, a default policy :math:`\pi_0(\cdot|\text{cue})` of its own choices (a habit).
Each trial is one step (cue, choice, outcome), so the per-trial table is the step table of
:func:`dopasoft.simulate` with two named signals:

- ``action_pe`` :math:`= 1 - \pi_0(a|\text{cue})` before the trial's update: the value-free action
  prediction error of the chosen action (Greenstreet et al. 2025, Nature 643:1333);
- ``reward_rpe`` :math:`= r - Q(\text{cue}, a)`: the conventional outcome reward prediction error, the
  soft TD error :math:`\delta` of the choice step (the trial ends there, so :math:`\gamma V(s') = 0`);
  it is what the agent learns from, and it goes to 0 as the outcome of each choice becomes predicted;
- ``value_rpe`` :math:`= r - V(\text{cue})`: the state-value prediction error at the outcome. It differs
  from ``reward_rpe`` by the action term, ``value_rpe = reward_rpe + action_term`` with ``action_term``
  :math:`= Q(\text{cue}, a) - V(\text{cue}) = \tau \log(\pi(a|\text{cue}) / \pi_0(a|\text{cue}))`; with
  a fixed :math:`\pi_0` it stays positive after training (as :math:`\pi(a|\text{cue}) \to 1` with two
  actions and a uniform :math:`\pi_0` it approaches :math:`\tau \log 2`, 0.17 at :math:`\tau = 0.25`),
  so it is not an outcome error that vanishes with learning.

What depends on value: ``reward_rpe``, ``value_rpe`` and ``action_term`` (the policy is the Boltzmann
policy of ``Q``). What does not: ``action_pe`` and ``prior_action`` (functions of the cues and choices
only). ``actions`` replays a given choice sequence instead of sampling it, e.g. the same choices with other
outcomes: ``action_pe`` is unchanged, ``action_term`` is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dopasoft._memory import require_table_memory
from dopasoft._messages import shown
from dopasoft.learners import SoftQLambda
from dopasoft.simulation import simulate
from dopasoft.tasks.discrimination import DiscriminationTask, TimedDiscriminationTask

__all__ = [
    "DISCRIMINATION_DEFAULTS",
    "DISCRIMINATION_COLUMNS",
    "TIMED_DEFAULTS",
    "TIMED_TRIAL_COLUMNS",
    "TimedDiscriminationResult",
    "discrimination_experiment",
    "timed_discrimination_experiment",
]

DISCRIMINATION_DEFAULTS: dict[str, float] = {"alpha": 0.1, "tau": 0.25, "prior_rate": 0.05}
"""Agent parameters of the shipped experiment (and of ``dopasoft simulate discrimination``)."""

#: bytes :func:`discrimination_experiment` holds per trial at its peak (about 1080 measured with
#: tracemalloc: the simulation's step table and the experiment's table)
DISCRIMINATION_TRIAL_BYTES = 1200.0
#: bytes per time bin of :func:`timed_discrimination_experiment` at its peak (a generous bound: the
#: simulation's step table, its info columns and the experiment's step table)
TIMED_STEP_BYTES = 2000.0

DISCRIMINATION_COLUMNS = (
    "trial",
    "cue",
    "novel",
    "action",
    "correct",
    "reward",
    "action_pe",
    "reward_rpe",
    "value_rpe",
    "action_term",
    "value",
    "p_action",
    "prior_action",
    "seed",
)
"""Columns of the per-trial table, in order."""


class _Replay:
    """An agent that takes the given actions in turn (and learns as the wrapped agent does)."""

    def __init__(self, agent: SoftQLambda, actions: Sequence[int]) -> None:
        self._agent = agent
        self._actions = actions
        self._t = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._agent, name)

    def act(self, state: Any, rng: np.random.Generator) -> int:
        a = self._actions[self._t]
        self._t += 1
        return a


def _check_actions(actions: Sequence[int], n_trials: int, n_actions: int) -> list[int]:
    out = []
    for i, a in enumerate(actions):
        if isinstance(a, bool) or not isinstance(a, int | np.integer) or not 0 <= a < n_actions:
            raise ValueError(f"actions[{i}] must be an action in 0..{n_actions - 1}, got {shown(a)}")
        out.append(int(a))
    if len(out) != n_trials:
        raise ValueError(f"actions must give one action per trial ({n_trials}), got {len(out)}")
    return out


def discrimination_experiment(
    n_trials: int = 400,
    *,
    novel_at: int | None = None,
    novel_fraction: float = 0.5,
    alpha: float = DISCRIMINATION_DEFAULTS["alpha"],
    tau: float = DISCRIMINATION_DEFAULTS["tau"],
    prior_rate: float = DISCRIMINATION_DEFAULTS["prior_rate"],
    prior_scope: str = "per-state",
    lam: float = 0.0,
    reward: float = 1.0,
    error_reward: float = 0.0,
    seed: int = 0,
    actions: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Run a Soft Q(λ) agent with a learned default policy on the discrimination task; one row per trial.

    Parameters
    ----------
    n_trials : int, default 400
    novel_at : int, optional
        Trial from which a novel cue (index 2, correct action 0) is presented, on a fraction
        ``novel_fraction`` of the trials; it is first heard at ``novel_at``.
    novel_fraction : float, default 0.5
    alpha, tau, prior_rate, lam : float
        The agent's learning rate, temperature, default-policy learning rate ``alpha_pi`` (0: fixed
        uniform ``pi0``) and trace decay (one-step trials: ``lam`` has no effect).
    prior_scope : {"per-state", "marginal"}, default "per-state"
        A default policy per cue (a habit) or one shared by all cues (policy compression); see
        :class:`~dopasoft.SoftQLambda` and docs/maths.md §7.
    reward, error_reward : float, default 1.0 and 0.0
        Outcome of a correct and of an incorrect choice.
    seed : int, default 0
        Seeds the cue sequence and the agent's choices: same seed, same table.
    actions : sequence of int, optional
        Take these actions (one per trial) instead of sampling them: a replay of given choices.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DISCRIMINATION_COLUMNS`: ``trial``, ``cue``, ``novel``, ``action``, ``correct``,
        ``reward``, ``action_pe`` (``1 - pi0(action|cue)`` before the update), ``reward_rpe``
        (``r - Q(cue, action)``, the outcome RPE and learning signal), ``value_rpe`` (``r - V(cue)``
        ``= reward_rpe + action_term``), ``action_term`` (``Q - V``), ``value``
        (``V(cue)``), ``p_action`` (``pi(action|cue)``), ``prior_action`` (``pi0(action|cue)``; so
        ``action_pe = 1 - prior_action``), ``seed``; every signal from before the trial's update.

    Raises
    ------
    ValueError
        For a bad parameter (named) or an ``actions`` entry out of range.

    Examples
    --------
    >>> table = discrimination_experiment(200, seed=1)
    >>> first, last = table["action_pe"].iloc[:20].mean(), table["action_pe"].iloc[-50:].mean()
    >>> bool(first > 0.4 > 0.1 > last)
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {shown(seed)}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {shown(n_trials)}")
    require_table_memory(
        DISCRIMINATION_TRIAL_BYTES, {"trials": int(n_trials)}, "simulating", "use fewer trials"
    )
    if novel_at is not None and (
        isinstance(novel_at, bool)
        or not isinstance(novel_at, int | np.integer)
        or not 0 <= novel_at < n_trials
    ):
        raise ValueError(f"novel_at must be a trial in 0..{n_trials - 1}, got {shown(novel_at)}")
    task = DiscriminationTask(
        n_trials,
        novel_from=novel_at,
        novel_fraction=novel_fraction,
        reward=reward,
        error_reward=error_reward,
    )
    agent = SoftQLambda(
        task.n_states,
        task.n_actions,
        alpha=alpha,
        tau=tau,
        lam=lam,
        gamma=1.0,
        prior_rate=prior_rate,
        prior_scope=prior_scope,
    )
    driver: Any = (
        agent if actions is None else _Replay(agent, _check_actions(actions, n_trials, task.n_actions))
    )
    steps = simulate(driver, task, seed=int(seed)).steps
    prior_action = 1.0 - steps["action_pe"].to_numpy()
    table = pd.DataFrame(
        {
            "trial": steps["trial"].to_numpy(),
            "cue": steps["cue"].to_numpy(dtype=np.int64),
            "novel": steps["novel"].to_numpy(dtype=bool),
            "action": steps["action"].to_numpy(),
            "correct": steps["correct"].to_numpy(dtype=bool),
            "reward": steps["reward"].to_numpy(),
            "action_pe": steps["action_pe"].to_numpy(),
            # one step per trial, terminal: the step's delta = r - Q(cue, a) is the outcome RPE
            "reward_rpe": steps["delta"].to_numpy(),
            "value_rpe": steps["value_rpe"].to_numpy(),
            "action_term": steps["action_term"].to_numpy(),
            "value": steps["value"].to_numpy(),
            # action_term = tau log(pi / pi0), so pi(a|cue) = pi0(a|cue) exp(action_term / tau)
            "p_action": prior_action * np.exp(steps["action_term"].to_numpy() / agent.tau),
            "prior_action": prior_action,
            "seed": int(seed),
        }
    )
    return table[list(DISCRIMINATION_COLUMNS)]


TIMED_DEFAULTS: dict[str, float] = {
    "alpha": 0.1,
    "tau": 0.25,
    "prior_rate": 0.05,
    "gamma_per_s": 0.5,
    "lam_per_s": 0.5,
}
"""Agent parameters of :func:`timed_discrimination_experiment` (discount and trace decay per second)."""

HEMISPHERES = ("left", "right")
_SIDES = ("left", "right")  # action 0 moves left, action 1 right

TIMED_TRIAL_COLUMNS = (
    "trial",
    "cue",
    "novel",
    "side",
    "contralateral",
    "correct",
    "reward",
    "cue_rpe",
    "movement_ape",
    "contra_ape",
    "movement_rpe",
    "reward_rpe",
    "reward_value_rpe",
    "cue_time",
    "movement_time",
    "outcome_time",
)
"""Columns of :attr:`TimedDiscriminationResult.trials`, in order."""


@dataclass(frozen=True)
class TimedDiscriminationResult:
    """What :func:`timed_discrimination_experiment` returns.

    Attributes
    ----------
    trials : pandas.DataFrame
        One row per trial, columns :data:`TIMED_TRIAL_COLUMNS`.
    steps : pandas.DataFrame
        One row per time bin: ``trial``, ``time`` (s from the trial's start, at the end of the step),
        ``time_from_movement``, ``time_from_outcome`` (s), ``event``, ``cue``, ``novel``, ``state``,
        ``action``, ``reward``, the step signals ``delta``, ``value_rpe``, ``action_term``,
        ``action_pe``, and ``contra_ape`` (the contralateral action's component of the action
        prediction error, 0 outside the movement step).
    hemisphere : str
        The recorded hemisphere (``"left"`` or ``"right"``); contralateral movements go the other way.
    task : TimedDiscriminationTask
        The task that was run.

    Examples
    --------
    >>> result = timed_discrimination_experiment(20, hemisphere="right", seed=3)
    >>> result.hemisphere, len(result.trials), sorted(set(result.steps["event"]) - {""})
    ('right', 20, ['cue', 'movement', 'reward'])
    """

    trials: pd.DataFrame
    steps: pd.DataFrame
    hemisphere: str
    task: TimedDiscriminationTask


def timed_discrimination_experiment(
    n_trials: int = 400,
    *,
    dt: float = 0.1,
    pre_cue: float | tuple[float, float] = (0.5, 2.0),
    cue_to_movement: float = 0.3,
    movement_to_outcome: float = 0.5,
    post_outcome: float = 0.5,
    hemisphere: str = "left",
    novel_at: int | None = None,
    novel_fraction: float = 0.5,
    alpha: float = TIMED_DEFAULTS["alpha"],
    tau: float = TIMED_DEFAULTS["tau"],
    prior_rate: float = TIMED_DEFAULTS["prior_rate"],
    gamma_per_s: float = TIMED_DEFAULTS["gamma_per_s"],
    lam_per_s: float = TIMED_DEFAULTS["lam_per_s"],
    reward: float = 1.0,
    error_reward: float = 0.0,
    seed: int = 0,
) -> TimedDiscriminationResult:
    r"""Action and reward prediction errors at their own times: cue, movement and outcome apart.

    A tabular Soft Q(λ) agent with a learned default policy per state runs
    :class:`~dopasoft.tasks.discrimination.TimedDiscriminationTask` (bins of ``dt`` seconds) through
    :func:`dopasoft.simulate`. Waiting bins allow only action 0 (their default policy is
    :math:`\pi_0 = (1, 0)`, so their ``action_pe`` is 0 and their value is that of waiting); the
    movement bins choose left (action 0) or right (action 1). So, per trial:

    - ``movement_ape`` :math:`= 1 - \pi_0(a|\text{cue})` at movement onset (value-free, docs/maths.md §7);
    - ``contra_ape`` :math:`= [a = c] - \pi_0(c|\text{cue})`, the component of the vector error
      :math:`e_a - \pi_0(\cdot|\text{cue})` for the action :math:`c` contralateral to ``hemisphere``
      (a left hemisphere's is the rightward movement): ``+movement_ape`` on contralateral movements and
      ``-movement_ape`` on ipsilateral ones (two actions): a lateralised APE, the model of one
      hemisphere's tail-of-striatum dopamine (Greenstreet et al. 2025);
    - ``cue_rpe``, ``movement_rpe``, ``reward_rpe``: the soft TD error :math:`\delta` of the steps into
      the cue, out of the movement bin and into the outcome; ``reward_rpe`` :math:`= r + \gamma
      V(s') - Q(s, \text{wait})` in the last bin before the outcome, whose state remembers the choice,
      so it is the conventional outcome error of the choice (:math:`V(s') \to 0` after the outcome);
      ``reward_value_rpe`` is the step's state-value RPE.

    Discount and trace decay are given per second (docs/maths.md §10): per bin
    :math:`\gamma = \gamma_1^{dt}`, :math:`\lambda = \lambda_1^{dt}`.

    Parameters
    ----------
    n_trials : int, default 400
    dt, pre_cue, cue_to_movement, movement_to_outcome, post_outcome : float
        The task's timing in seconds (see :class:`~dopasoft.tasks.discrimination.TimedDiscriminationTask`).
    hemisphere : {"left", "right"}, default "left"
        The recorded hemisphere, for ``contralateral`` and ``contra_ape``.
    novel_at, novel_fraction
        As in :func:`discrimination_experiment`.
    alpha, tau, prior_rate : float
        Learning rate, temperature, default-policy learning rate (per state).
    gamma_per_s, lam_per_s : float, default 0.5 and 0.5
        Discount and trace decay per second, in (0, 1] and [0, 1].
    reward, error_reward : float, default 1.0 and 0.0
    seed : int, default 0
        Seeds the cue sequence, the pre-cue waits and the choices: same seed, same result.

    Returns
    -------
    TimedDiscriminationResult
        ``.trials`` (one row per trial, :data:`TIMED_TRIAL_COLUMNS`; ``side`` is ``"left"`` or
        ``"right"``, event times are seconds from the trial's start) and ``.steps`` (one row per bin).

    Raises
    ------
    ValueError
        For a bad parameter (named): timing not in whole bins, an unknown ``hemisphere``, rates out of
        range.

    Examples
    --------
    >>> result = timed_discrimination_experiment(300, seed=0)
    >>> late = result.trials.iloc[-50:]
    >>> bool(late["correct"].mean() > 0.9), bool(abs(late["reward_rpe"]).mean() < 0.1)
    (True, True)
    >>> early = result.trials.iloc[:20]
    >>> bool(early["movement_ape"].mean() > 0.4 > 0.1 > late["movement_ape"].mean())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {shown(seed)}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {shown(n_trials)}")
    if hemisphere not in HEMISPHERES:
        raise ValueError(f"hemisphere must be one of {list(HEMISPHERES)}, got {shown(hemisphere)}")
    for name, value, low_open in (("gamma_per_s", gamma_per_s, True), ("lam_per_s", lam_per_s, False)):
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = math.nan
        if not ((0.0 < x <= 1.0) if low_open else (0.0 <= x <= 1.0)):
            raise ValueError(f"{name} must be in {'(0, 1]' if low_open else '[0, 1]'}, got {shown(value)}")
    if novel_at is not None and (
        isinstance(novel_at, bool)
        or not isinstance(novel_at, int | np.integer)
        or not 0 <= novel_at < n_trials
    ):
        raise ValueError(f"novel_at must be a trial in 0..{n_trials - 1}, got {shown(novel_at)}")
    task = TimedDiscriminationTask(
        n_trials,
        dt=dt,
        pre_cue=pre_cue,
        cue_to_movement=cue_to_movement,
        movement_to_outcome=movement_to_outcome,
        post_outcome=post_outcome,
        novel_from=novel_at,
        novel_fraction=novel_fraction,
        reward=reward,
        error_reward=error_reward,
    )
    require_table_memory(
        TIMED_STEP_BYTES, {"bins": int(n_trials) * int(task.pre_bins.max() + task.n_states)}, "simulating",
        "use fewer trials or wider bins",
    )  # fmt: skip
    mask = task.action_mask.astype(float)
    agent = SoftQLambda(
        task.n_states,
        task.n_actions,
        alpha=alpha,
        tau=tau,
        lam=float(lam_per_s) ** task.dt,
        gamma=float(gamma_per_s) ** task.dt,
        prior=mask / mask.sum(axis=1, keepdims=True),
        prior_rate=prior_rate,
    )
    sim = simulate(agent, task, seed=int(seed))
    steps = sim.steps
    contra = 1 if hemisphere == "left" else 0
    action = steps["action"].to_numpy()
    ape = steps["action_pe"].to_numpy()
    event = steps["event"].fillna("").to_numpy(dtype=str) if "event" in steps else np.full(len(steps), "")
    time = steps["time"].to_numpy(dtype=float)
    trial = steps["trial"].to_numpy()

    def event_time(name: str) -> np.ndarray:
        at = event == name
        out = np.full(int(n_trials), np.nan)
        out[trial[at]] = time[at]
        return out

    times = {name: event_time(name) for name in ("cue", "movement", "reward")}
    moved = event == "movement"
    side = np.full(int(n_trials), -1)
    side[trial[moved]] = action[moved]
    contra_ape = np.where(action == contra, ape, -ape) + 0.0  # 0 where waiting (pi0 = (1, 0)); no -0.0
    step_table = pd.DataFrame(
        {
            "trial": trial,
            "time": time,
            "time_from_movement": np.round(time - times["movement"][trial], 12),
            "time_from_outcome": np.round(time - times["reward"][trial], 12),
            "event": event,
            "cue": steps["cue"].to_numpy(dtype=np.int64),
            "novel": steps["novel"].to_numpy(dtype=bool),
            "state": steps["state"].to_numpy(),
            "action": action,
            "reward": steps["reward"].to_numpy(),
            "delta": steps["delta"].to_numpy(),
            "value_rpe": steps["value_rpe"].to_numpy(),
            "action_term": steps["action_term"].to_numpy(),
            "action_pe": ape,
            "contra_ape": contra_ape,
        }
    )
    t = sim.trials
    trials = pd.DataFrame(
        {
            "trial": t["trial"].to_numpy(),
            "cue": t["cue"].to_numpy(dtype=np.int64),
            "novel": t["novel"].to_numpy(dtype=bool),
            "side": np.array(_SIDES)[side],
            "contralateral": side == contra,
            "correct": step_table.loc[moved, "action"].to_numpy()
            == np.array([task.correct_action(c) for c in t["cue"]]),
            "reward": t["reward"].to_numpy(),
            "cue_rpe": t["cue_rpe"].to_numpy(),
            "movement_ape": t["movement_action_pe"].to_numpy(),
            "contra_ape": contra_ape[moved],
            "movement_rpe": t["movement_rpe"].to_numpy(),
            "reward_rpe": t["reward_rpe"].to_numpy(),
            "reward_value_rpe": t["reward_value_rpe"].to_numpy(),
            "cue_time": times["cue"],
            "movement_time": times["movement"],
            "outcome_time": times["reward"],
        }
    )
    return TimedDiscriminationResult(
        trials=trials[list(TIMED_TRIAL_COLUMNS)], steps=step_table, hemisphere=hemisphere, task=task
    )
