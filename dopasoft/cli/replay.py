"""``dopasoft replay``: a fitted model's prediction errors on the subjects' own choices, as a CSV table."""

from __future__ import annotations

import argparse
import sys
import time

from dopasoft.cli.fit import add_data_size_options, add_model_choice, model_from_flags
from dopasoft.cli.outputs import output_file, write_csv
from dopasoft.fitting.data import read_choices, read_table
from dopasoft.fitting.models import FAMILIES

__all__ = ["register", "run_replay"]


def _params_from_items(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, val = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = float(val)
        except ValueError:
            raise ValueError(f"--param {item!r}: {val!r} is not a number") from None
    return out


def _flags_given(args: argparse.Namespace) -> list[str]:
    return [
        "--" + o.name.replace("_", "-")
        for fam in FAMILIES
        for o in fam.options
        if getattr(args, o.name) != o.default
    ]


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
        if args.model is None:
            if "model" not in params.columns:
                raise ValueError(f"--fits {args.fits} has no 'model' column: give --model")
            if _flags_given(args):
                raise ValueError(
                    f"{'/'.join(_flags_given(args))}: the model comes from the fits table; give --model too"
                )
            model = None
        else:
            model = model_from_flags(args)
    else:
        if args.model is None:
            raise ValueError("--param needs --model")
        params = _params_from_items(args.param)
        model = model_from_flags(args)
    table = replay(data, model, params, n_actions=args.n_actions, n_states=args.n_states)
    write_csv(table, out)
    if not args.quiet:
        took = time.perf_counter() - started
        n = table["subject"].nunique()
        print(
            f"dopasoft replay: {len(table)} steps of {n} subjects written to {out} in {took:.2f} s",
            file=sys.stderr,
        )
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
    add_model_choice(p, required=False)
    p.add_argument("--fits", default=None, help="fits table of dopasoft fit (one row per subject)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one parameter value for every subject (repeatable; instead of --fits)",
    )
    p.add_argument("--out", required=True, help="output CSV")
    add_data_size_options(p)
    p.add_argument("--quiet", action="store_true", help="no summary line")
    p.set_defaults(func=run_replay)
