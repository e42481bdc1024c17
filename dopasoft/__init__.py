"""dopasoft: Soft Q(λ) agents, model dopamine signals and maximum-likelihood fitting of choice data.

The soft operators (:mod:`dopasoft.soft`), the learners (:mod:`dopasoft.learners`) and the compiled
learning step they share (:mod:`dopasoft.kernel`) are at the top level; the :class:`~dopasoft.agents.Agent`
protocol and the two-step agents in :mod:`dopasoft.agents`; environments (:mod:`dopasoft.tasks`),
cohort runners (:mod:`dopasoft.experiments`), fitting and analysis live in sub-packages.
"""

from dopasoft.learners import NStepSoftQ, SoftQLambda, StepSignals
from dopasoft.returns import importance_weight, soft_n_step_return, soft_tree_backup_return
from dopasoft.soft import (
    SoftValueIterationResult,
    action_term,
    boltzmann_policy,
    compose,
    log_policy,
    policy_kl,
    soft_value,
    soft_value_iteration,
)

__version__ = "0.1.0"

__all__ = [
    "NStepSoftQ",
    "SoftQLambda",
    "SoftValueIterationResult",
    "StepSignals",
    "action_term",
    "boltzmann_policy",
    "compose",
    "importance_weight",
    "log_policy",
    "policy_kl",
    "soft_n_step_return",
    "soft_tree_backup_return",
    "soft_value",
    "soft_value_iteration",
]


def __getattr__(name: str):
    # Sub-packages load on first use so that `import dopasoft` stays light.
    import importlib

    if name in ("tasks", "fitting", "analysis", "agents", "experiments"):
        return importlib.import_module(f"dopasoft.{name}")
    if name in ("Agent", "HybridTwoStepAgent", "StickyChoice"):
        return getattr(importlib.import_module("dopasoft.agents"), name)
    if name == "simulate":
        from dopasoft.simulation import simulate

        return simulate
    raise AttributeError(f"module 'dopasoft' has no attribute {name!r}")
