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
from dopasoft.fitting.data import BANDIT_COLUMNS, STEP_COLUMNS, TWO_STEP_COLUMNS, read_choices, read_table
from dopasoft.fitting.models import get_model, model_from_columns

__all__ = ["register", "run_replay", "with_data_columns"]

# the columns a data format reads; any other column of the data is the lab's own (condition, session, notes)
_FORMAT_COLUMNS = frozenset(TWO_STEP_COLUMNS + BANDIT_COLUMNS + STEP_COLUMNS + ("state",))


def with_data_columns(table: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    """The replay ``table`` with the data's own extra columns (condition, session, notes, ...) appended.

    Each replay row takes the values of the data row it replays: matched on subject and trial, and in
    the step format on the step's position in its trial (``stage``); a two-step trial's two rows both
    take its row's values. An extra column whose name the replay table already uses is appended as
    ``data_<name>``. The likelihood never reads these columns.
    """
    extra = [c for c in data.columns if c not in _FORMAT_COLUMNS]
    if not extra or table.empty:
        return table
    keys = pd.DataFrame(
        {
            "subject": data["subject"].astype(str).to_numpy(),
            "trial": data["trial"].to_numpy(dtype=float),
        }
    )
    on = ["subject", "trial"]
    if data.attrs.get("task") == "steps":
        keys["stage"] = keys.groupby(on, sort=False).cumcount().to_numpy() + 1
        on.append("stage")
    right = keys.assign(**{f"\0{c}": data[c].to_numpy() for c in extra})
    left = pd.DataFrame(
        {
            "subject": table["subject"].astype(str).to_numpy(),
            "trial": table["trial"].to_numpy(dtype=float),
            "stage": table["stage"].to_numpy(),
        }
    )[on]
    joined = left.merge(right, on=on, how="left", validate="many_to_one")
    out = table.copy()
    for c in extra:
        name = c if c not in out.columns else f"data_{c}"
        out[name] = joined[f"\0{c}"].to_numpy()
    return out


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
    table = with_data_columns(table, data)
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
