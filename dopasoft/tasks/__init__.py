"""Tasks, gymnasium-style (``reset(seed=...) -> (obs, info)``, ``step(a) -> (obs, r, terminated,
truncated, info)``), one episode per trial: the two-step task, classical conditioning and tabular MDPs.
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
from dopasoft.tasks.mdp import GRID_ACTIONS, TabularMDP, chain_mdp, gridworld_mdp, random_mdp
from dopasoft.tasks.two_step import (
    HybridTwoStepAgent,
    TwoStepTask,
    drifting_reward_probs,
    simulate_two_step,
    stay_probabilities,
    to_canonical,
)

__all__ = [
    "GRID_ACTIONS",
    "PROTOCOLS",
    "ConditioningTask",
    "HybridTwoStepAgent",
    "InstrumentalConditioningTask",
    "TabularMDP",
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
    "simulate_two_step",
    "stay_probabilities",
    "to_canonical",
]
