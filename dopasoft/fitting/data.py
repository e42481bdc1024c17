r"""Choice data as per-subject step arrays for the compiled kernels (:class:`Transitions`), and conversions.

Formats (docs/fitting.md, "Data formats"; validation in :mod:`dopasoft.fitting.validation`, files in
:mod:`dopasoft.fitting.readers`, hBayesDM task files in :mod:`dopasoft.fitting.hbayesdm`):

- **two-step** (Daw et al. 2011), one row per trial: ``subject``, ``trial``, ``choice1`` ∈ {0, 1},
  ``state2`` ∈ {0, 1} (0 = the state reached commonly after ``choice1 = 0``), ``choice2`` ∈ {0, 1},
  ``reward`` (float). A missing ``choice1`` skips the trial; a missing ``choice2`` keeps stage 1 (its
  likelihood and its update) and skips stage 2.
- **steps** (any tabular task), one row per choice step: ``subject``, ``trial``, ``state``, ``choice``,
  ``reward``, ``terminal``. A missed choice skips its step; on a non-terminal row the traces of the
  trial's earlier steps are cleared there and the rest of the trial still counts.
- **bandit** (k-armed bandit, reversal learning), one row per trial: ``subject``, ``trial``,
  ``choice`` ∈ {0, ..., k-1}, ``reward`` (float), optionally ``state``: the step format with one step
  per trial (no ``terminal`` column). A missing ``choice`` skips the trial.

Every model sees the data as per-subject sequences of steps ``(state, action, reward, next_state,
terminal)`` packed into padded arrays (:class:`Transitions`); a two-step trial is two steps
(state 0 → state ``1 + state2`` → end), a bandit trial one step (``state`` → end), a step-format trial
its rows. :func:`two_step_to_steps` writes two-step data as step rows (the same arrays, the same NLL).

Rows named in error messages are the DataFrame's index labels; files read here are indexed from 1
(the first data row after the header is row 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft.fitting.hbayesdm import HBAYESDM_COLUMNS, hbayesdm_to_canonical, write_hbayesdm
from dopasoft.fitting.readers import (
    read_choices,
    read_csv_keeping_ids,
    read_hbayesdm,
    read_table,
    validate_any,
)
from dopasoft.fitting.validation import (
    BANDIT_COLUMNS,
    STEP_COLUMNS,
    TWO_STEP_COLUMNS,
    _where,
    detect_task,
    validate_bandit,
    validate_steps,
    validate_two_step,
)

__all__ = [
    "TWO_STEP_COLUMNS",
    "BANDIT_COLUMNS",
    "STEP_COLUMNS",
    "HBAYESDM_COLUMNS",
    "Transitions",
    "read_choices",
    "read_hbayesdm",
    "read_csv_keeping_ids",
    "read_table",
    "hbayesdm_to_canonical",
    "write_hbayesdm",
    "validate_two_step",
    "validate_bandit",
    "validate_steps",
    "detect_task",
    "two_step_to_steps",
    "to_transitions",
]


# Transitions.steps: one int64 per step for the compiled replay, fields of STEP_FIELD_BITS bits:
# state | (action + 1) << 20 | (next_state + 1) << 40 | terminal << 60 | is_choice << 61
STEP_FIELD_BITS = 20
STEP_TERMINAL_BIT = 3 * STEP_FIELD_BITS
STEP_CHOICE_BIT = STEP_TERMINAL_BIT + 1
MAX_PACKED_INDEX = (1 << STEP_FIELD_BITS) - 2  # the largest state or action a field holds


@dataclass(frozen=True)
class Transitions:
    """Choice data of many subjects as padded step arrays for the compiled kernels.

    Each subject's data are a sequence of steps ``(state, action, reward, next_state, terminal)``;
    arrays have shape ``(n_subjects, max_steps)`` and are padded after ``n_steps[i]``.

    Attributes
    ----------
    subjects : pandas.Index
        Subject identifiers, row order of every array.
    state, action, next_state : int64 arrays
        ``action = -1``: no action was observed at this step (a missed choice) — the step is neither
        learned from nor counted; ``next_state = -1`` at terminal steps.
    reward : float64 array
    terminal : bool array
        The episode (trial) ends after this step; eligibility traces are cleared. Also true at a
        missed step (``action = -1``) inside a step-format trial, where it only clears the traces
        (the trial goes on; the previous step's ``next_state`` is the missed step's state).
    is_choice : bool array
        The step's action is an observed choice whose probability enters the likelihood.
    n_steps : int64 array, shape (n_subjects,)
    n_choices : int64 array, shape (n_subjects,)
        Number of counted choices per subject (for BIC).
    state_stage : int64 array, shape (n_states,)
        Stage of each state (two-step: 0 for the first stage, 1 for the second; bandit: all 0; steps:
        0 for states that start a trial anywhere in the data or never appear, 1 for the others);
        stage-specific parameters and the stickiness bonus (stage 0 only) use it.
    n_states, n_actions : int
    task : str
        ``"two-step"``, ``"bandit"`` or ``"steps"``.
    trial : float64 array or None
        The data's trial number of every step (NaN padding); read by :func:`dopasoft.fitting.replay`.
    gain_loss : float64 array of shape (n_subjects, max_steps, 2), or None
        Bandit and step-format data with both a ``gain`` and a ``loss`` column (hBayesDM's
        ``bandit4arm`` files): each step's gain and loss, the loss as ``−|loss|`` (hBayesDM's
        convention); models that learn from the two separately read them (``bandit4arm_4par``).
        ``None`` for other data.
    meta : dict
        Free-form information a caller may attach to the arrays (empty by default; no likelihood reads it).

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(3, 20, seed=0)
    >>> tr = ds.fitting.to_transitions(data)
    >>> tr.state.shape, tr.n_states, tr.n_actions  # (subjects, steps): two steps per trial
    ((3, 40), 3, 2)
    """

    subjects: pd.Index
    state: NDArray[np.int64]
    action: NDArray[np.int64]
    reward: NDArray[np.float64]
    next_state: NDArray[np.int64]
    terminal: NDArray[np.bool_]
    is_choice: NDArray[np.bool_]
    n_steps: NDArray[np.int64]
    n_choices: NDArray[np.int64]
    state_stage: NDArray[np.int64]
    n_states: int
    n_actions: int
    task: str
    meta: dict = field(default_factory=dict, compare=False)
    trial: NDArray[np.float64] | None = field(default=None, compare=False, repr=False)
    gain_loss: NDArray[np.float64] | None = field(default=None, compare=False, repr=False)

    @property
    def n_subjects(self) -> int:
        """Number of subjects."""
        return len(self.subjects)

    @cached_property
    def steps(self) -> NDArray[np.int64]:
        """The steps packed one int64 each, shape ``(n_subjects, max_steps)``, for the compiled replay.

        ``state | (action + 1) << 20 | (next_state + 1) << 40 | terminal << 60 | is_choice << 61``
        (:func:`dopasoft.fitting.softq.unpack_step` reads it): one array in the replay's loop instead of
        five. Computed once per ``Transitions``.
        """
        biggest = max(self.n_states, self.n_actions) - 1
        if biggest > MAX_PACKED_INDEX:
            raise ValueError(
                f"the compiled replay holds states and actions up to {MAX_PACKED_INDEX}; "
                f"these data have n_states = {self.n_states}, n_actions = {self.n_actions}"
            )
        b = STEP_FIELD_BITS
        return np.ascontiguousarray(
            self.state
            | (self.action + 1) << b
            | (self.next_state + 1) << 2 * b
            | self.terminal.astype(np.int64) << STEP_TERMINAL_BIT
            | self.is_choice.astype(np.int64) << STEP_CHOICE_BIT
        )

    def take(self, rows: NDArray[np.int64] | list[int]) -> Transitions:
        """Return the transitions of the subjects at positions ``rows`` (trimmed padding)."""
        rows = np.asarray(rows, dtype=np.int64)
        m = int(self.n_steps[rows].max()) if len(rows) else 0
        return Transitions(
            subjects=self.subjects[rows],
            state=self.state[rows, :m].copy(),
            action=self.action[rows, :m].copy(),
            reward=self.reward[rows, :m].copy(),
            next_state=self.next_state[rows, :m].copy(),
            terminal=self.terminal[rows, :m].copy(),
            is_choice=self.is_choice[rows, :m].copy(),
            n_steps=self.n_steps[rows].copy(),
            n_choices=self.n_choices[rows].copy(),
            state_stage=self.state_stage,
            n_states=self.n_states,
            n_actions=self.n_actions,
            task=self.task,
            trial=None if self.trial is None else self.trial[rows, :m].copy(),
            gain_loss=None if self.gain_loss is None else self.gain_loss[rows, :m].copy(),
        )


def _pack(
    subjects: list, per_subject: list[tuple[NDArray, ...]], gain_loss: list | None = None, **kw
) -> Transitions:
    """Pad per-subject step arrays into :class:`Transitions`; ``gain_loss``: per subject a (k, 2)
    array of gains and losses, or ``None``."""
    n = len(subjects)
    m = max([len(p[0]) for p in per_subject], default=0)
    state = np.zeros((n, m), np.int64)
    action = np.full((n, m), -1, np.int64)
    reward = np.zeros((n, m))
    next_state = np.full((n, m), -1, np.int64)
    terminal = np.ones((n, m), bool)
    is_choice = np.zeros((n, m), bool)
    n_steps = np.zeros(n, np.int64)
    trial = np.full((n, m), np.nan)
    for i, (s, a, r, ns, term, *t) in enumerate(per_subject):  # trial numbers optional
        k = len(s)
        state[i, :k], action[i, :k], reward[i, :k] = s, a, r
        next_state[i, :k], terminal[i, :k] = ns, term
        if t:
            trial[i, :k] = t[0]
        is_choice[i, :k] = a >= 0
        n_steps[i] = k
    gl = None
    if gain_loss is not None:
        gl = np.zeros((n, m, 2))
        for i, part in enumerate(gain_loss):
            gl[i, : len(part)] = part
    return Transitions(
        subjects=pd.Index(subjects, name="subject"),
        state=state,
        action=action,
        reward=reward,
        next_state=next_state,
        terminal=terminal,
        is_choice=is_choice,
        n_steps=n_steps,
        n_choices=is_choice.sum(axis=1).astype(np.int64),
        trial=trial,
        gain_loss=gl,
        **kw,
    )


def _two_step_transitions(df: pd.DataFrame) -> Transitions:
    """Two steps per trial with a first-stage choice (the validated rows of a subject are contiguous and
    in trial order); whole-column operations, then one split per subject."""
    code, subjects = pd.factorize(df["subject"], sort=False)  # order of first appearance, as groupby
    keep = df["choice1"].notna().to_numpy()
    code = code[keep]
    c1 = df["choice1"].to_numpy(dtype=float)[keep].astype(np.int64)
    s2 = df["state2"].to_numpy(dtype=float)[keep].astype(np.int64)
    c2f = df["choice2"].to_numpy(dtype=float)[keep]
    c2 = np.where(np.isnan(c2f), -1, np.nan_to_num(c2f)).astype(np.int64)
    r = np.nan_to_num(df["reward"].to_numpy(dtype=float)[keep])
    n = len(c1)
    s = np.empty(2 * n, np.int64)
    a = np.empty(2 * n, np.int64)
    rr = np.zeros(2 * n)
    ns = np.full(2 * n, -1, np.int64)
    term = np.zeros(2 * n, bool)
    s[0::2], a[0::2], ns[0::2] = 0, c1, 1 + s2
    s[1::2], a[1::2], rr[1::2], term[1::2] = 1 + s2, c2, np.where(c2 >= 0, r, 0.0), True
    trial = np.repeat(df["trial"].to_numpy(dtype=float)[keep], 2)
    cuts = 2 * np.cumsum(np.bincount(code, minlength=len(subjects)))[:-1]
    per = list(zip(*(np.split(x, cuts) for x in (s, a, rr, ns, term, trial)), strict=True))
    return _pack(
        list(subjects),
        per,
        state_stage=np.array([0, 1, 1], np.int64),
        n_states=3,
        n_actions=2,
        task="two-step",
    )


def _code(c: float) -> str:
    return str(int(c)) if abs(c) < 1e15 else f"{c:g}"


def _code_list(codes: NDArray[np.float64], limit: int = 12) -> str:
    shown = ", ".join(_code(c) for c in codes[:limit])
    return shown + (f", ... ({len(codes)} codes)" if len(codes) > limit else "")


def _count_codes(df: pd.DataFrame, col: str, what: str, given: int | None, option: str) -> int:
    """Number of ``what`` (actions, states) coded in ``col``: ``given``, or max code + 1 when the
    codes present run 0..K-1 without gaps; raise naming subject, row and code otherwise."""
    vals = df[col].to_numpy(dtype=float)
    present = np.unique(vals[~np.isnan(vals)])
    if given is not None:
        if present.size and present[-1] >= given:
            i = int(np.flatnonzero(vals == present[-1])[0])
            raise ValueError(
                f"{col} {_code(present[-1])} at {_where(df, i)}: codes must run 0..{given - 1} "
                f"({option}={given}); codes present: {_code_list(present)}"
            )
        return given
    if present.size == 0:
        return 0
    gap = np.flatnonzero(present != np.arange(present.size))
    if gap.size:
        code = present[gap[0]]
        i = int(np.flatnonzero(vals == code)[0])
        hint = " (1-based codes? subtract 1)" if present[0] == 1 and gap[0] == 0 else ""
        raise ValueError(
            f"{col} {_code(code)} at {_where(df, i)}: codes must run 0..K-1 without gaps; "
            f"codes present: {_code_list(present)}{hint}; if some {what} were never chosen, "
            f"give their number ({option}=K; on the command line --{option.replace('_', '-')} K)"
        )
    return int(present[-1]) + 1


def _bandit_transitions(df: pd.DataFrame, n_actions: int | None, n_states: int | None) -> Transitions:
    has_state = "state" in df.columns
    k = _count_codes(df, "choice", "options", n_actions, "n_actions")
    if k == 0:
        raise ValueError("bandit data: no choice was made in any row (column 'choice' is empty)")
    if k < 2:
        raise ValueError(
            "bandit data: every choice is 0, so the data hold a single option and nothing to fit; "
            "a choice model needs at least two options (if the others were never chosen, give their "
            "number: n_actions=K; on the command line --n-actions K)"
        )
    if has_state:
        n_states = max(_count_codes(df, "state", "states", n_states, "n_states"), 1)
    elif n_states is None:
        n_states = 1
    subjects, per = [], []
    split = _has_gain_loss(df)
    gain_loss = [] if split else None
    for subj, g in df.groupby("subject", sort=False):
        g = g[g["choice"].notna()]
        if split:
            gain_loss.append(_gain_loss(g))
        n = len(g)
        s = g["state"].to_numpy().astype(np.int64) if has_state else np.zeros(n, np.int64)
        subjects.append(subj)
        per.append(
            (
                s,
                g["choice"].to_numpy().astype(np.int64),
                g["reward"].to_numpy(),
                np.full(n, -1, np.int64),
                np.ones(n, bool),
                g["trial"].to_numpy(dtype=float),
            )
        )
    return _pack(
        subjects,
        per,
        gain_loss,
        state_stage=np.zeros(n_states, np.int64),
        n_states=n_states,
        n_actions=k,
        task="bandit",
    )


def _has_gain_loss(df: pd.DataFrame) -> bool:
    """Whether the data give each trial's gain and loss (both columns present)."""
    return "gain" in df.columns and "loss" in df.columns


def _gain_loss(df: pd.DataFrame) -> NDArray[np.float64]:
    """Rows' (gain, −|loss|), 0 on rows without a choice (skipped anyway); a missing or non-numeric
    gain or loss where a choice was made is an error naming subject, row and column."""
    made = df["choice"].notna().to_numpy()
    cols = []
    for col in ("gain", "loss"):
        v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        bad = made & ~np.isfinite(v)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{_where(df, i)}, column {col!r}: {df[col].iloc[i]!r} is not a number (a choice was made; "
                "data with gain and loss columns need both on every trial)"
            )
        cols.append(np.where(made, v, 0.0))
    return np.column_stack([cols[0], -np.abs(cols[1])])


def _check_count(value, option: str, minimum: int) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum
    ):
        raise ValueError(f"{option} must be an integer >= {minimum}, got {value!r}")


def _step_transitions(df: pd.DataFrame, n_actions: int | None, n_states: int | None) -> Transitions:
    """Pack validated step-format data; the rows of each subject are consecutive, trials in order."""
    k = _count_codes(df, "choice", "options", n_actions, "n_actions")
    if k == 0:
        raise ValueError("step-format data: no choice was made in any row (column 'choice' is empty)")
    if k < 2:
        raise ValueError(
            "step-format data: every choice is 0, so the data hold a single option and nothing to fit; "
            "a choice model needs at least two options (if the others were never chosen, give their "
            "number: n_actions=K; on the command line --n-actions K)"
        )
    n_s = _count_codes(df, "state", "states", n_states, "n_states")
    state = df["state"].to_numpy().astype(np.int64)
    choice = df["choice"].to_numpy()
    action = np.where(np.isnan(choice), -1, np.nan_to_num(choice)).astype(np.int64)
    reward = np.where(action >= 0, np.nan_to_num(df["reward"].to_numpy()), 0.0)
    terminal = df["terminal"].to_numpy(dtype=bool)
    code = pd.factorize(df["subject"])[0]
    trial = df["trial"].to_numpy()
    # stage 0: states that start a trial (the first row of a trial, in any subject), and states never
    # seen; stage 1: states seen only later in trials
    first = np.r_[True, (code[1:] != code[:-1]) | (trial[1:] != trial[:-1])]
    stage = np.ones(n_s, np.int64)
    stage[np.setdiff1d(np.arange(n_s), state)] = 0
    stage[np.unique(state[first])] = 0
    # a non-terminal row's next state is the next row's (the same trial's, by validation)
    next_state = np.full(len(df), -1, np.int64)
    next_state[:-1] = np.where(terminal[:-1], -1, state[1:])
    # a missed choice on a non-terminal row: the kernel skips the step; marked terminal here so that it
    # also clears the traces (no credit passes through an unobserved action), the trial goes on
    ends = terminal | (action < 0)
    next_state[ends] = -1
    bounds = np.flatnonzero(np.r_[True, code[1:] != code[:-1], True])
    gl = _gain_loss(df) if _has_gain_loss(df) else None
    subjects, per = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        subjects.append(df["subject"].iloc[lo])
        per.append((state[lo:hi], action[lo:hi], reward[lo:hi], next_state[lo:hi], ends[lo:hi], trial[lo:hi]))
    gain_loss = None if gl is None else [gl[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return _pack(subjects, per, gain_loss, state_stage=stage, n_states=n_s, n_actions=k, task="steps")


def two_step_to_steps(df: pd.DataFrame) -> pd.DataFrame:
    """Write canonical two-step data as step-format rows: two per trial.

    Each trial becomes a row in state 0 (``choice = choice1``, reward 0, not terminal) and a row in
    state ``1 + state2`` (``choice = choice2``, ``reward``, terminal). Trials with a missing ``choice1``
    are dropped (the two-step rule skips them); a missing ``choice2`` stays missing (stage 1 counts,
    stage 2 is skipped). Fitting either form gives the same likelihood and the same fit. Extra
    columns are not carried over.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical or hBayesDM two-step data.

    Returns
    -------
    pandas.DataFrame
        Validated step-format data (rows numbered from 1).

    Examples
    --------
    >>> import pandas as pd
    >>> two = pd.DataFrame({"subject": ["a"], "trial": [1], "choice1": [1], "state2": [0],
    ...                     "choice2": [1], "reward": [1.0]})
    >>> two_step_to_steps(two)[["state", "choice", "reward", "terminal"]].values.tolist()
    [[0.0, 1.0, 0.0, False], [1.0, 1.0, 1.0, True]]
    """
    two = validate_any(df)
    if two.attrs.get("task") != "two-step":
        raise ValueError(f"two_step_to_steps needs two-step data, got {two.attrs.get('task')} data")
    two = two[two["choice1"].notna()]
    n = len(two)
    rows = {
        "subject": np.repeat(two["subject"].to_numpy(), 2),
        "trial": np.repeat(two["trial"].to_numpy(), 2),
        "state": np.column_stack([np.zeros(n), 1.0 + two["state2"].to_numpy()]).ravel(),
        "choice": np.column_stack([two["choice1"].to_numpy(), two["choice2"].to_numpy()]).ravel(),
        "reward": np.column_stack([np.zeros(n), two["reward"].to_numpy()]).ravel(),
        "terminal": np.tile([False, True], n),
    }
    return validate_steps(pd.DataFrame(rows, index=pd.RangeIndex(1, 2 * n + 1)))


def to_transitions(
    data: pd.DataFrame | Transitions, *, n_actions: int | None = None, n_states: int | None = None
) -> Transitions:
    """Validate ``data`` (any supported format) and pack it into :class:`Transitions`.

    Parameters
    ----------
    data : pandas.DataFrame or Transitions
        Canonical two-step, hBayesDM task file, bandit or step-format data (see module docstring).
    n_actions, n_states : int, optional
        Bandit and step format: numbers of options and states when not all appear in the data (codes
        must then be below them). Without them, ``data.attrs["n_actions"]`` / ``["n_states"]`` (set by
        the hBayesDM readers) or else the codes present, which must run 0..K-1 without gaps (K ≥ 2
        options), across all subjects.

    Raises
    ------
    ValueError
        Anything the validators refuse; no rows; codes (``choice``, ``state``) with a gap or beyond
        the given numbers, naming subject, row and code; fewer than two options.

    Notes
    -----
    Step format: a state is stage 0 (the stickiness ``kappa`` and the first-stage ``alpha1``/``tau1``
    apply) if it starts a trial anywhere in the data, stage 1 if it is seen only later in trials.

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(2, 10, seed=0)
    >>> tr = ds.fitting.to_transitions(data)
    >>> list(tr.subjects), tr.n_choices.tolist()
    ([0, 1], [20, 20])
    """
    if isinstance(data, Transitions):
        return data
    df = validate_any(data)
    if len(df) == 0:
        raise ValueError(f"{df.attrs['task']} data: no rows (the table has its columns but no trials)")
    if df.attrs["task"] == "two-step":
        if n_actions is not None and n_actions != 2:
            raise ValueError(f"n_actions={n_actions!r}: two-step data have two options per stage")
        if n_states is not None and n_states != 3:
            raise ValueError(f"n_states={n_states!r}: two-step data have three states")
        return _two_step_transitions(df)
    _check_count(n_actions, "n_actions", 2)
    _check_count(n_states, "n_states", 1)
    n_actions = df.attrs.get("n_actions") if n_actions is None else n_actions
    n_states = df.attrs.get("n_states") if n_states is None else n_states
    if df.attrs["task"] == "steps":
        return _step_transitions(df, n_actions, n_states)
    return _bandit_transitions(df, n_actions, n_states)
