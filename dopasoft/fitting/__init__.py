"""Fitting reinforcement-learning models to choice data by maximum likelihood.

Data (:mod:`~dopasoft.fitting.data`), models (:mod:`~dopasoft.fitting.models`), likelihood and
fitting (:mod:`~dopasoft.fitting.mle`), simulation from the same models
(:mod:`~dopasoft.fitting.simulate`), hierarchical EM (:mod:`~dopasoft.fitting.hierarchical`),
random-effects Bayesian model selection (:mod:`~dopasoft.fitting.model_selection`), parameter and
model recovery (:mod:`~dopasoft.fitting.recovery`), hierarchical Bayesian posteriors by NUTS
(:mod:`~dopasoft.fitting.bayes`; sampling needs the ``[bayes]`` extra). See ``docs/fitting.md``.
"""

from dopasoft.fitting.bayes import PosteriorResult, sample
from dopasoft.fitting.data import (
    Transitions,
    read_choices,
    read_hbayesdm,
    to_transitions,
    two_step_to_steps,
    validate_bandit,
    validate_steps,
    validate_two_step,
    write_hbayesdm,
)
from dopasoft.fitting.hierarchical import HierarchicalResult, fit_hierarchical
from dopasoft.fitting.mle import FitResult, fit, iter_fit, negative_log_likelihood
from dopasoft.fitting.model_selection import BMSResult, bms, exceedance_probabilities
from dopasoft.fitting.models import MODEL_NAMES, ChoiceModel, Parameter, get_model
from dopasoft.fitting.parameters import default_prior
from dopasoft.fitting.recovery import ModelRecoveryResult, model_recovery, recovery_table
from dopasoft.fitting.replay import REPLAY_COLUMNS, replay
from dopasoft.fitting.simulate import sample_parameters, simulate_choices
from dopasoft.fitting.threads import get_threads, set_threads

__all__ = [
    "default_prior",
    "Transitions",
    "read_choices",
    "read_hbayesdm",
    "to_transitions",
    "two_step_to_steps",
    "validate_bandit",
    "validate_steps",
    "validate_two_step",
    "write_hbayesdm",
    "BMSResult",
    "HierarchicalResult",
    "bms",
    "exceedance_probabilities",
    "fit_hierarchical",
    "FitResult",
    "fit",
    "iter_fit",
    "negative_log_likelihood",
    "MODEL_NAMES",
    "ChoiceModel",
    "Parameter",
    "get_model",
    "ModelRecoveryResult",
    "model_recovery",
    "recovery_table",
    "replay",
    "REPLAY_COLUMNS",
    "sample_parameters",
    "simulate_choices",
    "get_threads",
    "set_threads",
    "PosteriorResult",
    "sample",
]
