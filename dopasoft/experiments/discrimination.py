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

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dopasoft._memory import require_table_memory
from dopasoft._messages import shown
from dopasoft.learners import SoftQLambda
from dopasoft.simulation import simulate
from dopasoft.tasks.discrimination import DiscriminationTask

__all__ = ["DISCRIMINATION_DEFAULTS", "DISCRIMINATION_COLUMNS", "discrimination_experiment"]

DISCRIMINATION_DEFAULTS: dict[str, float] = {"alpha": 0.1, "tau": 0.25, "prior_rate": 0.05}
"""Agent parameters of the shipped experiment (and of ``dopasoft simulate discrimination``)."""

#: bytes :func:`discrimination_experiment` holds per trial at its peak (about 1080 measured with
#: tracemalloc: the simulation's step table and the experiment's table)
DISCRIMINATION_TRIAL_BYTES = 1200.0

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
