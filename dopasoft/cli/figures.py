"""``dopasoft figures``: the demo's figures from a user's own files.

Every file is a table (CSV, TSV or Parquet) whose kind is recognised from its columns
(:func:`detect_table`), or forced with ``--data``/``--fits``/``--true``/``--conditioning``/``--steps``;
:data:`EPILOG` lists the kinds, their columns and the figures (file names) each gives.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from dopasoft.cli import parse_formats, report_written
from dopasoft.cli.options import add_model_option, add_quiet_option, add_seed_option
from dopasoft.cli.outputs import output_dir, write_csv

__all__ = ["KINDS", "EPILOG", "detect_table", "read_table", "make_figures", "register"]

KINDS: dict[str, tuple[str, ...]] = {
    "two-step": ("subject", "trial", "choice1", "state2", "reward"),
    "hbayesdm": ("subjID", "level1_choice", "level2_choice", "reward"),
    "fits": ("subject", "nll"),
    "conditioning": ("trial", "trial_type", "cue_rpe", "reward_rpe"),
    "steps": ("trial", "time", "event", "delta"),
    "true": ("subject",),
}
"""Columns that identify each kind of table."""

EPILOG = """\
kinds of table (detected from the columns, or forced by the option in brackets), and the figures
(file names) each gives:
  two-step data (--data)       subject, trial, choice1, state2, reward (or hBayesDM columns)
                                 -> two_step_stay
  fits (--fits)                subject, nll and the model's parameters (+ model)
                                 -> parameters_<model>
  two fits or more             -> model_comparison
  data + fits                  -> posterior_predictive
  true parameters (--true)     subject and a model's parameters, no nll
                                 -> recovery (with fits)
  conditioning trials          trial, trial_type, cue_rpe, reward_rpe
    (--conditioning)             -> rpe_training_<file>, probes_<file> (probe trials, e.g. blocking),
                                    probability_scaling_<file> (partial reinforcement),
                                    rpe_transfer_<file> (with --steps), reward_timing
                                    (variable-delay runs: one line per file)
  conditioning steps (--steps) trial, time, event, delta
                                 -> rpe_heatmap (without conditioning trials)
Each figure is written in every --format; the numbers behind the figures are written as CSV tables.

examples:
  dopasoft figures two_step.csv fits_sq.csv fits_hybrid.csv --out figs
  dopasoft figures --conditioning blocking.csv --format png,svg --out figs
"""
"""Plain-text epilog of ``dopasoft figures --help``: the kinds of table and the figures each gives."""

_DESCRIPTIONS = {
    "two-step": "two-step data",
    "hbayesdm": "hBayesDM two-step data",
    "fits": "a fits table",
    "conditioning": "a conditioning trial table",
    "steps": "a conditioning step table",
    "true": "a table of true parameters",
}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV (``.csv``), TSV (``.tsv``, ``.txt``) or Parquet (``.parquet``) table.

    Subject identifiers are kept as written; a folder, an unreadable, binary (Excel) or empty file,
    or one with a header but no rows, is an error naming the file
    (:func:`dopasoft.fitting.data.read_table`).
    """
    from dopasoft.fitting.data import read_table as read_any

    return read_any(path, what="table")


def _parameter_names() -> set[str]:
    from dopasoft.fitting.models import parameter_labels

    return set(parameter_labels())


def detect_table(df: pd.DataFrame, name: str = "table") -> str:
    """The kind of a table from its columns: ``two-step``, ``hbayesdm``, ``fits``, ``conditioning``,
    ``steps`` or ``true`` (true parameters).

    Raises
    ------
    ValueError
        If no kind matches; the message lists each kind's required columns.
    """
    cols = set(df.columns)
    for kind in ("fits", "two-step", "hbayesdm", "conditioning", "steps"):
        if set(KINDS[kind]) <= cols:
            return kind
    if "subject" in cols and cols & _parameter_names():
        return "true"
    needs = "; ".join(f"{_DESCRIPTIONS[k]}: {', '.join(v)}" for k, v in KINDS.items() if k != "true")
    raise ValueError(
        f"cannot tell what {name} is from its columns {sorted(map(str, cols))}. Expected {needs}; "
        "or subject + model parameters (true parameters)"
    )


def _require(df: pd.DataFrame, kind: str, name: str) -> None:
    if kind == "two-step" and set(KINDS["hbayesdm"]) <= set(df.columns):
        return
    missing = [c for c in KINDS[kind] if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} was given as {_DESCRIPTIONS[kind]} but lacks column(s) {missing}; "
            f"needs {list(KINDS[kind])}, has {list(map(str, df.columns))}"
        )


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    if set(KINDS["hbayesdm"]) <= set(df.columns) and "choice1" not in df.columns:
        from dopasoft.fitting.data import hbayesdm_to_canonical

        return hbayesdm_to_canonical(df)
    return df


def _check_fitted_parameters(df: pd.DataFrame, model: Any, name: str) -> None:
    """Check a fits table's parameters as the likelihood does (one message naming column and
    subject); rows of subjects with nothing to fit (``n_choices`` 0) are not checked."""
    from dopasoft.fitting.parameters import check_parameters

    rows = df if "n_choices" not in df.columns else df[pd.to_numeric(df["n_choices"], errors="coerce") != 0]
    raw = rows[list(model.param_names)]
    values = raw.apply(pd.to_numeric, errors="coerce")
    text = values.isna().to_numpy() & raw.notna().to_numpy()
    subjects = rows["subject"].tolist()
    if text.any():
        i, j = (int(v[0]) for v in text.nonzero())
        raise ValueError(
            f"{name}, column {raw.columns[j]!r} = {raw.iloc[i, j]!r} for subject "
            f"{subjects[i]!r} is not a number"
        )
    check_parameters(model, values.to_numpy(dtype=float), subjects, what=f"{name}, column")


def make_figures(
    out: str | os.PathLike,
    *,
    files: list[str | os.PathLike] | None = None,
    data: str | os.PathLike | None = None,
    fits: list[str | os.PathLike] | None = None,
    true: str | os.PathLike | None = None,
    conditioning: list[str | os.PathLike] | None = None,
    steps: str | os.PathLike | None = None,
    model: str | None = None,
    formats: tuple[str, ...] = ("png", "pdf"),
    seed: int = 0,
) -> list[Path]:
    """Make every figure the given files allow (see the module docstring) and write them into ``out``.

    Parameters
    ----------
    out : path
        Output directory.
    files : list of path, optional
        Tables whose kind is detected from their columns.
    data, fits, true, conditioning, steps
        Tables of a given kind (checked for the needed columns).
    model : str, optional
        Model of fits tables without a ``model`` column.
    formats : tuple of str
        Figure formats.
    seed : int
        Seed of the posterior predictive simulations and of the dots' jitter.

    Returns
    -------
    list of pathlib.Path
        Files written (figures and CSV tables).

    Raises
    ------
    ValueError
        Unrecognised tables, missing columns (named), or nothing to plot.
    """
    from dopasoft import analysis as an

    tables: dict[str, list[tuple[str, pd.DataFrame]]] = {k: [] for k in KINDS}
    for path in files or []:
        df = read_table(path)
        kind = detect_table(df, str(path))
        tables["two-step" if kind == "hbayesdm" else kind].append((str(path), df))
    for kind, paths in (
        ("two-step", [data] if data else []),
        ("fits", fits or []),
        ("true", [true] if true else []),
        ("conditioning", conditioning or []),
        ("steps", [steps] if steps else []),
    ):
        for path in paths:
            df = read_table(path)
            _require(df, kind, str(path))
            tables[kind].append((str(path), df))
    if not any(tables.values()):
        raise ValueError(
            "no input: give files (kind detected from columns) or --data/--fits/--true/--conditioning"
        )
    if len(tables["two-step"]) > 1 or len(tables["true"]) > 1 or len(tables["steps"]) > 1:
        raise ValueError("give at most one two-step data file, one true-parameter file and one step file")
    outdir = output_dir(out)
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        written.extend(an.save_figure(fig, outdir / name, formats=formats))

    def table(df: pd.DataFrame, name: str) -> None:
        path = outdir / f"{name}.csv"
        write_csv(df, path)
        written.append(path)

    # fits: one model per table
    fitted: dict[str, pd.DataFrame] = {}
    for path, df in tables["fits"]:
        m = an.fits_model(df, model if "model" not in df.columns else None)
        _check_fitted_parameters(df, m, path)
        label = m.name if m.name not in fitted else Path(path).stem
        fitted[label] = df.assign(model=m.name) if "model" not in df.columns else df
        table(an.parameter_table(df, m), f"parameters_{label}")
        save(an.plot_parameters(df, m), f"parameters_{label}")
    if len(fitted) >= 2:
        cmp_table, _ = an.compare_models(fitted)
        table(cmp_table, "model_comparison")
        save(an.plot_model_comparison(cmp_table), "model_comparison")
    if tables["true"]:
        if not fitted:
            raise ValueError("a true-parameter table needs a fits table (--fits) for the recovery figure")
        path, true_df = tables["true"][0]
        name = next(iter(fitted))
        if "model" in true_df.columns and str(true_df["model"].iloc[0]) in fitted:
            name = str(true_df["model"].iloc[0])
        m = an.fits_model(fitted[name])
        missing = [p for p in m.param_names if p not in true_df.columns]
        if missing:
            raise ValueError(f"{path} (true parameters) lacks column(s) {missing} of model {m.name!r}")
        table(an.recovery_table(true_df, fitted[name], list(m.param_names)), "recovery")
        save(an.plot_recovery(true_df, fitted[name], list(m.param_names)), "recovery")
    if tables["two-step"]:
        _, raw = tables["two-step"][0]
        data_df = _canonical(raw)
        table(an.stay_probabilities(data_df), "stay_probabilities")
        table(an.stay_regression(data_df), "stay_regression")
        if data_df["subject"].nunique() > 1:
            table(an.pooled_stay_regression(data_df).reset_index(), "stay_regression_pooled")
        table(an.mb_mf_indices(data_df), "mb_mf_indices")
        save(an.plot_two_step_stay(data_df), "two_step_stay")
        if fitted:
            import numpy as np

            rng = np.random.default_rng(seed)
            sims = {
                k: an.posterior_predictive(data_df, v, n_sims=2, seed=rng)
                for k, v in list(fitted.items())[:3]
            }
            table(an.posterior_predictive_table(data_df, sims), "posterior_predictive")
            save(an.plot_posterior_predictive(data_df, sims), "posterior_predictive")
    step_df = tables["steps"][0][1] if tables["steps"] else None
    timing = {
        Path(path).stem: trials
        for path, trials in tables["conditioning"]
        if {"reward_time", "rewarded"} <= set(trials.columns) and trials["reward_time"].nunique() > 1
    }
    if timing:  # variable-delay runs: one line per file in one figure
        save(an.plot_reward_timing({"Reward RPE against delay": timing}), "reward_timing")
        by_delay = [an.rpe_by_delay(t).assign(file=stem) for stem, t in timing.items()]
        table(pd.concat(by_delay, ignore_index=True), "reward_rpe_by_delay")
    for path, trials in tables["conditioning"]:
        stem = Path(path).stem
        if stem in timing:
            continue
        types = trials["trial_type"].astype(str)
        result = SimpleNamespace(trials=trials, steps=step_df) if step_df is not None else trials
        if types.str.contains("p=").any():
            if step_df is None:
                fig = an.plot_probability_scaling(trials)
            else:
                fig = an.plot_probability_scaling(result)
            save(fig, f"probability_scaling_{stem}")
        elif types.str.endswith("?").any():
            save(an.plot_blocking(trials, label=stem), f"probes_{stem}")
        elif step_df is not None:
            save(an.plot_rpe_transfer(result), f"rpe_transfer_{stem}")
        else:
            save(an.plot_rpe_across_training(trials), f"rpe_training_{stem}")
    if step_df is not None and not tables["conditioning"]:
        traces = an.aligned_traces(step_df, "delta", align="cue")
        save(an.plot_heatmap(traces), "rpe_heatmap")
    return written


def _run(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format)
    written = make_figures(
        args.out,
        files=args.files,
        data=args.data,
        fits=args.fits,
        true=args.true,
        conditioning=args.conditioning,
        steps=args.steps,
        model=args.model,
        formats=formats,
        seed=args.seed,
    )
    report_written("figures", written, args.out, formats, quiet=args.quiet)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``figures`` sub-command."""
    p = subparsers.add_parser(
        "figures",
        help="make the demo's figures from your own data, fits and simulation tables",
        description="Make figures from your own files. The kind of each positional FILE is detected "
        "from its columns; the options force a kind (and check its columns).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="tables (CSV/TSV/Parquet), kind detected")
    p.add_argument("--data", metavar="FILE", help="two-step data (canonical or hBayesDM)")
    p.add_argument(
        "--fits",
        action="append",
        metavar="FILE",
        help="fits table of dopasoft fit (repeat for several models)",
    )
    p.add_argument("--true", metavar="FILE", help="true parameters (parameter recovery, with --fits)")
    p.add_argument(
        "--conditioning",
        action="append",
        metavar="FILE",
        help="conditioning trial table (dopasoft simulate conditioning --out; repeatable)",
    )
    p.add_argument(
        "--steps", metavar="FILE", help="conditioning step table (dopasoft simulate conditioning --trace-out)"
    )
    add_model_option(
        p,
        required=False,
        help="model spec of fits tables that have no 'model' column, e.g. soft-q-lambda+kappa",
    )
    p.add_argument("--out", default="dopasoft-figures", help="output directory (default dopasoft-figures/)")
    p.add_argument("--format", default="png,pdf", help="figure formats, comma-separated (png,pdf,svg)")
    add_seed_option(p, "the posterior predictive simulations")
    add_quiet_option(p)
    p.set_defaults(func=_run)
