r"""Choice data: reading, validation and the compiled-kernel representation (:class:`Transitions`).

Two formats are understood (docs/fitting.md §1–2):

- **two-step** (Daw et al. 2011), one row per trial: ``subject``, ``trial``, ``choice1`` ∈ {0, 1},
  ``state2`` ∈ {0, 1} (0 = the state reached commonly after ``choice1 = 0``), ``choice2`` ∈ {0, 1},
  ``reward`` (float). A missing ``choice1`` skips the trial; a missing ``choice2`` keeps stage 1 (its
  likelihood and its update) and skips stage 2. hBayesDM files (Ahn et al. 2017) are read by
  :func:`read_hbayesdm`.
- **bandit** (k-armed bandit, reversal learning), one row per trial: ``subject``, ``trial``,
  ``choice`` ∈ {0, ..., k-1}, ``reward`` (float), optionally ``state`` (a context, integer ≥ 0).
  A missing ``choice`` skips the trial.

Every model sees the data as per-subject sequences of steps ``(state, action, reward, next_state,
terminal)`` packed into padded arrays (:class:`Transitions`); a two-step trial is two steps
(state 0 → state ``1 + state2`` → end), a bandit trial one step (``state`` → end).

Rows named in error messages are the DataFrame's index labels; files read here are indexed from 1
(the first data row after the header is row 1).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = [
    "TWO_STEP_COLUMNS",
    "BANDIT_COLUMNS",
    "Transitions",
    "read_choices",
    "read_hbayesdm",
    "read_csv_keeping_ids",
    "read_table",
    "write_hbayesdm",
    "validate_two_step",
    "validate_bandit",
    "detect_task",
    "to_transitions",
]

TWO_STEP_COLUMNS = ("subject", "trial", "choice1", "state2", "choice2", "reward")
BANDIT_COLUMNS = ("subject", "trial", "choice", "reward")
HBAYESDM_COLUMNS = ("subjID", "level1_choice", "level2_choice", "reward")


# ----------------------------------------------------------------------------------------------
# reading


# first bytes of file formats that are not text tables (``_sniff_binary``)
_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls) or another Office file"),
    (b"%PDF", "a PDF document"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x1f\x8b", "a gzip archive"),
)
_SUBJECT_COLUMNS = ("subject", "subjID")
# pandas' documented default missing-value markers (read_csv ``na_values``)
_NA_MARKERS = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)


def _sniff_binary(path: str, head: bytes, what: str = "data file") -> None:
    """Raise ``ValueError`` if ``head`` (the file's first bytes) is not a text table."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            raise ValueError(
                f"{what} {path} is {kind}, not a text table; save it as CSV (UTF-8) and read that"
            )
    if path.lower().endswith((".xlsx", ".xls", ".xlsm", ".ods")):
        raise ValueError(f"{what} {path} is a spreadsheet; save it as CSV (UTF-8) and read that")
    if b"\x00" in head:
        raise ValueError(
            f"{what} {path} is a binary file (or UTF-16 text), not a CSV/TSV table; save it as CSV (UTF-8)"
        )


def _open_check(path: str, what: str = "data file") -> bytes:
    """First 64 KiB of ``path``; ``FileNotFoundError`` / ``IsADirectoryError`` / ``PermissionError``
    with a message naming the file."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what} {path} is a folder; give the path of a CSV/TSV/Parquet file in it")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such {what}: {path}")
    try:
        with open(path, "rb") as fh:
            return fh.read(65536)
    except PermissionError:
        raise PermissionError(f"{what} {path} cannot be read (permission denied)") from None
    except OSError as err:
        raise OSError(f"{what} {path} cannot be read ({err.strerror or err})") from None


def read_csv_keeping_ids(path: str | os.PathLike, *, sep: str = ",") -> pd.DataFrame:
    """Read a CSV/TSV file with subject identifiers exactly as written.

    The columns ``subject`` and ``subjID`` are read as text and only an empty cell counts as missing
    there, so ``007``, ``NA`` or ``None`` stay those strings; in every other column pandas' usual
    markers (``NA``, ``nan``, empty, ...) mean missing.

    Raises
    ------
    ValueError
        An empty file, or one that is not UTF-8 text in CSV/TSV layout (naming the file).
    """
    path = os.fspath(path)
    try:
        header = pd.read_csv(path, sep=sep, nrows=0).columns
        na_values = {c: ([""] if c in _SUBJECT_COLUMNS else list(_NA_MARKERS)) for c in header}
        dtype = {c: str for c in _SUBJECT_COLUMNS if c in header}
        # index_col=False: a row with more fields than the header must not turn the first column into an
        # index (pandas' default), which would shift every value one column to the left; trailing empty
        # fields are dropped, extra values are an error
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(
                path, sep=sep, dtype=dtype, keep_default_na=False, na_values=na_values, index_col=False
            )
        if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            _refuse_extra_values(path, sep, list(header))
        return df
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty (no header, no rows)") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as err:
        raise ValueError(f"{path} is not a readable CSV/TSV table (UTF-8): {str(err).strip()}") from None


def _refuse_extra_values(path: str, sep: str, header: list[str]) -> None:
    """Raise ``ValueError`` naming the first row with a non-empty value beyond the header's columns
    (empty trailing fields, as spreadsheet exports write them, are accepted)."""
    raw = pd.read_csv(path, sep=sep, header=None, skiprows=1, dtype=str, keep_default_na=False)
    extra = raw.iloc[:, len(header) :]
    filled = (extra != "").any(axis=1).to_numpy()
    if filled.any():
        row = int(filled.argmax()) + 1
        raise ValueError(
            f"{path}, row {row}: more values than the header has columns ({len(header)}: "
            f"{header}); check the separator or remove the extra values"
        )


def read_table(path: str | os.PathLike, *, sep: str | None = None, what: str = "data file") -> pd.DataFrame:
    """Read a CSV (``.csv``), TSV (``.tsv``, ``.txt``) or Parquet table; rows indexed from 1.

    Subject columns (``subject``, ``subjID``) are read as text with only an empty cell counting as
    missing, so identifiers such as ``007``, ``NA`` or ``None`` are kept exactly as written. Parquet
    is recognised by its suffix or its first bytes.

    Parameters
    ----------
    path : path
        The file.
    sep : str, optional
        Field separator of a text file (default: tab for ``.tsv``/``.txt``, comma otherwise).
    what : str
        What the file is, for messages (``"data file"``).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        No such file, a folder, or an unreadable file (the message names it).
    ValueError
        Excel or other binary files ("save as CSV"), empty or header-only files, malformed text.
    """
    path = os.fspath(path)
    head = _open_check(path, what)
    if path.endswith((".parquet", ".pq")) or head.startswith(b"PAR1"):
        try:
            df = pd.read_parquet(path)
        except (OSError, ValueError) as err:
            raise ValueError(f"{what} {path} is not a readable Parquet file: {err}") from None
    else:
        _sniff_binary(path, head, what)
        if sep is None:
            sep = "\t" if path.endswith((".tsv", ".txt")) else ","
        df = read_csv_keeping_ids(path, sep=sep)
    if len(df) == 0:
        raise ValueError(
            f"{what} {path} has a header but no data rows (columns {list(map(str, df.columns))})"
        )
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df


def read_hbayesdm(path: str | os.PathLike) -> pd.DataFrame:
    """Read an hBayesDM two-step file into the canonical two-step DataFrame.

    hBayesDM (Ahn et al. 2017) two-step data are tab-separated with columns ``subjID``,
    ``level1_choice`` (1/2), ``level2_choice`` (1–4) and ``reward``; trials are in file order.
    ``level2_choice`` 1, 2 are the two options of the second-stage state commonly reached after
    ``level1_choice = 1`` (canonical ``state2 = 0``, ``choice2 = 0, 1``), 3, 4 those of the other
    state (``state2 = 1``). Subject identifiers are kept as strings exactly as in the file.

    Parameters
    ----------
    path : str or path-like
        Tab-separated text file (a ``.csv`` suffix is read comma-separated).

    Returns
    -------
    pandas.DataFrame
        Validated canonical two-step data (see :func:`validate_two_step`), ``trial`` numbered from 1
        within each subject.

    Raises
    ------
    ValueError
        Missing columns or malformed values, naming subject, row and column.
    """
    path = os.fspath(path)
    df = read_table(path, sep="," if path.endswith(".csv") else "\t")
    return hbayesdm_to_canonical(df)


def hbayesdm_to_canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Convert an hBayesDM-format two-step DataFrame to the canonical format (see :func:`read_hbayesdm`)."""
    _require_columns(df, HBAYESDM_COLUMNS, "hBayesDM two-step")
    l1 = _codes(df, "level1_choice", (1, 2), "subjID")
    l2 = _codes(df, "level2_choice", (1, 2, 3, 4), "subjID")
    out = pd.DataFrame(
        {
            "subject": df["subjID"].to_numpy(),
            "trial": df.groupby("subjID", sort=False).cumcount().to_numpy() + 1,
            "choice1": l1 - 1,
            "state2": np.where(np.isnan(l2), np.nan, (l2 > 2).astype(float)),
            "choice2": np.where(np.isnan(l2), np.nan, (l2 - 1) % 2),
            "reward": df["reward"].to_numpy(),
        },
        index=df.index,
    )
    return validate_two_step(out)


def write_hbayesdm(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write canonical two-step data (no missing choices) as an hBayesDM tab-separated file."""
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


def read_choices(path: str | os.PathLike) -> pd.DataFrame:
    """Read choice data from CSV, TSV or Parquet and validate it.

    The format is recognised from the columns: canonical two-step (``choice1``), hBayesDM two-step
    (``level1_choice``) or bandit (``choice``).

    Returns
    -------
    pandas.DataFrame
        Validated canonical data; ``df.attrs["task"]`` is ``"two-step"`` or ``"bandit"``.
    """
    df = read_table(path)
    if "level1_choice" in df.columns:
        return hbayesdm_to_canonical(df)
    return _validate_any(df)


def detect_task(df: pd.DataFrame) -> str:
    """Return ``"two-step"`` or ``"bandit"`` from the columns of ``df``."""
    if "choice1" in df.columns or "level1_choice" in df.columns:
        return "two-step"
    if "choice" in df.columns:
        return "bandit"
    raise ValueError(
        "cannot tell the task from the columns "
        f"{list(df.columns)}: expected two-step columns {list(TWO_STEP_COLUMNS)}, hBayesDM columns "
        f"{list(HBAYESDM_COLUMNS)} or bandit columns {list(BANDIT_COLUMNS)}"
    )


def _validate_any(df: pd.DataFrame) -> pd.DataFrame:
    if "level1_choice" in df.columns:
        return hbayesdm_to_canonical(df)
    task = detect_task(df)
    return validate_two_step(df) if task == "two-step" else validate_bandit(df)


# ----------------------------------------------------------------------------------------------
# validation


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


def _check_subjects_and_trials(df: pd.DataFrame) -> NDArray[np.float64]:
    subj = df["subject"]
    if subj.isna().any():
        i = int(np.flatnonzero(subj.isna().to_numpy())[0])
        raise ValueError(f"row {_py(df.index[i])!r}, column 'subject': missing subject identifier")
    trial = _numeric(df, "trial")
    if np.isnan(trial).any():
        i = int(np.flatnonzero(np.isnan(trial))[0])
        raise ValueError(f"{_where(df, i)}, column 'trial': missing trial number")
    dup = pd.DataFrame({"s": subj.to_numpy(), "t": trial}).duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first = np.flatnonzero((subj.to_numpy() == subj.iloc[i]) & (trial == trial[i]))[0]
        raise ValueError(
            f"{_where(df, i)}, column 'trial': duplicated trial {trial[i]:g} "
            f"(also at row {_py(df.index[first])!r})"
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


# ----------------------------------------------------------------------------------------------
# compiled representation


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
        The episode (trial) ends after this step; eligibility traces are cleared.
    is_choice : bool array
        The step's action is an observed choice whose probability enters the likelihood.
    n_steps : int64 array, shape (n_subjects,)
    n_choices : int64 array, shape (n_subjects,)
        Number of counted choices per subject (for BIC).
    state_stage : int64 array, shape (n_states,)
        Stage of each state (two-step: 0 for the first stage, 1 for the second; bandit: all 0);
        stage-specific parameters and the stickiness bonus (stage 0 only) use it.
    n_states, n_actions : int
    task : str
        ``"two-step"`` or ``"bandit"``.
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

    @property
    def n_subjects(self) -> int:
        """Number of subjects."""
        return len(self.subjects)

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
        )


def _pack(subjects: list, per_subject: list[tuple[NDArray, ...]], **kw) -> Transitions:
    n = len(subjects)
    m = max([len(p[0]) for p in per_subject], default=0)
    state = np.zeros((n, m), np.int64)
    action = np.full((n, m), -1, np.int64)
    reward = np.zeros((n, m))
    next_state = np.full((n, m), -1, np.int64)
    terminal = np.ones((n, m), bool)
    is_choice = np.zeros((n, m), bool)
    n_steps = np.zeros(n, np.int64)
    for i, (s, a, r, ns, term) in enumerate(per_subject):
        k = len(s)
        state[i, :k], action[i, :k], reward[i, :k] = s, a, r
        next_state[i, :k], terminal[i, :k] = ns, term
        is_choice[i, :k] = a >= 0
        n_steps[i] = k
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
        **kw,
    )


def _two_step_transitions(df: pd.DataFrame) -> Transitions:
    subjects, per = [], []
    for subj, g in df.groupby("subject", sort=False):
        g = g[g["choice1"].notna()]
        n = len(g)
        c1 = g["choice1"].to_numpy().astype(np.int64)
        s2 = g["state2"].to_numpy().astype(np.int64)
        c2f = g["choice2"].to_numpy()
        c2 = np.where(np.isnan(c2f), -1, np.nan_to_num(c2f)).astype(np.int64)
        r = np.nan_to_num(g["reward"].to_numpy())
        s = np.empty(2 * n, np.int64)
        a = np.empty(2 * n, np.int64)
        rr = np.zeros(2 * n)
        ns = np.full(2 * n, -1, np.int64)
        term = np.zeros(2 * n, bool)
        s[0::2], a[0::2], ns[0::2] = 0, c1, 1 + s2
        s[1::2], a[1::2], rr[1::2], term[1::2] = 1 + s2, c2, np.where(c2 >= 0, r, 0.0), True
        subjects.append(subj)
        per.append((s, a, rr, ns, term))
    return _pack(
        subjects, per, state_stage=np.array([0, 1, 1], np.int64), n_states=3, n_actions=2, task="two-step"
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
            f"give their number (to_transitions(data, {option}=K))"
        )
    return int(present[-1]) + 1


def _bandit_transitions(df: pd.DataFrame, n_actions: int | None) -> Transitions:
    if n_actions is not None and (
        isinstance(n_actions, bool) or not isinstance(n_actions, int | np.integer) or n_actions < 2
    ):
        raise ValueError(f"n_actions must be an integer >= 2, got {n_actions!r}")
    has_state = "state" in df.columns
    k = _count_codes(df, "choice", "options", n_actions, "n_actions")
    if k == 0:
        raise ValueError("bandit data: no choice was made in any row (column 'choice' is empty)")
    if k < 2:
        raise ValueError(
            "bandit data: every choice is 0, so the data hold a single option and nothing to fit; "
            "a choice model needs at least two options (if the others were never chosen, give their "
            "number: to_transitions(data, n_actions=K))"
        )
    n_states = max(_count_codes(df, "state", "states", None, "n_states"), 1) if has_state else 1
    subjects, per = [], []
    for subj, g in df.groupby("subject", sort=False):
        g = g[g["choice"].notna()]
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
            )
        )
    return _pack(
        subjects, per, state_stage=np.zeros(n_states, np.int64), n_states=n_states, n_actions=k, task="bandit"
    )


def to_transitions(data: pd.DataFrame | Transitions, *, n_actions: int | None = None) -> Transitions:
    """Validate ``data`` (any supported format) and pack it into :class:`Transitions`.

    Parameters
    ----------
    data : pandas.DataFrame or Transitions
        Canonical two-step, hBayesDM two-step or bandit data (see module docstring).
    n_actions : int, optional
        Bandit only: number of options when not all were chosen in the data (codes must then be
        below it); without it the codes present must run 0..K-1 without gaps, K ≥ 2.

    Raises
    ------
    ValueError
        Anything :func:`validate_two_step` / :func:`validate_bandit` refuse; no rows; bandit codes
        (``choice``, ``state``) with a gap, naming subject, row and code; fewer than two options.
    """
    if isinstance(data, Transitions):
        return data
    df = _validate_any(data)
    if len(df) == 0:
        raise ValueError(f"{df.attrs['task']} data: no rows (the table has its columns but no trials)")
    if df.attrs["task"] == "two-step":
        if n_actions is not None and n_actions != 2:
            raise ValueError(f"n_actions={n_actions!r}: two-step data have two options per stage")
        return _two_step_transitions(df)
    return _bandit_transitions(df, n_actions)
