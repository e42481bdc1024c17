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

__all__ = ["same_file", "output_file", "output_dir"]


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


def write_csv(table, path: str | os.PathLike) -> None:
    """Write a DataFrame as CSV atomically (a temporary file renamed over ``path``).

    Written by Arrow's CSV writer (about ten times faster than pandas' for large float tables; floats in
    their shortest round-trip form, NaN as an empty cell, text quoted), or by pandas when Arrow cannot
    type a column (e.g. mixed identifiers)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    tmp = f"{os.fspath(path)}.part"
    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        table.to_csv(tmp, index=False)
    else:
        pa_csv.write_csv(arrow, tmp)
    os.replace(tmp, path)
