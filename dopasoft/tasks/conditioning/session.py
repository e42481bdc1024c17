r"""A lab's own conditioning session: one row per trial, run in file order (no shuffling).

A session replaces a protocol when the model's prediction errors must line up with recordings trial by
trial. Columns (only ``trial_type`` is required; docs/tasks.md, "A lab's own session"):

============== =====================================================================================
``trial_type`` ``"A+"``, ``"AB+"``, ``"B?"``, ``"B>A-"``, ``"C+ p=0.5"`` (:func:`parse_trial_type`)
``trial``      the lab's trial numbers (unique); the output keeps them. Default: 0, 1, 2, ...
``phase``      any label, kept in the output. Default: ``"session"``
``cue_onset``  seconds from the trial start to the first cue onset. Default: the task's ``cue_onset``
``reward_time`` seconds from the first cue onset to the reward (to the scheduled reward on
               unrewarded trials, where the dip is read). Default: the task's ``isi`` after the last
               cue onset, as for protocols
``reward``     reward size on ``+`` trials (overrides ``r=``); 0 or blank on other trials and where
               ``rewarded`` is 0
``rewarded``   0/1: whether the reward was delivered (replays the lab's outcomes instead of drawing
               them with ``p=``); 1 only on ``+`` trials
``iti``        seconds; checked and kept in the output, no effect on the model (trials are separate
               episodes whose traces are reset; see docs/tasks.md)
============== =====================================================================================

Any other column is kept in the per-trial output unchanged, except that ``reward`` comes out as
``reward_size`` (the output's ``reward`` is the reward the model received, as for protocols).
Errors name the row (the table's index: data row 1 is the first row after the header of a file read by
:func:`dopasoft.experiments.conditioning.read_session`) and the column.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft.tasks.conditioning.protocols import TrialType, parse_trial_type

__all__ = ["SESSION_COLUMNS", "Session", "make_session"]

SESSION_COLUMNS = ("trial", "trial_type", "phase", "cue_onset", "reward_time", "reward", "rewarded", "iti")
"""Columns of a session table that the model reads (any others are only carried to the output)."""

_TIMES = ("cue_onset", "reward_time", "iti")
_OUTPUT_NAMES = ("learn", "n_steps", "reward_size")
_OUTPUT_SUFFIXES = ("_rpe", "_value_rpe", "_action_term")


@dataclass(frozen=True, eq=False)
class Session:
    """A validated session: per-row trial types, times (seconds) and outcomes, in file order.

    Build it with :func:`make_session` (a table) or
    :func:`~dopasoft.experiments.conditioning.read_session` (a file). Arrays are ``None`` where the
    column is absent (then the task's defaults apply).

    Attributes
    ----------
    name : str
        The file name (or ``"session"``), used in messages and as the protocol name.
    rows : tuple
        Row labels for messages.
    types : tuple of TrialType
        The trial type of every row.
    phases : tuple of str
    trials : tuple
        The session's trial numbers (0, 1, ... when the table has no ``trial`` column).
    cue_onset, reward_time, reward, iti : ndarray or None
        Seconds (``reward``: size, NaN on rows without one).
    rewarded : ndarray of bool or None
        Delivered (True) or not, per row.
    extra : pandas.DataFrame
        The columns carried to the per-trial output (``reward`` renamed ``reward_size``), one row per trial.
    """

    name: str
    rows: tuple[Any, ...]
    types: tuple[TrialType, ...]
    phases: tuple[str, ...]
    trials: tuple[Any, ...]
    cue_onset: NDArray[np.float64] | None
    reward_time: NDArray[np.float64] | None
    reward: NDArray[np.float64] | None
    rewarded: NDArray[np.bool_] | None
    iti: NDArray[np.float64] | None
    extra: pd.DataFrame

    # -- the part of the Protocol interface that the task reads -----------------------------------------
    @property
    def n_trials(self) -> int:
        """Number of trials (rows)."""
        return len(self.types)

    @property
    def cues(self) -> tuple[str, ...]:
        """Sorted cue letters used anywhere in the session."""
        return tuple(sorted({c for tt in self.types for c in tt.cues}))

    @property
    def trial_types(self) -> tuple[TrialType, ...]:
        """Distinct trial types, in order of first appearance."""
        seen: dict[str, TrialType] = {}
        for tt in self.types:
            seen.setdefault(tt.name, tt)
        return tuple(seen.values())

    def schedule(self, rng: np.random.Generator | None = None) -> list[tuple[str, TrialType]]:
        """``(phase, trial type)`` of every row in file order (``rng`` is not used: no shuffling)."""
        return list(zip(self.phases, self.types, strict=True))

    def where(self, i: int, column: str) -> str:
        """``"<name>, row <label>, column '<column>'"`` for messages about row position ``i``."""
        return f"{self.name}, row {_py(self.rows[i])}, column {column!r}"


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _numbers(df: pd.DataFrame, column: str, name: str, *, allow_missing: NDArray[np.bool_] | None = None):
    """Column as floats; raise naming the first row that is not a finite number (or is missing)."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    missing = raw.isna().to_numpy()
    bad_text = np.isnan(values) & ~missing
    for i in range(len(df)):
        where = f"{name}, row {_py(df.index[i])}, column {column!r}"
        if bad_text[i] or isinstance(raw.iloc[i], bool | np.bool_):
            raise ValueError(f"{where}: {raw.iloc[i]!r} is not a number")
        if missing[i] and not (allow_missing is not None and allow_missing[i]):
            raise ValueError(f"{where}: missing value (the column is optional: drop it to use the default)")
        if not missing[i] and not np.isfinite(values[i]):
            raise ValueError(f"{where}: {raw.iloc[i]!r} is not a finite number")
    return values


def make_session(table: pd.DataFrame, *, name: str = "session") -> Session:
    """Validate a session table (one row per trial) and return a :class:`Session`.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns as in the module docstring; only ``trial_type`` is required. Rows are named by the
        table's index in messages.
    name : str, default "session"
        What to call the table in messages (the file name).

    Returns
    -------
    Session

    Raises
    ------
    ValueError
        Naming the row and column: no ``trial_type`` column or no rows; a malformed or missing trial
        type; a time that is missing, not a number, negative or infinite; a reward size on a trial that
        is not reinforced (``-``, ``?``) or missing where a reward is delivered; ``rewarded`` other than 0/1, or 1 on
        a trial that is not reinforced; repeated trial numbers; several subjects in one table; a column
        named like an output column (``learn``, ``n_steps``, ``reward_size``, ``*_rpe``, ...).

    Examples
    --------
    >>> import pandas as pd
    >>> s = make_session(pd.DataFrame({"trial_type": ["A+", "A+", "A-"], "rewarded": [1, 0, 0]}))
    >>> s.n_trials, s.cues, [tt.name for tt in s.trial_types], s.rewarded.tolist()
    (3, ('A',), ['A+', 'A-'], [True, False, False])
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"a session must be a table (pandas DataFrame), got {type(table).__name__}")
    columns = [str(c) for c in table.columns]
    if "trial_type" not in columns:
        raise ValueError(
            f"{name} has no column 'trial_type' (one row per trial, e.g. 'A+', 'AB+', 'B?'); "
            f"its columns: {columns}"
        )
    if len(table) == 0:
        raise ValueError(f"{name} has no rows (one row per trial is needed)")
    df = table.copy()
    df.columns = columns
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise ValueError(f"{name}: column {dup!r} appears twice")
    for col in columns:
        if col in _OUTPUT_NAMES or (col.endswith(_OUTPUT_SUFFIXES) and col not in SESSION_COLUMNS):
            raise ValueError(
                f"{name}, column {col!r}: the output has a column of that name; rename or drop it"
            )
    _warn_near_misses(columns, name)
    if "subject" in df.columns and df["subject"].nunique() > 1:
        raise ValueError(
            f"{name}, column 'subject': {df['subject'].nunique()} subjects in one session; one learner "
            "runs through every row, so give each subject's session on its own"
        )

    rows = tuple(df.index)
    types = []
    for i, spec in enumerate(df["trial_type"]):
        where = f"{name}, row {_py(rows[i])}, column 'trial_type'"
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError(f"{where}: missing trial type (e.g. 'A+', 'AB+', 'B?')")
        try:
            types.append(parse_trial_type(spec))
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
    reinforced = np.array([tt.reinforced for tt in types])

    if "phase" in df.columns:
        if df["phase"].isna().any():
            i = int(np.argmax(df["phase"].isna().to_numpy()))
            raise ValueError(f"{name}, row {_py(rows[i])}, column 'phase': missing phase label")
        phases = tuple(str(_py(p)) for p in df["phase"])
    else:
        phases = ("session",) * len(df)

    if "trial" in df.columns:
        if df["trial"].isna().any():
            i = int(np.argmax(df["trial"].isna().to_numpy()))
            raise ValueError(f"{name}, row {_py(rows[i])}, column 'trial': missing trial number")
        dup = df["trial"].duplicated().to_numpy()
        if dup.any():
            i = int(np.argmax(dup))
            value = _py(df["trial"].iloc[i])
            first = _py(rows[int(np.argmax((df["trial"] == df["trial"].iloc[i]).to_numpy()))])
            raise ValueError(
                f"{name}, row {_py(rows[i])}, column 'trial': trial {value!r} repeats row {first} "
                "(trial numbers must be unique to line up with the recordings)"
            )
        trials = tuple(_py(t) for t in df["trial"])
    else:
        trials = tuple(range(len(df)))

    times: dict[str, NDArray[np.float64] | None] = {}
    for col in _TIMES:
        if col not in df.columns:
            times[col] = None
            continue
        values = _numbers(df, col, name)
        negative = values < 0
        if negative.any():
            i = int(np.argmax(negative))
            raise ValueError(f"{name}, row {_py(rows[i])}, column {col!r}: negative time {values[i]:g} s")
        times[col] = values

    rewarded = None
    if "rewarded" in df.columns:
        rewarded = np.zeros(len(df), dtype=bool)
        for i, value in enumerate(df["rewarded"]):
            where = f"{name}, row {_py(rows[i])}, column 'rewarded'"
            flag = _zero_one(value)
            if flag is None:
                raise ValueError(f"{where}: {_py(value)!r} is not 0 or 1 (whether the reward was delivered)")
            if flag and not types[i].reinforced:
                raise ValueError(
                    f"{where}: rewarded=1 on trial type {types[i].name!r}, which is not reinforced "
                    "(write it with '+', e.g. 'A+')"
                )
            rewarded[i] = flag

    reward = None
    if "reward" in df.columns:
        # a size is needed where a reward is delivered: blank is fine where none is
        delivered = reinforced if rewarded is None else rewarded
        reward = _numbers(df, "reward", name, allow_missing=~delivered)
        for i, tt in enumerate(types):
            if not tt.reinforced and not (np.isnan(reward[i]) or reward[i] == 0):
                raise ValueError(
                    f"{name}, row {_py(rows[i])}, column 'reward': reward size {reward[i]:g} on trial type "
                    f"{tt.name!r}, which is not reinforced (only '+' trials deliver a reward); "
                    "give 0 or leave it blank"
                )

    extra = df.drop(columns=[c for c in ("trial", "trial_type", "phase", "rewarded") if c in df.columns])
    extra = extra.rename(columns={"reward": "reward_size"}).reset_index(drop=True)
    return Session(
        name=name,
        rows=rows,
        types=tuple(types),
        phases=phases,
        trials=trials,
        cue_onset=times["cue_onset"],
        reward_time=times["reward_time"],
        reward=reward,
        rewarded=rewarded,
        iti=times["iti"],
        extra=extra,
    )


def _zero_one(value: Any) -> bool | None:
    """True/False for 0/1 (numbers, booleans, "0"/"1", "true"/"false"), None for anything else."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        return {"0": False, "1": True, "0.0": False, "1.0": True, "false": False, "true": True}.get(text)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number in (0.0, 1.0):
        return number == 1.0
    return None


def _warn_near_misses(columns: list[str], name: str) -> None:
    """Warn when an unread column looks like a misspelt session column (it would be carried, not read)."""
    absent = [c for c in SESSION_COLUMNS if c not in columns]
    for col in columns:
        if col in SESSION_COLUMNS:
            continue
        close = difflib.get_close_matches(col.lower().replace(" ", "_"), absent, n=1, cutoff=0.85)
        if close:
            warnings.warn(
                f"{name}: column {col!r} is not read by the model (did you mean {close[0]!r}?); "
                "it is only carried to the output",
                UserWarning,
                stacklevel=3,
            )
