"""Run a conditioning protocol, or a lab's own session file, with a linear Soft Q(λ) agent in one call.

The environment (:class:`~dopasoft.tasks.conditioning.ConditioningTask`) and the session table
(:class:`~dopasoft.tasks.conditioning.Session`) live in :mod:`dopasoft.tasks.conditioning`; this module
puts an agent on them (defaults used by the command line, ``dopasoft simulate conditioning``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from dopasoft._memory import require_table_memory
from dopasoft.learners import SoftQLambda
from dopasoft.simulation import SimulationResult, simulate
from dopasoft.tasks.conditioning.protocols import Protocol
from dopasoft.tasks.conditioning.representations import Representation
from dopasoft.tasks.conditioning.session import Session, make_session
from dopasoft.tasks.conditioning.task import ConditioningTask, InstrumentalConditioningTask

__all__ = ["CONDITIONING_DEFAULTS", "conditioning_agent", "read_session", "simulate_conditioning"]

CONDITIONING_DEFAULTS: dict[str, Any] = {"alpha": 0.1, "lam": 0.5, "gamma": 0.98, "tau": 1.0}
"""Agent parameters with which the shipped protocols show their textbook effects (CSC features)."""

#: bytes a simulation holds per time step until the end (the step table: ~150 bytes a row, measured)
STEP_BYTES = 200.0


def conditioning_agent(task: ConditioningTask, **params: Any) -> SoftQLambda:
    """A linear :class:`~dopasoft.SoftQLambda` sized for ``task`` (features, actions, default policy).

    ``params`` override :data:`CONDITIONING_DEFAULTS` and are passed to the constructor (``trace``,
    ``trace_mode``, ...). The instrumental task's ``default_policy`` is the prior unless one is given.

    Parameters
    ----------
    task : ConditioningTask or InstrumentalConditioningTask
        The task the agent is sized for.
    **params
        Learner parameters overriding :data:`CONDITIONING_DEFAULTS` (``alpha``, ``lam``, ``gamma``, ``tau``,
        ``trace``, ...).

    Examples
    --------
    >>> from dopasoft.experiments import conditioning_agent
    >>> from dopasoft.tasks import ConditioningTask
    >>> task = ConditioningTask("acquisition")
    >>> agent = conditioning_agent(task, alpha=0.2)
    >>> agent.alpha, agent.n_actions
    (0.2, 1)
    """
    kwargs = {**CONDITIONING_DEFAULTS, **params}
    if task.n_actions > 1:
        kwargs.setdefault("prior", getattr(task, "default_policy", None))
    return SoftQLambda(task.n_features, task.n_actions, linear=True, **kwargs)


def read_session(path: str | os.PathLike, *, sep: str | None = None) -> Session:
    """Read a lab's session file (CSV, TSV or Parquet; one row per trial) into a :class:`Session`.

    Parameters
    ----------
    path : path
        The file; columns as in :mod:`dopasoft.tasks.conditioning.session` (``trial_type`` required).
    sep : str, optional
        Field separator of a text file (default: tab for ``.tsv``/``.txt``, comma otherwise).

    Returns
    -------
    Session
        Rows named from 1 (the first data row after the header) in messages.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing or unreadable file, or any row that :func:`~dopasoft.tasks.conditioning.make_session`
        refuses (the message names the file, the row and the column).

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from dopasoft.experiments import read_session, simulate_conditioning
    >>> trials = pd.DataFrame({"trial": [1, 2, 3], "trial_type": ["A+", "A+", "A-"]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "session.csv")
    ...     trials.to_csv(path, index=False)
    ...     session = read_session(path)
    >>> simulate_conditioning(session=session, seed=0).trials["trial"].tolist()
    [1, 2, 3]
    """
    from dopasoft.fitting.data import read_table  # the package's one table reader

    table = read_table(path, sep=sep, what="session file")
    return make_session(table, name=os.fspath(path))


def simulate_conditioning(
    protocol: str | Protocol | None = None,
    *,
    session: str | os.PathLike | pd.DataFrame | Session | None = None,
    representation: str | Representation = "csc",
    instrumental: bool = False,
    seed: int | np.random.Generator | None = None,
    task_options: dict[str, Any] | None = None,
    **params: Any,
) -> SimulationResult:
    """Simulate a protocol with a linear Soft Q(λ) (TD(λ) when Pavlovian) agent.

    Parameters
    ----------
    protocol : str or Protocol, optional
        Shipped protocol name or a custom protocol (default ``"acquisition"`` when no ``session``).
    session : path, DataFrame or Session, optional
        A lab's own session instead of a protocol: one row per trial, run in file order (see
        :mod:`dopasoft.tasks.conditioning.session` for the columns). The per-trial table then keeps
        the session's trial numbers (also in ``.steps``) and its other columns.
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

    Raises
    ------
    ValueError
        Both ``protocol`` and ``session`` given, an unknown protocol, or a session row that cannot be
        run (named by row and column).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"trial": [11, 12], "trial_type": ["A+", "A+"], "reward_time": [1.5, 2.0]})
    >>> result = simulate_conditioning(session=rows, seed=0)
    >>> result.trials[["trial", "trial_type", "reward_rpe"]].round(3).to_dict("list")
    {'trial': [11, 12], 'trial_type': ['A+', 'A+'], 'reward_rpe': [1.0, 1.0]}
    """
    if protocol is not None and session is not None:
        raise ValueError("give a protocol or a session, not both")
    if session is not None and not isinstance(session, Session):
        session = make_session(session) if isinstance(session, pd.DataFrame) else read_session(session)
    cls = InstrumentalConditioningTask if instrumental else ConditioningTask
    source = session if session is not None else (protocol if protocol is not None else "acquisition")
    task = cls(source, representation=representation, **(task_options or {}))
    require_table_memory(
        STEP_BYTES,
        {"trials": int(task.n_trials), "time bins": int(task.n_bins)},
        "simulating",
        "use fewer trials, a larger dt or shorter intervals",
    )
    agent = conditioning_agent(task, **params)
    result = simulate(agent, task, seed=seed)
    if session is not None:
        _label_session_trials(result, session)
    return result


def _label_session_trials(result: SimulationResult, session: Session) -> None:
    """Give both tables the session's trial numbers and the trial table the session's other columns."""
    numbers = np.asarray(session.trials)
    result.steps["trial"] = numbers[result.steps["trial"].to_numpy()]
    trials = result.trials
    trials["trial"] = numbers[trials["trial"].to_numpy()]
    extra = session.extra.drop(columns=[c for c in session.extra.columns if c in trials.columns])
    result.trials = pd.concat([trials, extra.set_index(trials.index)], axis=1)
