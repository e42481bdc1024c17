"""Experiments: cohort runners that put agents (:mod:`dopasoft.agents`) on tasks (:mod:`dopasoft.tasks`).

:func:`simulate_two_step` is the one two-step cohort simulator (compiled); :func:`make_two_step_agent`
gives the step-by-step agent of the same model for :func:`dopasoft.simulate`;
:func:`~dopasoft.experiments.composition.composition_experiment` learns gridworld goals apart and composes
them (:func:`dopasoft.compose`).
"""

from dopasoft.agents import TWO_STEP_MODELS, make_two_step_agent
from dopasoft.experiments.composition import composition_experiment
from dopasoft.experiments.two_step import simulate_two_step, stay_probabilities, to_canonical

__all__ = [
    "TWO_STEP_MODELS",
    "composition_experiment",
    "make_two_step_agent",
    "simulate_two_step",
    "stay_probabilities",
    "to_canonical",
]
