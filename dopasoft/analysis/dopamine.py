r"""Model dopamine: per-trial cue and reward RPEs, within-trial traces, heatmaps and a photometry kernel.

Inputs are the tables of :func:`dopasoft.simulate` / :func:`~dopasoft.experiments.conditioning.simulate_conditioning`
(a :class:`~dopasoft.simulation.SimulationResult`, or its ``trials`` / ``steps`` DataFrames, e.g. read
back from the CSV files of ``dopasoft simulate conditioning --out --trace-out``):

* per-trial table: ``trial``, ``trial_type`` (and usually ``phase``, ``rewarded``), ``cue_rpe``,
  ``reward_rpe`` (docs/tasks.md defines them);
* per-step table: ``trial``, ``time`` (s from the first cue onset), ``event`` and a signal column
  (``delta``, ``value_rpe``, ``action_term``).

Photometry. A GCaMP-like fluorescence trace is modelled as the RPE impulses (one per time bin, at the
time of the bin entered) convolved with a causal difference-of-exponentials kernel,

.. math:: h(t) = \frac{e^{-t/\tau_d} - e^{-t/\tau_r}}{\max_t (e^{-t/\tau_d} - e^{-t/\tau_r})}, \quad t \ge 0,

with rise :math:`\tau_r` = 0.1 s and decay :math:`\tau_d` = 0.6 s by default (GCaMP6f-like bulk
signals; use ~1.5 s for GCaMP6s). The result is in arbitrary units (peak of a unit RPE = 1): compare
shapes and relative sizes with recordings, not absolute ΔF/F.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "trial_table",
    "step_table",
    "rpe_by_trial_type",
    "aligned_traces",
    "photometry_kernel",
    "convolve_photometry",
    "reward_probability",
    "probability_scaling",
    "one_animal",
    "rpe_by_delay",
    "delay_slope",
    "cohort_mean",
    "RPE_LABEL",
    "PHOTOMETRY_LABEL",
]

TRIAL_COLUMNS = ("trial", "trial_type", "cue_rpe", "reward_rpe")
STEP_COLUMNS = ("trial", "time", "event")
RPE_LABEL = "RPE δ (reward units)"
PHOTOMETRY_LABEL = "Model ΔF/F (a.u.)"


def _require(df: Any, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; has {list(df.columns)}")
    return df


def one_animal(table: pd.DataFrame, what: str) -> pd.DataFrame:
    """``table`` unchanged if it holds one animal; ``ValueError`` naming the cohort otherwise.

    Parameters
    ----------
    table : pandas.DataFrame
        A per-trial or per-step table, with or without ``subject``.
    what : str
        The function that needs one animal, for the message.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValueError
        If the ``subject`` column holds more than one animal.

    Examples
    --------
    >>> one_animal(pd.DataFrame({"subject": [0, 0], "trial": [0, 1]}), "plot").shape
    (2, 2)
    """
    if isinstance(table, pd.DataFrame) and "subject" in table.columns and table["subject"].nunique() > 1:
        raise ValueError(
            f"{what} draws one animal's trials; this table has {table['subject'].nunique()} animals (column "
            "'subject'): pass one animal (cohort.subjects[i]), or use rpe_by_trial_type, probability_scaling "
            "or rpe_by_delay, which average each animal and then across animals"
        )
    return table


def _per_animal(trials: pd.DataFrame, by: str, columns: Sequence[str], stat: Any) -> pd.DataFrame:
    """``stat(group)`` per animal and ``by``, then mean, SEM and count across animals."""
    rows = []
    for key, g in trials.groupby(by, sort=False):
        per = pd.DataFrame([stat(a) for _, a in g.groupby("subject")])
        row: dict[str, Any] = {by: key, "n": len(g), "n_subjects": len(per)}
        for col in columns:
            row[col], row[f"{col}_sem"] = per[col].mean(), per[col].sem()
        rows.append(row)
    return pd.DataFrame(rows)


def trial_table(result: Any) -> pd.DataFrame:
    """The per-trial table of a simulation result (or a DataFrame), checked for the needed columns.

    Parameters
    ----------
    result : SimulationResult or pandas.DataFrame
        A result with ``.trials``, or the table itself.

    Returns
    -------
    pandas.DataFrame
        With at least ``trial, trial_type, cue_rpe, reward_rpe``.

    Raises
    ------
    ValueError
        Naming the missing columns.
    """
    table = getattr(result, "trials", result)
    return _require(table, TRIAL_COLUMNS, "the per-trial table")


def step_table(result: Any, signal: str = "delta") -> pd.DataFrame:
    """The per-step table of a simulation result (or a DataFrame), checked for ``trial, time, event, signal``."""
    table = getattr(result, "steps", result)
    return _require(table, (*STEP_COLUMNS, signal), "the per-step table")


def rpe_by_trial_type(result: Any, *, last: int | None = None, phase: str | None = None) -> pd.DataFrame:
    """Mean cue and reward RPE per trial type (optionally in one phase and over its last trials).

    Parameters
    ----------
    result : SimulationResult or DataFrame
    last : int, optional
        Use only the last ``last`` trials of each trial type (after learning).
    phase : str, optional
        Restrict to this phase (needs a ``phase`` column).

    Returns
    -------
    pandas.DataFrame
        ``trial_type``, ``n``, ``cue_rpe``, ``cue_rpe_sem``, ``reward_rpe``, ``reward_rpe_sem``. For a
        cohort (a ``subject`` column with several animals): each animal's mean first, then the mean and
        SEM across animals, and ``n_subjects``; ``last`` then counts each animal's trials.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> result = simulate_conditioning("acquisition", seed=0)
    >>> table = ds.analysis.rpe_by_trial_type(result, last=50)
    >>> table["trial_type"].tolist(), bool(table["cue_rpe"].iloc[0] > table["reward_rpe"].iloc[0])
    (['A+'], True)
    """
    trials = trial_table(result)
    if phase is not None:
        _require(trials, ("phase",), "the per-trial table")
        trials = trials[trials["phase"] == phase]
        if trials.empty:
            raise ValueError(f"no trials in phase {phase!r}")
    cohort = "subject" in trials.columns and trials["subject"].nunique() > 1
    if last is not None:
        trials = trials.groupby(["subject", "trial_type"] if cohort else "trial_type", sort=False).tail(last)
    if cohort:
        columns = ("cue_rpe", "reward_rpe")
        return _per_animal(trials, "trial_type", columns, lambda a: a[list(columns)].mean())
    g = trials.groupby("trial_type", sort=False)
    out = pd.DataFrame({"n": g.size()})
    for col in ("cue_rpe", "reward_rpe"):
        out[col] = g[col].mean()
        out[f"{col}_sem"] = g[col].sem()
    return out.reset_index()


def aligned_traces(
    result: Any, signal: str = "delta", *, align: str = "cue", trials: Sequence[int] | None = None
) -> pd.DataFrame:
    """Within-trial traces of ``signal`` aligned to an event (trials × time from the event).

    Parameters
    ----------
    result : SimulationResult or DataFrame
        Per-step table with ``trial``, ``time``, ``event`` and ``signal``.
    signal : str, default "delta"
        ``delta``, ``value_rpe``, ``action_term`` or any numeric step column.
    align : str, default "cue"
        Event to align to (``"cue"``, ``"reward"``, ``"cue2"``, ...); a trial without that event is
        dropped. Each trace's value at time ``t`` is the signal of the step that enters the bin at
        ``t`` seconds from the event.
    trials : sequence of int, optional
        Keep these trials only.

    Returns
    -------
    pandas.DataFrame
        Index ``trial``, columns time from the event in seconds (rounded to 1e-9 s).

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> result = simulate_conditioning("acquisition", seed=0)
    >>> traces = ds.analysis.aligned_traces(result, "delta", align="cue")  # trials x time from cue onset (s)
    >>> traces.shape, float(traces.columns[3])
    ((200, 13), 0.0)
    """
    steps = one_animal(step_table(result, signal), "aligned_traces")
    if trials is not None:
        steps = steps[steps["trial"].isin(list(trials))]
    events = steps.loc[steps["event"].astype(str) == align, ["trial", "time"]]
    if events.empty:
        raise ValueError(
            f"no step has event {align!r}; events present: {sorted(set(steps['event'].dropna().astype(str)) - {''})}"
        )
    onset = events.drop_duplicates("trial").set_index("trial")["time"]
    sel = steps[steps["trial"].isin(onset.index)]
    rel = (sel["time"].to_numpy(float) - onset.loc[sel["trial"]].to_numpy(float)).round(9)
    frame = pd.DataFrame({"trial": sel["trial"].to_numpy(), "t": rel, "v": sel[signal].to_numpy(float)})
    table = frame.pivot_table(index="trial", columns="t", values="v", aggfunc="first")
    table.columns.name = f"time from {align} (s)"
    return table


def photometry_kernel(
    t: np.ndarray | Sequence[float], *, tau_rise: float = 0.1, tau_decay: float = 0.6
) -> np.ndarray:
    """Causal GCaMP-like kernel: difference of exponentials with unit peak (0 for ``t < 0``).

    Parameters
    ----------
    t : array_like
        Times in seconds.
    tau_rise, tau_decay : float
        Rise and decay time constants in seconds (``0 < tau_rise < tau_decay``).

    Returns
    -------
    numpy.ndarray
        Kernel values at ``t``.

    Examples
    --------
    >>> from dopasoft.analysis import photometry_kernel
    >>> photometry_kernel([-0.1, 0.0, 1.0]).round(3).tolist()  # causal, rises then decays
    [0.0, 0.0, 0.324]
    """
    if not 0 < tau_rise < tau_decay:
        raise ValueError(f"need 0 < tau_rise < tau_decay, got tau_rise={tau_rise}, tau_decay={tau_decay}")
    t = np.asarray(t, dtype=float)
    t_peak = np.log(tau_decay / tau_rise) * tau_rise * tau_decay / (tau_decay - tau_rise)
    peak = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
    tt = np.maximum(t, 0.0)
    h = (np.exp(-tt / tau_decay) - np.exp(-tt / tau_rise)) / peak
    return np.where(t >= 0, h, 0.0)


def convolve_photometry(
    traces: pd.DataFrame,
    *,
    tau_rise: float = 0.1,
    tau_decay: float = 0.6,
    dt: float = 0.02,
    tail: float = 0.0,
) -> pd.DataFrame:
    """Model photometry: each trial's RPE impulses convolved with :func:`photometry_kernel`.

    Every column of ``traces`` (time ``t_k`` of a bin) is an impulse of height ``traces[:, k]`` at
    ``t_k``; the output is :math:`F(t) = \\sum_k \\delta_k h(t - t_k)` on a grid of step ``dt`` from the
    first bin to the last plus ``tail`` seconds. Exact for any bin width; missing values count as 0.

    Parameters
    ----------
    traces : pandas.DataFrame
        Trials × time (s), e.g. from :func:`aligned_traces` or ``SimulationResult.traces()``.
    tau_rise, tau_decay : float
        Kernel time constants (s).
    dt : float, default 0.02
        Output sampling step (s).
    tail : float, default 0
        Extra time after the last bin (s).

    Returns
    -------
    pandas.DataFrame
        Trials × output times (s), same index as ``traces``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> result = simulate_conditioning("acquisition", seed=0)
    >>> traces = ds.analysis.aligned_traces(result, "delta", align="cue")
    >>> photometry = ds.analysis.convolve_photometry(traces, tau_rise=0.1, tau_decay=0.6)
    >>> photometry.shape[0] == traces.shape[0]
    True
    """
    if not isinstance(traces, pd.DataFrame) or traces.shape[1] == 0:
        raise ValueError("traces must be a non-empty trials x time DataFrame")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    times = np.asarray(traces.columns, dtype=float)
    grid = np.arange(times.min(), times.max() + tail + dt / 2, dt).round(9)
    kernel = photometry_kernel(grid[None, :] - times[:, None], tau_rise=tau_rise, tau_decay=tau_decay)
    values = np.nan_to_num(traces.to_numpy(dtype=float)) @ kernel
    out = pd.DataFrame(values, index=traces.index, columns=grid)
    out.columns.name = traces.columns.name
    return out


def reward_probability(trial_type: str) -> float:
    """Scheduled reward probability of a trial type: ``p`` of ``"C+ p=0.5"``, 1 for ``"+"``, 0 otherwise."""
    from dopasoft.tasks.conditioning import parse_trial_type

    tt = parse_trial_type(trial_type)
    return tt.reward_prob if tt.reinforced else 0.0


def probability_scaling(result: Any, *, last: int = 100) -> pd.DataFrame:
    """Cue RPE and reward RPE (delivered / omitted) as a function of reward probability.

    Parameters
    ----------
    result : SimulationResult or DataFrame
        Per-trial table of a partial-reinforcement protocol (needs ``rewarded``).
    last : int, default 100
        Use the last ``last`` trials of each trial type.

    Returns
    -------
    pandas.DataFrame
        One row per trial type: ``trial_type``, ``p``, ``cue_rpe``, ``cue_rpe_sem``, ``rpe_rewarded``,
        ``rpe_rewarded_sem``, ``rpe_omitted``, ``rpe_omitted_sem`` (NaN when no such trial), sorted by ``p``.
        For a cohort (several animals in ``subject``): means per animal, then mean and SEM across animals,
        and ``n_subjects``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> scaling = ds.analysis.probability_scaling(simulate_conditioning("partial-reinforcement", seed=0))
    >>> scaling["p"].tolist(), bool(scaling["cue_rpe"].is_monotonic_increasing)
    ([0.0, 0.25, 0.5, 0.75, 1.0], True)
    """
    trials = _require(trial_table(result), ("rewarded",), "the per-trial table")
    if "subject" in trials.columns and trials["subject"].nunique() > 1:
        trials = trials.groupby(["subject", "trial_type"], sort=False).tail(last)

        def stat(a: pd.DataFrame) -> dict[str, float]:
            rewarded = a["rewarded"].astype(bool)
            out = {"cue_rpe": a["cue_rpe"].mean()}
            for name, sel in (("rpe_rewarded", rewarded), ("rpe_omitted", ~rewarded)):
                out[name] = a.loc[sel, "reward_rpe"].mean() if sel.any() else np.nan
            return out

        table = _per_animal(trials, "trial_type", ("cue_rpe", "rpe_rewarded", "rpe_omitted"), stat)
        table.insert(1, "p", [reward_probability(str(t)) for t in table["trial_type"]])
        return table.sort_values("p", kind="stable").reset_index(drop=True)
    trials = trials.groupby("trial_type", sort=False).tail(last)
    rows = []
    for tt, g in trials.groupby("trial_type", sort=False):
        rewarded = g["rewarded"].astype(bool)
        row = {"trial_type": tt, "p": reward_probability(str(tt)), "n": len(g)}
        row["cue_rpe"], row["cue_rpe_sem"] = g["cue_rpe"].mean(), g["cue_rpe"].sem()
        for name, sel in (("rpe_rewarded", rewarded), ("rpe_omitted", ~rewarded)):
            v = g.loc[sel, "reward_rpe"]
            row[name], row[f"{name}_sem"] = (v.mean(), v.sem()) if len(v) else (np.nan, np.nan)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("p", kind="stable").reset_index(drop=True)


def rpe_by_delay(result: Any, *, phase: str | None = "training", skip: float = 0.5) -> pd.DataFrame:
    """Mean reward RPE of rewarded trials per reward delay, per animal (the variable-delay protocol).

    Parameters
    ----------
    result : SimulationResult, ConditioningCohort or DataFrame
        Per-trial table with ``reward_time`` (s from cue onset), ``rewarded`` and ``reward_rpe``; a
        ``subject`` column gives one row per animal and delay.
    phase : str or None, default "training"
        Only trials of this phase (None: all).
    skip : float, default 0.5
        Fraction of each animal's trials (in the phase) left out at the start, while it learns.

    Returns
    -------
    pandas.DataFrame
        ``subject`` (0 without a subject column), ``reward_time``, ``reward_rpe`` (mean), ``sem``
        (across trials) and ``n`` (trials), sorted by subject and delay.

    Raises
    ------
    ValueError
        Naming missing columns, or when no rewarded trial is left.

    Examples
    --------
    >>> t = pd.DataFrame({"trial": range(4), "trial_type": "A+", "cue_rpe": 0.0, "rewarded": True,
    ...                   "reward_time": [1.2, 2.8, 1.2, 2.8], "reward_rpe": [0.1, 0.5, 0.3, 0.7]})
    >>> rpe_by_delay(t, phase=None, skip=0.0)[["reward_time", "reward_rpe", "n"]].values.tolist()
    [[1.2, 0.2, 2.0], [2.8, 0.6, 2.0]]
    """
    trials = _require(trial_table(result), ("reward_time", "rewarded"), "the per-trial table")
    if phase is not None and "phase" in trials.columns:
        trials = trials[trials["phase"] == phase]
    if "subject" not in trials.columns:
        trials = trials.assign(subject=0)
    kept = []
    for _, g in trials.groupby("subject", sort=True):
        kept.append(g.iloc[int(round(skip * len(g))) :])
    trials = pd.concat(kept) if kept else trials
    trials = trials[trials["rewarded"].astype(bool)]
    if trials.empty:
        raise ValueError("no rewarded trial left to average (check phase= and skip=)")
    out = (
        trials.groupby(["subject", "reward_time"])["reward_rpe"]
        .agg(reward_rpe="mean", sem="sem", n="count")
        .reset_index()
    )
    out["n"] = out["n"].astype(float)
    return out


def delay_slope(result: Any, **options: Any) -> pd.Series:
    """Least-squares slope of the mean reward RPE against the reward delay (per s), one per animal.

    The means per delay come from :func:`rpe_by_delay` (``options`` are passed on), each delay weighted
    equally. Starkweather et al. (2017) found it negative when every trial is rewarded and positive when
    10 % of rewards are omitted.

    Parameters
    ----------
    result : SimulationResult, ConditioningCohort or DataFrame
    **options
        ``phase``, ``skip`` of :func:`rpe_by_delay`.

    Returns
    -------
    pandas.Series
        Slope (reward units per s) indexed by ``subject``.

    Examples
    --------
    >>> t = pd.DataFrame({"trial": range(3), "trial_type": "A+", "cue_rpe": 0.0, "rewarded": True,
    ...                   "reward_time": [1.0, 2.0, 3.0], "reward_rpe": [0.5, 0.4, 0.3]})
    >>> round(float(delay_slope(t, phase=None, skip=0.0).iloc[0]), 6)
    -0.1
    """
    table = rpe_by_delay(result, **options)
    slopes = {
        subject: float(np.polyfit(g["reward_time"], g["reward_rpe"], 1)[0]) if len(g) > 1 else np.nan
        for subject, g in table.groupby("subject")
    }
    return pd.Series(slopes, name="slope").rename_axis("subject")


def cohort_mean(table: pd.DataFrame, by: str | Sequence[str], value: str) -> pd.DataFrame:
    """Mean ± SEM across animals of per-animal values (one row per ``subject`` and ``by``).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``subject``, ``by`` and ``value``.
    by : str or sequence of str
        Grouping column(s), e.g. ``"reward_time"``.
    value : str

    Returns
    -------
    pandas.DataFrame
        ``by``, ``mean``, ``sem`` (NaN with one animal) and ``n_subjects``.

    Examples
    --------
    >>> t = pd.DataFrame({"subject": [0, 1, 0, 1], "d": [1, 1, 2, 2], "v": [1.0, 3.0, 2.0, 2.0]})
    >>> cohort_mean(t, "d", "v").values.tolist()
    [[1.0, 2.0, 1.0, 2.0], [2.0, 2.0, 0.0, 2.0]]
    """
    _require(table, ["subject", *([by] if isinstance(by, str) else by), value], "the table")
    out = table.groupby(by)[value].agg(mean="mean", sem="sem", n_subjects="nunique").reset_index()
    out["n_subjects"] = table.groupby(by)["subject"].nunique().to_numpy()
    return out
