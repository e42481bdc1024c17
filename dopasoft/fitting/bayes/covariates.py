"""Group covariates of a hierarchical model: the design matrix ``X`` (subject × covariate) and the
parameters whose group mean is a regression on it, ``z_s = μ + B x_s + σ ⊙ η_s``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft.fitting.bayes.models import HierModel

__all__ = ["Covariates", "design"]


@dataclass(frozen=True)
class Covariates:
    """The covariates of :class:`~dopasoft.fitting.bayes.density.LogDensity`.

    Attributes
    ----------
    X : float array, shape (n_subjects, k)
        One row per subject, in the order of the data's subjects; raw values (not centred).
    names : tuple of str
        The ``k`` covariate names (a dummy of a text column is ``"<column>[<level>]"``).
    params : tuple of int
        The hierarchical parameters (indices into ``HierModel.params``) that get every covariate.
    """

    X: NDArray[np.float64]
    names: tuple[str, ...]
    params: tuple[int, ...]

    @property
    def n_coef(self) -> int:
        """Coefficients ``len(params) · k``, parameter-major (parameter ``params[i]``'s covariate
        ``c`` is coefficient ``i · k + c``)."""
        return len(self.params) * len(self.names)


def _columns(table: pd.DataFrame) -> tuple[list[NDArray], list[str]]:
    cols, names = [], []
    for name in table.columns:
        if name == "subject":
            continue
        col = table[name]
        if pd.api.types.is_bool_dtype(col):
            cols.append(col.to_numpy(dtype=float))
            names.append(str(name))
        elif pd.api.types.is_numeric_dtype(col):
            cols.append(col.to_numpy(dtype=float))
            names.append(str(name))
        else:  # text or categorical: 0/1 dummies, the first level the baseline
            if col.isna().any():
                continue  # reported below, with the subjects
            levels = (
                list(col.cat.categories)
                if isinstance(col.dtype, pd.CategoricalDtype)
                else sorted(col.unique())
            )
            levels = [lv for lv in levels if (col == lv).any()]
            for lv in levels[1:]:
                cols.append((col == lv).to_numpy(dtype=float))
                names.append(f"{name}[{lv}]")
    return cols, names


def design(
    table: pd.DataFrame, subjects: Sequence, hm: HierModel, params: Sequence[str] | None = None
) -> Covariates:
    """The :class:`Covariates` of ``table`` for the data's ``subjects`` and model ``hm``.

    ``table`` has a ``subject`` column (matched to the data's subject IDs, as text) and one row per
    subject (extra subjects are ignored). Numeric and boolean columns enter as they are (not
    centred); a text or categorical column becomes 0/1 dummies, one per level but the first (sorted
    text; a categorical's category order), which is the baseline. ``params`` names the parameters
    (reported names) that get every covariate (default: all).

    Raises
    ------
    ValueError
        No ``subject`` column, subjects without a row (named), repeated subjects, a missing value
        (naming the subjects), a constant covariate, no covariate, an unknown parameter.
    """
    if not isinstance(table, pd.DataFrame) or "subject" not in table.columns:
        raise ValueError("covariates must be a DataFrame with a 'subject' column")
    key = table["subject"].astype(str)
    dup = key[key.duplicated()].unique()
    if len(dup):
        raise ValueError(f"covariates: subjects with more than one row: {list(dup)}")
    want = [str(s) for s in subjects]
    missing = [s for s in want if s not in set(key)]
    if missing:
        raise ValueError(f"covariates: no row for subjects {missing}")
    rows = table.set_index(key).loc[want].reset_index(drop=True)
    for name in rows.columns:
        if name != "subject" and rows[name].isna().any():
            bad = [want[i] for i in np.flatnonzero(rows[name].isna().to_numpy())]
            raise ValueError(f"covariates: column {name!r} is missing for subjects {bad}")
    cols, names = _columns(rows)
    if not cols:
        raise ValueError("covariates: no covariate column besides 'subject'")
    X = np.column_stack(cols)
    if not np.isfinite(X).all():
        raise ValueError("covariates: values must be finite")
    for c, name in enumerate(names):
        if np.ptp(X[:, c]) == 0.0:
            raise ValueError(
                f"covariates: {name!r} is the same for every subject (it would be the group mean)"
            )
    if params is None:
        chosen = tuple(range(hm.n_params))
    else:
        if isinstance(params, str):
            params = [params]
        unknown = [p for p in params if p not in hm.names]
        if unknown or not params:
            raise ValueError(
                f"covariate_params: unknown parameter(s) {unknown} of {hm.name!r}; parameters are {list(hm.names)}"
            )
        chosen = tuple(sorted({hm.names.index(p) for p in params}))
    return Covariates(X=np.ascontiguousarray(X), names=tuple(names), params=chosen)
