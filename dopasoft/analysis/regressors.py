r"""Trial regressors: model signals as event-aligned, convolved time series for imaging and photometry.

Input is a replay table (:func:`dopasoft.fitting.replay`; one row per choice step with ``subject``,
``trial``, ``stage`` and the signals ``delta``, ``value_rpe``, ``action_term`` of docs/maths.md) and the
onsets of each trial's events in seconds from the start of the subject's session (e.g.
``choice_onset``, ``outcome_onset``), either as columns of the replay table or in a separate events
table joined on ``subject`` and ``trial``.

Each :class:`Regressor` puts one stick per event at its onset :math:`t_e`, scaled by a signal
:math:`x_e` (or 1), and convolves the sticks with a response kernel :math:`h`, evaluated exactly at
the sample times :math:`t_k = k / f` (:math:`f` = ``rate_hz``, :math:`k = 0, 1, \ldots`):

.. math:: r(t_k) = \sum_e x_e \, h(t_k - t_e), \qquad h(t) = 0 \text{ for } t < 0.

Onsets need not fall on the grid, so a regressor does not depend on the sampling rate beyond where
it is sampled (its area :math:`\sum_k r(t_k) / f \to \sum_e x_e \int h`). Kernels have unit peak: a
lone event's regressor peaks at its signal value.

* ``"gcamp"``: :func:`~dopasoft.analysis.dopamine.photometry_kernel`, the GCaMP-like difference of
  exponentials (rise 0.1 s, decay 0.6 s by default), used for 20 decay constants.
* ``"hrf"``: :func:`canonical_hrf`, SPM's canonical double-gamma haemodynamic response, used for 32 s
  as in SPM.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from dopasoft.analysis.dopamine import photometry_kernel

__all__ = ["Regressor", "canonical_hrf", "trial_regressors"]

HRF_DURATION = 32.0
"""Length (s) over which the canonical HRF is used, SPM's kernel length (``spm_hrf``, ``p(7) = 32``)."""


@dataclass(frozen=True)
class Regressor:
    """One event-aligned regressor of :func:`trial_regressors`.

    Parameters
    ----------
    onset : str
        Column holding each trial's event onset (s from the start of the subject's session).
    signal : str, optional
        Column of the replay table scaling each stick (``"delta"``, ``"value_rpe"``,
        ``"action_term"``, ...); ``None`` gives unit sticks (the event itself).
    stage : int, optional
        Read the signal (and, without an events table, the onset) from the rows of this ``stage``
        only, e.g. 2 for the outcome of a two-step trial. Needed when the table has several rows per
        subject and trial.

    Examples
    --------
    >>> from dopasoft.analysis import Regressor
    >>> outcome_rpe = Regressor("outcome_onset", "delta", stage=2)  # sticks scaled by the outcome's delta
    >>> outcome_rpe.signal, outcome_rpe.stage
    ('delta', 2)
    """

    onset: str
    signal: str | None = None
    stage: int | None = None


def _gamma_pdf(t: np.ndarray, shape: float, scale: float) -> np.ndarray:
    tt = np.maximum(t, 1e-300)
    log_pdf = (shape - 1) * np.log(tt) - tt / scale - special.gammaln(shape) - shape * math.log(scale)
    return np.where(t > 0, np.exp(log_pdf), 0.0)


def _raw_hrf(t: np.ndarray, peak: float, undershoot: float, ratio: float, dispersion: float) -> np.ndarray:
    return _gamma_pdf(t, peak / dispersion, dispersion) - ratio * _gamma_pdf(
        t, undershoot / dispersion, dispersion
    )


@cache
def _hrf_peak(peak: float, undershoot: float, ratio: float, dispersion: float) -> tuple[float, float]:
    """Time and value of the maximum of the un-normalised double gamma."""
    mode = (peak / dispersion - 1) * dispersion  # the positive gamma's mode; the maximum is near it
    res = optimize.minimize_scalar(
        lambda t: -float(_raw_hrf(np.array([t]), peak, undershoot, ratio, dispersion)[0]),
        bounds=(max(mode - 3 * dispersion, 1e-6), mode + 3 * dispersion),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(res.x), float(-res.fun)


def canonical_hrf(
    t: np.ndarray | float,
    *,
    peak: float = 6.0,
    undershoot: float = 16.0,
    ratio: float = 1 / 6,
    dispersion: float = 1.0,
) -> np.ndarray:
    r"""SPM's canonical haemodynamic response (double gamma), scaled to unit peak.

    .. math:: h(t) \propto \Gamma(t;\, a_1, d) - c\, \Gamma(t;\, a_2, d), \quad a_i = p_i / d,

    with :math:`\Gamma(t; a, d)` the gamma density of shape :math:`a` and scale :math:`d`,
    :math:`p_1` = 6 s (response delay), :math:`p_2` = 16 s (undershoot delay), :math:`c` = 1/6 and
    :math:`d` = 1 s: SPM's ``spm_hrf`` defaults (Friston et al. 1998; SPM12 ``spm_hrf.m``). With these
    values the response peaks at 4.9985 s (just before the first gamma's mode :math:`p_1 - d`), is negative after
    12.07 s with its minimum near 15.75 s, and its un-normalised area is :math:`1 - c = 5/6`.
    SPM normalises the kernel to unit sum; here it has unit peak (so a regressor's height is in
    units of the signal at the response's peak).

    Parameters
    ----------
    t : array_like
        Time from the event (s); 0 for ``t <= 0``.
    peak, undershoot : float
        Delays :math:`p_1 < p_2` (s).
    ratio : float
        Undershoot ratio :math:`c \ge 0`.
    dispersion : float
        Scale :math:`d > 0` of both gammas (s).

    Returns
    -------
    numpy.ndarray
        :math:`h(t)`, with :math:`\max_t h = 1`.

    Examples
    --------
    >>> round(float(canonical_hrf(5.0)), 3), float(canonical_hrf(-1.0))
    (1.0, 0.0)
    """
    if not (dispersion > 0 and 0 < peak < undershoot and ratio >= 0):
        raise ValueError(
            f"need 0 < peak < undershoot, ratio >= 0 and dispersion > 0; got peak={peak!r}, "
            f"undershoot={undershoot!r}, ratio={ratio!r}, dispersion={dispersion!r}"
        )
    if peak / dispersion <= 1:
        raise ValueError(
            f"need peak > dispersion for a response that rises from 0, got {peak!r} <= {dispersion!r}"
        )
    t = np.asarray(t, dtype=float)
    _, height = _hrf_peak(float(peak), float(undershoot), float(ratio), float(dispersion))
    return _raw_hrf(t, peak, undershoot, ratio, dispersion) / height


def _kernel(
    kernel: str | Callable[[np.ndarray], np.ndarray],
    tau_rise: float | None,
    tau_decay: float | None,
    duration: float | None,
) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    if kernel != "gcamp" and (tau_rise is not None or tau_decay is not None):
        raise ValueError(f"tau_rise and tau_decay belong to kernel='gcamp', not kernel={kernel!r}")
    if duration is not None and not (np.isfinite(duration) and duration > 0):
        raise ValueError(f"kernel_duration must be a positive number of seconds, got {duration!r}")
    if kernel == "gcamp":
        rise = 0.1 if tau_rise is None else tau_rise
        decay = 0.6 if tau_decay is None else tau_decay
        photometry_kernel(0.0, tau_rise=rise, tau_decay=decay)  # checks 0 < rise < decay
        return (
            lambda t: photometry_kernel(t, tau_rise=rise, tau_decay=decay),
            20 * decay if duration is None else duration,
        )
    if kernel == "hrf":
        return canonical_hrf, HRF_DURATION if duration is None else duration
    if callable(kernel):
        if duration is None:
            raise ValueError(
                "a kernel function needs kernel_duration (s): how long after an event it is non-zero"
            )
        return kernel, duration
    raise ValueError(f"kernel must be 'gcamp', 'hrf' or a function of time (s), got {kernel!r}")


def _py(value: Any) -> Any:
    """A NumPy scalar as the Python value (so messages read ``1``, not ``np.int64(1)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _where(subject: Any, row: Any) -> str:
    return f"subject {_py(subject)!r}, row {_py(row)!r}"


def _event_table(
    name: str, reg: Regressor, signals: pd.DataFrame, events: pd.DataFrame | None, skip_missing: bool
) -> tuple[pd.DataFrame, str]:
    """``subject, trial, onset, value, row`` of one regressor's events, validated; and the onset table's name."""
    if not isinstance(reg, Regressor):
        raise ValueError(
            f"regressor {name!r} must be a dopasoft.analysis.Regressor, got {type(reg).__name__}"
        )
    rows = signals
    if reg.stage is not None:
        if "stage" not in signals.columns:
            raise ValueError(
                f"regressor {name!r} asks for stage {reg.stage!r} but signals have no 'stage' column"
            )
        rows = signals[signals["stage"] == reg.stage]
        if rows.empty:
            stages = sorted(map(_py, pd.unique(signals["stage"])))
            raise ValueError(
                f"regressor {name!r}: signals have no rows of stage {reg.stage!r} (stages: {stages})"
            )
    if reg.signal is not None and reg.signal not in signals.columns:
        raise ValueError(
            f"regressor {name!r}: signals have no column {reg.signal!r} (columns: {list(map(str, signals.columns))})"
        )
    use_events = events is not None and reg.onset in events.columns
    source = events if use_events else rows
    what = "events" if use_events else "signals"
    if reg.signal is not None or not use_events:
        dup = rows.duplicated(["subject", "trial"]).to_numpy()
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            raise ValueError(
                f"regressor {name!r}: signals have several rows for one trial "
                f"({_where(rows['subject'].iloc[i], rows.index[i])}); give the stage to read, "
                "e.g. Regressor(..., stage=2)"
            )
    if reg.onset not in source.columns:
        where = (
            "signals or events" if events is not None else "signals (pass events=... for a separate table)"
        )
        raise ValueError(f"regressor {name!r}: no onset column {reg.onset!r} in {where}")
    onset = pd.to_numeric(source[reg.onset], errors="coerce")
    bad = onset.isna() & source[reg.onset].notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{what} column {reg.onset!r}, {_where(source['subject'].iloc[pos], source.index[pos])}: "
            f"onset {_py(source[reg.onset].iloc[pos])!r} is not a number of seconds"
        )
    table = pd.DataFrame(
        {
            "subject": source["subject"].to_numpy(),
            "trial": source["trial"].to_numpy(),
            "onset": onset.to_numpy(dtype=float),
            "row": source.index.to_numpy(),
        }
    )
    if use_events:
        if reg.signal is None:
            table["value"] = 1.0
        else:
            vals = pd.DataFrame(
                {
                    "subject": rows["subject"].to_numpy(),
                    "trial": rows["trial"].to_numpy(),
                    "value": pd.to_numeric(rows[reg.signal], errors="coerce").to_numpy(dtype=float),
                    "_signal_row": rows.index.to_numpy(dtype=object),
                }
            )
            try:
                table = table.merge(vals, on=["subject", "trial"], how="left")
            except ValueError as err:  # e.g. integer subjects in one table, text in the other
                raise ValueError(
                    f"regressor {name!r}: cannot join events to signals on subject and trial ({err})"
                ) from None
            if table["_signal_row"].isna().all():
                raise ValueError(
                    f"regressor {name!r}: no subject/trial of the events table is in the signals table "
                    "(check that both use the same subject and trial identifiers)"
                )
    else:
        table["value"] = (
            1.0 if reg.signal is None else pd.to_numeric(rows[reg.signal], errors="coerce").to_numpy()
        )
        table["_signal_row"] = table["row"]
    if skip_missing:  # the event did not happen on these trials
        table = table[table["onset"].notna()]
    _check_onsets(table, reg.onset, what)
    if reg.signal is not None:
        missing = table["value"].isna() & table["_signal_row"].notna()
        if missing.any():
            i = int(np.flatnonzero(missing.to_numpy())[0])
            raise ValueError(
                f"signals column {reg.signal!r}, {_where(table['subject'].iloc[i], table['_signal_row'].iloc[i])}: "
                "missing or non-numeric value (is this signal defined for this model and stage?)"
            )
        table = table[table["_signal_row"].notna()]  # an event without a model step has no stick
    return table.drop(columns="_signal_row", errors="ignore").reset_index(drop=True), what


def _check_onsets(table: pd.DataFrame, column: str, what: str) -> None:
    onset = table["onset"].to_numpy()
    for i in np.flatnonzero(~np.isfinite(onset) | (onset < 0))[:1]:
        problem = (
            "missing onset (NaN; missing_onsets='skip' if the event did not happen on that trial)"
            if np.isnan(onset[i])
            else f"onset {_py(onset[i])!r} s"
        )
        raise ValueError(
            f"{what} column {column!r}, {_where(table['subject'].iloc[i], table['row'].iloc[i])}: {problem}; "
            "onsets are finite seconds from the start of the subject's session (>= 0)"
        )
    for subj, part in table.sort_values(["subject", "trial"], kind="stable").groupby("subject", sort=False):
        t = part["onset"].to_numpy()
        dup_trial = part["trial"].duplicated().to_numpy()
        if dup_trial.any():
            i = int(np.flatnonzero(dup_trial)[0])
            raise ValueError(
                f"{what}, {_where(subj, part['row'].iloc[i])}: trial {_py(part['trial'].iloc[i])!r} appears twice"
            )
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(
                f"{what} column {column!r}, {_where(subj, part['row'].iloc[i])}: onset {_py(t[i])!r} s of trial "
                f"{_py(part['trial'].iloc[i])!r} is not after the previous trial's ({_py(t[i - 1])!r} s, row "
                f"{_py(part['row'].iloc[i - 1])!r}); onsets must increase with the trial number"
            )


def _convolve(
    onsets: np.ndarray, values: np.ndarray, n: int, rate: float, h: Callable, duration: float
) -> np.ndarray:
    """``sum_e values[e] * h(k / rate - onsets[e])`` for ``k < n``, over ``[onset, onset + duration]``."""
    if onsets.size == 0:
        return np.zeros(n)
    width = int(math.ceil(duration * rate)) + 1
    start = np.ceil(onsets * rate - 1e-9).astype(np.int64)
    idx = start[:, None] + np.arange(width)[None, :]
    lag = idx / rate - onsets[:, None]
    keep = (idx < n) & (lag <= duration)
    weights = np.asarray(h(lag[keep]), dtype=float) * np.broadcast_to(values[:, None], idx.shape)[keep]
    return np.bincount(idx[keep], weights=weights, minlength=n)[:n]


def trial_regressors(
    signals: pd.DataFrame,
    events: pd.DataFrame | None = None,
    *,
    regressors: Mapping[str, Regressor],
    rate_hz: float,
    kernel: str | Callable[[np.ndarray], np.ndarray] = "gcamp",
    tau_rise: float | None = None,
    tau_decay: float | None = None,
    kernel_duration: float | None = None,
    tail: float | None = None,
    zscore: bool = False,
    missing_onsets: str = "error",
) -> pd.DataFrame:
    r"""Event-aligned model regressors on each subject's session time grid.

    Every regressor is a train of sticks, one per event, at the event's onset and of the height of
    the chosen signal on that trial (e.g. the stage-2 ``delta`` at ``outcome_onset``), convolved
    with the kernel: :math:`r(t_k) = \sum_e x_e h(t_k - t_e)`, exact at the sample times
    :math:`t_k = k / f` (onsets need not fall on samples). See the module docstring.

    Parameters
    ----------
    signals : pandas.DataFrame
        Replay table (:func:`dopasoft.fitting.replay`): ``subject``, ``trial``, usually ``stage``,
        and the signal columns the regressors name.
    events : pandas.DataFrame, optional
        One row per ``subject`` and ``trial`` with onset columns (s from the start of the session).
        Without it (or for an onset column it lacks) onsets are read from ``signals``. Events without
        a row in ``signals`` (e.g. a trial with no second-stage choice) get no stick when the
        regressor has a signal.
    regressors : mapping of str to Regressor
        Output column name → :class:`Regressor` (onset column, signal column or ``None``, stage).
    rate_hz : float
        Sampling rate of the output (Hz); samples at ``k / rate_hz`` s, ``k = 0, 1, ...``.
    kernel : {"gcamp", "hrf"} or callable, default "gcamp"
        Response kernel: :func:`~dopasoft.analysis.dopamine.photometry_kernel` (photometry),
        :func:`canonical_hrf` (fMRI) or a function of time (s) that is 0 for ``t < 0``.
    tau_rise, tau_decay : float, optional
        Time constants (s) of the ``"gcamp"`` kernel (default 0.1 and 0.6; ~1.5 s decay for GCaMP6s).
    kernel_duration : float, optional
        Seconds after an event over which the kernel is summed: default 20 ``tau_decay`` for
        ``"gcamp"``, 32 s for ``"hrf"`` (SPM's length); required for a kernel function.
    tail : float, optional
        Seconds of grid after each subject's last onset (default: ``kernel_duration``).
    zscore : bool, default False
        Z-score each regressor within each subject's session (mean 0, SD 1 with ``ddof=0``).
    missing_onsets : {"error", "skip"}, default "error"
        A missing (NaN) onset is an error naming its column, subject and row, or, with ``"skip"``,
        means the event did not happen on that trial (no stick; e.g. no outcome after a missed choice).

    Returns
    -------
    pandas.DataFrame
        ``subject, time, trial`` and one column per regressor; ``time`` in s (rounded to 1e-9 s, so it
        joins with a recording sampled at the same rate from the session start); ``trial`` is the
        trial in progress (the last trial whose earliest onset is at or before ``time``; missing
        before the first trial).

    Raises
    ------
    ValueError
        One line naming the column, subject and row (or option) at fault: missing columns, NaN
        (unless ``missing_onsets="skip"``), negative or non-numeric onsets, onsets that do not increase with the trial number, a missing
        signal value, ``rate_hz <= 0``, an unknown kernel, or a regressor that is constant over a
        session when ``zscore=True``.

    Examples
    --------
    >>> signals = pd.DataFrame({"subject": 1, "trial": [1, 2], "delta": [1.0, -0.5],
    ...                         "outcome_onset": [0.5, 3.0]})
    >>> reg = trial_regressors(signals, regressors={"rpe": Regressor("outcome_onset", "delta")},
    ...                        rate_hz=10, tail=1.0)
    >>> list(reg.columns), len(reg)
    (['subject', 'time', 'trial', 'rpe'], 41)
    """
    if isinstance(rate_hz, bool) or not isinstance(rate_hz, (int, float, np.integer, np.floating)):
        raise ValueError(f"rate_hz must be a number of samples per second, got {rate_hz!r}")
    if not (np.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be > 0, got {rate_hz!r}")
    rate = float(rate_hz)
    h, duration = _kernel(kernel, tau_rise, tau_decay, kernel_duration)
    if tail is not None and not (np.isfinite(tail) and tail >= 0):
        raise ValueError(f"tail must be a non-negative number of seconds, got {tail!r}")
    tail = duration if tail is None else float(tail)
    for what, df in (("signals", signals), ("events", events)):
        if df is None and what == "events":
            continue
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in ("subject", "trial") if c not in df.columns]
        if missing:
            raise ValueError(f"{what} table lacks column(s) {missing} (needs subject and trial)")
    if not isinstance(regressors, Mapping) or not regressors:
        raise ValueError(
            "regressors must be a non-empty mapping of column name -> Regressor(onset, signal, stage)"
        )
    for name in regressors:
        if name in ("subject", "time", "trial"):
            raise ValueError(f"regressor name {name!r} clashes with an output column (subject, time, trial)")
    if missing_onsets not in ("error", "skip"):
        raise ValueError(f"missing_onsets must be 'error' or 'skip', got {missing_onsets!r}")
    skip = missing_onsets == "skip"
    tables = {name: _event_table(name, reg, signals, events, skip)[0] for name, reg in regressors.items()}

    parts = []
    all_events = pd.concat(list(tables.values()), ignore_index=True)
    for subj, subj_events in all_events.groupby("subject", sort=True):
        n = int(math.floor((subj_events["onset"].max() + tail) * rate + 1e-9)) + 1
        k = np.arange(n)
        out = {"subject": np.repeat(subj, n), "time": np.round(k / rate, 9)}
        starts = subj_events.groupby("trial")["onset"].min().sort_index()
        if (np.diff(starts.to_numpy()) <= 0).any():
            i = int(np.flatnonzero(np.diff(starts.to_numpy()) <= 0)[0]) + 1
            raise ValueError(
                f"subject {_py(subj)!r}: trial {_py(starts.index[i])!r} starts (earliest onset {_py(starts.iloc[i])!r} s) "
                f"no later than trial {_py(starts.index[i - 1])!r} ({_py(starts.iloc[i - 1])!r} s)"
            )
        pos = np.searchsorted(starts.to_numpy(), k / rate + 1e-9, side="right") - 1
        trial = pd.array(starts.index.to_numpy()[np.maximum(pos, 0)])
        trial[pos < 0] = pd.NA
        out["trial"] = trial
        for name, table in tables.items():
            ev = table[table["subject"] == subj]
            r = _convolve(ev["onset"].to_numpy(float), ev["value"].to_numpy(float), n, rate, h, duration)
            if zscore:
                sd = r.std()
                if not sd > 1e-12 * max(1.0, np.abs(r).max()):
                    raise ValueError(
                        f"regressor {name!r}, subject {_py(subj)!r}: constant over the session "
                        f"(all {r[0]:g}), so it cannot be z-scored"
                    )
                r = (r - r.mean()) / sd
            out[name] = r
        parts.append(pd.DataFrame(out))
    return pd.concat(parts, ignore_index=True)
