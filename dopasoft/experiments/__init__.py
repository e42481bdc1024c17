"""Experiments: cohort runners that put agents (:mod:`dopasoft.agents`) on tasks (:mod:`dopasoft.tasks`).

:func:`simulate_two_step` is the one two-step cohort simulator (compiled); :func:`make_two_step_agent`
gives the step-by-step agent of the same model for :func:`dopasoft.simulate`;
:func:`~dopasoft.experiments.composition.composition_experiment` learns gridworld goals apart and composes
them (:func:`dopasoft.compose`); :func:`~dopasoft.experiments.conditioning.simulate_conditioning` runs a
Pavlovian protocol or a lab's own session file (:func:`~dopasoft.experiments.conditioning.read_session`);
:func:`~dopasoft.experiments.discrimination.discrimination_experiment` shows action prediction errors with a
learned default policy (per state, or shared by all states: policy compression) and
:func:`~dopasoft.experiments.discrimination.timed_discrimination_experiment` emits them at movement onset,
apart from the cue and the outcome; :func:`~dopasoft.experiments.distributional.distributional_rpe` simulates a
population of distributional RPE units (Dabney et al. 2020), and
:func:`~dopasoft.experiments.distributional.distributional_bandit` the same units on a bandit, choosing by a
Boltzmann policy; :func:`~dopasoft.experiments.convergence.convergence_experiment` shows which learners
reach the soft-optimal Q* off-policy and what traces are for.
"""

from dopasoft.agents import TWO_STEP_MODELS, make_two_step_agent
from dopasoft.experiments.composition import composition_experiment
from dopasoft.experiments.conditioning import (
    CONDITIONING_DEFAULTS,
    conditioning_agent,
    read_session,
    simulate_conditioning,
)
from dopasoft.experiments.convergence import convergence_experiment
from dopasoft.experiments.discrimination import (
    DISCRIMINATION_DEFAULTS,
    discrimination_experiment,
    timed_discrimination_experiment,
)
from dopasoft.experiments.distributional import distributional_bandit, distributional_rpe
from dopasoft.experiments.two_step import simulate_two_step, stay_probabilities, to_canonical

__all__ = [
    "CONDITIONING_DEFAULTS",
    "DISCRIMINATION_DEFAULTS",
    "TWO_STEP_MODELS",
    "composition_experiment",
    "conditioning_agent",
    "convergence_experiment",
    "discrimination_experiment",
    "distributional_bandit",
    "distributional_rpe",
    "make_two_step_agent",
    "read_session",
    "simulate_conditioning",
    "simulate_two_step",
    "stay_probabilities",
    "timed_discrimination_experiment",
    "to_canonical",
]
