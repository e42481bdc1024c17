r"""Reading choice-data files: CSV, TSV and Parquet tables, hBayesDM task files, and the format dispatch.

:func:`read_table` is the package's one table reader (subject identifiers kept as text, rows numbered
from 1, Excel and other binary files refused with a message); :func:`read_choices` recognises the format
from the columns (two-step, bandit, step format, or an hBayesDM task file) and returns validated data.
"""

from __future__ import annotations

import os
import warnings

import pandas as pd

from dopasoft.fitting.hbayesdm import hbayesdm_to_data
from dopasoft.fitting.validation import validate_canonical

__all__ = ["read_choices", "read_hbayesdm", "read_csv_keeping_ids", "read_table", "validate_any"]


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
        _refuse_other_separator(path, sep, list(map(str, header)))
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


_OTHER_SEPARATORS = {";": "';'", "\t": "tabs", "|": "'|'"}


def _refuse_other_separator(path: str, sep: str, header: list[str]) -> None:
    """Raise ``ValueError`` when a one-column header holds another separator (a file saved with ';',
    as spreadsheets do where the decimal mark is a comma, read as CSV)."""
    if len(header) != 1:
        return
    for other, name in _OTHER_SEPARATORS.items():
        if other != sep and other in header[0]:
            shown = "tab" if sep == "\t" else repr(sep)
            raise ValueError(
                f"{path} looks separated by {name}: its header is one column, {header[0]!r}, read with "
                f"the separator {shown}; save it separated by commas (.csv) or tabs (.tsv), with '.' "
                "as the decimal mark"
            )


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
    """Read an hBayesDM task file: ``ts``, ``bandit2arm``, ``prl``, ``bandit4arm`` or ``gng``.

    The task is recognised from the columns and 1-based codes become 0-based (mapping of each column:
    docs/fitting.md, "hBayesDM task files", and :mod:`dopasoft.fitting.hbayesdm`). Two-step (``ts``)
    files give canonical two-step data, as they always have (the hybrid models need it;
    :func:`dopasoft.fitting.two_step_to_steps` gives its step rows); the other tasks give step-format
    data with the task's numbers of states and actions in ``attrs``. Subject identifiers are kept as
    text exactly as in the file.

    Parameters
    ----------
    path : str or path-like
        Tab-separated text file as hBayesDM writes them (a ``.csv`` suffix is read comma-separated,
        ``.parquet`` as Parquet).

    Returns
    -------
    pandas.DataFrame
        Validated data; ``attrs["task"]`` is ``"two-step"`` (ts) or ``"steps"``.

    Raises
    ------
    ValueError
        Another hBayesDM task or an unknown layout (naming the supported tasks and their columns), or
        malformed values, naming subject, row and column.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> import dopasoft as ds
    >>> bandit = pd.DataFrame({"subjID": [1, 1, 1], "trial": [1, 2, 3], "choice": [1, 2, 2], "outcome": [1, 0, 1]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "bandit2arm_exampleData.txt")
    ...     bandit.to_csv(path, sep="\\t", index=False)
    ...     data = ds.fitting.read_hbayesdm(path)
    >>> data["choice"].tolist()  # 1-based hBayesDM codes become 0-based (float: a blank is a missed choice)
    [0.0, 1.0, 1.0]
    """
    path = os.fspath(path)
    df = read_table(path, sep="," if path.endswith(".csv") else "\t")
    return hbayesdm_to_data(df)


def validate_any(df: pd.DataFrame) -> pd.DataFrame:
    """Validate choice data in any supported layout: an hBayesDM task file's columns (``subjID``
    without ``subject``, or ``level1_choice``) or a dopasoft format named by its columns.

    A table with both subject columns (``subject`` and ``subjID``) is accepted only if they agree on
    every row; otherwise one would be silently dropped, so it is refused naming both columns and the
    first row where they differ."""
    if isinstance(df, pd.DataFrame):
        _check_subject_columns(df)
    if isinstance(df, pd.DataFrame) and (
        "level1_choice" in df.columns or ("subjID" in df.columns and "subject" not in df.columns)
    ):
        return hbayesdm_to_data(df)
    return validate_canonical(df)


def _check_subject_columns(df: pd.DataFrame) -> None:
    """``ValueError`` naming both columns and the first row where ``subject`` and ``subjID`` differ."""
    if not all(c in df.columns for c in _SUBJECT_COLUMNS):
        return
    a, b = (df[c].astype(object).where(df[c].notna(), "").astype(str).to_numpy() for c in _SUBJECT_COLUMNS)
    differ = a != b
    if differ.any():
        i = int(differ.argmax())
        raise ValueError(
            f"row {df.index[i]!r}: the columns 'subject' ({a[i]!r}) and 'subjID' ({b[i]!r}) disagree; "
            "a table needs one subject column: drop or rename the other"
        )


def read_choices(path: str | os.PathLike) -> pd.DataFrame:
    """Read choice data from CSV, TSV or Parquet and validate it.

    The format is recognised from the columns: canonical two-step (``choice1``), step format
    (``state``, ``choice``, ``terminal``), bandit (``choice`` without ``terminal``), or an hBayesDM
    task file (``subjID``; see :func:`read_hbayesdm`).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.tsv``/``.txt`` (tab-separated) or ``.parquet`` file.

    Returns
    -------
    pandas.DataFrame
        Validated data; ``df.attrs["task"]`` is ``"two-step"``, ``"steps"`` or ``"bandit"``.

    Raises
    ------
    ValueError
        Unreadable files, unknown layouts and malformed values (naming subject, row and column).

    Examples
    --------
    >>> import os, tempfile
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(2, 10, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "choices.csv")
    ...     data.to_csv(path, index=False)
    ...     back = ds.fitting.read_choices(path)
    >>> back.attrs["task"], len(back)
    ('two-step', 20)
    """
    return validate_any(read_table(path))
