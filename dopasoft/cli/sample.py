"""``dopasoft sample``: a hierarchical posterior by NUTS (nutpie), written as netCDF for ArviZ."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

from dopasoft.cli.options import (
    add_quiet_option,
    add_seed_option,
    name_values,
    non_negative_int,
    positive_int,
    summary,
)
from dopasoft.cli.outputs import output_file, write_csv

__all__ = ["register", "run_sample"]


def hierarchical_model_name(text: str) -> str:
    """``type`` of ``--model``: an hBayesDM model name or a Soft Q model spec, checked here."""
    from dopasoft.fitting.bayes.models import hierarchical_model

    try:
        hierarchical_model(text)
    except (ValueError, KeyError) as err:
        raise argparse.ArgumentTypeError(str(err).strip("'\"")) from None
    return text


def covariates_from_args(args: argparse.Namespace):
    """``(table, params)`` for :func:`dopasoft.fitting.sample` from ``--covariates`` and ``--covariate``."""
    from dopasoft.fitting.data import read_csv_keeping_ids

    if args.covariate and not args.covariates:
        raise ValueError("--covariate needs --covariates FILE (the table of covariates by subject)")
    if not args.covariates:
        return None, None
    table = read_csv_keeping_ids(args.covariates)
    if "subject" not in table.columns:
        raise ValueError(
            f"--covariates {args.covariates}: needs a 'subject' column; has {list(table.columns)}"
        )
    chosen = name_values(
        args.covariate,
        "--covariate",
        "PARAM=COLUMN[,COLUMN...]",
        lambda text: tuple(c.strip() for c in text.split(",") if c.strip()) or _no_columns(),
        bad="no column named",
    )
    if not chosen:  # every covariate for every parameter
        return table, None
    columns = set(next(iter(chosen.values())))
    if any(set(cols) != columns for cols in chosen.values()):
        raise ValueError(
            "--covariate: every parameter given must take the same columns (e.g. --covariate A=group "
            "--covariate tau=group); per-parameter column sets are not supported"
        )
    missing = sorted(columns - set(table.columns))
    if missing:
        raise ValueError(f"--covariate names column(s) {missing} not in --covariates {args.covariates}")
    return table[["subject", *sorted(columns)]], sorted(chosen)


def _no_columns():
    raise ValueError("no column")


def run_sample(args: argparse.Namespace) -> int:
    """Run ``dopasoft sample``."""
    from dopasoft.fitting.bayes.sampling import import_nutpie, sample
    from dopasoft.fitting.data import read_choices

    import_nutpie()  # the [bayes] extra, before reading anything
    covariates, covariate_params = covariates_from_args(args)
    outputs = [("--out", args.out)] + ([("--summary", args.summary)] if args.summary else [])
    for option, path in outputs:
        if os.path.exists(path) and not args.overwrite:
            raise ValueError(f"{option} {path} exists; give --overwrite to replace it")
        output_file(path, option, inputs=[args.data])
    data = read_choices(args.data)
    with warnings.catch_warnings():  # failed checks are printed below, in command-line form
        warnings.filterwarnings("ignore", message=r"sample\(", category=UserWarning)
        post = sample(
            data,
            args.model,
            chains=args.chains,
            draws=args.draws,
            tune=args.tune,
            seed=args.seed,
            progress=not args.quiet,
            target_accept=args.target_accept,
            covariates=covariates,
            covariate_params=covariate_params,
        )
    post.idata.to_netcdf(args.out)
    if args.summary:
        write_csv(post.summary().reset_index(names="parameter"), args.summary)
    d = post.diagnostics
    failed = d.get("failed") or []
    health = "all checks passed" if not failed else "FAILED: " + "; ".join(failed)
    summary(
        args,
        f"wrote the posterior of {args.model} ({len(post.subjects)} subjects, {args.chains} chains × "
        f"{args.draws} draws) to {args.out}: {d['divergences']} divergences, max R-hat {d['rhat_max']:.3f}, "
        f"min bulk ESS {d['ess_bulk_min']:.0f}; {health}",
    )
    for text in failed:  # never silent, even with --quiet
        print(f"dopasoft sample: warning: {text}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``sample`` sub-command."""
    p = subparsers.add_parser(
        "sample",
        help="hierarchical Bayesian fit: the posterior by NUTS, as netCDF for ArviZ (needs the [bayes] extra)",
        description="Sample the posterior of a hierarchical model (non-centred subject parameters, group "
        "means and SDs) by NUTS (nutpie) and write it as an ArviZ InferenceData netCDF file "
        "(arviz.from_netcdf reads it). hBayesDM's models by their hBayesDM names (bandit2arm_delta, "
        "ts_par7, ts_par6, ts_par4, gng_m1-gng_m4, prl_fictitious, prl_rp, bandit4arm_4par: same "
        "parameters, transforms and priors), or any Soft Q model spec with "
        "dopasoft's default group prior (docs/fitting.md, Full Bayes). The summary line gives the "
        "divergences, the largest R-hat and the smallest bulk ESS, and names each failed check.",
    )
    p.add_argument("data", help="choice data: CSV/TSV/Parquet or an hBayesDM task file")
    p.add_argument(
        "--model",
        required=True,
        type=hierarchical_model_name,
        metavar="MODEL",
        help="an hBayesDM model name (bandit2arm_delta, ts_par7, ts_par6, ts_par4, gng_m1 ... gng_m4, "
        "prl_fictitious, prl_rp, bandit4arm_4par) or a Soft Q model spec "
        "(e.g. soft-q-lambda+kappa)",
    )
    p.add_argument("--out", required=True, help="output netCDF file of the posterior (e.g. posterior.nc)")
    p.add_argument("--summary", metavar="FILE", help="also write ArviZ's summary table as CSV")
    p.add_argument("--chains", type=positive_int, default=4, metavar="N", help="chains (default 4)")
    p.add_argument(
        "--draws", type=positive_int, default=1000, metavar="N", help="draws per chain (default 1000)"
    )
    p.add_argument(
        "--tune",
        type=non_negative_int,
        default=1000,
        metavar="N",
        help="tuning steps per chain (default 1000)",
    )
    p.add_argument(
        "--target-accept",
        type=float,
        default=0.8,
        metavar="P",
        help="target acceptance rate of the step size (raise it, e.g. 0.95, after divergences)",
    )
    p.add_argument(
        "--covariates",
        metavar="FILE",
        help="group covariates by subject (CSV with a 'subject' column; text columns become 0/1 dummies): "
        "a regression of the group mean on the unconstrained scale, reported as beta_<param>",
    )
    p.add_argument(
        "--covariate",
        action="append",
        default=[],
        metavar="PARAM=COLUMN[,COLUMN...]",
        help="the parameters whose group mean takes these --covariates columns (repeatable; every parameter "
        "given takes the same columns; default: every column for every parameter)",
    )
    add_seed_option(p, "the sampler (same seed, same draws)")
    p.add_argument("--overwrite", action="store_true", help="replace --out and --summary if they exist")
    add_quiet_option(p, "no progress bar and no summary line")
    p.set_defaults(func=run_sample)
