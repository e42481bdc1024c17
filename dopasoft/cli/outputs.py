"""Where commands write: one way, in every command, to check ``--out`` before any long work.

A missing folder is created (with its parents); a folder given where a file is wanted (or the reverse),
an output that is one of the command's input files, and a folder that cannot be written are refused
with a ``ValueError`` naming the option, so that ``dopasoft <command>`` exits 2 with one line.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["same_file", "output_file", "output_dir", "write_csv"]


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if ``a`` and ``b`` name the same file (same inode, or the same path once resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _writable_folder(folder: Path, option: str, path: str | os.PathLike) -> None:
    """Create ``folder`` (and parents) if missing, then check that a file can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(
            f"{option} {path}: cannot create the folder {folder}, a file is in the way"
        ) from None
    except OSError as err:
        raise ValueError(f"{option} {path}: cannot create the folder {folder} ({err.strerror})") from None
    try:  # os.access is not enough: root passes it on read-only folders, and it ignores read-only mounts
        fd, probe = tempfile.mkstemp(prefix=".dopasoft-write-test-", dir=folder)
    except OSError as err:
        raise ValueError(f"{option} {path}: cannot write in the folder {folder} ({err.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def output_file(
    path: str | os.PathLike, option: str = "--out", *, inputs: Iterable[str | os.PathLike] = ()
) -> Path:
    """Check an output file before a command writes it; create its folder if missing.

    Parameters
    ----------
    path : path
        The output file.
    option : str
        The option that gave it, for messages.
    inputs : iterable of path
        The command's input files: the output must not be one of them.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        ``path`` is a folder, is one of ``inputs``, or its folder cannot be created or written.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name (e.g. {p / 'out.csv'})")
    for src in inputs:
        if p.exists() and same_file(p, src):
            raise ValueError(
                f"{option} {path} is the input file {src}; give another file name (input left untouched)"
            )
    _writable_folder(p.parent if str(p.parent) else Path("."), option, path)
    return p


def output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Check an output folder before a command writes into it; create it (and parents) if missing.

    Raises
    ------
    ValueError
        ``path`` is an existing file, or the folder cannot be created or written.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{option} {path} is a file, not a folder; give a folder name")
    _writable_folder(p, option, path)
    return p


def write_csv(table, path: str | os.PathLike, *, index: bool = False) -> None:
    """Write a DataFrame as CSV atomically (a temporary file renamed over ``path``): every CSV file
    the command line writes goes through here, so all quote and read alike.

    Quoting is pandas' default (minimal): a header or a value is quoted only if it holds a comma, a
    quote or a line break. Large tables are written by Arrow's CSV writer (about ten times faster than
    pandas' for float tables; floats in their shortest round-trip form, ``1`` for 1.0, NaN as an empty
    cell, booleans ``True``/``False``); a table Arrow cannot type (e.g. mixed identifiers) or with a
    value that needs quotes is written by pandas.

    Parameters
    ----------
    table : pandas.DataFrame
    path : path
    index : bool
        Write the index as the first column (e.g. the row labels of a matrix).
    """
    import csv

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if index:  # an unnamed index gets an empty header cell, as pandas writes it
        table = table.rename_axis(table.index.name or "").reset_index()
    tmp = f"{os.fspath(path)}.part"
    try:
        arrow = pa.Table.from_pandas(_bools_as_text(table), preserve_index=False)
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerow([str(c) for c in table.columns])
        with open(tmp, "ab") as fh:
            pa_csv.write_csv(arrow, fh, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        table.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _bools_as_text(table):
    """Boolean columns as ``True``/``False`` text (as pandas writes them, not Arrow's ``true``)."""
    flags = [c for c in table.columns if table[c].dtype == bool]
    if not flags:
        return table
    return table.assign(**{str(c): table[c].map({True: "True", False: "False"}) for c in flags})
