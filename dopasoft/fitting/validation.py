r"""Validation of choice data in each format: errors name the subject, the row and the column.

Formats (docs/fitting.md, "Data formats"):

- **two-step** (:func:`validate_two_step`): one row per trial, ``subject``, ``trial``, ``choice1``,
  ``state2``, ``choice2``, ``reward``.
- **bandit** (:func:`validate_bandit`): one row per trial, ``subject``, ``trial``, ``choice``,
  ``reward``, optional ``state``: the step format with one step per trial.
- **steps** (:func:`validate_steps`): one row per choice step, ``subject``, ``trial``, ``state``,
  ``choice``, ``reward``, ``terminal``; a trial is the run of rows up to its terminal row.

Each validator returns a clean copy sorted by subject (in order of first appearance) then trial, with
codes as floats (NaN = missing); rows named in messages are the DataFrame's index labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = [
    "TWO_STEP_COLUMNS",
    "BANDIT_COLUMNS",
    "STEP_COLUMNS",
    "validate_two_step",
    "validate_bandit",
    "validate_steps",
    "detect_task",
    "validate_canonical",
]

TWO_STEP_COLUMNS = ("subject", "trial", "choice1", "state2", "choice2", "reward")
BANDIT_COLUMNS = ("subject", "trial", "choice", "reward")
STEP_COLUMNS = ("subject", "trial", "state", "choice", "reward", "terminal")
# attrs kept by validation: the numbers of states / actions of a known task and its hBayesDM name
KEPT_ATTRS = ("n_states", "n_actions", "hbayesdm_task")


def detect_task(df: pd.DataFrame) -> str:
    """Return ``"two-step"``, ``"steps"`` or ``"bandit"`` from the columns of ``df``.

    ``choice1`` (or hBayesDM's ``level1_choice``) means two-step data, a ``terminal`` column the step
    format, ``choice`` without ``terminal`` the bandit format (one step per trial, optional ``state``).
    """
    if "choice1" in df.columns or "level1_choice" in df.columns:
        return "two-step"
    if "choice" in df.columns and "terminal" in df.columns:
        return "steps"
    if "choice" in df.columns:
        return "bandit"
    raise ValueError(
        "cannot tell the task from the columns "
        f"{list(df.columns)}: expected two-step columns {list(TWO_STEP_COLUMNS)}, hBayesDM columns "
        f"['subjID', 'level1_choice', 'level2_choice', 'reward'], bandit columns {list(BANDIT_COLUMNS)} "
        f"or step columns {list(STEP_COLUMNS)}"
    )


def validate_canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Validate ``df`` in the format its columns name (:func:`detect_task`)."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"choice data must be a pandas DataFrame, got {type(df).__name__}")
    task = detect_task(df)
    if task == "two-step":
        return validate_two_step(df)
    return validate_steps(df) if task == "steps" else validate_bandit(df)


def _py(v):
    """Plain Python value for messages (``5`` rather than ``np.int64(5)``)."""
    return v.item() if isinstance(v, np.generic) else v


def _where(df: pd.DataFrame, pos: int, subject_col: str = "subject") -> str:
    subj = df[subject_col].iloc[pos] if subject_col in df.columns else "?"
    return f"subject {_py(subj)!r}, row {_py(df.index[pos])!r}"


def _require_columns(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"choice data must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} data: missing column(s) {missing}; found {list(df.columns)}, expected {list(columns)}"
        )


def _numeric(df: pd.DataFrame, col: str, subject_col: str = "subject") -> NDArray[np.float64]:
    """Column as float64 (NaN = missing); raise naming the first non-numeric entry."""
    raw = df[col]
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(num) & raw.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{_where(df, i, subject_col)}, column {col!r}: {_py(raw.iloc[i])!r} is not a number"
        )
    if np.isinf(num).any():
        i = int(np.flatnonzero(np.isinf(num))[0])
        raise ValueError(f"{_where(df, i, subject_col)}, column {col!r}: infinite value")
    return num


def _codes(
    df: pd.DataFrame, col: str, allowed: tuple[int, ...] | None, subject_col: str = "subject"
) -> NDArray[np.float64]:
    """Integer codes as float64 (NaN = missing); raise naming the first value out of range."""
    num = _numeric(df, col, subject_col)
    ok = np.isnan(num) | (num == np.round(num))
    if allowed is not None:
        ok &= np.isnan(num) | np.isin(num, allowed)
    else:
        ok &= np.isnan(num) | (num >= 0)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        expect = f"one of {list(allowed)} or missing" if allowed else "an integer >= 0 or missing"
        shown = _py(df[col].iloc[i])
        if isinstance(shown, float) and shown.is_integer() and abs(shown) < 1e15:
            shown = int(shown)  # "2 is not one of [0, 1]", also from a float column
        hint = ""
        if allowed is not None and min(allowed) == 0 and num[i] == max(allowed) + 1 and not (num == 0).any():
            hint = f" (1-based codes? subtract 1 from column {col!r})"
        raise ValueError(f"{_where(df, i, subject_col)}, column {col!r}: {shown!r} is not {expect}{hint}")
    return num


def _check_subjects_and_trials(df: pd.DataFrame, *, repeats: bool = False) -> NDArray[np.float64]:
    """Trial numbers as float; raise naming a missing subject or trial, or (unless ``repeats``, the
    step format's several rows per trial) a duplicated ``(subject, trial)``."""
    subj = df["subject"]
    if subj.isna().any():
        i = int(np.flatnonzero(subj.isna().to_numpy())[0])
        raise ValueError(f"row {_py(df.index[i])!r}, column 'subject': missing subject identifier")
    trial = _numeric(df, "trial")
    if np.isnan(trial).any():
        i = int(np.flatnonzero(np.isnan(trial))[0])
        raise ValueError(f"{_where(df, i)}, column 'trial': missing trial number")
    if repeats:
        return trial
    dup = pd.DataFrame({"s": subj.to_numpy(), "t": trial}).duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first = np.flatnonzero((subj.to_numpy() == subj.iloc[i]) & (trial == trial[i]))[0]
        raise ValueError(
            f"{_where(df, i)}, column 'trial': duplicated trial {trial[i]:g} "
            f"(also at row {_py(df.index[first])!r})"
            + (
                "; a trial of several steps needs a 'terminal' column (step format)"
                if "state" in df.columns
                else ""
            )
        )
    return trial


def _finish(df: pd.DataFrame, cols: dict[str, NDArray], task: str) -> pd.DataFrame:
    out = pd.DataFrame({"subject": df["subject"].to_numpy(), **cols}, index=df.index)
    for c in df.columns:  # keep extra columns (e.g. reward probabilities) untouched
        if c not in out.columns:
            out[c] = df[c].to_numpy()
    # stable sort by trial within subject, subjects in order of first appearance
    order = {s: k for k, s in enumerate(pd.unique(out["subject"]))}
    key = out["subject"].map(order).to_numpy()
    idx = np.lexsort((out["trial"].to_numpy(), key))
    out = out.iloc[idx]
    out.attrs["task"] = task
    for key in KEPT_ATTRS:  # the number of states / actions of a known task (hBayesDM readers)
        if key in df.attrs:
            out.attrs[key] = df.attrs[key]
    return out


def validate_two_step(df: pd.DataFrame) -> pd.DataFrame:
    """Check canonical two-step data and return a clean copy sorted by subject then trial.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``subject``, ``trial``, ``choice1``, ``state2``, ``choice2``, ``reward`` (docs/fitting.md §1–2).

    Returns
    -------
    pandas.DataFrame
        Choices and ``state2`` as float (NaN = missing), ``trial`` as float, extra columns kept;
        ``attrs["task"] = "two-step"``.

    Raises
    ------
    ValueError
        Naming subject, row and column for: missing columns, codes out of range, non-numeric or
        missing rewards where a second-stage choice was made, missing ``state2`` after a first-stage
        choice, duplicated ``(subject, trial)``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.fitting import validate_two_step
    >>> data = ds.experiments.simulate_two_step(2, 10, seed=0)
    >>> len(validate_two_step(data))
    20
    >>> validate_two_step(data.assign(state2=2))
    Traceback (most recent call last):
    ...
    ValueError: ...
    """
    _require_columns(df, TWO_STEP_COLUMNS, "two-step")
    trial = _check_subjects_and_trials(df)
    c1 = _codes(df, "choice1", (0, 1))
    s2 = _codes(df, "state2", (0, 1))
    c2 = _codes(df, "choice2", (0, 1))
    r = _numeric(df, "reward")
    need_s2 = ~np.isnan(c1) & np.isnan(s2)
    if need_s2.any():
        i = int(np.flatnonzero(need_s2)[0])
        raise ValueError(
            f"{_where(df, i)}, column 'state2': missing although choice1 was made "
            "(the second-stage state must be known)"
        )
    need_r = ~np.isnan(c1) & ~np.isnan(c2) & np.isnan(r)
    if need_r.any():
        i = int(np.flatnonzero(need_r)[0])
        raise ValueError(f"{_where(df, i)}, column 'reward': missing although choice2 was made")
    cols = {"trial": trial, "choice1": c1, "state2": s2, "choice2": c2, "reward": r}
    return _finish(df, cols, "two-step")


def validate_bandit(df: pd.DataFrame) -> pd.DataFrame:
    """Check bandit / reversal data and return a clean copy sorted by subject then trial.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``subject``, ``trial``, ``choice`` (0 … k-1, NaN = missed trial), ``reward``;
        optional ``state`` (context, integer ≥ 0).

    Raises
    ------
    ValueError
        Naming subject, row and column for anything malformed (as :func:`validate_two_step`).

    Examples
    --------
    >>> import pandas as pd
    >>> from dopasoft.fitting import validate_bandit
    >>> df = pd.DataFrame({"subject": ["s1", "s1"], "trial": [2, 1], "choice": [1, 0], "reward": [1.0, 0.0]})
    >>> validate_bandit(df)["choice"].tolist()  # sorted by subject, then trial (float: NaN is a missed choice)
    [0.0, 1.0]
    >>> validate_bandit(df.assign(choice=[1.5, 0]))
    Traceback (most recent call last):
    ...
    ValueError: subject 's1', row 0, column 'choice': 1.5 is not an integer >= 0 or missing
    """
    _require_columns(df, BANDIT_COLUMNS, "bandit")
    trial = _check_subjects_and_trials(df)
    c = _codes(df, "choice", None)
    r = _numeric(df, "reward")
    need_r = ~np.isnan(c) & np.isnan(r)
    if need_r.any():
        i = int(np.flatnonzero(need_r)[0])
        raise ValueError(f"{_where(df, i)}, column 'reward': missing although a choice was made")
    cols: dict[str, NDArray] = {"trial": trial, "choice": c, "reward": r}
    if "state" in df.columns:
        st = _codes(df, "state", None)
        bad = ~np.isnan(c) & np.isnan(st)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{_where(df, i)}, column 'state': missing although a choice was made")
        cols["state"] = st
    return _finish(df, cols, "bandit")


_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")


def _booleans(df: pd.DataFrame, col: str) -> NDArray[np.bool_]:
    """Column of true/false values (booleans, 1/0, ``true``/``false``, ``yes``/``no`` in any case);
    raise naming the first missing or other value."""
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw.dtype) and not raw.isna().any():
        return raw.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        num = raw.to_numpy(dtype=float, na_value=np.nan)
        ok = (num == 0) | (num == 1)
        values = num == 1
    else:
        words = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
        mapped = raw.astype(str).str.strip().str.lower().map(words)
        ok = mapped.notna().to_numpy() & raw.notna().to_numpy()
        values = mapped.fillna(False).to_numpy(dtype=bool)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        v = raw.iloc[i]
        what = (
            "missing (every row needs true or false)"
            if pd.isna(v)
            else f"{_py(v)!r} is not true/false (or 1/0)"
        )
        raise ValueError(f"{_where(df, i)}, column {col!r}: {what}")
    return values


def _check_consecutive_trials(df: pd.DataFrame, trial: NDArray[np.float64]) -> None:
    """Raise if a subject's rows of one trial are not consecutive (in file order, per subject)."""
    if len(df) == 0:
        return
    code = pd.factorize(df["subject"])[0]
    order = np.argsort(code, kind="stable")
    sc, tr = code[order], trial[order]
    starts = np.flatnonzero(np.r_[True, (sc[1:] != sc[:-1]) | (tr[1:] != tr[:-1])])
    runs = pd.DataFrame({"s": sc[starts], "t": tr[starts]})
    split = runs.duplicated(keep="first").to_numpy()
    if split.any():
        k = int(np.flatnonzero(split)[0])
        first = int(np.flatnonzero((runs["s"] == runs["s"][k]) & (runs["t"] == runs["t"][k]))[0])
        pos, pos0 = int(order[starts[k]]), int(order[starts[first]])
        raise ValueError(
            f"{_where(df, pos)}, column 'trial': trial {tr[starts[k]]:g} continues here after rows of "
            f"another trial (it starts at row {_py(df.index[pos0])!r}); the rows of a trial must be "
            "consecutive, in the order of its steps"
        )


def _check_trial_ends(out: pd.DataFrame) -> None:
    """Raise unless every trial of the sorted step data ends at its one terminal row."""
    if len(out) == 0:
        return
    code = pd.factorize(out["subject"])[0]
    tr = out["trial"].to_numpy()
    term = out["terminal"].to_numpy(dtype=bool)
    last = np.r_[(code[1:] != code[:-1]) | (tr[1:] != tr[:-1]), True]
    early = term & ~last
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise ValueError(
            f"{_where(out, i)}, column 'terminal': true, but trial {tr[i]:g} continues at row "
            f"{_py(out.index[i + 1])!r} (only the last row of a trial is terminal)"
        )
    unfinished = ~term & last
    if unfinished.any():
        i = int(np.flatnonzero(unfinished)[0])
        raise ValueError(
            f"{_where(out, i)}, column 'terminal': false on the last row of trial {tr[i]:g} "
            "(every trial must end with a terminal row)"
        )


def validate_steps(df: pd.DataFrame) -> pd.DataFrame:
    """Check step-format data and return a clean copy sorted by subject then trial.

    One row per choice step: ``subject``, ``trial``, ``state`` (integer ≥ 0), ``choice`` (integer ≥ 0,
    missing = a missed choice), ``reward`` (float), optional ``terminal`` (true/false, 1/0, yes/no;
    absent = every row ends its trial). Within a trial, a non-terminal row's next state is the next
    row's ``state``. Trials may come in any order (they are sorted by ``trial`` within each subject),
    but the rows of one trial must be consecutive and are taken in file order.

    Parameters
    ----------
    df : pandas.DataFrame
        Step-format data (docs/fitting.md, "The step format").

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``trial``, ``state``, ``choice``, ``reward`` (floats, NaN = missing) and
        ``terminal`` (bool), extra columns kept; ``attrs["task"] = "steps"``.

    Raises
    ------
    ValueError
        Naming subject, row and column for: missing columns; a missing, non-integer or negative
        ``state``; a non-integer or negative ``choice``; a non-numeric reward, or a missing one where a
        choice was made; a ``terminal`` value that is not true/false; a trial whose rows are not
        consecutive, that continues after a terminal row, or whose last row is not terminal; without a
        ``terminal`` column, a duplicated ``(subject, trial)``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"subject": ["a", "a"], "trial": [1, 1], "state": [0, 2],
    ...                      "choice": [1, 0], "reward": [0.0, 1.0], "terminal": [False, True]})
    >>> validate_steps(rows)["terminal"].tolist()
    [False, True]
    """
    _require_columns(df, STEP_COLUMNS[:-1], "step-format")
    has_terminal = "terminal" in df.columns
    trial = _check_subjects_and_trials(df, repeats=has_terminal)
    state = _codes(df, "state", None)
    if np.isnan(state).any():
        i = int(np.flatnonzero(np.isnan(state))[0])
        raise ValueError(f"{_where(df, i)}, column 'state': missing (every step needs its state)")
    choice = _codes(df, "choice", None)
    reward = _numeric(df, "reward")
    need_r = ~np.isnan(choice) & np.isnan(reward)
    if need_r.any():
        i = int(np.flatnonzero(need_r)[0])
        raise ValueError(f"{_where(df, i)}, column 'reward': missing although a choice was made")
    terminal = _booleans(df, "terminal") if has_terminal else np.ones(len(df), bool)
    if has_terminal:
        _check_consecutive_trials(df, trial)
    cols = {"trial": trial, "state": state, "choice": choice, "reward": reward, "terminal": terminal}
    out = _finish(df, cols, "steps")
    _check_trial_ends(out)
    return out
