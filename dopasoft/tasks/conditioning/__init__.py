"""Classical (Pavlovian) conditioning: protocols, stimulus representations and the trial-by-trial task.

Environments only: the runner :func:`~dopasoft.experiments.conditioning.simulate_conditioning` lives in
:mod:`dopasoft.experiments.conditioning`.
See ``docs/tasks.md`` for the timing conventions, the representations' equations, the protocol table and
the definitions of the per-trial dopamine signals ``cue_rpe`` and ``reward_rpe``.
"""

from dopasoft.tasks.conditioning.protocols import (
    PROTOCOLS,
    Phase,
    Protocol,
    TrialType,
    get_protocol,
    make_protocol,
    parse_trial_type,
    protocol_names,
)
from dopasoft.tasks.conditioning.representations import (
    REPRESENTATIONS,
    CompleteSerialCompound,
    Microstimuli,
    Presence,
    Representation,
    make_representation,
    microstimulus_basis,
)
from dopasoft.tasks.conditioning.reward_timing import (
    STARKWEATHER_DELAYS,
    BeliefState,
    starkweather_delay_probs,
    variable_delay_session,
)
from dopasoft.tasks.conditioning.semi_markov import SemiMarkovConditioningTask
from dopasoft.tasks.conditioning.session import SESSION_COLUMNS, Session, make_session
from dopasoft.tasks.conditioning.task import (
    ConditioningTask,
    InstrumentalConditioningTask,
    TrialTiming,
    cue_value,
    trial_timing,
)

__all__ = [
    "STARKWEATHER_DELAYS",
    "BeliefState",
    "SemiMarkovConditioningTask",
    "starkweather_delay_probs",
    "variable_delay_session",
    "PROTOCOLS",
    "REPRESENTATIONS",
    "CompleteSerialCompound",
    "ConditioningTask",
    "InstrumentalConditioningTask",
    "Microstimuli",
    "Phase",
    "Presence",
    "Protocol",
    "Representation",
    "SESSION_COLUMNS",
    "Session",
    "TrialTiming",
    "TrialType",
    "cue_value",
    "get_protocol",
    "make_protocol",
    "make_representation",
    "make_session",
    "microstimulus_basis",
    "parse_trial_type",
    "protocol_names",
    "trial_timing",
]
