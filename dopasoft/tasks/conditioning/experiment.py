"""Run a conditioning protocol with a linear Soft Q(λ) agent in one call (defaults used by the CLI)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dopasoft.learners import SoftQLambda
from dopasoft.simulation import SimulationResult, simulate
from dopasoft.tasks.conditioning.protocols import Protocol
from dopasoft.tasks.conditioning.representations import Representation
from dopasoft.tasks.conditioning.task import ConditioningTask, InstrumentalConditioningTask

__all__ = ["CONDITIONING_DEFAULTS", "conditioning_agent", "simulate_conditioning"]

CONDITIONING_DEFAULTS: dict[str, Any] = {"alpha": 0.1, "lam": 0.5, "gamma": 0.98, "tau": 1.0}
"""Agent parameters with which the shipped protocols show their textbook effects (CSC features)."""


def conditioning_agent(task: ConditioningTask, **params: Any) -> SoftQLambda:
    """A linear :class:`~dopasoft.SoftQLambda` sized for ``task`` (features, actions, default policy).

    ``params`` override :data:`CONDITIONING_DEFAULTS` and are passed to the constructor (``trace``,
    ``trace_mode``, ...). The instrumental task's ``default_policy`` is the prior unless one is given.
    """
    kwargs = {**CONDITIONING_DEFAULTS, **params}
    if task.n_actions > 1:
        kwargs.setdefault("prior", getattr(task, "default_policy", None))
    return SoftQLambda(task.n_features, task.n_actions, linear=True, **kwargs)


def simulate_conditioning(
    protocol: str | Protocol = "acquisition",
    *,
    representation: str | Representation = "csc",
    instrumental: bool = False,
    seed: int | np.random.Generator | None = None,
    task_options: dict[str, Any] | None = None,
    **params: Any,
) -> SimulationResult:
    """Simulate a protocol with a linear Soft Q(λ) (TD(λ) when Pavlovian) agent.

    Parameters
    ----------
    protocol : str or Protocol
        Shipped protocol name or a custom protocol.
    representation : str or Representation, default "csc"
    instrumental : bool, default False
        Use :class:`InstrumentalConditioningTask` (lick/withhold, soft terms matter).
    seed : int or Generator, optional
    task_options : dict, optional
        Extra task arguments (``dt``, ``isi``, ``cue_onset``, ``lick_cost``, ...).
    **params
        Agent parameters (``alpha``, ``lam``, ``gamma``, ``tau``, ``trace``...); see
        :data:`CONDITIONING_DEFAULTS`.

    Returns
    -------
    SimulationResult
        ``.trials`` has ``phase, trial_type, cue_rpe, reward_rpe`` per trial; ``.steps`` the traces.
    """
    cls = InstrumentalConditioningTask if instrumental else ConditioningTask
    task = cls(protocol, representation=representation, **(task_options or {}))
    agent = conditioning_agent(task, **params)
    return simulate(agent, task, seed=seed)
