"""Figure of action prediction errors (:func:`dopasoft.experiments.discrimination.discrimination_experiment`)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from dopasoft.analysis.style import COLORS, OKABE_ITO, finish, new_figure, panel_letters, style_context

__all__ = ["plot_action_prediction_errors"]

_NEEDED = ("trial", "novel", "action_pe", "reward_rpe")


def _check_table(table: pd.DataFrame, name: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame (a discrimination_experiment table)")
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise ValueError(f"{name} has no column {missing[0]!r} (needs {', '.join(_NEEDED)})")
    if len(table) == 0:
        raise ValueError(f"{name} has no rows")


def _running_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def plot_action_prediction_errors(
    table: pd.DataFrame,
    *,
    replay: pd.DataFrame | None = None,
    window: int = 10,
    save: str | os.PathLike | None = None,
):
    """Two panels over trials: (a) the chosen action's ``action_pe``; (b) the ``reward_rpe``.

    Each trial is a dot (familiar cues grey, the novel cue coloured) with the running mean over
    ``window`` trials of each cue kind as a line; the first novel-cue trial is marked. ``replay`` (the
    same choices with other outcomes, ``discrimination_experiment(..., actions=table.action)``) is drawn
    dashed: its ``action_pe`` lies on the original's (value-free), its ``reward_rpe`` does not.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`~dopasoft.experiments.discrimination.discrimination_experiment` table (columns
        ``trial``, ``novel``, ``action_pe``, ``reward_rpe``).
    replay : pandas.DataFrame, optional
        The replay with other outcomes, same columns.
    window : int, default 10
        Trials in the running mean.
    save : path, optional
        Base path; writes PNG, PDF and SVG (or the one format of its suffix).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For a table without the needed columns or rows, or a bad ``window``.
    """
    _check_table(table, "table")
    if replay is not None:
        _check_table(replay, "replay")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    novel = table["novel"].to_numpy(dtype=bool)
    trial = table["trial"].to_numpy()
    kinds = [("familiar cues", ~novel, COLORS["data"]), ("novel cue", novel, OKABE_ITO["vermillion"])]
    signals = [
        ("action_pe", "Action prediction error\n1 − π0(a|cue)"),
        ("reward_rpe", "Reward RPE\nr − V(cue)"),
    ]
    with style_context():
        fig, axes = new_figure(1, 2, width=6.5, height=2.4)
        for ax, (column, label) in zip(axes, signals, strict=True):
            y = table[column].to_numpy(dtype=float)
            for name, mask, color in kinds:
                if not mask.any():
                    continue
                ax.plot(trial[mask], y[mask], ".", color=color, markersize=2, alpha=0.35)
                ax.plot(trial[mask], _running_mean(y[mask], window), color=color, label=name)
                if replay is not None:
                    yr = replay[column].to_numpy(dtype=float)[mask]
                    ax.plot(
                        trial[mask],
                        _running_mean(yr, window),
                        color=color,
                        linestyle="--",
                        label=f"{name}, other outcomes",
                    )
            if novel.any():
                ax.axvline(trial[novel][0], color="black", linestyle=":", linewidth=1)
            ax.set_xlabel("Trial")
            ax.set_ylabel(label)
        axes[0].set_title("Value-free: falls with practice")
        axes[1].set_title("Value-based: follows the outcome")
        axes[0].legend(frameon=False, fontsize=6)
        panel_letters(axes)
    return finish(fig, save)
