"""``dopasoft recover``: parameter recovery (``--model``) or model recovery (``--models A,B,...``).

Parameter recovery simulates agents with the model's own kernel, fits them and compares the estimates
with the truth; model recovery (Wilson & Collins 2019) simulates from each model, fits every model
and writes the confusion and inversion matrices.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from dopasoft.cli.fit import add_model_options, check_fit_memory, model_from_args
from dopasoft.cli.options import (
    add_n_subjects_option,
    add_n_trials_option,
    add_quiet_option,
    model_spec,
    summary,
)
from dopasoft.cli.outputs import output_dir, write_csv
from dopasoft.fitting.mle import fit
from dopasoft.fitting.models import get_model
from dopasoft.fitting.recovery import model_recovery, recovery_table
from dopasoft.fitting.simulate import sample_parameters, simulate_choices


def _check_n_subjects(args: argparse.Namespace, least: int) -> None:
    if args.n_subjects < least:
        raise ValueError(f"--n-subjects must be at least {least}, got {args.n_subjects}")


def run_model_recovery(args: argparse.Namespace) -> int:
    """Model recovery over ``--models``: write the matrices and per-subject tables into ``--out``."""
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.fix or args.bound:
        what = "/".join(["--fix"] * bool(args.fix) + ["--bound"] * bool(args.bound))
        raise ValueError(f"{what} apply to --model only, not to --models")
    for name in names:
        try:
            model_spec(name)
        except argparse.ArgumentTypeError as err:
            raise ValueError(f"--models {args.models}: {err}") from None
    _check_n_subjects(args, 1)
    output_dir(args.out)
    for name in names:
        m = get_model(name)
        check_fit_memory(
            args.n_subjects, args.chunk_size, args.n_starts, len(m.param_names), len(m.param_names)
        )
    task = args.task or get_model(names[0]).simulation_tasks[0]
    res = model_recovery(
        names,
        args.n_subjects,
        n_trials=args.n_trials,
        seed=args.seed,
        n_starts=args.n_starts,
        criterion=args.criterion,
        task=task,
        chunk_size=args.chunk_size,
    )
    write_csv(res.confusion, os.path.join(args.out, "confusion.csv"), index=True)
    write_csv(res.inversion, os.path.join(args.out, "inversion.csv"), index=True)
    write_csv(res.counts, os.path.join(args.out, "counts.csv"), index=True)
    write_csv(res.subjects, os.path.join(args.out, "best_fits.csv"))
    write_csv(res.true_params, os.path.join(args.out, "true_params.csv"))
    write_csv(res.data, os.path.join(args.out, "data.csv"))
    for lab, table in res.fits.items():
        write_csv(table.assign(model=lab), os.path.join(args.out, f"fits_{lab}.csv"))
    summary(
        args,
        f"wrote model recovery of {len(names)} models x {args.n_subjects} subjects x {args.n_trials} trials "
        f"({task}) to {args.out} ({6 + len(res.fits)} CSV files: confusion.csv, inversion.csv, ...)",
    )
    if not args.quiet:
        print(res.summary(), file=sys.stderr)
    return 0


def run_recover(args: argparse.Namespace) -> int:
    """Parameter recovery of ``--model`` or model recovery over ``--models``."""
    if (args.model is None) == (args.models is None):
        raise ValueError("give either --model NAME (parameter recovery) or --models A,B,... (model recovery)")
    if args.models is not None:
        return run_model_recovery(args)
    model, fixed, bounds = model_from_args(args)
    _check_n_subjects(args, 2)
    output_dir(args.out)
    n_free = len([p for p in model.param_names if p not in fixed])
    check_fit_memory(args.n_subjects, args.chunk_size, args.n_starts, n_free, len(model.param_names))
    rng = np.random.default_rng(args.seed)
    true = sample_parameters(model, args.n_subjects, rng)
    for k, v in fixed.items():
        true[k] = v
    true.insert(0, "subject", [f"sub{i:04d}" for i in range(args.n_subjects)])
    task = args.task or model.simulation_tasks[0]
    data = simulate_choices(model, true, n_trials=args.n_trials, seed=rng, task=task)
    res = fit(
        data,
        model,
        n_starts=args.n_starts,
        seed=args.seed,
        fixed=fixed,
        bounds=bounds,
        chunk_size=args.chunk_size,
    )
    free = [p for p in model.param_names if p not in fixed]
    table = recovery_table(true, res.params, free)
    write_csv(true, os.path.join(args.out, "true_params.csv"))
    write_csv(data, os.path.join(args.out, "data.csv"))
    write_csv(res.params, os.path.join(args.out, "fits.csv"))
    write_csv(table, os.path.join(args.out, "recovery.csv"))
    summary(
        args,
        f"wrote parameter recovery of model {model.spec}, {args.n_subjects} subjects x {args.n_trials} "
        f"trials ({task}) to {args.out} (true_params.csv, data.csv, fits.csv, recovery.csv)",
    )
    if not args.quiet:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"), file=sys.stderr)
    return 0


def register(subparsers) -> None:
    """Add the ``recover`` sub-command."""
    p = subparsers.add_parser(
        "recover",
        help="parameter recovery (--model) or model recovery (--models A,B,...)",
        description="Parameter recovery: simulate --n-subjects agents of --model, fit them, correlate "
        "estimates with the truth. Model recovery: simulate --n-subjects agents of each of --models, "
        "fit every model, write the confusion matrix p(best fit | generating) and the inversion matrix "
        "p(generating | best fit).",
    )
    add_n_subjects_option(p, None, "subjects (per generating model)", required=True)
    add_n_trials_option(p, 200, "trials per subject (default 200)")
    p.add_argument(
        "--task",
        choices=("two-step", "bandit", "gng", "bandit4arm"),
        default=None,
        help="simulated task: two-step (drifting rewards), bandit (two-armed reversal), gng (go/no-go) or "
        "bandit4arm (four arms, gains and losses) (default: the model's own, two-step for the Soft Q and "
        "hybrid models)",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--models",
        default=None,
        metavar="A,B,...",
        help="model recovery over these comma-separated models; a model's options go in its spec, "
        "e.g. soft-q-lambda,soft-q-lambda+kappa,daw-hybrid",
    )
    p.add_argument(
        "--criterion", choices=("bic", "aic"), default="bic", help="model recovery: best fit by (default bic)"
    )
    add_model_options(p)
    add_quiet_option(p, "no summary line or table")
    for action in p._actions:  # --model or --models: exactly one (checked in run_recover)
        if action.dest == "model":
            action.required = False
    p.set_defaults(func=run_recover)
