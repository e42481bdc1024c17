r"""hBayesDM task files (Ahn et al. 2017) as dopasoft choice data: which task, and each column's mapping.

The task is recognised from the columns (docs/fitting.md, "hBayesDM task files"); 1-based codes become
0-based:

============  ========================================  ===========================================
task          hBayesDM columns                          dopasoft data
============  ========================================  ===========================================
ts            subjID, level1_choice 1/2,                canonical two-step: choice1 = level1 − 1,
              level2_choice 1–4, reward                 state2 = (level2 > 2), choice2 = (level2 − 1)
                                                        mod 2, trial = the file's increasing trial, else row order
bandit2arm,   subjID, trial, choice 1/2, outcome        steps: state 0, choice − 1, reward = outcome,
prl                                                     terminal; 1 state, 2 actions
bandit4arm    subjID, gain, loss, choice 1–4            steps: state 0, choice − 1, reward = gain +
                                                        loss, trial = row order; 1 state, 4 actions;
                                                        gain and loss also kept as columns
gng           subjID, trialNum, cue 1–4, keyPressed     steps: state = cue − 1, choice = keyPressed
              0/1, outcome                              (1 = go), reward = outcome, trial = trialNum;
                                                        4 states, 2 actions
============  ========================================  ===========================================

Step data from these files carry their task's numbers of states and actions in ``attrs`` (``n_states``,
``n_actions``), so a subject who never chose an arm still has it. Subject identifiers are kept as text.

References
----------
Ahn, W.-Y., Haines, N. & Zhang, L. (2017). Revealing neurocomputational mechanisms of reinforcement
learning and decision-making with the hBayesDM package. Computational Psychiatry 1, 24–57.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from dopasoft.fitting.validation import (
    _codes,
    _numeric,
    _py,
    _require_columns,
    _where,
    validate_steps,
    validate_two_step,
)

__all__ = [
    "HBAYESDM_TASKS",
    "detect_hbayesdm_task",
    "hbayesdm_to_canonical",
    "hbayesdm_to_data",
    "write_hbayesdm",
]

HBAYESDM_COLUMNS = ("subjID", "level1_choice", "level2_choice", "reward")
HBAYESDM_TASKS = {
    "ts": HBAYESDM_COLUMNS,
    "bandit2arm": ("subjID", "trial", "choice", "outcome"),
    "prl": ("subjID", "trial", "choice", "outcome"),
    "bandit4arm": ("subjID", "gain", "loss", "choice"),
    "gng": ("subjID", "trialNum", "cue", "keyPressed", "outcome"),
}
"""Columns of each supported hBayesDM task file (``bandit2arm`` and ``prl`` share their layout)."""

# columns that mark another hBayesDM task whose layout contains a supported one
_OTHER_TASKS = {
    "block": "prl_multipleB (reversal learning in blocks)",
    "bluePunish": "alt (aversive learning)",
    "orangePunish": "alt (aversive learning)",
}


def _supported() -> str:
    return "; ".join(
        f"{'bandit2arm / prl' if t == 'bandit2arm' else t} ({', '.join(cols)})"
        for t, cols in HBAYESDM_TASKS.items()
        if t != "prl"
    )


def detect_hbayesdm_task(columns: Iterable[str]) -> str:
    """Name of the hBayesDM task whose file has ``columns``: ``"ts"``, ``"bandit2arm"`` (also ``prl``,
    the same layout), ``"bandit4arm"`` or ``"gng"``.

    Raises
    ------
    ValueError
        Columns of another hBayesDM task, or of none, naming the supported tasks and their columns.
    """
    cols = set(map(str, columns))
    if cols & {"level1_choice", "level2_choice"}:
        return "ts"
    if {"cue", "keyPressed"} <= cols:
        return "gng"
    for col, task in _OTHER_TASKS.items():
        if col in cols:
            raise ValueError(
                f"hBayesDM file with column {col!r} looks like task {task}, which dopasoft does not read; "
                f"supported hBayesDM tasks: {_supported()}"
            )
    if {"gain", "loss", "choice"} <= cols:
        if "trial" in cols:
            raise ValueError(
                "hBayesDM file with columns gain, loss, choice and trial looks like task igt (Iowa gambling), "
                f"which dopasoft does not read; supported hBayesDM tasks: {_supported()}"
            )
        return "bandit4arm"
    if {"trial", "choice", "outcome"} <= cols:
        return "bandit2arm"
    raise ValueError(
        f"not a supported hBayesDM task file (columns {sorted(cols)}); supported hBayesDM tasks: {_supported()}"
    )


def hbayesdm_to_canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Convert an hBayesDM two-step (``ts``) DataFrame to canonical two-step data.

    ``level2_choice`` 1, 2 are the options of the second-stage state commonly reached after
    ``level1_choice = 1`` (``state2 = 0``, ``choice2 = 0, 1``), 3, 4 those of the other state
    (``state2 = 1``). Trials are taken in file order, as hBayesDM does; ``trial`` is the file's own
    ``trial`` column when it has one that increases within every subject (so that replayed signals
    join the lab's trial numbers), else the row order within each subject (1, 2, ...).
    """
    _require_columns(df, HBAYESDM_COLUMNS, "hBayesDM two-step")
    l1 = _codes(df, "level1_choice", (1, 2), "subjID")
    l2 = _codes(df, "level2_choice", (1, 2, 3, 4), "subjID")
    _refuse_blank(
        df,
        "level2_choice",
        ~np.isnan(l1),
        "although level1_choice was made (the second-stage state is in it)",
    )
    _refuse_blank(df, "reward", ~np.isnan(l2), "although level2_choice was made")
    trial = df.groupby("subjID", sort=False).cumcount().to_numpy() + 1
    if "trial" in df.columns:
        given = pd.to_numeric(df["trial"], errors="coerce").to_numpy(dtype=float)
        step = pd.Series(given).groupby(df["subjID"].to_numpy(), sort=False).diff().to_numpy()
        if np.isfinite(given).all() and not (step <= 0).any():
            trial = given
    out = pd.DataFrame(
        {
            "subject": df["subjID"].to_numpy(),
            "trial": trial,
            "choice1": l1 - 1,
            "state2": np.where(np.isnan(l2), np.nan, (l2 > 2).astype(float)),
            "choice2": np.where(np.isnan(l2), np.nan, (l2 - 1) % 2),
            "reward": df["reward"].to_numpy(),
        },
        index=df.index,
    )
    return validate_two_step(out)


def hbayesdm_to_data(df: pd.DataFrame) -> pd.DataFrame:
    """Convert a DataFrame in the layout of a supported hBayesDM task file to dopasoft choice data.

    ``ts`` gives canonical two-step data (:func:`hbayesdm_to_canonical`; the hybrid models need it, and
    :func:`dopasoft.fitting.two_step_to_steps` turns it into step rows); ``bandit2arm``, ``prl``,
    ``bandit4arm`` and ``gng`` give validated step-format data (one terminal row per trial) with
    ``attrs["n_states"]`` and ``attrs["n_actions"]`` set to the task's numbers and
    ``attrs["hbayesdm_task"]`` to the layout recognised (``"bandit2arm"`` for ``prl`` files too, and
    ``"bandit4arm"`` for ``banditNarm`` files of up to four arms, which share its layout). The mapping
    of each column is in the module docstring.

    Raises
    ------
    ValueError
        An unsupported layout (naming the supported tasks), or a code out of range, naming subject, row
        and column.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"choice data must be a pandas DataFrame, got {type(df).__name__}")
    task = detect_hbayesdm_task(df.columns)
    if task == "ts":
        return hbayesdm_to_canonical(df)
    _require_columns(df, HBAYESDM_TASKS[task], f"hBayesDM {task}")
    subject = df["subjID"].to_numpy()
    row_order = df.groupby("subjID", sort=False).cumcount().to_numpy() + 1
    if task == "bandit2arm":
        n_states, n_actions = 1, 2
        trial = _trial_numbers(df, "trial", task)
        state = np.zeros(len(df))
        choice = _codes(df, "choice", (1, 2), "subjID") - 1
        reward = _numeric(df, "outcome", "subjID")
        _refuse_blank(df, "outcome", ~np.isnan(choice), "although a choice was made")
    elif task == "bandit4arm":
        n_states, n_actions = 1, 4
        trial = row_order
        state = np.zeros(len(df))
        choice = _codes(df, "choice", (1, 2, 3, 4), "subjID") - 1
        for col in ("gain", "loss"):
            _refuse_blank(df, col, ~np.isnan(choice), "although a choice was made")
        reward = _numeric(df, "gain", "subjID") + _numeric(df, "loss", "subjID")
    else:  # gng
        n_states, n_actions = 4, 2
        trial = _trial_numbers(df, "trialNum", task)
        state = _codes(df, "cue", (1, 2, 3, 4), "subjID") - 1
        _refuse_blank(df, "cue", np.ones(len(df), bool), "(every trial needs its cue)")
        choice = _codes(df, "keyPressed", (0, 1), "subjID")
        reward = _numeric(df, "outcome", "subjID")
        _refuse_blank(df, "outcome", ~np.isnan(choice), "although keyPressed was recorded")
    out = pd.DataFrame(
        {
            "subject": subject,
            "trial": trial,
            "state": state,
            "choice": choice,
            "reward": reward,
            "terminal": np.ones(len(df), bool),
        },
        index=df.index,
    )
    if task == "bandit4arm":  # kept apart for the models that learn from them (bandit4arm_4par)
        out["gain"] = _numeric(df, "gain", "subjID")
        out["loss"] = _numeric(df, "loss", "subjID")
    out.attrs.update(n_states=n_states, n_actions=n_actions, hbayesdm_task=task)
    return validate_steps(out)


def _refuse_blank(df: pd.DataFrame, col: str, needed: np.ndarray, reason: str) -> None:
    """Raise naming the file's column and the first row where it is blank although ``needed``."""
    blank = df[col].isna().to_numpy() & needed
    if blank.any():
        i = int(np.flatnonzero(blank)[0])
        raise ValueError(f"{_where(df, i, 'subjID')}, column {col!r}: blank {reason}")


def _trial_numbers(df: pd.DataFrame, col: str, task: str) -> np.ndarray:
    """The file's trial numbers; raise naming the file's column and rows for a blank or duplicated one."""
    trial = _numeric(df, col, "subjID")
    if np.isnan(trial).any():
        i = int(np.flatnonzero(np.isnan(trial))[0])
        raise ValueError(f"{_where(df, i, 'subjID')}, column {col!r}: missing trial number")
    subj = df["subjID"].to_numpy()
    dup = pd.DataFrame({"s": subj, "t": trial}).duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((subj == subj[i]) & (trial == trial[i]))[0])
        raise ValueError(
            f"{_where(df, i, 'subjID')}, column {col!r}: duplicated trial {trial[i]:g} "
            f"(also at row {_py(df.index[first])!r}); an hBayesDM {task} file has one row per trial"
        )
    return trial


def write_hbayesdm(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write canonical two-step data (no missing choices) as an hBayesDM tab-separated file.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical two-step data (``subject, trial, choice1, state2, choice2, reward``) without missing
        choices.
    path : str or os.PathLike
        The file to write (tab-separated, hBayesDM's ``ts`` columns ``subjID, level1_choice,
        level2_choice, reward``).

    Examples
    --------
    >>> import os, tempfile
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(2, 10, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "ts_data.txt")
    ...     ds.fitting.write_hbayesdm(data, path)
    ...     back = ds.fitting.read_hbayesdm(path)
    >>> bool((back[["choice1", "state2", "choice2"]].to_numpy() == data[["choice1", "state2", "choice2"]].to_numpy()).all())
    True
    """
    df = validate_two_step(df)
    if df[["choice1", "choice2"]].isna().any().any():
        raise ValueError("hBayesDM files cannot hold missing choices; drop those trials first")
    out = pd.DataFrame(
        {
            "subjID": df["subject"].astype(str).to_numpy(),
            "level1_choice": df["choice1"].astype(int).to_numpy() + 1,
            "level2_choice": (2 * df["state2"] + df["choice2"]).astype(int).to_numpy() + 1,
            "reward": df["reward"].to_numpy(),
        }
    )
    out.to_csv(path, sep="\t", index=False)
