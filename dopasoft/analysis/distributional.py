"""Figure of distributional TD (Dabney et al. 2020): RPE against magnitude per unit, reversal points
against asymmetry, and the reward distribution decoded from the reversal points."""

from __future__ import annotations

import os
from typing import Any

import matplotlib as mpl
import numpy as np

from dopasoft.analysis.style import COLORS, finish, new_figure, panel_letters, style_context

__all__ = ["plot_distributional_rpe"]


def plot_distributional_rpe(result: Any, *, save: str | os.PathLike | None = None):
    r"""Three panels from :func:`~dopasoft.experiments.distributional_rpe`.

    (a) each unit's mean response to each reward magnitude (the RPE scaled by :math:`\tau_i` when
    positive, :math:`1 - \tau_i` when negative), coloured by the unit's asymmetry :math:`\tau_i`;
    (b) reversal points against asymmetry, with the :math:`\tau`-expectiles of the reward distribution;
    (c) the distribution decoded from the reversal points (expectile imputation) against the true one,
    as cumulative distributions.

    Parameters
    ----------
    result : DistributionalResult
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``result`` lacks ``units``, ``rpe`` or ``decoded``.

    Examples
    --------
    >>> from dopasoft.experiments import distributional_rpe
    >>> fig = plot_distributional_rpe(distributional_rpe(n_units=5, n_trials=500, seed=0))
    >>> [ax.get_xlabel() for ax in fig.axes[:3]]
    ['Reward magnitude (µl)', 'Asymmetry τ = α⁺ / (α⁺ + α⁻)', 'Reward magnitude (µl)']
    """
    for name in ("units", "rpe", "decoded", "rewards", "probabilities"):
        if not hasattr(result, name):
            raise ValueError(f"result must come from distributional_rpe (it has no {name!r})")
    units, rpe = result.units, result.rpe
    with style_context():
        fig, axes = new_figure(1, 3, width=7.0, height=2.5)
        a, b, c = axes
        cmap = mpl.colormaps["viridis"]
        for _, g in rpe.groupby("unit"):
            tau = float(g["asymmetry"].iloc[0])
            a.plot(g["magnitude"], g["response"], color=cmap(tau), marker="o", ms=2, lw=0.8)
        a.axhline(0, color="black", lw=0.6, zorder=0)
        a.set_xscale("log")
        a.set_xlabel("Reward magnitude (µl)")
        a.set_ylabel("Unit response (scaled RPE)")
        sm = mpl.cm.ScalarMappable(cmap=cmap, norm=mpl.colors.Normalize(0, 1))
        fig.colorbar(sm, ax=a, label="Asymmetry τ", fraction=0.08, pad=0.02)

        grid = np.linspace(0.01, 0.99, 99)
        b.plot(grid, _expectiles(result.rewards, result.probabilities, grid), color="black", lw=1.0, zorder=1)
        b.scatter(units["asymmetry"], units["reversal_point"], s=12, color=COLORS["reward"], zorder=2)
        b.set_xlabel("Asymmetry τ = α⁺ / (α⁺ + α⁻)")
        b.set_ylabel("Reversal point (µl)")
        b.set_title("dots: units; line: τ-expectile of the rewards", fontsize=6.5, loc="left")

        order = np.argsort(result.rewards)
        r, p = np.asarray(result.rewards)[order], np.asarray(result.probabilities)[order]
        c.step(np.r_[0.0, r], np.r_[0.0, np.cumsum(p)], where="post", color="black", lw=1.2)
        z = np.sort(np.asarray(result.decoded))
        c.step(z, np.arange(1, z.size + 1) / z.size, where="post", color=COLORS["reward"], lw=1.2)
        c.set_xlabel("Reward magnitude (µl)")
        c.set_ylabel("Cumulative probability")
        c.set_title("black: true; orange: decoded from reversal points", fontsize=6.5, loc="left")
        panel_letters(axes)
    return finish(fig, save)


def _expectiles(rewards, probabilities, taus) -> np.ndarray:
    """τ-expectiles by bisection (the figure's own line, so analysis does not import experiments)."""
    r, p = np.asarray(rewards, float), np.asarray(probabilities, float)
    out = []
    for tau in taus:
        lo, hi = float(r.min()), float(r.max())
        for _ in range(60):
            e = 0.5 * (lo + hi)
            if tau * p @ np.maximum(r - e, 0) > (1 - tau) * p @ np.maximum(e - r, 0):
                lo = e
            else:
                hi = e
        out.append(0.5 * (lo + hi))
    return np.asarray(out)
