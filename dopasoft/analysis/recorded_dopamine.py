"""Recorded against model dopamine: a synthetic recording for demonstrations and tests, and the figure
that sets a recording beside the replayed model prediction errors (docs/analysis.md, "Model dopamine for
your own data")."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dopasoft.analysis.neural_glm import NeuralGLMResult
from dopasoft.analysis.style import COLORS, finish, new_figure, panel_letters, signal_label, style_context

__all__ = ["synthetic_recording", "plot_recorded_vs_model"]


def synthetic_recording(
    signals: pd.DataFrame,
    weights: Mapping[str, float] | None = None,
    *,
    stage: int | None = None,
    noise: float = 0.5,
    baseline_sd: float = 0.5,
    gain_sd: float = 0.2,
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """A SYNTHETIC per-trial "recording" built from model signals: for demonstrations and tests only.

    ``y = b_i + g_i Σ_k w_k x_k + ε`` per trial, with a subject baseline ``b_i ~ N(0, baseline_sd²)``, a
    subject gain ``g_i ~ N(1, gain_sd²)`` and noise ``ε ~ N(0, noise²)``: a recording whose true
    coefficients are known, so that :func:`dopasoft.analysis.neural_glm` can be checked against them.

    Parameters
    ----------
    signals : pandas.DataFrame
        Replay table (:func:`dopasoft.fitting.replay`) with ``subject``, ``trial``, ``stage``.
    weights : dict, optional
        Signal column -> coefficient (default ``{"delta": 1.5}``).
    stage : int, optional
        Read the signals of this stage (e.g. 2, the outcome of a two-step trial).
    noise, baseline_sd, gain_sd : float
    seed : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        ``subject``, ``trial``, ``y`` and ``synthetic`` (always True), one row per trial with a value.

    Examples
    --------
    >>> import dopasoft as ds
    >>> params = {"alpha": 0.5, "tau": 0.2, "lam": 0.9}
    >>> data = ds.experiments.simulate_two_step(4, 60, model="soft-q-lambda", params=params, seed=0)
    >>> signals = ds.fitting.replay(data, "soft-q-lambda", params)
    >>> recording = ds.analysis.synthetic_recording(signals, {"delta": 1.5}, stage=2, seed=0)
    >>> list(recording.columns), len(recording)  # one outcome response per subject and trial
    (['subject', 'trial', 'y', 'synthetic'], 240)
    """
    weights = {"delta": 1.5} if weights is None else dict(weights)
    missing = [c for c in ["subject", "trial", *weights] if c not in signals.columns]
    if missing:
        raise ValueError(f"signals: missing column(s) {missing}")
    if stage is not None:
        signals = signals[signals["stage"] == stage]
    rng = np.random.default_rng(seed)
    x = sum(w * signals[c].to_numpy(dtype=float) for c, w in weights.items())
    subjects, code = np.unique(signals["subject"].astype(str), return_inverse=True)
    base = rng.normal(0.0, baseline_sd, len(subjects))[code]
    gain = rng.normal(1.0, gain_sd, len(subjects))[code]
    y = base + gain * x + rng.normal(0.0, noise, len(x))
    out = pd.DataFrame(
        {"subject": signals["subject"].to_numpy(), "trial": signals["trial"].to_numpy(), "y": y}
    )
    return out[np.isfinite(out["y"])].assign(synthetic=True).reset_index(drop=True)


def plot_recorded_vs_model(
    signals: pd.DataFrame,
    neural: pd.DataFrame,
    result: NeuralGLMResult,
    *,
    signal: str = "delta",
    response: str = "y",
    stage: int | None = None,
    subject: object = None,
    n_trials: int = 60,
    save: str | os.PathLike | None = None,
):
    """Recording beside model: (a) one subject's recording and model signal across trials (each
    z-scored), (b) every trial's recording (subject mean removed) against the model signal, with the
    pooled within-subject least-squares slope, (c) the group coefficients of ``result`` with their
    confidence intervals.

    Parameters
    ----------
    signals : pandas.DataFrame
        Replay table.
    neural : pandas.DataFrame
        Per-trial recording (``subject``, ``trial``, ``response``).
    result : NeuralGLMResult
        The fit of ``neural`` on ``signals`` (:func:`dopasoft.analysis.neural_glm`).
    signal : str
        Model signal shown in (a) and (b).
    response : str
    stage : int, optional
        Stage of the signals (as given to ``neural_glm``).
    subject : optional
        Subject of panel (a) (default: the first).
    n_trials : int
        Trials shown in panel (a).
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> params = {"alpha": 0.5, "tau": 0.2, "lam": 0.9}
    >>> data = ds.experiments.simulate_two_step(4, 60, model="soft-q-lambda", params=params, seed=0)
    >>> signals = ds.fitting.replay(data, "soft-q-lambda", params)
    >>> recording = ds.analysis.synthetic_recording(signals, {"delta": 1.5}, stage=2, seed=0)
    >>> glm = ds.analysis.neural_glm(signals, recording, "y ~ value_rpe + action_term", stage=2)
    >>> fig = ds.analysis.plot_recorded_vs_model(signals, recording, glm, signal="delta", stage=2)
    >>> len(fig.axes) >= 3
    True
    """
    sig = signals if stage is None else signals[signals["stage"] == stage]
    keys = ["subject", "trial"]
    both = sig[keys + [signal]].merge(neural[keys + [response]], on=keys).dropna()
    if both.empty:
        raise ValueError("signals and neural share no (subject, trial) with values")
    coef = result.coefficients
    group = coef[coef["level"] == "group"].set_index("term")
    with style_context():
        fig, (a, b, c) = new_figure(1, 3, width=6.8, height=2.3)
        first = both["subject"].iloc[0] if subject is None else subject
        one = both[both["subject"] == first].head(n_trials)
        order = list(pd.unique(both["subject"]))
        who = f"subject {order.index(first) + 1} of {len(order)}" if first in order else "one subject"
        synthetic = "synthetic" in neural.columns and bool(neural["synthetic"].fillna(False).all())
        recording = "synthetic recording" if synthetic else "recording"
        label = signal_label(signal)

        def z(v):
            v = np.asarray(v, float)
            sd = v.std()
            return (v - v.mean()) / (sd if sd > 0 else 1.0)

        a.plot(one["trial"], z(one[response]), color=COLORS["data"], lw=1.0, label=recording)
        a.plot(one["trial"], z(one[signal]), color=COLORS["model"], lw=1.0, label=f"model {label}")
        a.set_xlabel(f"Trial ({who})")
        a.set_ylabel("z-score")
        a.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=6, borderaxespad=0.2)
        centred = both[response] - both.groupby("subject")[response].transform("mean")
        x = both[signal] - both.groupby("subject")[signal].transform("mean")
        b.scatter(both[signal], centred, s=3, color=COLORS["data"], alpha=0.35, lw=0)
        slope = float(np.dot(x, centred) / np.dot(x, x)) if np.dot(x, x) > 0 else float("nan")
        xs = np.linspace(both[signal].min(), both[signal].max(), 2)
        b.plot(xs, slope * (xs - both[signal].mean()), color=COLORS["reward"], lw=1.5)
        b.text(0.03, 0.97, f"within-subject slope {slope:.2f}", transform=b.transAxes, va="top", fontsize=6)
        b.set_xlabel(f"Model {label} (reward units)")
        b.set_ylabel(f"{recording.capitalize()},\nsubject mean removed")
        terms = [t for t in group.index if t != "Intercept"]
        est = group.loc[terms, "estimate"].to_numpy(float)
        lo, hi = group.loc[terms, "ci_low"].to_numpy(float), group.loc[terms, "ci_high"].to_numpy(float)
        xt = np.arange(len(terms))
        level = int(round(100 * (1 - result.alpha)))
        # the CI as a band (a bar from low to high), the estimate as a line across it, and the numbers:
        # with many trials the CI is far narrower than the spread of the estimates, so it is also written
        c.bar(xt, hi - lo, bottom=lo, width=0.36, color=COLORS["reward"], alpha=0.45, lw=0, zorder=2)
        c.scatter(xt, est, marker="_", s=120, color="black", linewidths=1.2, zorder=3)
        for xi, e, low, high in zip(xt, est, lo, hi, strict=True):
            c.annotate(
                f"{e:.2f}\n[{low:.2f}, {high:.2f}]".replace("-", "−"),
                xy=(xi, e),
                xytext=(13, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=6,
            )
        c.axhline(0, color="black", lw=0.8)
        c.set_xticks(xt, ["\n".join(textwrap.wrap(signal_label(t), 11)) for t in terms])
        c.set_xlim(-0.5, len(terms) - 0.5 + 0.6)
        c.set_ylabel("Group coefficient (mixed model)")
        span = np.nanmax(hi) - np.nanmin(lo) if len(terms) else 0.0
        narrow = len(terms) and np.nanmin(hi - lo) < 0.03 * max(span, 1e-12)
        if len(terms):  # room for the numbers above and below the outermost bands
            top, bottom = max(float(np.nanmax(hi)), 0.0), min(float(np.nanmin(lo)), 0.0)
            pad = 0.2 * ((top - bottom) or 1.0)
            c.set_ylim(bottom - pad, top + pad)
        c.set_title(
            f"band: {level}% CI" + (" (some thinner\nthan the line: see the numbers)" if narrow else ""),
            fontsize=6.5,
        )
        panel_letters([a, b, c])
    return finish(fig, save)
