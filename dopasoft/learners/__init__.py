"""Soft Q(λ) and n-step soft Q-learning agents, tabular or linear in features.

Both learners speak the same interface (``policy``, ``q_values``, ``value``, ``act``, ``update``,
``last_step``, ``reset_traces``) so that one simulation loop drives either on any task. Tabular states are
integers; with ``linear=True`` a state is a feature vector ``x`` and ``Q(x, a) = x @ W[:, a]``. The tabular
learner is the linear one with one-hot features: both run :func:`dopasoft.kernel.soft_q_step`, the step
that simulation, replay and the likelihood run too.
"""

from dopasoft.learners.base import StepSignals
from dopasoft.learners.n_step import NStepSoftQ
from dopasoft.learners.soft_q_lambda import SoftQLambda

__all__ = ["SoftQLambda", "NStepSoftQ", "StepSignals"]
