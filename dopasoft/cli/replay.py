"""``dopasoft replay``: a fitted model's prediction errors on the subjects' own choices, as a CSV table."""

from __future__ import annotations

import argparse
import time

import pandas as pd

from dopasoft.cli.fit import add_data_size_options
from dopasoft.cli.options import (
    add_model_option,
    add_param_option,
    add_quiet_option,
    params_from_items,
    summary,
)
from dopasoft.cli.outputs import output_file, write_csv
from dopasoft.fitting.data import read_choices, read_table
from dopasoft.fitting.models import get_model, model_from_columns

__all__ = ["register", "run_replay"]


def _check_model_against_fits(spec: str | None, fits, path: str) -> None:
    """Refuse, in command-line terms, a ``--model`` that the fits table contradicts."""
    if "model" in fits.columns:
        specs = [str(s) for s in pd.unique(fits["model"].dropna())]
        if len(specs) > 1:
            raise ValueError(
                f"--fits {path}: its 'model' column holds {len(specs)} models {specs}; split it by model"
            )
        if spec is None and not specs:
            raise ValueError(f"--fits {path} has no model in its 'model' column: give --model")
        if spec is not None and specs and get_model(specs[0]) != get_model(spec):
            fitted = get_model(specs[0]).spec
            raise ValueError(
                f"--fits {path} was fitted with --model {fitted}, not --model {spec}; "
                f"give --model {fitted} or leave --model out"
            )
    elif spec is None:
        raise ValueError(f"--fits {path} has no 'model' column: give --model")
    if spec is not None and "+" not in spec:
        richer = model_from_columns(spec, fits.columns)
        m = get_model(spec)
        if richer.n_params > m.n_params:
            extra = [p for p in richer.param_names if p not in m.param_names]
            raise ValueError(
                f"--fits {path} has column(s) {extra} that --model {spec} does not take; "
                f"did you mean --model {richer.spec}?"
            )


def run_replay(args: argparse.Namespace) -> int:
    """Replay ``--model`` with ``--fits`` or ``--param`` along DATA and write ``--out``."""
    from dopasoft.fitting.replay import replay

    if bool(args.fits) == bool(args.param):
        raise ValueError("give the parameters either as --fits FITS.csv or as --param NAME=VALUE (not both)")
    started = time.perf_counter()
    data = read_choices(args.data)
    out = output_file(args.out, inputs=[args.data] + ([args.fits] if args.fits else []))
    if args.fits:
        params = read_table(args.fits, what="fits table")
        if "subject" not in params.columns:
            raise ValueError(f"--fits {args.fits}: no 'subject' column (is it a fits table of dopasoft fit?)")
        _check_model_against_fits(args.model, params, args.fits)
    else:
        if args.model is None:
            raise ValueError("--param needs --model")
        params = params_from_items(args.param)
    model = None if args.model is None else get_model(args.model)
    table = replay(data, model, params, n_actions=args.n_actions, n_states=args.n_states)
    write_csv(table, out)
    took = time.perf_counter() - started
    n = table["subject"].nunique()
    summary(args, f"wrote {len(table)} steps of {n} subjects to {out} (in {took:.2f} s)")
    return 0


def register(subparsers) -> None:
    """Add the ``replay`` sub-command."""
    p = subparsers.add_parser(
        "replay",
        help="a fitted model's prediction errors on the subjects' own choices (model dopamine)",
        description="Run a choice model along each subject's recorded choices (exactly the updates of its "
        "likelihood) and write one row per choice step: subject, trial, stage, state, action, reward, "
        "p_choice and the prediction errors delta, value_rpe, action_term (docs/analysis.md).",
    )
    p.add_argument("data", help="choice data (CSV, TSV or Parquet; any format dopasoft fit reads)")
    add_model_option(
        p,
        required=False,
        help="model spec, e.g. soft-q-lambda+kappa (default: the 'model' column of --fits); "
        "as dopasoft fit --model takes it",
    )
    p.add_argument("--fits", default=None, help="fits table of dopasoft fit (one row per subject)")
    add_param_option(p, "one parameter value for every subject (repeatable; instead of --fits)")
    p.add_argument("--out", required=True, help="output CSV")
    add_data_size_options(p)
    add_quiet_option(p)
    p.set_defaults(func=run_replay)
