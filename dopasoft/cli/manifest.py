"""The run manifest of ``dopasoft fit``: what made a fits file, so that a resume cannot mix runs.

``dopasoft fit --out fits.csv`` writes ``fits.csv.manifest.json`` before its first row. It records a
fingerprint of the data (SHA-256 of the validated data written canonically, so the same data read from
CSV, TSV or Parquet match), the model spec, every option that changes the numbers (``--n-starts``,
``--seed``, ``--fix``, ``--bound``, ``--prior``; the model options are in the spec) and the dopasoft
version. A later run with the same ``--out`` resumes only if its manifest is equal on all of these;
``--chunk-size`` does not change the numbers and is not recorded. See docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MANIFEST_FORMAT",
    "manifest_path",
    "data_fingerprint",
    "fit_manifest",
    "read_manifest",
    "write_manifest",
    "manifest_differences",
]

MANIFEST_FORMAT = "dopasoft-fit-manifest/1"
"""Value of the manifest's ``format`` key (a new layout gets a new number)."""

# keys compared on resume, in the order differences are reported
_COMPARED = (
    "format",
    "data",
    "model",
    "n_actions",
    "n_states",
    "n_starts",
    "seed",
    "fixed",
    "bounds",
    "prior",
    "dopasoft_version",
)
# compared only when the recorded manifest has them (runs recorded before they were added had no
# --n-actions / --n-states, so their sizes came from the same data, whose fingerprint is compared)
_IF_RECORDED = ("n_actions", "n_states")


def manifest_path(out: str | os.PathLike) -> Path:
    """``<out>.manifest.json``, next to the fits file."""
    return Path(os.fspath(out) + ".manifest.json")


def data_fingerprint(data: pd.DataFrame) -> str:
    """SHA-256 of validated choice data written canonically (independent of the file format).

    Subject identifiers as text, every numeric column as float64 written with Python's round-trip
    ``repr``, any other column (a lab's condition, session or notes) as the text it holds (a missing
    cell as an empty field), columns and rows in the validated order, ``\\n`` line ends, the task name
    first. A column whose every value is a number counts as numeric whatever its type, so ``"1"`` in
    a CSV and ``1`` in Parquet agree.
    """
    canon = pd.DataFrame(index=pd.RangeIndex(len(data)))
    for col in data.columns:
        values = data[col]
        if col == "subject":
            canon[col] = values.astype(str).to_numpy()
            continue
        try:
            canon[col] = pd.to_numeric(values).astype(np.float64).to_numpy()
        except (ValueError, TypeError):  # text: carried as it is, ignored by the likelihood
            canon[col] = [_text(v) for v in values]
    text = f"task={data.attrs.get('task', '')}\n" + canon.to_csv(index=False, lineterminator="\n")
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: Any) -> str:
    """A cell of a text column as written in the fingerprint: empty when missing."""
    return (
        ""
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA
        else str(value)
    )


def _sorted_floats(d: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in sorted(d or {}):
        v = d[k]
        out[k] = [float(x) for x in v] if isinstance(v, tuple | list) else float(v)
    return out


def fit_manifest(
    data: pd.DataFrame,
    data_file: str | os.PathLike,
    model_spec: str,
    *,
    n_starts: int,
    seed: int,
    fixed: Mapping[str, float] | None,
    bounds: Mapping[str, tuple[float, float]] | None,
    prior: Mapping[str, tuple[float, float]] | None,
    n_actions: int | None = None,
    n_states: int | None = None,
) -> dict[str, Any]:
    """The manifest of a ``dopasoft fit`` run (a JSON-able dict)."""
    from dopasoft import __version__

    return {
        "format": MANIFEST_FORMAT,
        "dopasoft_version": __version__,
        "data": data_fingerprint(data),
        "data_file": os.fspath(data_file),
        "data_subjects": int(data["subject"].nunique()),
        "data_rows": len(data),
        "model": model_spec,
        "n_actions": n_actions,
        "n_states": n_states,
        "n_starts": int(n_starts),
        "seed": int(seed),
        "fixed": _sorted_floats(fixed),
        "bounds": _sorted_floats(bounds),
        # None: fit's default weak prior on temperatures (fixed by the version); {}: --ml, no prior at all
        "prior": "default" if prior is None else ("none" if not prior else _sorted_floats(prior)),
    }


def write_manifest(path: str | os.PathLike, manifest: Mapping[str, Any]) -> None:
    """Write ``manifest`` atomically (a temporary file renamed over ``path``)."""
    tmp = os.fspath(path) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read a manifest; ``ValueError`` naming the file if it is not one."""
    try:
        with open(path, encoding="utf-8") as fh:
            m = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"run manifest {path} is damaged ({err}); use --overwrite to start afresh") from None
    if not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT:
        raise ValueError(
            f"{path} is not a dopasoft fit manifest ({MANIFEST_FORMAT}); use --overwrite to start afresh"
        )
    return m


def _options(kind: str, value: Any) -> str:
    """A recorded value as the command-line options that give it."""
    if kind == "model":
        return f"--model {value}"
    if kind in ("n_starts", "n_actions", "n_states"):
        return f"--{kind.replace('_', '-')} {value}"
    if kind == "seed":
        return f"--seed {value}"
    if kind == "prior" and value == "default":
        return "no --prior (the default weak prior on temperatures)"
    if kind == "prior" and value == "none":
        return "--ml (no prior)"
    if kind in ("fixed", "bounds", "prior"):
        opt = {"fixed": "--fix", "bounds": "--bound", "prior": "--prior"}[kind]
        if not value:
            return f"no {opt}"
        sep = {"fixed": "", "bounds": ":", "prior": ","}[kind]
        parts = [
            f"{k}={v:g}" if kind == "fixed" else f"{k}={sep.join(f'{x:g}' for x in v)}"
            for k, v in value.items()
        ]
        return " ".join(f"{opt} {p}" for p in parts)
    if kind == "dopasoft_version":
        return f"dopasoft {value}"
    return f"{kind} {value}"


def manifest_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between a recorded manifest and this run's, as ``"X, not Y"`` phrases."""
    diffs = []
    for key in _COMPARED:
        a, b = old.get(key), new.get(key)
        if a == b or (key in _IF_RECORDED and key not in old):
            continue
        if key == "data":
            diffs.append(
                f"data {old.get('data_file')} ({old.get('data_subjects')} subjects, {old.get('data_rows')} rows), "
                f"not {new.get('data_file')} ({new.get('data_subjects')} subjects, {new.get('data_rows')} rows) "
                "whose content differs"
            )
        else:
            diffs.append(f"{_options(key, a)}, not {_options(key, b)}")
    return diffs
