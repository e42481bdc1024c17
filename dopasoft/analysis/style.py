"""House style of dopasoft figures: colour-blind-safe palette, fonts, panel letters and saving.

Every figure function in :mod:`dopasoft.analysis` draws inside :func:`style_context` (a
:func:`matplotlib.rc_context` with :data:`STYLE`), returns the :class:`matplotlib.figure.Figure` and
saves it through :func:`save_figure` when given a path, so a user can restyle or re-save it.

The palette is Okabe & Ito's (2008) eight colours, distinguishable with the common colour-vision
deficiencies; :data:`COLORS` gives them fixed meanings (common/rare transitions, cue/reward RPE...) so that
a colour means the same in every figure.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "SIGNAL_LABELS",
    "signal_label",
    "OKABE_ITO",
    "PALETTE",
    "COLORS",
    "STYLE",
    "FORMATS",
    "style_context",
    "new_figure",
    "panel_letters",
    "save_figure",
    "despine",
]

OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
"""The Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008, *Color Universal Design*)."""

PALETTE: tuple[str, ...] = tuple(
    OKABE_ITO[c]
    for c in ("blue", "vermillion", "bluish green", "orange", "reddish purple", "sky blue", "black", "yellow")
)
"""Default colour cycle (yellow last: it is faint on white)."""

COLORS: dict[str, str] = {
    "common": OKABE_ITO["blue"],
    "rare": OKABE_ITO["vermillion"],
    "cue": OKABE_ITO["bluish green"],
    "reward": OKABE_ITO["orange"],
    "omission": OKABE_ITO["reddish purple"],
    "data": "#4D4D4D",
    "model": OKABE_ITO["sky blue"],
    "identity": "#999999",
}
"""Fixed meanings of colours across figures."""

STYLE: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "xtick.major.width": 0.8,
    "ytick.major.width": 0.8,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "pdf.fonttype": 42,  # editable text in Illustrator/Inkscape
    "svg.fonttype": "none",
    "image.cmap": "viridis",
}
"""Matplotlib rc settings of the house style (8-pt text, open axes, Okabe–Ito colour cycle)."""

FORMATS: tuple[str, ...] = ("png", "pdf", "svg")
"""Formats written by :func:`save_figure` when the path has no suffix."""


@contextmanager
def style_context(**overrides: Any) -> Iterator[None]:
    """Context manager applying :data:`STYLE` (updated with ``overrides``) to figures made inside it.

    Examples
    --------
    >>> import matplotlib as mpl
    >>> from dopasoft.analysis import style_context
    >>> with style_context(**{"font.size": 7.0}):
    ...     mpl.rcParams["font.size"]
    7.0
    """
    with mpl.rc_context({**STYLE, **overrides}):
        yield


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: float = 6.5,
    height: float = 2.4,
    **subplot_kw: Any,
) -> tuple[Figure, Any]:
    """A figure with constrained layout and a grid of axes (sizes in inches; 6.5 in = full page width).

    Call it inside :func:`style_context`. Returns ``(fig, axes)`` as :func:`matplotlib.pyplot.subplots`
    does (a single Axes when ``nrows = ncols = 1``). The figure is not registered with pyplot, so it
    is never shown by accident and is freed when no longer referenced.
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    subplot_kw.setdefault("squeeze", True)
    axes = fig.subplots(nrows, ncols, **subplot_kw)
    return fig, axes


def despine(ax: Axes) -> None:
    """Remove the top and right spines of ``ax`` (the house style already does it for new axes)."""
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def panel_letters(
    axes: Iterable[Axes] | Axes,
    letters: Sequence[str] | None = None,
    *,
    offset: tuple[float, float] = (-26.0, 9.0),
    size: float = 10.0,
) -> list[Any]:
    """Write bold panel letters (``a``, ``b``...) at the top left of each axes, outside the frame.

    The letters are offset in points from the axes' top-left corner, so they keep their place when
    the figure is resized; constrained layout reserves room for them.

    Parameters
    ----------
    axes : Axes or iterable of Axes
    letters : sequence of str, optional
        Default ``a, b, c, ...`` in order.
    offset : (float, float)
        Offset in points from the top-left corner of the axes.
    size : float
        Font size in points.

    Returns
    -------
    list of matplotlib.text.Annotation

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from dopasoft.analysis import panel_letters
    >>> fig, axes = plt.subplots(1, 2)
    >>> [t.get_text() for t in panel_letters(axes)]
    ['a', 'b']
    >>> plt.close(fig)
    """
    axes = [axes] if isinstance(axes, Axes) else list(axes)
    letters = list(letters) if letters is not None else list(string.ascii_lowercase[: len(axes)])
    if len(letters) < len(axes):
        raise ValueError(f"{len(axes)} axes but only {len(letters)} panel letters")
    out = []
    for ax, letter in zip(axes, letters, strict=False):
        out.append(
            ax.annotate(
                letter,
                xy=(0.0, 1.0),
                xycoords="axes fraction",
                xytext=offset,
                textcoords="offset points",
                fontsize=size,
                fontweight="bold",
                ha="left",
                va="bottom",
            )
        )
    return out


def save_figure(
    fig: Figure,
    path: str | os.PathLike,
    *,
    formats: Sequence[str] | None = None,
    dpi: int = 300,
) -> list[Path]:
    """Save ``fig`` as vector and raster files.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or path-like
        File name. With a suffix (``.png``, ``.pdf``, ``.svg``...) and no ``formats``, that one file is
        written; without a suffix, one file per format. Parent directories are created.
    formats : sequence of str, optional
        Formats to write (default :data:`FORMATS` without a suffix).
    dpi : int, default 300
        Resolution of raster formats.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import os, tempfile
    >>> import matplotlib.pyplot as plt
    >>> from dopasoft.analysis import save_figure
    >>> fig, ax = plt.subplots()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = save_figure(fig, os.path.join(tmp, "fig"), formats=["png", "pdf"])
    ...     [p.name for p in paths]
    ['fig.png', 'fig.pdf']
    >>> plt.close(fig)
    """
    path = Path(path)
    if formats is None:
        formats = (path.suffix[1:],) if path.suffix else FORMATS
    stem = path.with_suffix("") if path.suffix else path
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        fmt = fmt.lower().lstrip(".")
        target = stem.with_name(f"{stem.name}.{fmt}")
        fig.savefig(target, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.03, facecolor="white")
        written.append(target)
    return written


def finish(fig: Figure, save: str | os.PathLike | None, formats: Sequence[str] | None = None) -> Figure:
    """Save ``fig`` if ``save`` is given (see :func:`save_figure`) and return it."""
    if save is not None:
        save_figure(fig, save, formats=formats)
    return fig


SIGNAL_LABELS: dict[str, str] = {
    "delta": "δ",
    "value_rpe": "state-value RPE",
    "action_term": "action term τ log π/π0",
    "action_pe": "action prediction error",
    "reward_rpe": "reward RPE",
    "cue_rpe": "cue RPE",
    "value": "state value V(s)",
    "p_choice": "choice probability",
    "q_mf": "model-free Q",
    "q_mb": "model-based Q",
    "q_net": "net Q",
    "Intercept": "intercept",
}
"""Words and symbols for the replay signals and GLM terms in figures (code names stay in tables)."""


def signal_label(name: str) -> str:
    """Figure label of a signal or GLM term: :data:`SIGNAL_LABELS`, else the name with spaces."""
    return SIGNAL_LABELS.get(str(name), str(name).replace("_", " "))
