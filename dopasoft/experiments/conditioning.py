"""Run a conditioning protocol, or a lab's own session file, with a linear Soft Q(λ) agent in one call.

The environment (:class:`~dopasoft.tasks.conditioning.ConditioningTask`) and the session table
(:class:`~dopasoft.tasks.conditioning.Session`) live in :mod:`dopasoft.tasks.conditioning`; this module
puts an agent on them (defaults used by the command line, ``dopasoft simulate conditioning``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dopasoft._memory import require_table_memory
from dopasoft.agents import SemiMarkovTD
from dopasoft.learners import SoftQLambda
from dopasoft.simulation import SimulationResult, simulate
from dopasoft.tasks.conditioning.protocols import Protocol
from dopasoft.tasks.conditioning.representations import Representation
from dopasoft.tasks.conditioning.reward_timing import STARKWEATHER_DELAYS, BeliefState, variable_delay_session
from dopasoft.tasks.conditioning.semi_markov import SemiMarkovConditioningTask
from dopasoft.tasks.conditioning.session import Session, make_session
from dopasoft.tasks.conditioning.task import ConditioningTask, InstrumentalConditioningTask

__all__ = [
    "CONDITIONING_DEFAULTS",
    "ConditioningCohort",
    "PER_SECOND",
    "TIMING_MODELS",
    "TIMING_PROTOCOLS",
    "draw_subject_params",
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


TIMING_PROTOCOLS: dict[str, str] = {
    "variable-delay": "A+ with the reward 1.2-2.8 s after the cue, drawn per trial; p_reward=0.9 omits 10 % "
    "(Starkweather et al. 2017)",
}
"""Protocols that draw a reward time per trial (run as a session: the output keeps ``reward_time``)."""

TIMING_MODELS = ("belief-state", "semi-markov")
"""Representations of reward timing built from the protocol's delay distribution."""

#: the domain of each parameter a cohort may vary (param_sd): (low, high, low included, high included)
_DOMAINS = {
    "alpha": (0.0, 1.0, False, True),
    "gamma_per_s": (0.0, 1.0, True, True),
    "lam_per_s": (0.0, 1.0, True, True),
    "tau": (0.0, np.inf, False, False),
}


@dataclass
class ConditioningCohort:
    """Simulations of a cohort of animals, each with its own parameters (``n_subjects``).

    Examples
    --------
    >>> c = simulate_conditioning("acquisition", n_subjects=3, param_sd={"alpha": 0.02}, seed=0)
    >>> c.trials["subject"].unique().tolist(), len(c.subjects), c.params.columns.tolist()[:2]
    ([0, 1, 2], 3, ['subject', 'alpha'])

    Attributes
    ----------
    trials, steps : pandas.DataFrame
        Every animal's per-trial and per-step tables stacked, with a first column ``subject`` (0, 1, ...).
    params : pandas.DataFrame
        One row per animal: ``subject`` and the parameters it was simulated with.
    subjects : list of SimulationResult
        Each animal's own result (its agent and task).
    """

    trials: pd.DataFrame
    steps: pd.DataFrame
    params: pd.DataFrame
    subjects: list[SimulationResult]


def draw_subject_params(
    params: dict[str, float],
    param_sd: dict[str, float],
    n_subjects: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    r"""Per-animal parameters: each varied one normal around ``params`` with sd ``param_sd``, kept in its domain.

    :math:`\theta_s \sim \mathcal N(\theta, \sigma^2)` truncated to the parameter's domain (redrawn
    until inside: ``alpha`` in (0, 1], ``gamma_per_s`` and ``lam_per_s`` in [0, 1], ``tau`` > 0);
    parameters without an sd are the same for every animal.

    Parameters
    ----------
    params : dict
        The cohort's central values.
    param_sd : dict
        Standard deviation (natural scale) per varied parameter.
    n_subjects : int
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        ``subject`` and one column per parameter.

    Raises
    ------
    ValueError
        For an sd of a parameter that cannot vary (``trace``, unknown names), a negative sd, or a
        central value outside the domain.

    Examples
    --------
    >>> t = draw_subject_params({"alpha": 0.1, "tau": 1.0}, {"alpha": 0.02}, 3, np.random.default_rng(0))
    >>> t.columns.tolist(), bool(t["alpha"].nunique() == 3), t["tau"].tolist()
    (['subject', 'alpha', 'tau'], True, [1.0, 1.0, 1.0])
    """
    rows: dict[str, Any] = {"subject": np.arange(n_subjects)}
    for name in param_sd:
        if name not in _DOMAINS:
            raise ValueError(
                f"param_sd: {name!r} cannot vary across animals; parameters that can: {', '.join(_DOMAINS)}"
            )
        if name not in params:
            raise ValueError(
                f"param_sd: {name!r} is not a parameter of this model (its parameters: {', '.join(params)})"
            )
    for name, centre in params.items():
        sd = param_sd.get(name)
        if sd is None:
            rows[name] = [centre] * n_subjects
            continue
        if not (isinstance(sd, int | float) and np.isfinite(sd) and sd >= 0):
            raise ValueError(f"param_sd[{name!r}] must be a number >= 0, got {sd!r}")
        low, high, low_in, high_in = _DOMAINS[name]

        def inside(v, low=low, high=high, low_in=low_in, high_in=high_in):
            return (v > low or (low_in and v == low)) & (v < high or (high_in and v == high))

        if not inside(float(centre)):
            raise ValueError(f"{name}={centre!r} is outside its domain, so animals cannot be drawn around it")
        values = np.full(n_subjects, np.nan)
        for s in range(n_subjects):
            for _ in range(10_000):
                v = float(rng.normal(centre, sd))
                if inside(v):
                    values[s] = v
                    break
            else:  # pragma: no cover - needs an sd far larger than the domain
                raise ValueError(f"param_sd[{name!r}]={sd:g} is too wide for the domain of {name}")
        rows[name] = values
    return pd.DataFrame(rows)


def simulate_conditioning(
    protocol: str | Protocol | None = None,
    *,
    session: str | os.PathLike | pd.DataFrame | Session | None = None,
    representation: str | Representation | BeliefState = "csc",
    instrumental: bool = False,
    p_reward: float | None = None,
    n_trials: int | None = None,
    probe_delays: Sequence[float] = (),
    n_subjects: int | None = None,
    param_sd: dict[str, float] | None = None,
    seed: int | np.random.Generator | None = None,
    task_options: dict[str, Any] | None = None,
    **params: Any,
) -> SimulationResult | ConditioningCohort:
    """Simulate a protocol with a linear Soft Q(λ) (TD(λ) when Pavlovian) agent, or a cohort of them.

    Parameters
    ----------
    protocol : str or Protocol, optional
        Shipped protocol name (:data:`~dopasoft.tasks.conditioning.PROTOCOLS` or
        :data:`TIMING_PROTOCOLS`) or a custom protocol (default ``"acquisition"`` when no ``session``).
        ``"variable-delay"`` (Starkweather et al. 2017) draws each trial's reward time from 1.2–2.8 s
        (:func:`~dopasoft.tasks.conditioning.variable_delay_session`); its default bin is 0.2 s.
    session : path, DataFrame or Session, optional
        A lab's own session instead of a protocol: one row per trial, run in file order (see
        :mod:`dopasoft.tasks.conditioning.session` for the columns). The per-trial table then keeps
        the session's trial numbers (also in ``.steps``) and its other columns.
    representation : str, Representation or BeliefState, default "csc"
        ``"csc"``, ``"presence"``, ``"microstimuli"``, or a model of reward timing for
        ``"variable-delay"``: ``"belief-state"`` (a belief over ISI sub-states and the ITI as features,
        :class:`~dopasoft.tasks.conditioning.BeliefState`) or ``"semi-markov"`` (TD at events only,
        :class:`~dopasoft.agents.SemiMarkovTD`). Both learn with λ = 0 unless ``lam_per_s`` is given.
    instrumental : bool, default False
        Use :class:`InstrumentalConditioningTask` (lick/withhold, soft terms matter).
    p_reward : float, optional
        ``"variable-delay"`` only: probability of reward (default 1; 0.9 is the 10 %-omission task).
    n_trials : int, optional
        ``"variable-delay"`` only: training trials (default 1500).
    probe_delays : sequence of float, default ()
        ``"variable-delay"`` only: reward times (s) of rewarded probe trials after training, 10 each
        (phase ``"probes"``), e.g. ``(0.6, 3.4)`` for an early and a late reward.
    n_subjects : int, optional
        Simulate a cohort: each animal gets its own parameters (``param_sd``), its own trial order and
        reward draws; the result is a :class:`ConditioningCohort` whose tables carry ``subject``.
    param_sd : dict, optional
        With ``n_subjects``: sd across animals per parameter (:func:`draw_subject_params`).
    seed : int or Generator, optional
        Everything random (parameters, sessions, rewards): same seed, same tables.
    task_options : dict, optional
        Extra task arguments (``dt``, ``isi``, ``cue_onset``, ``lick_cost``, ...).
    **params
        Agent parameters (``alpha``, ``lam_per_s``, ``gamma_per_s``, ``tau``, ``trace``...); see
        :data:`CONDITIONING_DEFAULTS`. Discount and trace decay are per second (``gamma_per_s``,
        ``lam_per_s``), converted to the bins of ``dt`` inside, so the prediction does not depend on
        ``dt``; per-bin ``gamma``/``lam`` are refused with the per-second value to give.

    Returns
    -------
    SimulationResult or ConditioningCohort
        ``.trials`` has ``phase, trial_type, cue_rpe, reward_rpe`` per trial (and ``reward_time`` for
        ``"variable-delay"``); ``.steps`` the traces. A cohort when ``n_subjects`` is given.

    Raises
    ------
    ValueError
        Both ``protocol`` and ``session`` given, an unknown protocol, ``p_reward``/``n_trials`` with a
        protocol that does not draw reward times, a timing model with another protocol, a bad
        ``n_subjects`` or ``param_sd``, or a session row that cannot be run (named by row and column).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"trial": [11, 12], "trial_type": ["A+", "A+"], "reward_time": [1.5, 2.0]})
    >>> result = simulate_conditioning(session=rows, seed=0)
    >>> result.trials[["trial", "trial_type", "reward_rpe"]].round(3).to_dict("list")
    {'trial': [11, 12], 'trial_type': ['A+', 'A+'], 'reward_rpe': [1.0, 1.0]}
    >>> r = simulate_conditioning("variable-delay", p_reward=0.9, representation="belief-state", n_trials=50, seed=0)
    >>> sorted(r.trials["reward_time"].unique().tolist())[:3]
    [1.2, 1.4, 1.6]
    """
    if protocol is not None and session is not None:
        raise ValueError("give a protocol or a session, not both")
    if param_sd is not None and n_subjects is None:
        raise ValueError("param_sd needs n_subjects (the number of animals to draw)")
    if n_subjects is not None:
        return _simulate_cohort(
            protocol,
            session=session,
            representation=representation,
            instrumental=instrumental,
            p_reward=p_reward,
            n_trials=n_trials,
            probe_delays=probe_delays,
            n_subjects=n_subjects,
            param_sd=param_sd or {},
            seed=seed,
            task_options=task_options,
            params=params,
        )
    rng = np.random.default_rng(seed)
    timing_protocol = isinstance(protocol, str) and protocol in TIMING_PROTOCOLS
    if not timing_protocol:
        for name, value in (
            ("p_reward", p_reward),
            ("n_trials", n_trials),
            ("probe_delays", probe_delays or None),
        ):
            if value is not None:
                raise ValueError(
                    f"{name} is an option of the protocols that draw reward times "
                    f"({', '.join(TIMING_PROTOCOLS)}), not of {protocol!r}"
                )
        if isinstance(representation, str) and representation in TIMING_MODELS:
            raise ValueError(
                f"representation {representation!r} models reward timing from the protocol's delay "
                f"distribution: use it with protocol {', '.join(TIMING_PROTOCOLS)} (or give a BeliefState)"
            )
    options = dict(task_options or {})
    if timing_protocol:
        p = 1.0 if p_reward is None else p_reward
        trials = 1500 if n_trials is None else n_trials
        session = variable_delay_session(p, n_trials=trials, probe_delays=probe_delays, seed=rng)
        protocol = None
        options.setdefault("dt", 0.2)
        if representation == "belief-state":
            representation = BeliefState(STARKWEATHER_DELAYS, p_reward=p)
    if isinstance(representation, BeliefState):  # TD(0) on the belief unless a trace is asked for
        params.setdefault("lam_per_s", 0.0)
    if session is not None and not isinstance(session, Session):
        session = make_session(session) if isinstance(session, pd.DataFrame) else read_session(session)
    source = session if session is not None else (protocol if protocol is not None else "acquisition")
    if representation == "semi-markov":
        if instrumental:
            raise ValueError("the semi-markov model is Pavlovian: instrumental=True is not supported")
        task: ConditioningTask = SemiMarkovConditioningTask(source, **options)
    else:
        cls = InstrumentalConditioningTask if instrumental else ConditioningTask
        task = cls(source, representation=representation, **options)
    require_table_memory(
        STEP_BYTES,
        {"trials": int(task.n_trials), "time bins": int(task.n_bins)},
        "simulating",
        "use fewer trials, a larger dt or shorter intervals",
    )
    if representation == "semi-markov":
        unknown = sorted(set(params) - {"alpha", "gamma_per_s"})
        if unknown:
            raise ValueError(
                f"the semi-markov model takes alpha and gamma_per_s (TD(0) at events, no choice); got {unknown}"
            )
        kwargs = {k: CONDITIONING_DEFAULTS[k] for k in ("alpha", "gamma_per_s")} | params
        agent: Any = SemiMarkovTD(task.n_features, alpha=kwargs["alpha"], gamma_per_s=kwargs["gamma_per_s"])
    else:
        agent = conditioning_agent(task, **params)
    result = simulate(agent, task, seed=rng)
    if session is not None:
        _label_session_trials(result, session)
    return result


def _simulate_cohort(
    protocol, *, session, n_subjects, param_sd, seed, params, **options
) -> ConditioningCohort:
    """``n_subjects`` animals: parameters drawn first (all from ``seed``), then one run per animal."""
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, int | np.integer) or n_subjects < 1:
        raise ValueError(f"n_subjects must be an integer >= 1, got {n_subjects!r}")
    rng = np.random.default_rng(seed)
    central = {k: v for k, v in {**CONDITIONING_DEFAULTS, **params}.items() if k in _DOMAINS}
    if options["representation"] == "semi-markov":
        central.pop("lam_per_s", None)
        central.pop("tau", None)
    elif (
        options["representation"] in TIMING_MODELS or isinstance(options["representation"], BeliefState)
    ) and ("lam_per_s" not in params):
        central["lam_per_s"] = 0.0
    table = draw_subject_params(central, param_sd, int(n_subjects), rng)
    seeds = rng.spawn(int(n_subjects))
    runs = []
    for s in range(int(n_subjects)):
        own = {**params, **{k: float(table.loc[s, k]) for k in central}}
        runs.append(simulate_conditioning(protocol, session=session, seed=seeds[s], **options, **own))

    def stack(name: str) -> pd.DataFrame:
        frames = [getattr(r, name).assign(subject=s) for s, r in enumerate(runs)]
        out = pd.concat(frames, ignore_index=True)
        return out[["subject", *[c for c in out.columns if c != "subject"]]]

    return ConditioningCohort(trials=stack("trials"), steps=stack("steps"), params=table, subjects=runs)


def _label_session_trials(result: SimulationResult, session: Session) -> None:
    """Give both tables the session's trial numbers and the trial table the session's other columns."""
    numbers = np.asarray(session.trials)
    result.steps["trial"] = numbers[result.steps["trial"].to_numpy()]
    trials = result.trials
    trials["trial"] = numbers[trials["trial"].to_numpy()]
    extra = session.extra.drop(columns=[c for c in session.extra.columns if c in trials.columns])
    result.trials = pd.concat([trials, extra.set_index(trials.index)], axis=1)
