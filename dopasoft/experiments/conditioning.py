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

__all__ = [
    "CONDITIONING_DEFAULTS",
    "PER_SECOND",
    "conditioning_agent",
    "per_bin",
    "read_session",
    "simulate_conditioning",
]

CONDITIONING_DEFAULTS: dict[str, Any] = {
    "alpha": 0.1,
    "lam_per_s": 0.5**4,
    "gamma_per_s": 0.98**4,
    "tau": 1.0,
}
"""Agent parameters with which the shipped protocols show their textbook effects (CSC features).

Time constants are per second (docs/maths.md, "Parameters in seconds"): ``gamma_per_s`` = 0.922 is a
discount of 0.98 per 0.25-s bin, ``lam_per_s`` = 0.0625 a trace decay of 0.5 per 0.25-s bin; ``alpha``
is the step size of one update of a feature (per trial for the CSC, whose features are each active in
one bin of a trial); ``tau`` is in reward units.
"""

#: per-second parameters and the per-bin learner arguments they set
PER_SECOND = {"gamma_per_s": "gamma", "lam_per_s": "lam"}

#: bytes a simulation holds per time step until the end (the step table: ~150 bytes a row, measured)
STEP_BYTES = 200.0


def per_bin(value: float, dt: float, name: str) -> float:
    r"""A per-second discount or trace decay as its value per bin of ``dt`` seconds: ``value ** dt``.

    With :math:`\gamma_1` per second, :math:`\gamma_\Delta = \gamma_1^{\Delta}` discounts one bin of
    :math:`\Delta` seconds, so :math:`\gamma_\Delta^{T/\Delta} = \gamma_1^{T}` whatever the bin width
    (docs/maths.md, "Parameters in seconds").

    Parameters
    ----------
    value : float
        The per-second factor, in [0, 1].
    dt : float
        Bin width in seconds (> 0).
    name : str
        The parameter's name, for the message.

    Returns
    -------
    float
        ``value ** dt``.

    Raises
    ------
    ValueError
        If ``value`` is not a number in [0, 1].

    Examples
    --------
    >>> round(per_bin(0.98**4, 0.25, "gamma_per_s"), 12), round(per_bin(0.5, 0.1, "lam_per_s") ** 10, 12)
    (0.98, 0.5)
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number in [0, 1] (per second), got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1] (a factor per second), got {float(value):g}")
    return float(value) ** float(dt)


def _per_bin_params(params: dict[str, Any], dt: float) -> dict[str, Any]:
    """The learner's per-bin arguments from per-second ones; refuse per-bin names with the conversion."""
    for per_s, bin_name in PER_SECOND.items():
        if bin_name in params:
            value = params[bin_name]
            try:
                hint = f": {bin_name}={float(value):g} per {dt:g}-s bin is {per_s}={float(value) ** (1 / dt):.6g}"
            except (TypeError, ValueError, ZeroDivisionError):
                hint = ""
            raise ValueError(
                f"conditioning parameters are per second, so that predictions do not depend on the bin "
                f"width dt: give {per_s} (the factor per second; per bin it is {per_s} ** dt) instead of "
                f"{bin_name}{hint}"
            )
    out = dict(params)
    for per_s, bin_name in PER_SECOND.items():
        if per_s in out:
            out[bin_name] = per_bin(out.pop(per_s), dt, per_s)
    return out


def conditioning_agent(task: ConditioningTask, **params: Any) -> SoftQLambda:
    """A linear :class:`~dopasoft.SoftQLambda` sized for ``task`` (features, actions, default policy).

    ``params`` override :data:`CONDITIONING_DEFAULTS` and are passed to the constructor (``trace``,
    ``trace_mode``, ...), ``gamma_per_s`` and ``lam_per_s`` converted to the task's bins
    (:func:`per_bin`). The instrumental task's ``default_policy`` is the prior unless one is given.

    Parameters
    ----------
    task : ConditioningTask
        The task (its ``dt``, ``n_features`` and ``n_actions`` size the learner).
    **params
        Learner arguments; per-bin ``gamma`` and ``lam`` are refused (the message gives the per-second
        value).

    Returns
    -------
    SoftQLambda

    Raises
    ------
    ValueError
        For ``gamma`` or ``lam`` (per bin), a per-second value outside [0, 1], or any argument the
        learner refuses.

    Examples
    --------
    >>> task = ConditioningTask("acquisition", dt=0.1)
    >>> agent = conditioning_agent(task, gamma_per_s=0.9)
    >>> round(agent.gamma ** 10, 12)
    0.9
    """
    kwargs = _per_bin_params({**CONDITIONING_DEFAULTS, **params}, task.dt)
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
        Agent parameters (``alpha``, ``lam_per_s``, ``gamma_per_s``, ``tau``, ``trace``...); see
        :data:`CONDITIONING_DEFAULTS`. Discount and trace decay are per second (``gamma_per_s``,
        ``lam_per_s``), converted to the bins of ``dt`` inside, so the prediction does not depend on
        ``dt``; per-bin ``gamma``/``lam`` are refused with the per-second value to give.

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
