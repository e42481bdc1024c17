"""Tasks, gymnasium-style (``reset(seed=...) -> (obs, info)``, ``step(a) -> (obs, r, terminated,
truncated, info)``), one episode per trial: the two-step task, classical conditioning,
a two-choice discrimination task (also with cue, movement and outcome at separate times) and tabular MDPs.

Environments only. Agents live in :mod:`dopasoft.agents`, cohort runners (``simulate_two_step``,
``simulate_conditioning``, ...) in :mod:`dopasoft.experiments`.
"""

from dopasoft.tasks import conditioning
from dopasoft.tasks.conditioning import (
    PROTOCOLS,
    ConditioningTask,
    InstrumentalConditioningTask,
    cue_value,
    get_protocol,
    make_protocol,
    parse_trial_type,
    protocol_names,
)
from dopasoft.tasks.discrimination import DiscriminationTask, TimedDiscriminationTask
from dopasoft.tasks.mdp import GRID_ACTIONS, TabularMDP, chain_mdp, gridworld_mdp, random_mdp
from dopasoft.tasks.two_step import TwoStepTask, drifting_reward_probs, reflected_walk

__all__ = [
    "GRID_ACTIONS",
    "PROTOCOLS",
    "ConditioningTask",
    "DiscriminationTask",
    "InstrumentalConditioningTask",
    "TabularMDP",
    "TimedDiscriminationTask",
    "TwoStepTask",
    "chain_mdp",
    "conditioning",
    "cue_value",
    "drifting_reward_probs",
    "gridworld_mdp",
    "get_protocol",
    "make_protocol",
    "parse_trial_type",
    "protocol_names",
    "random_mdp",
    "reflected_walk",
]
